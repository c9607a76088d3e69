"""Capture SMTP listener: it takes the place of the MTA's port 25 and keeps what the sink returns."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import traceback
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from emulator.log import smtp_logger

CAPTURE_HOSTNAME = "capture.emulator.test"
STOP_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class CapturedMail:
    """One message as the capture listener received it; ``mail_from`` is "" for the null sender."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: str
    received_at: float


class CaptureHandler:
    """aiosmtpd handler that accepts every message (``MAIL FROM:<>`` included) and keeps it."""

    def __init__(self, errors: list[str]) -> None:
        self.messages: list[CapturedMail] = []
        self.errors = errors

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            data = envelope.original_content or b""
            if isinstance(envelope.content, bytes) and not data:
                data = envelope.content
            peer = session.peer if isinstance(session.peer, str) else str(session.peer)
            # aiosmtpd keeps the null reverse-path of a DSN as "<>"; store it as "".
            mail_from = "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from)
            record = CapturedMail(
                mail_from=mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=data,
                peer=peer,
                received_at=time.time(),
            )
        except Exception as exc:  # noqa: BLE001 - recorded for the test, and the client gets a 451
            smtp_logger.exception("capture listener: storing a message from %s failed", session.peer)
            self.errors.append(f"capture listener: {exc!r}\n{traceback.format_exc()}")
            return "451 4.3.0 capture listener failed to store the message"
        self.messages.append(record)
        smtp_logger.info(
            "capture listener: %d bytes from <%s> to %s (peer %s)",
            len(data), record.mail_from, ", ".join(record.rcpt_tos), peer,
        )
        return "250 2.0.0 OK captured"


class CaptureSMTP(SMTP):
    """aiosmtpd's protocol, registering each session with its listener so stop() can close it."""

    def __init__(self, listener: CaptureListener, **kwargs: Any) -> None:
        super().__init__(listener.handler, **kwargs)
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.listener.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.sessions.discard(self)
        super().connection_lost(exc)


class CaptureListener:
    """An SMTP server on the caller's event loop that records every message.

    It binds ``host`` (127.0.0.1 by default) on ``port`` (0 picks a free one)
    and publishes the bound port as :attr:`port` once :meth:`start` returns.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, errors: list[str] | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.handler = CaptureHandler(errors if errors is not None else [])
        self.sessions: set[CaptureSMTP] = set()
        self._server: asyncio.base_events.Server | None = None

    @property
    def messages(self) -> list[CapturedMail]:
        return self.handler.messages

    async def start(self) -> None:
        """Bind the listening socket; return once it accepts connections."""
        loop = asyncio.get_running_loop()

        def protocol_factory() -> CaptureSMTP:
            return CaptureSMTP(self, hostname=CAPTURE_HOSTNAME, enable_SMTPUTF8=True, data_size_limit=None)

        self._server = await loop.create_server(protocol_factory, self.host, self.requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        smtp_logger.debug("capture listener on %s:%s", self.host, self.port)

    def clear(self) -> None:
        self.handler.messages.clear()

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        # From Python 3.12 on, wait_closed() also waits for open client
        # connections, so a stuck client must not hold up the session teardown.
        try:
            await asyncio.wait_for(self._server.wait_closed(), timeout=STOP_TIMEOUT)
        except TimeoutError:
            smtp_logger.warning("capture listener: clients still connected after %.0f s; leaving them", STOP_TIMEOUT)
        self._server = None

"""Helpers for the sink tests: a capture SMTP server, a raw SMTP client and polling."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.message
import email.policy
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session

from emulator.app import EmulatorServer
from emulator.config import Settings
from emulator.sink.options import MixShares, SinkSettings

T = TypeVar("T")

NO_MIX = MixShares(oob=0, fbl=0, open=0, open_again=0, click=0, click_again=0, bounce=0)


@dataclasses.dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    # MAIL FROM parameters, upper-cased by aiosmtpd, such as "BODY=8BITMIME" and "SMTPUTF8".
    mail_options: list[str] = dataclasses.field(default_factory=list)

    def parsed(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class CaptureHandler:
    def __init__(self) -> None:
        self.messages: list[Captured] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(
            Captured(
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                envelope.original_content or b"",
                list(envelope.mail_options),
            )
        )
        return "250 2.0.0 captured"


class CaptureServer:
    """An aiosmtpd server on 127.0.0.1 standing in for PowerMTA's port 25."""

    def __init__(self, port: int = 0, *, smtputf8: bool = True) -> None:
        self.handler = CaptureHandler()
        self.requested_port = port
        # False stands for a listener that does not advertise SMTPUTF8.
        self.smtputf8 = smtputf8
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def messages(self) -> list[Captured]:
        return self.handler.messages

    async def start(self) -> CaptureServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, hostname="capture.test", enable_SMTPUTF8=self.smtputf8),
            "127.0.0.1",
            self.requested_port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


async def start_emulator(return_port: int, **sink: Any) -> EmulatorServer:
    """Start an EmulatorServer (HTTP and sink on free ports) whose reports go to ``return_port``."""
    seed = sink.pop("seed", 7)
    tracking = sink.pop("tracking", None)
    sink.setdefault("return_delay", 0)
    sink.setdefault("engage_delay", 0)
    sink.setdefault("mix", NO_MIX)
    settings = Settings(
        port=0,
        seed=seed,
        tracking=tracking,
        sink=SinkSettings(port=0, return_smtp=("127.0.0.1", return_port), **sink),
    )
    server = EmulatorServer(settings)
    await server.start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(check: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_for_async(check: Callable[[], Awaitable[T | None]], timeout: float = 10.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


class RawClient:
    """A line-level SMTP client that shows every reply, for checking exact conversations."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        client = cls(reader, writer)
        greeting = await client.reply()
        assert greeting.startswith("220"), greeting
        return client

    async def reply(self, timeout: float = 5.0) -> str:
        """Read one (possibly multi-line) reply; return its lines joined by newlines."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            if not line:
                raise ConnectionError("connection closed")
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return "\n".join(lines)

    async def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)
        await self.writer.drain()

    async def command(self, line: str | bytes) -> str:
        await self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return await self.reply()

    async def no_reply_pending(self, wait: float = 0.2) -> bool:
        """Return True when no further reply arrives within ``wait`` seconds."""
        try:
            line = await asyncio.wait_for(self.reader.readline(), wait)
        except TimeoutError:
            return True
        return not line

    async def transaction(
        self, sender: str, recipients: list[str], body: bytes, mail_options: str = ""
    ) -> tuple[list[str], str | None]:
        """Run MAIL, RCPT..., DATA; return the RCPT replies and the final reply (None if DATA was not sent).

        ``mail_options`` are MAIL FROM parameters such as "BODY=8BITMIME SMTPUTF8".
        """
        mail = await self.command(f"MAIL FROM:<{sender}> {mail_options}".rstrip())
        assert mail.startswith("250"), mail
        replies = [await self.command(f"RCPT TO:<{rcpt}>") for rcpt in recipients]
        if not any(reply.startswith("250") for reply in replies):
            await self.command("RSET")
            return replies, None
        data = await self.command("DATA")
        assert data.startswith("354"), data
        await self.send(body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        return replies, await self.reply()

    async def close(self) -> None:
        try:
            await self.command("QUIT")
        except (ConnectionError, TimeoutError):
            pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


def simple_message(to: str, subject: str = "hello", sender: str = "news@pmta.example.com", extra: str = "") -> bytes:
    return (
        f"From: Sender <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@pmta.example.com>\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello there.\r\n"
    ).encode()

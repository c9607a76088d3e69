"""The sink component: SMTP listener, message store, reports and engagement."""

from __future__ import annotations

import asyncio
import collections
import email.parser
import email.policy
import email.utils
import ssl
import time
import traceback
import weakref
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import Envelope, Session

from emulator.api.keys import RANDOM, SERVER_ERRORS, SETTINGS, base_url
from emulator.log import smtp_logger
from emulator.sink import arf, dsn
from emulator.sink.catalogue import USER_UNKNOWN, render
from emulator.sink.engagement import Engager
from emulator.sink.handler import (
    AcceptedRecipient,
    SinkHandler,
    SinkSMTP,
    envelope_sender,
)
from emulator.sink.messages import MessageStore, RecipientRecord, StoredMessage
from emulator.sink.options import SinkSettings
from emulator.sink.policy import Policy
from emulator.sink.returns import ReturnMailer

# Counters that stats() always lists, even at zero.
ACTION_COUNTERS = (
    "messages", "recipients", "accepted", "bounced", "deferred", "relay_denied",
    "oob_sent", "fbl_sent", "oob_abandoned", "fbl_abandoned", "no_return_path", "delivery_failures",
    "opens", "clicks", "open_requests", "click_requests", "fetch_failures",
    "unattributed_links", "no_html", "no_tracking_pixel", "evictions", "report_errors",
)


class SinkComponent:
    """Bouncy-Sink-style SMTP server registered in ``app[COMPONENTS]["sink"]``."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.settings: SinkSettings = app[SETTINGS].sink
        self._random_source = app[RANDOM].child("sink")
        # One stream per concern, named so reset() can restart each from the seed.
        self._random_streams = {
            label: self._random_source.child(label).random for label in ("policy", "reports", "ids", "engagement")
        }
        self.counters: collections.Counter[str] = collections.Counter()
        self.policy = Policy(self.settings.mix, self._random_streams["policy"])
        self._report_rng = self._random_streams["reports"]
        self._id_rng = self._random_streams["ids"]
        self.messages = MessageStore(self.settings.max_messages)
        self.engager = Engager(lambda: base_url(app), self._random_streams["engagement"], self.counters)
        self.returns = ReturnMailer(
            self.settings.return_smtp,
            delay=self.settings.return_delay,
            retry_for=self.settings.return_retry_for,
            counters=self.counters,
            errors=app[SERVER_ERRORS],
            local_hostname=self.settings.hostname,
        )
        self.handler = SinkHandler(
            domains=self.settings.domains,
            policy=self.policy,
            counters=self.counters,
            on_message=self._on_message,
        )
        self._server: asyncio.base_events.Server | None = None
        # Open SMTP sessions, closed on stop() so no transport outlives the sink.
        self._sessions: weakref.WeakSet[SinkSMTP] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[None]] = set()
        self.host: str = self.settings.host
        self.port: int | None = None

    # Component protocol.

    async def start(self) -> None:
        """Bind the SMTP listener; return once it accepts connections."""
        loop = asyncio.get_running_loop()
        tls_context = self._tls_context()
        settings = self.settings

        def make_protocol() -> SinkSMTP:
            protocol = SinkSMTP(
                self.handler,
                data_size_limit=settings.max_message_size,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=settings.hostname,
                ident="Bouncy Sink ESMTP (SparkPost Signals emulator)",
                tls_context=tls_context,
                timeout=300,
                loop=loop,
            )
            self._sessions.add(protocol)
            return protocol

        self._server = await loop.create_server(make_protocol, settings.host, settings.port)
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        smtp_logger.info("SMTP sink listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                transport = getattr(session, "transport", None)
                if transport is not None and not transport.is_closing():
                    transport.close()
            # Python 3.11's wait_closed() returns at once, so the sessions are closed above.
            await self._server.wait_closed()
            self._server = None
        await self._cancel_tasks()
        await self.returns.cancel_all()
        await self.engager.close()

    async def reset(self) -> None:
        """Forget stored messages, counters and greylist state; cancel pending reports and engagement.

        The random streams restart from the seed, so after a reset the same
        recipients get the same behaviours whatever ran before.
        """
        await self._cancel_tasks()
        await self.returns.cancel_all()
        self.messages.clear()
        self.counters.clear()
        self.policy.reset()
        for label, stream in self._random_streams.items():
            stream.setstate(self._random_source.child(label).random.getstate())

    def describe(self) -> list[str]:
        return_host, return_port = self.settings.return_smtp
        listening = f"{self.host}:{self.port}" if self.port is not None else "(not started)"
        tls = " with STARTTLS" if self.settings.tls_cert else ""
        domains = ", ".join(self.settings.domains)
        return [f"Bouncy Sink SMTP on {listening}{tls} for {domains}, DSN/ARF to {return_host}:{return_port}"]

    def stats(self) -> dict[str, Any]:
        """Return counters per behaviour and per action."""
        behaviours = {
            key.split(".", 1)[1]: value for key, value in sorted(self.counters.items()) if key.startswith("behaviour.")
        }
        actions = {name: self.counters.get(name, 0) for name in ACTION_COUNTERS}
        actions["evictions"] = self.messages.evictions
        for key, value in self.counters.items():
            if not key.startswith("behaviour.") and key not in actions:
                actions[key] = value
        return {
            "behaviours": behaviours,
            "actions": actions,
            "stored_messages": len(self.messages),
            "pending_reports": self.returns.pending,
            "pending_engagements": len(self._tasks),
        }

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no report or engagement is pending (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._tasks or self.returns.pending:
            if time.monotonic() > deadline:
                raise TimeoutError("sink still has pending reports or engagement")
            await asyncio.sleep(0.02)

    # Message handling.

    def _on_message(self, session: Session, envelope: Envelope, accepted: list[AcceptedRecipient]) -> tuple[str, str]:
        raw = envelope.original_content or b""
        message_id = f"{self._id_rng.getrandbits(64):016x}"
        records = [RecipientRecord(item.address, item.plan) for item in accepted]
        rejecting = [record for record in records if record.plan.reply is not None]
        reply = f"250 2.0.0 Ok: queued as {message_id}"
        if rejecting and len(rejecting) == len(records):
            # A DATA-stage reply applies to the whole message, as at a real server.
            reply = rejecting[0].plan.reply or "554 5.7.1 Message rejected"
            for record in records:
                record.status = "bounced" if reply.startswith("5") else "deferred"
                self.counters[record.status] += 1
        peer = session.peer[0] if isinstance(session.peer, tuple) else "127.0.0.1"
        message = StoredMessage(
            id=message_id,
            received_at=time.time(),
            peer=str(peer),
            helo=session.host_name or "",
            mail_from=envelope_sender(envelope),
            raw=raw,
            recipients=records,
            reply=reply,
        )
        self.counters["messages"] += 1
        self.messages.add(message)
        if reply.startswith("250"):
            for record in records:
                self._after_accept_guarded(message, record)
        return reply, message_id

    def _after_accept_guarded(self, message: StoredMessage, record: RecipientRecord) -> None:
        # The message is already accepted, so a failure while building a report must
        # not become a 500 reply: it is logged, counted and recorded for the test plugin.
        try:
            self._after_accept(message, record)
        except Exception as exc:  # noqa: BLE001 - the server keeps running
            self.counters["report_errors"] += 1
            record.actions.append({"action": "report_error", "detail": repr(exc), "at": time.time()})
            self.app[SERVER_ERRORS].append(traceback.format_exc())
            smtp_logger.exception("building the report for message %s to %s failed", message.id, record.address)

    def _after_accept(self, message: StoredMessage, record: RecipientRecord) -> None:
        self.counters["accepted"] += 1
        plan = record.plan
        if plan.reply is not None:
            # Other recipients of the message were accepted, so this DATA-stage failure
            # becomes an out-of-band bounce carrying the same reply.
            record.actions.append({"action": "data_reply_as_oob", "reply": plan.reply, "at": time.time()})
            self._send_oob(message, record, plan.reply)
            return
        if plan.oob:
            context = {"rcpt": record.address}
            self._send_oob(message, record, render(USER_UNKNOWN, context, self._report_rng))
        if plan.fbl:
            self._send_fbl(message, record)
        if plan.opens or plan.clicks:
            self._spawn(self._engage(message, record))

    def _send_oob(self, message: StoredMessage, record: RecipientRecord, diagnostic: str) -> None:
        if not message.mail_from:
            self._no_return_path(message, record, "oob")
            return
        bounce = dsn.BounceInput(
            original=message.raw,
            recipient=record.address,
            return_path=message.mail_from,
            diagnostic=diagnostic,
            reporting_mta=self.settings.hostname,
            peer_ip=message.peer,
            arrival=message.received_at,
        )
        data = dsn.build_dsn(bounce, self._report_rng)
        self.returns.submit("oob", message.id, message.mail_from, data, self._report_callback(message, record, "oob"))

    def _send_fbl(self, message: StoredMessage, record: RecipientRecord) -> None:
        if not message.mail_from:
            self._no_return_path(message, record, "fbl")
            return
        fbl_to = self.settings.fbl_to or arf.default_fbl_address(message.mail_from)
        complaint = arf.ComplaintInput(
            original=message.raw,
            complainant=_header_address(message.raw, "To") or record.address,
            recipient=record.address,
            return_path=message.mail_from,
            fbl_to=fbl_to,
            reporting_mta=self.settings.hostname,
            peer_ip=message.peer,
            arrival=message.received_at,
        )
        data = arf.build_arf(complaint, self._report_rng)
        self.returns.submit("fbl", message.id, fbl_to, data, self._report_callback(message, record, "fbl"))

    def _no_return_path(self, message: StoredMessage, record: RecipientRecord, kind: str) -> None:
        self.counters["no_return_path"] += 1
        record.actions.append({"action": f"{kind}_skipped", "reason": "null envelope sender", "at": time.time()})
        smtp_logger.warning("message %s has a null envelope sender, %s report for %s not sent", message.id, kind,
                            record.address)

    def _report_callback(self, message: StoredMessage, record: RecipientRecord, kind: str) -> Any:
        def done(ok: bool, detail: str) -> None:
            action = f"{kind}_sent" if ok else f"{kind}_failed"
            record.actions.append({"action": action, "detail": detail, "at": time.time()})

        return done

    async def _engage(self, message: StoredMessage, record: RecipientRecord) -> None:
        if self.settings.engage_delay:
            await asyncio.sleep(self.settings.engage_delay)
        actions = await self.engager.engage(message.raw, message.id, record.plan.opens, record.plan.clicks)
        for action in actions:
            record.actions.append({**action, "at": time.time()})

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coroutine: Any) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - recorded for the test plugin, the server keeps running
            self.app[SERVER_ERRORS].append(traceback.format_exc())
            smtp_logger.exception("sink background task failed")

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.settings.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        return context


def _header_address(raw: bytes, name: str) -> str | None:
    """Return the first address of header ``name``, tolerating display names with commas."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    value = headers.get(name)
    if not value:
        return None
    addresses = [address for _, address in email.utils.getaddresses([str(value)]) if "@" in address]
    return addresses[0] if addresses else None

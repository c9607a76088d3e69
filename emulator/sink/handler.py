"""The SMTP side of the sink: an aiosmtpd protocol subclass and a thin handler.

The handler only routes.  It gets a plan per recipient from the
:class:`~emulator.sink.policy.Policy`, replies to RCPT and DATA from it, and
passes accepted messages to the component (``on_message``), which stores them
and schedules reports and engagement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from emulator.log import smtp_logger
from emulator.sink.policy import NO_DOMAIN, RELAY_DENIED, Plan, Policy, sink_domain

# RFC 5321 section 4.5.3.1.6: a text line is at most 998 octets before its CRLF.
MAX_LINE_LENGTH = 998
LINE_TOO_LONG = "500 5.5.2 Line too long, the limit is 998 characters plus CRLF"
AUTH_NOT_SUPPORTED = "502 5.5.1 AUTH is not supported by this server"

# aiosmtpd's own replies without enhanced status codes, and what the sink sends instead.
_REPLY_REWRITES = (
    ("552 Error: message size exceeds", "552 5.3.4 Message size exceeds fixed maximum message size"),
    ("552 Error: Too much mail data", "552 5.3.4 Message size exceeds fixed maximum message size"),
    ("500 Line too long", LINE_TOO_LONG),
    ("500 Error: command \"BDAT\"", "502 5.5.1 BDAT (CHUNKING) is not supported"),
)


@dataclasses.dataclass
class AcceptedRecipient:
    address: str
    plan: Plan


class SinkSMTP(SMTP):
    """aiosmtpd's SMTP protocol with realistic replies for its built-in errors.

    It counts the recipients refused in the current transaction, so DATA after
    only refused recipients gets ``554 no valid recipients`` (as with pipelining
    a client sends DATA before it has read the RCPT replies) instead of ``503``.
    """

    refused_recipients = 0
    # Whether the current RCPT TO address was written in angle brackets.
    rcpt_in_brackets = False

    async def smtp_MAIL(self, arg: str | None) -> None:
        self.refused_recipients = 0
        await super().smtp_MAIL(arg)

    async def smtp_RSET(self, arg: str) -> None:
        self.refused_recipients = 0
        await super().smtp_RSET(arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        path = (arg or "")[3:].lstrip() if (arg or "")[:3].upper() == "TO:" else ""
        self.rcpt_in_brackets = path.startswith("<")
        await super().smtp_RCPT(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        # aiosmtpd replies 538 (encryption required) to AUTH, but the sink never
        # advertises AUTH, so the command is not implemented here at all.
        await self.push(AUTH_NOT_SUPPORTED)

    async def smtp_DATA(self, arg: str) -> None:
        envelope = self.envelope
        if envelope is not None and envelope.mail_from is not None and not envelope.rcpt_tos and self.refused_recipients:
            await self.push("554 5.5.1 Error: no valid recipients")
            return
        await super().smtp_DATA(arg)

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            for prefix, replacement in _REPLY_REWRITES:
                if status.startswith(prefix):
                    status = replacement
                    break
        await super().push(status)


class SinkHandler:
    """aiosmtpd handler that replies to RCPT and DATA from the policy's plans."""

    def __init__(
        self,
        *,
        domains: tuple[str, ...],
        policy: Policy,
        counters: Any,
        on_message: Callable[[Session, Envelope, list[AcceptedRecipient]], tuple[str, str]],
    ) -> None:
        self.domains = domains
        self.policy = policy
        self.counters = counters
        self.on_message = on_message

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        # Advertise PIPELINING (aiosmtpd reads commands in order, which is all it needs);
        # drop AUTH, which the sink does not implement.
        advertised = [line for line in responses if not line[4:].upper().startswith("AUTH")]
        advertised.insert(len(advertised) - 1, "250-PIPELINING")
        return advertised

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        peer = _peer_ip(session)
        if "@" not in address:
            # RFC 5321 section 4.5.1: a server must accept <Postmaster> without a domain.
            if address.lower() == "postmaster" and getattr(server, "rcpt_in_brackets", False):
                self.counters["behaviour.accept"] += 1
                self.counters["recipients"] += 1
                return self._accept(envelope, address, rcpt_options, Plan("accept"))
            self._refused(server)
            return NO_DOMAIN
        routed = sink_domain(address, self.domains)
        if routed is None:
            self._refused(server)
            self.counters["relay_denied"] += 1
            smtp_logger.info("relaying denied for %s from %s (peer %s)", address, envelope.mail_from, peer)
            return RELAY_DENIED

        domain, label = routed
        local_part = address.rpartition("@")[0]
        context = {
            "rcpt": address,
            "rcpt_user": local_part.strip('"'),
            "rcpt_domain": domain,
            "sender": envelope_sender(envelope),
            "client_ip": peer,
            "mx": f"mx1.{domain}",
        }

        plan = self.policy.decide(address, label, context)
        self.counters[f"behaviour.{plan.behaviour}"] += 1
        self.counters["recipients"] += 1
        if plan.reply is not None and plan.stage == "rcpt":
            self._refused(server)
            self.counters["bounced" if plan.reply.startswith("5") else "deferred"] += 1
            smtp_logger.info("RCPT %s (%s) from peer %s rejected with %s", address, plan.behaviour, peer, plan.reply)
            return plan.reply

        return self._accept(envelope, address, rcpt_options, plan)

    def _accept(self, envelope: Envelope, address: str, rcpt_options: list[str], plan: Plan) -> str:
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        accepted: list[AcceptedRecipient] = getattr(envelope, "sink_recipients", [])
        accepted.append(AcceptedRecipient(address, plan))
        envelope.sink_recipients = accepted  # type: ignore[attr-defined]
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        accepted: list[AcceptedRecipient] = getattr(envelope, "sink_recipients", [])
        if has_long_line(envelope.original_content or b""):
            smtp_logger.info("message from %s, peer %s: %s", envelope.mail_from, _peer_ip(session), LINE_TOO_LONG)
            return LINE_TOO_LONG
        reply, message_id = self.on_message(session, envelope, accepted)
        smtp_logger.info(
            "message %s from %s for %d recipient(s), peer %s: %s",
            message_id, envelope.mail_from, len(accepted), _peer_ip(session), reply,
        )
        return reply

    @staticmethod
    def _refused(server: SMTP) -> None:
        if isinstance(server, SinkSMTP):
            server.refused_recipients += 1


def has_long_line(content: bytes) -> bool:
    """Return whether a line of ``content`` (dot-stuffing removed) is longer than 998 octets before CRLF.

    aiosmtpd's own check refuses lines of 1000 octets or more, counting the
    CRLF and any dot added for transparency, so this finds the 999-octet ones.
    """
    if len(content) <= MAX_LINE_LENGTH:
        return False
    return any(len(line) > MAX_LINE_LENGTH for line in content.split(b"\r\n"))


def envelope_sender(envelope: Envelope) -> str:
    """Return the envelope sender, "" for the null sender (aiosmtpd keeps it as ``<>``)."""
    sender = envelope.mail_from or ""
    return "" if sender == "<>" else sender


def _peer_ip(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "127.0.0.1"

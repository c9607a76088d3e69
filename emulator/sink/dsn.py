"""Out-of-band bounces: RFC 3464 delivery status notifications.

The result is a ``multipart/report; report-type=delivery-status`` mail with a
human-readable part, a ``message/delivery-status`` part and the received
message as ``message/rfc822``.  It is sent from the null sender to the
received mail's envelope sender, as RFC 3461 requires of a DSN.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time

from emulator.sink import reports

_ENHANCED_RE = re.compile(r"^[245][0-9]{2}[ -]([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")


@dataclasses.dataclass(frozen=True, kw_only=True)
class BounceInput:
    """Input of a DSN: the received mail, its sender and why one recipient failed."""

    original: bytes
    recipient: str
    return_path: str
    # The SMTP reply the recipient's mailbox "gave", such as "550 5.1.1 ... User unknown".
    diagnostic: str
    reporting_mta: str
    peer_ip: str
    arrival: float


def status_of(diagnostic: str) -> str:
    """Return the enhanced status of a reply line, or ``X.0.0`` from its basic code."""
    match = _ENHANCED_RE.match(diagnostic)
    if match:
        return match.group(1)
    return f"{diagnostic[:1] or '5'}.0.0"


def build_dsn(bounce: BounceInput, rng: random.Random, *, now: float | None = None) -> bytes:
    """Return the DSN for ``bounce`` as wire bytes (CRLF line ends)."""
    now = time.time() if now is None else now
    status = status_of(bounce.diagnostic)
    remote_mta = f"mx1.{reports.address_domain(bounce.recipient)}"
    container = reports.report_container("delivery-status", rng)
    container["From"] = f"Mail Delivery System <MAILER-DAEMON@{bounce.reporting_mta}>"
    container["To"] = f"<{bounce.return_path}>"
    container["Subject"] = "Undelivered Mail Returned to Sender"
    container["Date"] = reports.rfc2822_date(now)
    container["Message-ID"] = reports.make_msgid(rng, bounce.reporting_mta)
    container["Auto-Submitted"] = "auto-replied"

    human = (
        f"This is the mail system at host {bounce.reporting_mta}.\r\n"
        "\r\n"
        "Your message could not be delivered to one or more recipients.\r\n"
        "The mailbox's reply is shown below.\r\n"
        "\r\n"
        f"<{bounce.recipient}>: host {remote_mta} said: {bounce.diagnostic}\r\n"
    )
    per_message = [
        ("Reporting-MTA", f"dns; {bounce.reporting_mta}"),
        ("Received-From-MTA", f"dns; [{bounce.peer_ip}]"),
        ("Arrival-Date", reports.rfc2822_date(bounce.arrival)),
    ]
    # NOTE: a UTF-8 recipient is written as is after "rfc822;".  RFC 6533 would use the
    # "utf-8" address type in a message/global-delivery-status part instead.
    per_recipient = [
        ("Final-Recipient", f"rfc822; {bounce.recipient}"),
        ("Original-Recipient", f"rfc822; {bounce.recipient}"),
        ("Action", "failed"),
        ("Status", status),
        ("Remote-MTA", f"dns; {remote_mta}"),
        ("Diagnostic-Code", f"smtp; {bounce.diagnostic}"),
        ("Last-Attempt-Date", reports.rfc2822_date(now)),
    ]
    container.attach(reports.text_part(human))
    container.attach(reports.fields_part("delivery-status", [per_message, per_recipient]))
    container.attach(reports.original_part(bounce.original))
    return reports.serialise(container)

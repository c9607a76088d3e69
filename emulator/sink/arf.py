"""Spam complaints: RFC 5965 Abuse Reporting Format reports.

The result is a ``multipart/report; report-type=feedback-report`` mail with a
human-readable part, a ``message/feedback-report`` part with ``Feedback-Type:
abuse`` and ``Version: 1``, and the received message as ``message/rfc822``.
SparkPost matches the complaint to its send through the ``X-MSFBL`` header of
that embedded message, which is kept as it arrived.
"""

from __future__ import annotations

import dataclasses
import random
import time

from emulator import __version__
from emulator.sink import reports

USER_AGENT = f"sparkpost-signals-emulator-sink/{__version__}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComplaintInput:
    """Input of an ARF report: the received mail and the recipient who complains about it."""

    original: bytes
    # The complaining mailbox: the received mail's To: address (the envelope recipient if it had none).
    complainant: str
    recipient: str
    return_path: str
    fbl_to: str
    reporting_mta: str
    peer_ip: str
    arrival: float


def default_fbl_address(return_path: str) -> str:
    """Return ``fbl@fbl.<return-path domain>``, the default complaint recipient."""
    return f"fbl@fbl.{reports.address_domain(return_path)}"


def build_arf(complaint: ComplaintInput, rng: random.Random, *, now: float | None = None) -> bytes:
    """Return the ARF report for ``complaint`` as wire bytes (CRLF line ends)."""
    now = time.time() if now is None else now
    arrival = reports.rfc2822_date(complaint.arrival)
    container = reports.report_container("feedback-report", rng)
    container["From"] = complaint.complainant
    container["To"] = f"<{complaint.fbl_to}>"
    container["Subject"] = f"Abuse report for a message from {complaint.peer_ip}"
    container["Date"] = reports.rfc2822_date(now)
    container["Message-ID"] = reports.make_msgid(rng, complaint.reporting_mta)

    human = (
        f"This is an email abuse report for an email message received from IP {complaint.peer_ip} "
        f"on {arrival}.\r\n"
        "The recipient marked it as spam.  The report format is described in RFC 5965.\r\n"
    )
    feedback = [
        ("Feedback-Type", "abuse"),
        ("User-Agent", USER_AGENT),
        ("Version", "1"),
        ("Original-Mail-From", f"<{complaint.return_path}>"),
        ("Original-Rcpt-To", f"<{complaint.recipient}>"),
        ("Arrival-Date", arrival),
        ("Reporting-MTA", f"dns; {complaint.reporting_mta}"),
        ("Source-IP", complaint.peer_ip),
        ("Reported-Domain", reports.address_domain(complaint.return_path)),
    ]
    container.attach(reports.text_part(human))
    container.attach(reports.fields_part("feedback-report", [feedback]))
    container.attach(reports.original_part(complaint.original))
    return reports.serialise(container)

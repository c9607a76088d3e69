"""Parse the mail the sink sends back (DSNs and ARF complaints) into assertable records."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email
import email.policy
import json
from email.message import EmailMessage, Message
from email.utils import parseaddr
from typing import Any

DSN = "dsn"
ARF = "arf"
OTHER = "other"


@dataclasses.dataclass(frozen=True)
class ReturnedMail:
    """One message received by the capture listener, with the report fields pulled out.

    ``kind`` is ``"dsn"`` (RFC 3464 delivery status), ``"arf"`` (RFC 5965
    feedback report) or ``"other"``.  ``recipient`` is the sink recipient the
    report is about: ``Final-Recipient`` of a DSN; for a complaint the ``r`` of
    the original's ``X-MSFBL`` header, else ``Original-Rcpt-To``.
    ``original_message_id`` is the ``Message-ID`` header of the returned
    original; ``sparkpost_message_id`` is its ``X-Sp-Message-Id`` header or the
    ``message_id`` inside its ``X-MSFBL`` header, which also gives
    ``subaccount_id`` and ``customer_id`` (as integers, whatever JSON type they had).
    """

    kind: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    recipient: str | None
    original_message_id: str | None
    sparkpost_message_id: str | None
    subaccount_id: int | None
    customer_id: int | None
    action: str | None
    status: str | None
    diagnostic_code: str | None
    feedback_type: str | None
    report: dict[str, str]
    original_headers: dict[str, str]
    message: EmailMessage
    raw: bytes
    received_at: float

    @property
    def failed(self) -> bool:
        """Whether this is a DSN reporting a final failure: ``Action: failed`` decides, whatever the status class."""
        return self.kind == DSN and (self.action or "").lower() == "failed"

    def summary(self) -> str:
        """Return one line for failure messages and report sections."""
        detail = self.status or self.feedback_type or "-"
        return (
            f"{self.kind} from <{self.mail_from}> to {', '.join(self.rcpt_tos)}: "
            f"recipient={self.recipient} {detail} sparkpost_message_id={self.sparkpost_message_id}"
        )


def parse_returned_mail(
    raw: bytes, *, mail_from: str, rcpt_tos: tuple[str, ...] | list[str], received_at: float
) -> ReturnedMail:
    """Parse one captured message; malformed parts leave the matching fields ``None``."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    report_type = str(message.get_param("report-type", "", header="content-type") or "").lower()

    status_blocks = _report_blocks(message, "message/delivery-status")
    feedback_blocks = _report_blocks(message, "message/feedback-report")
    if report_type == "delivery-status" or (status_blocks and not feedback_blocks):
        kind = DSN
    elif report_type == "feedback-report" or feedback_blocks:
        kind = ARF
    else:
        kind = OTHER

    report: dict[str, str] = {}
    for block in status_blocks if kind == DSN else feedback_blocks:
        for name, value in block.items():
            report.setdefault(name.lower(), str(value).strip())

    original = _original_headers(message)
    msfbl = decode_msfbl(original["x-msfbl"]) if original.get("x-msfbl") else {}
    if kind == DSN:
        recipient = _address_field(report.get("final-recipient") or report.get("original-recipient"))
    elif kind == ARF:
        # SparkPost matches a complaint through the original's X-MSFBL header, whose
        # "r" is the recipient; many reports redact Original-Rcpt-To and the To header.
        recipient = (
            _address_field(str(msfbl.get("r") or ""))
            or _address_field(report.get("original-rcpt-to"))
            or _address_field(report.get("removal-recipient"))
            or _address_field(original.get("to"))
        )
    else:
        recipient = None

    return ReturnedMail(
        kind=kind,
        mail_from=mail_from,
        rcpt_tos=tuple(rcpt_tos),
        recipient=recipient,
        original_message_id=original.get("message-id"),
        sparkpost_message_id=original.get("x-sp-message-id") or str(msfbl.get("message_id") or "") or None,
        subaccount_id=_integer(msfbl.get("subaccount_id")),
        customer_id=_integer(msfbl.get("customer_id")),
        action=report.get("action") if kind == DSN else None,
        status=report.get("status") if kind == DSN else None,
        diagnostic_code=report.get("diagnostic-code") if kind == DSN else None,
        feedback_type=report.get("feedback-type") if kind == ARF else None,
        report=report,
        original_headers=original,
        message=message,
        raw=raw,
        received_at=received_at,
    )


def _report_blocks(message: Message, content_type: str) -> list[Message]:
    """Return the header blocks of the first part of ``content_type``.

    The standard library parses ``message/delivery-status`` into one block per
    per-message or per-recipient group, and any other ``message/*`` type into
    a single nested message whose headers are the report fields.
    """
    for part in message.walk():
        if part.get_content_type() != content_type:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            return [block for block in payload if isinstance(block, Message)]
        if isinstance(payload, str):
            return [email.message_from_string(payload.lstrip("\r\n"), policy=email.policy.default)]
    return []


def _original_headers(message: Message) -> dict[str, str]:
    """Return the headers of the returned original (``message/rfc822`` or ``text/rfc822-headers``)."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return _lower_headers(payload[0])
        elif content_type == "text/rfc822-headers":
            text = part.get_content() if isinstance(part, EmailMessage) else str(part.get_payload())
            return _lower_headers(email.message_from_string(text.lstrip("\r\n"), policy=email.policy.default))
    return {}


def _lower_headers(message: Message) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in message.items():
        headers.setdefault(name.lower(), str(value).strip())
    return headers


def _address_field(value: str | None) -> str | None:
    """Return the address of ``rfc822; user@host`` (or a plain or bracketed address)."""
    if not value:
        return None
    _, _, text = value.rpartition(";")
    address = parseaddr(text.strip())[1] or text.strip()
    # Redacted reports carry placeholders such as "undisclosed" instead of an address.
    return address if "@" in address else None


def _integer(value: Any) -> int | None:
    """Return ``value`` as an int when it is one or a decimal string ("26"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def decode_msfbl(value: str) -> dict[str, Any]:
    """Decode the JSON half of an ``X-MSFBL`` header (``<hmac>|<base64 JSON>``); ``{}`` when unreadable.

    The HMAC half is not verified, as SparkPost's own sample loaders do not verify it.
    """
    compact = "".join(value.split())
    encoded = compact.rpartition("|")[2]
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
        data = json.loads(decoded)
    except (binascii.Error, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

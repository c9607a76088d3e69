"""Shared pieces of the DSN and ARF builders: the multipart/report container and serialisation."""

from __future__ import annotations

import email.generator
import email.message
import email.policy
import email.utils
import io
import random
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart

# compat32 keeps 8-bit bytes of the embedded original as they arrived; SMTP wants CRLF.
WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")


def report_container(report_type: str, boundary_rng: random.Random) -> MIMEMultipart:
    """Return an empty ``multipart/report`` message of ``report_type``."""
    boundary = f"=_report_{boundary_rng.getrandbits(64):016x}"
    container = MIMEMultipart("report", boundary=boundary, **{"report-type": report_type})
    container.preamble = "This is a MIME-formatted message.  Portions of it may be unreadable without a MIME reader."
    return container


def fields_part(subtype: str, blocks: list[list[tuple[str, str]]]) -> MIMEBase:
    """Return a ``message/<subtype>`` part whose body is header-style field blocks."""
    part = MIMEBase("message", subtype)
    del part["MIME-Version"]
    messages = []
    for block in blocks:
        fields = email.message.Message()
        for name, value in block:
            fields[name] = value
        messages.append(fields)
    part.set_payload(messages)
    return part


def original_part(raw: bytes) -> MIMEBase:
    """Return the received message, byte for byte, as a ``message/rfc822`` part.

    The bytes are not re-serialised, so header folding, DKIM signatures and
    8-bit content survive as they arrived.
    """
    part = MIMEBase("message", "rfc822")
    del part["MIME-Version"]
    text = raw.decode("ascii", "surrogateescape")
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not text.endswith("\r\n"):
        text += "\r\n"
    part.set_payload(text)
    return part


def text_part(text: str) -> MIMEBase:
    part = MIMEBase("text", "plain", charset="us-ascii")
    del part["MIME-Version"]
    part["Content-Transfer-Encoding"] = "7bit"
    part.set_payload(text)
    return part


def serialise(message: email.message.Message) -> bytes:
    """Return ``message`` as bytes with CRLF line ends."""
    buffer = io.BytesIO()
    generator = email.generator.BytesGenerator(buffer, mangle_from_=False, policy=WIRE_POLICY)
    generator.flatten(message)
    return buffer.getvalue()


def rfc2822_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def make_msgid(rng: random.Random, domain: str) -> str:
    return f"<{rng.getrandbits(64):016x}.{rng.getrandbits(32):08x}@{domain}>"


def address_domain(address: str) -> str:
    return address.rpartition("@")[2].lower()

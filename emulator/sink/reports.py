"""Shared pieces of the DSN and ARF builders: the multipart/report container and serialisation."""

from __future__ import annotations

import email.charset
import email.generator
import email.message
import email.policy
import email.utils
import io
import random
import secrets
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart

# The SMTPUTF8 policy writes non-ASCII header values (a UTF-8 envelope sender or
# recipient) as raw UTF-8 instead of RFC 2047 encoded words, which are not
# allowed in addresses.  SMTP wants CRLF line ends.  Header values are written
# as built (refold_source="none"): none is near the 998-octet line limit, and
# refolding would break a long Final-Recipient line right after its colon.
WIRE_POLICY = email.policy.SMTPUTF8.clone(linesep="\r\n", refold_source="none")

_UTF8_QP = email.charset.Charset("utf-8")
_UTF8_QP.body_encoding = email.charset.QP


class OriginalPart(MIMEBase):
    """A ``message/rfc822`` part whose body is the received message's bytes.

    The generator cannot write 8-bit bytes from a string payload, so the part
    contains an ASCII placeholder line and :func:`serialise` puts the bytes in
    its place.
    """

    def __init__(self, raw: bytes) -> None:
        super().__init__("message", "rfc822")
        del self["MIME-Version"]
        body = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        if not body.isascii():
            # RFC 2046 allows 8bit for message/rfc822; the report is then sent with BODY=8BITMIME.
            self["Content-Transfer-Encoding"] = "8bit"
        self.raw = body
        # A random token, so a received message that contains it by accident is very unlikely.
        self.placeholder = f"original-message-{secrets.token_hex(16)}"
        self.set_payload(self.placeholder + "\r\n")


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


def original_part(raw: bytes) -> OriginalPart:
    """Return the received message, byte for byte, as a ``message/rfc822`` part.

    The bytes are not re-serialised, so header folding, DKIM signatures and
    8-bit content survive as they arrived.  Only bare LF line ends become CRLF.
    """
    return OriginalPart(raw)


def text_part(text: str) -> MIMEBase:
    """Return a ``text/plain`` part: 7bit US-ASCII, or quoted-printable UTF-8 when ``text`` is not ASCII."""
    if text.isascii():
        part = MIMEBase("text", "plain", charset="us-ascii")
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(text)
    else:
        part = MIMEBase("text", "plain")
        part.set_payload(text, _UTF8_QP)
    del part["MIME-Version"]
    return part


def serialise(message: email.message.Message) -> bytes:
    """Return ``message`` as bytes with CRLF line ends and its original parts inserted byte for byte."""
    buffer = io.BytesIO()
    generator = email.generator.BytesGenerator(buffer, mangle_from_=False, policy=WIRE_POLICY)
    generator.flatten(message)
    data = buffer.getvalue()
    for part in message.walk():
        if isinstance(part, OriginalPart):
            placeholder = part.placeholder.encode("ascii") + b"\r\n"
            if data.count(placeholder) != 1:
                raise ValueError(f"the original message placeholder appears {data.count(placeholder)} times")
            data = data.replace(placeholder, part.raw)
    return data


def needs_smtputf8(data: bytes, *addresses: str) -> bool:
    """Return whether a report must be sent with SMTPUTF8: an envelope address or a header is not ASCII."""
    if not all(address.isascii() for address in addresses):
        return True
    headers, _, _ = data.partition(b"\r\n\r\n")
    return not headers.isascii()


def rfc2822_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def make_msgid(rng: random.Random, domain: str) -> str:
    return f"<{rng.getrandbits(64):016x}.{rng.getrandbits(32):08x}@{domain}>"


def address_domain(address: str) -> str:
    return address.rpartition("@")[2].lower()

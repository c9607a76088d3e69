"""Encode and decode SparkPost's tracked-link paths.

A tracked link has the path ``/q/<SIG>~~/<ACCT>~/<DATA>`` for opens and
``/f/a/<SIG>~~/<ACCT>~/<DATA>`` for clicks.  Each segment is URL-safe base64
whose ``=`` padding is written as ``~`` or dropped.

- ``SIG``: 16 bytes.  SparkPost's algorithm and key are not public, so real
  links cannot be verified.  The emulator signs its own links with
  HMAC-SHA256 under a local key, truncated to 16 bytes.
- ``ACCT``: a 4-byte big-endian customer id, then one byte that is 0 in
  the sample.
- ``DATA``: records.  Most are ``tag, length, value``; the action tags
  ``=`` (initial open), ``>`` (open) and ``?`` (click) are single bytes.

This layout was decoded from one real SparkPost message (delivered in June
2018 to the public Bouncy Sink); SparkPost does not document it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import re
from urllib.parse import unquote, urlsplit

ACTIONS = ("initial_open", "open", "click")
SIGNATURE_BYTES = 16
# A record length above this is treated as corrupt data, not as a huge value.
MAX_RECORD_BYTES = 1 << 16

# Single-byte action flags.
_FLAG_ACTIONS = {0x3D: "initial_open", 0x3E: "open", 0x3F: "click"}
_ACTION_FLAGS = {action: tag for tag, action in _FLAG_ACTIONS.items()}

# Length-carrying records.
TAG_EXPIRES = 0x46  # F: uint32, Unix seconds
TAG_LINK_NAME = 0x45  # E: UTF-8
TAG_TARGET = 0x44  # D: UTF-8
TAG_TENANT = 0x57  # W: ASCII
TAG_SUBACCOUNT = 0x58  # X: uint32
TAG_MESSAGE_ID = 0x42  # B: raw bytes, hex-encoded to give message_id
TAG_RECIPIENT = 0x52  # R: UTF-8
# Emulator extension: a message id that is not 20 lower-case hex digits
# (a custom id such as PowerMTA's X-Sp-Message-Id value), as UTF-8.  Other
# decoders skip it as an unknown tag.
TAG_TEXT_MESSAGE_ID = 0x62  # b

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_HEX_MESSAGE_ID = re.compile(r"[0-9a-f]{20}")


@dataclasses.dataclass(frozen=True)
class TrackedLink:
    """The contents of one tracked link."""

    action: str  # "initial_open" | "open" | "click"
    message_id: str | None
    recipient: str | None
    target_url: str | None = None
    link_name: str | None = None
    customer_id: int | None = None
    subaccount_id: int | None = None
    tenant: str | None = None
    expires_at: int | None = None
    signature_valid: bool | None = None  # None when not checked


class TokenError(ValueError):
    """Invalid tracked-link path or URL; the message names the fault."""


def is_tracking_path(path: str) -> bool:
    """Return whether ``path`` is under the open (``/q/``) or click (``/f/``) prefix."""
    return path.startswith(("/q/", "/f/"))


# --- base64 segments -------------------------------------------------------


def _decode_segment(text: str, name: str) -> bytes:
    body = text.rstrip("~=")
    if not _SEGMENT.fullmatch(body):
        raise TokenError(f"{name} segment contains characters outside URL-safe base64")
    if len(body) % 4 == 1:
        raise TokenError(f"{name} segment has an impossible base64 length ({len(body)} characters)")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError(f"{name} segment is not valid base64: {exc}") from None


def _encode_segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").replace("=", "~")


def compute_signature(secret: bytes, account: bytes, data: bytes) -> bytes:
    """Return the emulator's 16-byte signature of an account and a data segment."""
    message = len(account).to_bytes(2, "big") + account + data
    return hmac.new(secret, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]


# --- DATA records ----------------------------------------------------------


def _read_length(data: bytes, index: int) -> tuple[int, int]:
    """Read a record length at ``index``; return (length, index after it).

    NOTE: every length in the known sample is below 128 and fits one byte.
    Longer values (target URLs over 127 bytes) are read and written as
    LEB128 varints; how SparkPost encodes them is not known.
    """
    length = 0
    shift = 0
    while True:
        if index >= len(data):
            raise TokenError("DATA ends inside a record length")
        byte = data[index]
        index += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 21:
            raise TokenError("DATA has a record length longer than 3 bytes")
    if length > MAX_RECORD_BYTES:
        raise TokenError(f"DATA has a record of {length} bytes, above the {MAX_RECORD_BYTES}-byte maximum")
    return length, index


def _write_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _iter_records(data: bytes) -> list[tuple[int, bytes | None]]:
    """Split DATA into (tag, value) pairs; flags have the value None."""
    records: list[tuple[int, bytes | None]] = []
    index = 0
    while index < len(data):
        tag = data[index]
        index += 1
        if tag in _FLAG_ACTIONS:
            records.append((tag, None))
            continue
        length, index = _read_length(data, index)
        end = index + length
        if end > len(data):
            raise TokenError(
                f"record 0x{tag:02x} needs {length} bytes but only {len(data) - index} remain"
            )
        records.append((tag, data[index:end]))
        index = end
    return records


def _text(tag: int, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError(f"record 0x{tag:02x} is not valid UTF-8") from None


def _uint32(tag: int, value: bytes) -> int:
    if len(value) != 4:
        raise TokenError(f"record 0x{tag:02x} must be 4 bytes, got {len(value)}")
    return int.from_bytes(value, "big")


def _parse_data(data: bytes) -> dict[str, object]:
    fields: dict[str, object] = {}
    actions: set[str] = set()
    for tag, value in _iter_records(data):
        if value is None:
            actions.add(_FLAG_ACTIONS[tag])
        elif tag == TAG_EXPIRES:
            fields["expires_at"] = _uint32(tag, value)
        elif tag == TAG_SUBACCOUNT:
            fields["subaccount_id"] = _uint32(tag, value)
        elif tag == TAG_MESSAGE_ID:
            if not value:
                raise TokenError("message id record is empty")
            fields["message_id"] = value.hex()
        elif tag == TAG_TEXT_MESSAGE_ID:
            fields["message_id"] = _text(tag, value)
        elif tag == TAG_LINK_NAME:
            fields["link_name"] = _text(tag, value)
        elif tag == TAG_TARGET:
            fields["target_url"] = _text(tag, value)
        elif tag == TAG_TENANT:
            fields["tenant"] = _text(tag, value)
        elif tag == TAG_RECIPIENT:
            fields["recipient"] = _text(tag, value)
        # Any other tag carries a length and is skipped.
    if len(actions) > 1:
        raise TokenError("DATA has more than one action flag: " + ", ".join(sorted(actions)))
    if actions:
        fields["action"] = actions.pop()
    return fields


def _build_data(link: TrackedLink) -> bytes:
    out = bytearray()

    def record(tag: int, value: bytes) -> None:
        out.append(tag)
        out.extend(_write_length(len(value)))
        out.extend(value)

    if link.expires_at is not None:
        record(TAG_EXPIRES, link.expires_at.to_bytes(4, "big"))
    out.append(_ACTION_FLAGS[link.action])
    if link.link_name is not None:
        record(TAG_LINK_NAME, link.link_name.encode("utf-8"))
    if link.target_url is not None:
        record(TAG_TARGET, link.target_url.encode("utf-8"))
    if link.tenant is not None:
        record(TAG_TENANT, link.tenant.encode("utf-8"))
    if link.subaccount_id is not None:
        record(TAG_SUBACCOUNT, link.subaccount_id.to_bytes(4, "big"))
    if link.message_id is not None:
        if _HEX_MESSAGE_ID.fullmatch(link.message_id):
            record(TAG_MESSAGE_ID, bytes.fromhex(link.message_id))
        else:
            record(TAG_TEXT_MESSAGE_ID, link.message_id.encode("utf-8"))
    if link.recipient is not None:
        record(TAG_RECIPIENT, link.recipient.encode("utf-8"))
    return bytes(out)


# --- paths and URLs --------------------------------------------------------


def _split_path(path: str) -> tuple[str, list[str]]:
    """Return the path kind ("open" or "click") and its three token segments."""
    if path.startswith("/q/"):
        kind, rest = "open", path[3:]
        parts = rest.split("/")
    elif path.startswith("/f/"):
        kind, rest = "click", path[3:]
        parts = rest.split("/")
        # /f/a/SIG/ACCT/DATA, or /f/<sublink>/SIG/ACCT/DATA for app deep links.
        if len(parts) == 4:
            parts = parts[1:]
    else:
        raise TokenError("path must start with /q/ (open) or /f/ (click)")
    if len(parts) != 3:
        raise TokenError(f"expected 3 token segments (SIG/ACCT/DATA) in the path, found {len(parts)}")
    return kind, parts


def _optional_text(fields: dict[str, object], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) else None


def _optional_int(fields: dict[str, object], name: str) -> int | None:
    value = fields.get(name)
    return value if isinstance(value, int) else None


def decode_path(path: str, secret: bytes | None = None) -> TrackedLink:
    """Decode a tracked-link path such as ``/q/SIG~~/ACCT~/DATA`` or ``/f/a/SIG~~/ACCT~/DATA``.

    With ``secret`` the signature is checked and ``signature_valid`` is
    True or False; without it ``signature_valid`` is None.  A query string
    is ignored.  Raises TokenError for anything that is not a well-formed
    tracked link.
    """
    if not isinstance(path, str):
        raise TokenError("path must be a string")
    path = path.split("?", 1)[0].split("#", 1)[0]
    kind, (sig_text, acct_text, data_text) = _split_path(path)
    signature = _decode_segment(sig_text, "SIG")
    account = _decode_segment(acct_text, "ACCT")
    data = _decode_segment(data_text, "DATA")
    if len(signature) != SIGNATURE_BYTES:
        raise TokenError(f"SIG segment must be {SIGNATURE_BYTES} bytes, got {len(signature)}")
    if len(account) < 4:
        raise TokenError(f"ACCT segment must be at least 4 bytes, got {len(account)}")
    if not data:
        raise TokenError("DATA segment is empty")

    fields = _parse_data(data)
    action = fields.pop("action", None)
    if action is None:
        raise TokenError("DATA has no action flag (initial open, open or click)")
    if (action == "click") != (kind == "click"):
        raise TokenError(f"{action} token under the {'/f/' if kind == 'click' else '/q/'} path")

    signature_valid = None
    if secret is not None:
        signature_valid = hmac.compare_digest(signature, compute_signature(secret, account, data))
    customer_id = int.from_bytes(account[:4], "big") or None
    return TrackedLink(
        action=str(action),
        message_id=_optional_text(fields, "message_id"),
        recipient=_optional_text(fields, "recipient"),
        target_url=_optional_text(fields, "target_url"),
        link_name=_optional_text(fields, "link_name"),
        customer_id=customer_id,
        subaccount_id=_optional_int(fields, "subaccount_id"),
        tenant=_optional_text(fields, "tenant"),
        expires_at=_optional_int(fields, "expires_at"),
        signature_valid=signature_valid,
    )


def decode_url(url: str, secret: bytes | None = None) -> TrackedLink:
    """Decode a full tracked-link URL on any host (percent-escapes in the path are undone)."""
    if not isinstance(url, str):
        raise TokenError("URL must be a string")
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise TokenError(f"invalid URL: {exc}") from None
    return decode_path(unquote(parts.path), secret)


def encode_path(link: TrackedLink, secret: bytes) -> str:
    """Build the signed path of ``link``: ``/q/...`` for opens, ``/f/a/...`` for clicks.

    Raises TokenError when a field cannot be represented (unknown action,
    a click without a target, ids out of the 32-bit range).
    """
    if link.action not in ACTIONS:
        raise TokenError(f"unknown action {link.action!r}; expected one of {', '.join(ACTIONS)}")
    if link.action == "click" and not link.target_url:
        raise TokenError("a click link needs a target URL")
    for name in ("customer_id", "subaccount_id", "expires_at"):
        value = getattr(link, name)
        if value is not None and not 0 <= value < 1 << 32:
            raise TokenError(f"{name} {value} does not fit in 32 bits")
    account = (link.customer_id or 0).to_bytes(4, "big") + b"\x00"
    data = _build_data(link)
    signature = compute_signature(secret, account, data)
    prefix = "/f/a/" if link.action == "click" else "/q/"
    return prefix + "/".join(_encode_segment(part) for part in (signature, account, data))

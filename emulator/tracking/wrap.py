"""Add SparkPost-style open and click tracking to HTML or to a whole message.

As SparkPost and PowerMTA do, the tracked version has an initial-open pixel
at the top of the body inside a hidden ``div``, an open pixel at the bottom,
and every ``http``/``https`` link rewritten to a signed click link.  Links to
``mailto:``, ``tel:``, anchors, relative paths and links marked
``data-msys-clicktrack="0"`` are left alone; ``data-msys-linkname`` becomes
the link name.  Only the markup that changes is touched: the rest of the HTML
is copied character for character.
"""

from __future__ import annotations

import base64
import codecs
import dataclasses
import email
import email.message
import email.quoprimime
import email.utils
import html
import io
import re
import time
from email.generator import BytesGenerator
from html.parser import HTMLParser

from emulator.tracking.codec import TokenError, TrackedLink, decode_url, encode_path
from emulator.tracking.options import LINK_LIFETIME_SECONDS

# RFC 5321 limits a line to 998 octets plus CRLF; longer lines force
# quoted-printable.
MAX_LINE_OCTETS = 998

_HTTP_LINK = re.compile(r"https?://", re.IGNORECASE)
_CHARACTER_REFERENCE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")
_TAG_NAME = re.compile(r"<[^\s/>]+")
_ATTRIBUTE = re.compile(r"""[\s/]*([^\s/>"'=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_HIDDEN_DIV_STYLE = (
    "display:none!important;max-height:0;overflow:hidden;opacity:0;font-size:0;line-height:0"
)


class WrapError(ValueError):
    """Missing or invalid input for adding tracking; the message names what to supply."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class WrapOptions:
    """Contents and host of the tracked links that wrapping adds.

    ``tracking_url`` is the scheme and host (and port) of the tracking
    endpoints, such as ``http://127.0.0.1:8080``.  For a whole message,
    ``message_id`` and ``recipient`` default to its headers.
    """

    tracking_url: str
    secret: bytes
    message_id: str | None = None
    recipient: str | None = None
    customer_id: int | None = None
    subaccount_id: int | None = None
    tenant: str | None = None
    expires_at: int | None = None
    initial_open: bool = True
    open: bool = True
    click: bool = True


def tracking_base_url(domain: str) -> str:
    """Turn ``HOST``, ``HOST:PORT`` or ``http(s)://HOST[:PORT]`` into a base URL without a trailing slash."""
    text = domain.strip()
    if not text:
        raise WrapError("the tracking domain must not be empty")
    if "://" not in text:
        text = "http://" + text
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise WrapError(f"the tracking domain must use http or https, got {domain!r}")
    return text.rstrip("/")


class _LinkMaker:
    def __init__(self, options: WrapOptions) -> None:
        if not options.message_id:
            raise WrapError("a message id is needed (--message-id, or an X-Sp-Message-Id or Message-ID header)")
        if not options.recipient:
            raise WrapError("a recipient address is needed (--recipient, or a To header)")
        self.options = options
        self.base = tracking_base_url(options.tracking_url)
        self.expires_at = options.expires_at
        if self.expires_at is None:
            self.expires_at = int(time.time()) + LINK_LIFETIME_SECONDS

    def url(self, action: str, target: str | None = None, name: str | None = None) -> str:
        link = TrackedLink(
            action=action,
            message_id=self.options.message_id,
            recipient=self.options.recipient,
            target_url=target,
            link_name=name,
            customer_id=self.options.customer_id,
            subaccount_id=self.options.subaccount_id,
            tenant=self.options.tenant,
            expires_at=self.expires_at,
        )
        return self.base + encode_path(link, self.options.secret)


# --- HTML ------------------------------------------------------------------


@dataclasses.dataclass
class _Anchor:
    offset: int
    text: str
    attrs: dict[str, str | None]


class _Scanner(HTMLParser):
    """Record where the body starts and ends and where each link tag is."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0]
        for match in re.finditer("\n", source):
            self._line_starts.append(match.end())
        self.body_content_start: int | None = None
        self.body_end: int | None = None
        self.html_end: int | None = None
        self.anchors: list[_Anchor] = []
        self.image_sources: list[str] = []

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        # The standard parser raises AssertionError on a malformed "<![" section;
        # -1 makes it treat the section as text, as browsers do.
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return -1

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text() or ""
        if tag == "body" and self.body_content_start is None:
            self.body_content_start = self._offset() + len(text)
        elif tag in ("a", "area"):
            values: dict[str, str | None] = {}
            for name, value in attrs:
                values.setdefault(name, value)
            self.anchors.append(_Anchor(self._offset(), text, values))
        elif tag == "img":
            for name, value in attrs:
                if name == "src" and value:
                    self.image_sources.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self._offset()
        elif tag == "html":
            self.html_end = self._offset()


def _decode_references(value: str) -> str:
    # Only references closed by ";" are decoded, so "&copy=1" in a query
    # string stays as written, as browsers treat it in attribute values.
    return _CHARACTER_REFERENCE.sub(lambda match: html.unescape(match.group(0)), value)


def _href_span(tag_text: str) -> tuple[int, int, str] | None:
    """Return the start, end and raw value of the first ``href`` attribute in a start tag."""
    name_match = _TAG_NAME.match(tag_text)
    position = name_match.end() if name_match else 1
    while position < len(tag_text):
        match = _ATTRIBUTE.match(tag_text, position)
        if match is None or match.end() == position:
            position += 1
            continue
        if match.group(1).lower() == "href":
            if match.group(2) is None:
                return None
            value = match.group(2)
            if value[:1] in ("'", '"'):
                value = value[1:-1]
            return match.start(2), match.end(2), value
        position = match.end()
    return None


def _is_tracked(url: str) -> bool:
    try:
        decode_url(url)
    except TokenError:
        return False
    return True


def _tracked_anchor(anchor: _Anchor, maker: _LinkMaker) -> str | None:
    if anchor.attrs.get("data-msys-clicktrack") == "0":
        return None
    span = _href_span(anchor.text)
    if span is None:
        return None
    start, end, raw_value = span
    target = _decode_references(raw_value).strip(" \t\r\n\f")
    if not _HTTP_LINK.match(target) or _is_tracked(target):
        return None
    name = anchor.attrs.get("data-msys-linkname") or None
    url = maker.url("click", target, name)
    return anchor.text[:start] + '"' + url + '"' + anchor.text[end:]


def _wrap_html(source: str, maker: _LinkMaker) -> str:
    scanner = _Scanner(source)
    scanner.feed(source)
    scanner.close()
    options = maker.options
    already_tracked = any(_is_tracked(src) for src in scanner.image_sources)

    # (offset, length to replace, replacement), applied from the end backwards.
    edits: list[tuple[int, int, str]] = []
    if options.click:
        for anchor in scanner.anchors:
            replacement = _tracked_anchor(anchor, maker)
            if replacement is not None:
                edits.append((anchor.offset, len(anchor.text), replacement))
    if options.initial_open and not already_tracked:
        top = (
            f'<div style="{_HIDDEN_DIV_STYLE}"><img border="0" width="1" height="1" alt="" '
            f'src="{maker.url("initial_open")}" /></div>\n'
        )
        at = scanner.body_content_start if scanner.body_content_start is not None else 0
        edits.append((at, 0, top))
    if options.open and not already_tracked:
        bottom = f'\n<img border="0" width="1" height="1" alt="" src="{maker.url("open")}" />\n'
        at = scanner.body_end if scanner.body_end is not None else scanner.html_end
        edits.append((len(source) if at is None else at, 0, bottom))

    result = source
    for offset, length, replacement in sorted(edits, key=lambda edit: edit[0], reverse=True):
        result = result[:offset] + replacement + result[offset + length:]
    return result


def wrap_html(source: str, options: WrapOptions) -> str:
    """Return ``source`` (HTML text) with tracking pixels and tracked links.

    Raises WrapError when ``options`` lacks the message id or recipient.
    """
    return _wrap_html(source, _LinkMaker(options))


# --- whole messages --------------------------------------------------------


def _header_message_id(message: email.message.Message) -> str | None:
    for name in ("X-Sp-Message-Id", "Message-ID"):
        value = message.get(name)
        if value and str(value).strip():
            return str(value).strip()
    return None


def _header_recipient(message: email.message.Message) -> str | None:
    addresses = [address for _, address in email.utils.getaddresses(message.get_all("To", [])) if address]
    if len(addresses) > 1:
        raise WrapError(f"the To header has {len(addresses)} addresses; pass the tracked one with --recipient")
    return addresses[0] if addresses else None


def _codec_name(part: email.message.Message) -> str:
    charset = part.get_content_charset() or "utf-8"
    try:
        return codecs.lookup(charset).name
    except LookupError:
        # An unknown charset is handled byte for byte; the markup we add is ASCII.
        return "latin-1"


def _set_transfer_encoding(part: email.message.Message, value: str) -> None:
    if "Content-Transfer-Encoding" in part:
        part.replace_header("Content-Transfer-Encoding", value)
    else:
        part["Content-Transfer-Encoding"] = value


def _quoted_printable(data: bytes) -> str:
    text = data.replace(b"\r\n", b"\n").decode("latin-1")
    return email.quoprimime.body_encode(text)


def _rewrite_html_part(part: email.message.Message, maker: _LinkMaker) -> None:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return
    codec = _codec_name(part)
    source = raw.decode(codec, errors="surrogateescape")
    tracked = _wrap_html(source, maker).encode(codec, errors="surrogateescape")

    encoding = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if encoding == "base64":
        part.set_payload(base64.encodebytes(tracked).decode("ascii"))
    elif encoding == "quoted-printable":
        part.set_payload(_quoted_printable(tracked))
    elif any(len(line) > MAX_LINE_OCTETS for line in tracked.splitlines()):
        part.set_payload(_quoted_printable(tracked))
        _set_transfer_encoding(part, "quoted-printable")
    else:
        # Raw bytes survive as surrogate escapes; BytesGenerator writes them back unchanged.
        part.set_payload(tracked.decode("ascii", errors="surrogateescape"))


def _rewrite_parts(part: email.message.Message, maker: _LinkMaker) -> int:
    """Track every inline text/html part under ``part``; return how many changed."""
    if part.get_content_maintype() == "message":
        return 0  # an attached message keeps its own content
    if part.is_multipart():
        return sum(_rewrite_parts(child, maker) for child in part.get_payload())
    if part.get_content_type() != "text/html" or part.get_content_disposition() == "attachment":
        return 0
    _rewrite_html_part(part, maker)
    return 1


def wrap_message(message: bytes | str, options: WrapOptions) -> bytes | str:
    """Return ``message`` (RFC 5322, bytes or str) with every inline text/html part tracked.

    Charsets and transfer encodings are kept; a 7bit or 8bit part whose lines
    grow past 998 octets is re-encoded as quoted-printable.  The message id
    and recipient come from ``options`` or else from the ``X-Sp-Message-Id``
    (or ``Message-ID``) and ``To`` headers.  A message without HTML comes back
    unchanged.  Raises WrapError when the id or recipient is missing.
    """
    raw = message.encode("utf-8", errors="surrogateescape") if isinstance(message, str) else message
    parsed = email.message_from_bytes(raw)
    options = dataclasses.replace(
        options,
        message_id=options.message_id or _header_message_id(parsed),
        recipient=options.recipient or _header_recipient(parsed),
    )
    maker = _LinkMaker(options)
    if not _rewrite_parts(parsed, maker):
        return message

    buffer = io.BytesIO()
    linesep = "\r\n" if b"\r\n" in raw else "\n"
    BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0).flatten(parsed, linesep=linesep)
    output = buffer.getvalue()
    if isinstance(message, str):
        return output.decode("utf-8", errors="surrogateescape")
    return output


def looks_like_message(data: bytes) -> bool:
    """Guess whether ``data`` is a whole message (starts with a header field) rather than HTML."""
    first_line = data.lstrip(b"\r\n").split(b"\n", 1)[0]
    if first_line.startswith(b"<"):
        return False
    return re.match(rb"[!-9;-~]+:", first_line) is not None

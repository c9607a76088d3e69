"""Adding tracking to HTML and to whole messages."""

from __future__ import annotations

import base64
import email
import email.message
import random
import re

import pytest

from emulator.tracking.codec import TrackedLink, decode_url
from emulator.tracking.wrap import (
    WrapError,
    WrapOptions,
    looks_like_message,
    tracking_base_url,
    wrap_html,
    wrap_message,
)
from tests.tracking_helpers import TRACKED_MESSAGE, UNTRACKED_MESSAGE, corpus_bytes

SECRET = b"wrap-test-secret"
OPTIONS = WrapOptions(
    tracking_url="http://track.example.test:8080",
    secret=SECRET,
    message_id="0000aabbccdd00112233",
    recipient="Reader@example.net",
    customer_id=7,
    subaccount_id=3,
    tenant="local",
)
TRACKED_URL = re.compile(r"http://track\.example\.test:8080/(?:q|f/a)/[A-Za-z0-9_~-]+/[A-Za-z0-9_~-]+/[A-Za-z0-9_~-]+")


def tracked_links(text: str) -> list[TrackedLink]:
    return [decode_url(url, SECRET) for url in TRACKED_URL.findall(text)]


def hrefs(text: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', text)


def test_pixels_placed_top_and_bottom() -> None:
    source = "<html><head><title>t</title></head><body style=\"x\">\n<p>Hello</p>\n</body></html>"
    result = wrap_html(source, OPTIONS)
    body_start = result.index('<body style="x">') + len('<body style="x">')
    top = re.match(r'<div style="display:none[^"]*"><img [^>]*src="([^"]+)" /></div>', result[body_start:])
    assert top is not None
    bottom = re.search(r'<img [^>]*src="([^"]+)" />\n</body></html>$', result)
    assert bottom is not None
    top_link = decode_url(top.group(1), SECRET)
    bottom_link = decode_url(bottom.group(1), SECRET)
    assert top_link.action == "initial_open"
    assert bottom_link.action == "open"
    for link in (top_link, bottom_link):
        assert link.signature_valid is True
        assert link.message_id == "0000aabbccdd00112233"
        assert link.recipient == "Reader@example.net"
        assert link.customer_id == 7
        assert link.subaccount_id == 3
        assert link.tenant == "local"
        assert link.expires_at is not None
    assert "<p>Hello</p>" in result


def test_html_without_body_gets_pixels_at_edges() -> None:
    result = wrap_html("<p>fragment</p>", OPTIONS)
    assert result.startswith("<div ")
    assert result.rstrip().endswith(" />")
    assert [link.action for link in tracked_links(result)] == ["initial_open", "open"]


def test_links_rewritten_with_names_and_exact_targets() -> None:
    source = (
        "<body>"
        '<a href="https://example.com/a?x=1&amp;y=2#part" data-msys-linkname="Offer">one</a>'
        "<A HREF='HTTP://example.com/%7Euser/caf%C3%A9?q=a%20b'>two</A>"
        "<a class=c href=http://example.com/plain>three</a>"
        '<a href=" https://example.com/spaced ">four</a>'
        '<a href="https://example.com/?a=1&copy=2">five</a>'
        "</body>"
    )
    clicks = [link for link in tracked_links(wrap_html(source, OPTIONS)) if link.action == "click"]
    assert [link.target_url for link in clicks] == [
        "https://example.com/a?x=1&y=2#part",
        "HTTP://example.com/%7Euser/caf%C3%A9?q=a%20b",
        "http://example.com/plain",
        "https://example.com/spaced",
        "https://example.com/?a=1&copy=2",
    ]
    assert [link.link_name for link in clicks] == ["Offer", None, None, None, None]
    assert all(link.signature_valid for link in clicks)


def test_untrackable_links_left_alone() -> None:
    untouched = [
        '<a href="mailto:someone@example.com">m</a>',
        '<a href="tel:+15555550100">t</a>',
        '<a href="#section">anchor</a>',
        '<a href="/relative/path">relative</a>',
        '<a href="ftp://example.com/file">ftp</a>',
        '<a data-msys-clicktrack="0" href="https://example.com/optout">opt out</a>',
        "<a name=top>no href</a>",
    ]
    source = "<body>" + "".join(untouched) + "</body>"
    result = wrap_html(source, OPTIONS)
    for tag in untouched:
        assert tag in result
    assert [link.action for link in tracked_links(result)] == ["initial_open", "open"]


def test_first_href_attribute_is_the_link() -> None:
    source = '<a title=" href=\'https://decoy.example/\'" href="https://real.example/" data-href="https://x/">x</a>'
    result = wrap_html(source, OPTIONS)
    assert 'title=" href=\'https://decoy.example/\'"' in result
    assert 'data-href="https://x/"' in result
    clicks = [link for link in tracked_links(result) if link.action == "click"]
    assert [link.target_url for link in clicks] == ["https://real.example/"]


def test_links_in_comments_and_scripts_untouched() -> None:
    source = (
        "<body><!-- <a href=\"https://commented.example/\">c</a> -->"
        "<script>var s = '<a href=\"https://script.example/\">';</script>"
        '<a href="https://live.example/">l</a></body>'
    )
    result = wrap_html(source, OPTIONS)
    assert 'href="https://commented.example/"' in result
    assert 'href="https://script.example/"' in result
    clicks = [link.target_url for link in tracked_links(result) if link.action == "click"]
    assert clicks == ["https://live.example/"]


def test_area_links_tracked() -> None:
    result = wrap_html('<map><area shape="rect" href="https://map.example/"></map>', OPTIONS)
    clicks = [link.target_url for link in tracked_links(result) if link.action == "click"]
    assert clicks == ["https://map.example/"]


def test_already_tracked_html_unchanged() -> None:
    once = wrap_html('<body><a href="https://example.com/">x</a></body>', OPTIONS)
    assert wrap_html(once, OPTIONS) == once


def test_options_switch_parts_off() -> None:
    source = '<body><a href="https://example.com/">x</a></body>'
    no_pixels = wrap_html(source, WrapOptions(**{**OPTIONS.__dict__, "initial_open": False, "open": False}))
    assert [link.action for link in tracked_links(no_pixels)] == ["click"]
    no_clicks = wrap_html(source, WrapOptions(**{**OPTIONS.__dict__, "click": False}))
    assert [link.action for link in tracked_links(no_clicks)] == ["initial_open", "open"]


def test_missing_ids_rejected() -> None:
    with pytest.raises(WrapError, match="message id"):
        wrap_html("<p>x</p>", WrapOptions(tracking_url="h", secret=SECRET, recipient="r@example.com"))
    with pytest.raises(WrapError, match="recipient"):
        wrap_html("<p>x</p>", WrapOptions(tracking_url="h", secret=SECRET, message_id="m"))


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("click.example.com", "http://click.example.com"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://click.example.com/", "https://click.example.com"),
    ],
)
def test_tracking_base_url(domain: str, expected: str) -> None:
    assert tracking_base_url(domain) == expected


@pytest.mark.parametrize("domain", ["", "ftp://click.example.com"])
def test_tracking_base_url_rejects(domain: str) -> None:
    with pytest.raises(WrapError):
        tracking_base_url(domain)


def html_part(message: email.message.Message) -> email.message.Message:
    parts = [part for part in message.walk() if part.get_content_type() == "text/html"]
    assert len(parts) == 1
    return parts[0]


def test_corpus_message_wrapped() -> None:
    raw = corpus_bytes(UNTRACKED_MESSAGE)
    result = wrap_message(raw, WrapOptions(tracking_url="http://track.example.test:8080", secret=SECRET, message_id="m-1"))
    assert isinstance(result, bytes)
    parsed = email.message_from_bytes(result)
    original = email.message_from_bytes(raw)
    for name in ("To", "Subject", "From", "Content-Type"):
        assert parsed[name] == original[name]
    plain = [part for part in parsed.walk() if part.get_content_type() == "text/plain"][0]
    assert "Spicy jalapeno" in plain.get_payload(decode=True).decode()
    html = html_part(parsed)
    # The long rewritten lines no longer fit 998 octets, so the part became quoted-printable.
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(len(line) for line in result.splitlines()) <= 998
    text = html.get_payload(decode=True).decode("utf-8")
    links = tracked_links(text)
    clicks = [link for link in links if link.action == "click"]
    assert len(clicks) == original.as_string().count('href="https://www.sparkpost.com/platform/signals/"')
    assert {link.target_url for link in clicks} == {"https://www.sparkpost.com/platform/signals/"}
    assert links[0].action == "initial_open"
    assert links[-1].action == "open"
    assert {link.recipient for link in links} == {"bob.lumreeker@gmail.com"}
    assert {link.message_id for link in links} == {"m-1"}
    assert 'src="https://raw.githubusercontent.com/sparkpost/heml/master/examples/assets/twitter.png"' in text


def test_tracked_corpus_message_unchanged() -> None:
    raw = corpus_bytes(TRACKED_MESSAGE)
    assert wrap_message(raw, WrapOptions(tracking_url="http://t", secret=SECRET)) == raw


def build_message(html_bytes: bytes, charset: str, encoding: str, headers: str = "") -> bytes:
    if encoding == "base64":
        body = base64.encodebytes(html_bytes)
    elif encoding == "quoted-printable":
        import quopri

        body = quopri.encodestring(html_bytes)
    else:
        body = html_bytes
    head = (
        "From: sender@example.com\n"
        "To: Someone <someone@example.org>\n"
        "X-Sp-Message-Id: 0000ffeeddccbbaa9988\n"
        "Message-ID: <ignored@example.com>\n"
        f"{headers}"
        "Subject: test\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/alternative; boundary="b1"\n'
        "\n"
        "--b1\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "plain https://example.com/plain\n"
        "--b1\n"
        f"Content-Type: text/html; charset={charset}\n"
        f"Content-Transfer-Encoding: {encoding}\n"
        "\n"
    )
    return head.encode("ascii") + body + b"\n--b1--\n"


@pytest.mark.parametrize(
    ("charset", "encoding"),
    [
        ("utf-8", "base64"),
        ("iso-8859-1", "quoted-printable"),
        ("utf-8", "8bit"),
        ("windows-1252", "8bit"),
        ("x-unknown-charset", "8bit"),
        ("us-ascii", "7bit"),
    ],
)
def test_message_charsets_and_encodings(charset: str, encoding: str) -> None:
    text = "<html><body><p>Caf\u00e9 \u00fcber</p><a href=\"https://example.com/caf\u00e9\">go</a></body></html>"
    if charset == "us-ascii":
        text = text.replace("\u00e9", "e").replace("\u00fc", "u")
    source_charset = "latin-1" if charset == "x-unknown-charset" else charset
    raw = build_message(text.encode(source_charset), charset, encoding)
    result = wrap_message(raw, WrapOptions(tracking_url="http://track.example.test:8080", secret=SECRET))
    assert isinstance(result, bytes)
    parsed = email.message_from_bytes(result)
    part = html_part(parsed)
    assert part["Content-Transfer-Encoding"] == encoding
    assert part.get_content_charset() == charset
    decoded = part.get_payload(decode=True).decode(source_charset)
    expected_text = text.split("<p>")[1].split("</p>")[0]
    assert f"<p>{expected_text}</p>" in decoded
    links = tracked_links(decoded)
    assert [link.action for link in links] == ["initial_open", "click", "open"]
    expected_target = "https://example.com/caf" + ("e" if charset == "us-ascii" else "\u00e9")
    assert links[1].target_url == expected_target
    assert {link.message_id for link in links} == {"0000ffeeddccbbaa9988"}
    assert {link.recipient for link in links} == {"someone@example.org"}
    plain = [p for p in parsed.walk() if p.get_content_type() == "text/plain"][0]
    assert plain.get_payload() == "plain https://example.com/plain"


def test_crlf_message_keeps_crlf() -> None:
    raw = build_message(b'<body><a href="https://example.com/">x</a></body>', "utf-8", "7bit").replace(b"\n", b"\r\n")
    result = wrap_message(raw, WrapOptions(tracking_url="http://t.example", secret=SECRET))
    assert isinstance(result, bytes)
    assert b"\n" not in result.replace(b"\r\n", b"")
    assert b"/f/a/" in result


def test_message_id_falls_back_to_message_id_header() -> None:
    raw = build_message(b"<body>x</body>", "utf-8", "7bit").replace(b"X-Sp-Message-Id: 0000ffeeddccbbaa9988\n", b"")
    result = wrap_message(raw, WrapOptions(tracking_url="http://t.example", secret=b"s"))
    assert isinstance(result, bytes)
    urls = re.findall(r'src="(http://t\.example/q/[^"]+)"', result.decode())
    assert {decode_url(url).message_id for url in urls} == {"<ignored@example.com>"}


def test_options_override_headers() -> None:
    raw = build_message(b"<body>x</body>", "utf-8", "7bit")
    options = WrapOptions(tracking_url="http://t.example", secret=b"s", message_id="given", recipient="given@example.com")
    result = wrap_message(raw.decode("ascii"), options)
    assert isinstance(result, str)
    urls = re.findall(r'src="(http://t\.example/q/[^"]+)"', result)
    links = [decode_url(url) for url in urls]
    assert {link.message_id for link in links} == {"given"}
    assert {link.recipient for link in links} == {"given@example.com"}


def test_several_to_addresses_need_recipient() -> None:
    raw = build_message(b"<body>x</body>", "utf-8", "7bit").replace(
        b"To: Someone <someone@example.org>", b"To: a@example.org, b@example.org"
    )
    with pytest.raises(WrapError, match="2 addresses"):
        wrap_message(raw, WrapOptions(tracking_url="http://t", secret=b"s"))


def test_attachments_and_attached_messages_untouched() -> None:
    raw = (
        b"From: s@example.com\nTo: r@example.org\nX-Sp-Message-Id: m\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="outer"\n\n'
        b"--outer\nContent-Type: text/html\n\n<body><a href=\"https://inline.example/\">i</a></body>\n"
        b"--outer\nContent-Type: text/html\nContent-Disposition: attachment; filename=page.html\n\n"
        b"<body><a href=\"https://attached.example/\">a</a></body>\n"
        b"--outer\nContent-Type: message/rfc822\n\n"
        b"From: x@example.com\nContent-Type: text/html\n\n<body><a href=\"https://forwarded.example/\">f</a></body>\n"
        b"--outer--\n"
    )
    result = wrap_message(raw, WrapOptions(tracking_url="http://t.example", secret=b"s"))
    assert isinstance(result, bytes)
    text = result.decode()
    assert 'href="https://attached.example/"' in text
    assert 'href="https://forwarded.example/"' in text
    assert 'href="https://inline.example/"' not in text
    assert text.count("http://t.example/f/a/") == 1


def test_message_without_html_returned_unchanged() -> None:
    raw = b"From: s@example.com\nTo: r@example.org\nMessage-ID: <m@x>\nContent-Type: text/plain\n\nhello https://example.com/\n"
    assert wrap_message(raw, WrapOptions(tracking_url="http://t", secret=b"s")) == raw


def test_single_part_html_message() -> None:
    raw = b"From: s@example.com\nTo: r@example.org\nX-Sp-Message-Id: m\nContent-Type: text/html; charset=utf-8\n\n<body><a href=\"https://a.example/\">a</a></body>\n"
    result = wrap_message(raw, WrapOptions(tracking_url="http://t.example", secret=b"s"))
    assert isinstance(result, bytes)
    assert result.startswith(b"From: s@example.com\nTo: r@example.org\n")
    assert result.count(b"http://t.example/") == 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"From: a@example.com\nTo: b@example.com\n\nbody", True),
        (b"\nReturn-Path: <a@example.com>\n", True),
        (b"<!DOCTYPE html><html></html>", False),
        (b"<p>note: text</p>", False),
        (b"plain text with: colon", False),
    ],
)
def test_looks_like_message(data: bytes, expected: bool) -> None:
    assert looks_like_message(data) is expected


FUZZ_PIECES = [
    '<a href="https://x.example/">', "</a>", "<body>", "</body>", "<body\nclass=a>", "</body\n>",
    "<![CDATA[x]]>", "<![if mso]>", "<![endif]>", "<![ unknown [", "<![", "]]>", "<!--", "-->", "<!---->",
    "<!x>", "<!", "<!DOCTYPE", "<?php ?>", "<a href=", '"', "'", "&amp;", "&#x;", "<", ">", "</",
    "<script>", "</script>", "<style>", "<area href=http://a.example>", "\n", "\r\n", "text",
    "<a\n href\n=\nhttp://z.example/>", '<a href="mailto:x@example.com">',
]


def test_malformed_html_never_raises() -> None:
    generator = random.Random(424242)
    pixel = re.compile(
        r'<div style="display:none[^"]*"><img border="0" width="1" height="1" alt="" src="[^"]+" /></div>\n'
        r'|\n<img border="0" width="1" height="1" alt="" src="[^"]+" />\n'
    )
    for _ in range(3000):
        source = "".join(generator.choice(FUZZ_PIECES) for _ in range(generator.randint(1, 12)))
        pixels_only = wrap_html(source, WrapOptions(**{**OPTIONS.__dict__, "click": False}))
        assert pixel.sub("", pixels_only) == source
        assert len(pixel.findall(pixels_only)) == 2
        for link in tracked_links(wrap_html(source, OPTIONS)):
            assert link.signature_valid is True

"""``emulator wrap``, ``emulator decode-link`` and the tracking flags of ``emulator serve``."""

from __future__ import annotations

import email
import io
import json
import re
import sys
from pathlib import Path

import pytest

from emulator.cli import build_parser, build_settings, main
from emulator.errors import ConfigError
from emulator.tracking.codec import decode_url
from emulator.tracking.options import signing_key
from tests.tracking_helpers import (
    SAMPLE_EXPIRES_AT,
    SAMPLE_MESSAGE_ID,
    SAMPLE_RECIPIENT,
    UNTRACKED_MESSAGE,
    corpus_bytes,
    sample_links,
)

TRACKED = re.compile(r"https?://[^\"'\s]+/(?:q|f/a)/[A-Za-z0-9_~-]+/[A-Za-z0-9_~-]+/[A-Za-z0-9_~-]+")


def test_decode_link_readable(capsys: pytest.CaptureFixture[str]) -> None:
    url = sample_links()["click"]
    assert main(["decode-link", url], env={}) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"url: {url}"
    assert "action: click" in lines
    assert f"message_id: {SAMPLE_MESSAGE_ID}" in lines
    assert f"recipient: {SAMPLE_RECIPIENT}" in lines
    assert "target_url: http://example.com/index.html" in lines
    assert "link_name: More Daily News" in lines
    assert "customer_id: 1" in lines
    assert "subaccount_id: 26" in lines
    assert "tenant: demo" in lines
    assert f"expires_at: {SAMPLE_EXPIRES_AT} (2019-06-05T17:56:30Z)" in lines
    assert lines[-1].startswith("signature: not checked")


def test_decode_link_json(capsys: pytest.CaptureFixture[str]) -> None:
    links = sample_links()
    assert main(["decode-link", "--json", links["initial_open"], links["open"]], env={}) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [record["action"] for record in records] == ["initial_open", "open"]
    assert records[0]["url"] == links["initial_open"]
    assert records[0]["message_id"] == SAMPLE_MESSAGE_ID
    assert records[0]["subaccount_id"] == 26
    assert records[0]["target_url"] is None
    assert records[0]["signature_valid"] is None


def test_decode_link_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode-link", "--json", "https://example.com/q/~~~~"], env={}) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"].startswith("expected 3 token segments")
    assert "https://example.com/q/~~~~" in captured.err


def test_decode_link_checks_signature(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    html = "<body><a href='https://example.com/x'>x</a></body>"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(html.encode())))
    status = main(["wrap", "--message-id", "m1", "--recipient", "r@example.com", "--tracking-secret", "k1"], env={})
    assert status == 0
    url = [u for u in TRACKED.findall(capsys.readouterr().out) if "/f/a/" in u][0]
    assert main(["decode-link", "--tracking-secret", "k1", url], env={}) == 0
    assert "signature: valid" in capsys.readouterr().out
    assert main(["decode-link", url], env={"EMULATOR_TRACKING_SECRET": "other"}) == 0
    assert "signature: invalid" in capsys.readouterr().out


def test_wrap_message_file(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    message = tmp_path / "message.eml"
    message.write_bytes(corpus_bytes(UNTRACKED_MESSAGE))
    status = main(
        ["wrap", "--message-id", "0000aabbccdd00112233", "--tracking-domain", "click.example.com", str(message)],
        env={"EMULATOR_SEED": "9"},
    )
    assert status == 0
    captured = capsysbinary.readouterr()
    assert captured.err == b""
    out = captured.out
    assert out.startswith(b"To: Bob <bob.lumreeker@gmail.com>")
    html = [p for p in email.message_from_bytes(out).walk() if p.get_content_type() == "text/html"][0]
    text = html.get_payload(decode=True).decode()
    urls = TRACKED.findall(text)
    assert all(url.startswith("http://click.example.com/") for url in urls)
    links = [decode_url(url, signing_key(None, 9)) for url in urls]
    assert {link.action for link in links} == {"initial_open", "open", "click"}
    assert all(link.signature_valid for link in links)
    assert {link.recipient for link in links} == {"bob.lumreeker@gmail.com"}


def test_wrap_default_domain_and_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.html"
    page.write_text("<body><p>hello</p></body>")
    status = main(["wrap", "--message-id", "m", "--recipient", "r@example.com", str(page)], env={"EMULATOR_PORT": "9090"})
    assert status == 0
    captured = capsys.readouterr()
    assert "random key" in captured.err
    assert "http://127.0.0.1:9090/q/" in captured.out
    assert "<p>hello</p>" in captured.out


def test_wrap_html_needs_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.html"
    page.write_text("<body>x</body>")
    assert main(["wrap", "--tracking-secret", "s", "--message-id", "m", str(page)], env={}) == 2
    assert "recipient" in capsys.readouterr().err


def test_wrap_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wrap", "--tracking-secret", "s", str(tmp_path / "absent.html")], env={}) == 1
    assert "failed to read" in capsys.readouterr().err


def test_serve_tracking_flags() -> None:
    parser = build_parser({})
    settings = build_settings(parser.parse_args(["serve", "--tracking-secret", "abc", "--strict-tracking"]), {})
    assert settings.tracking.secret == "abc"
    assert settings.tracking.strict is True
    assert "abc" not in repr(settings)


def test_serve_tracking_environment() -> None:
    env = {"EMULATOR_TRACKING_SECRET": "from-env", "EMULATOR_STRICT_TRACKING": "yes"}
    settings = build_settings(build_parser(env).parse_args(["serve"]), env)
    assert settings.tracking.secret == "from-env"
    assert settings.tracking.strict is True
    overridden = build_settings(build_parser(env).parse_args(["serve", "--no-strict-tracking"]), env)
    assert overridden.tracking.strict is False


def test_serve_defaults_and_bad_values() -> None:
    settings = build_settings(build_parser({}).parse_args(["serve"]), {})
    assert settings.tracking.secret is None
    assert settings.tracking.strict is False
    with pytest.raises(ConfigError, match="EMULATOR_STRICT_TRACKING"):
        build_parser({"EMULATOR_STRICT_TRACKING": "maybe"})
    with pytest.raises(ConfigError, match="must not be empty"):
        build_settings(build_parser({}).parse_args(["serve", "--tracking-secret", ""]), {})


def test_signing_key_sources() -> None:
    assert signing_key("abc", 1) == b"abc"
    assert signing_key(None, 1) == signing_key(None, 1)
    assert signing_key(None, 1) != signing_key(None, 2)
    assert signing_key(None, None) != signing_key(None, None)
    assert len(signing_key(None, None)) == 32

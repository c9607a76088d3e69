"""Parsing of returned mail (DSNs and ARF complaints) into ReturnedMail records."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from emulator.sink import arf, dsn
from emulator.testing.returned import decode_msfbl, parse_returned_mail

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

ORIGINAL = (
    b"Return-Path: <bounces@sender.example>\r\n"
    b"From: News <news@sender.example>\r\n"
    b"To: rcpt@oob.bouncy-sink.test\r\n"
    b"Subject: Hello\r\n"
    b"Message-ID: <hello-1@sender.example>\r\n"
    b"X-Sp-Message-Id: 0000aabbccdd11223344\r\n"
    b"\r\n"
    b"Hello\r\n"
)


def corpus_file(name: str) -> bytes:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} is not available at {CORPUS}")
    return path.read_bytes()


def parse(raw: bytes):
    return parse_returned_mail(raw, mail_from="", rcpt_tos=("bounces@sender.example",), received_at=0.0)


def test_sink_dsn_parses() -> None:
    bounce = dsn.BounceInput(
        original=ORIGINAL,
        recipient="rcpt@oob.bouncy-sink.test",
        return_path="bounces@sender.example",
        diagnostic="550 5.1.1 <rcpt@oob.bouncy-sink.test>... User unknown",
        reporting_mta="sink.bouncy-sink.test",
        peer_ip="127.0.0.1",
        arrival=1_700_000_000.0,
    )

    returned = parse(dsn.build_dsn(bounce, random.Random(1)))

    assert returned.kind == "dsn"
    assert returned.recipient == "rcpt@oob.bouncy-sink.test"
    assert returned.action == "failed"
    assert returned.status is not None and returned.status.startswith("5.")
    assert returned.diagnostic_code is not None and "550" in returned.diagnostic_code
    assert returned.original_message_id == "<hello-1@sender.example>"
    assert returned.sparkpost_message_id == "0000aabbccdd11223344"
    assert returned.feedback_type is None
    assert returned.report["reporting-mta"].lower().startswith("dns;")


def test_sink_arf_parses() -> None:
    complaint = arf.ComplaintInput(
        original=ORIGINAL.replace(b"oob.", b"fbl."),
        complainant="rcpt@fbl.bouncy-sink.test",
        recipient="rcpt@fbl.bouncy-sink.test",
        return_path="bounces@sender.example",
        fbl_to="fbl@fbl.sender.example",
        reporting_mta="sink.bouncy-sink.test",
        peer_ip="127.0.0.1",
        arrival=1_700_000_000.0,
    )

    returned = parse(arf.build_arf(complaint, random.Random(1)))

    assert returned.kind == "arf"
    assert returned.feedback_type == "abuse"
    assert returned.recipient == "rcpt@fbl.bouncy-sink.test"
    assert returned.sparkpost_message_id == "0000aabbccdd11223344"
    assert returned.status is None
    assert returned.report["version"] == "1"


@pytest.mark.parametrize(
    ("name", "recipient", "status"),
    [
        ("dsn/lhost-powermta-01.eml", "kijitora@example.jp", "5.2.1"),
        ("dsn/rhost-google-01.eml", "shironeko@example.ne.jp", "5.2.1"),
        ("dsn/rfc3464-09.eml", "kijitora-cat@mx4.gr3.example.jp", "4.3.0"),
    ],
)
def test_corpus_dsn(name: str, recipient: str, status: str) -> None:
    returned = parse(corpus_file(name))

    assert returned.kind == "dsn"
    assert returned.recipient == recipient
    assert returned.status is not None and returned.status.startswith(status)


@pytest.mark.parametrize(
    ("name", "recipient", "feedback_type"),
    [
        ("arf/arf-02.eml", "this-local-part-does-not-exist-on-yahoo@yahoo.com", "abuse"),
        ("arf/arf-18.eml", "kijitora@example.com", "auth-failure"),
        # A redacted report: the recipient is a placeholder, not an address.
        ("arf/arf-15.eml", None, "abuse"),
    ],
)
def test_corpus_arf(name: str, recipient: str | None, feedback_type: str) -> None:
    returned = parse(corpus_file(name))

    assert returned.kind == "arf"
    assert returned.recipient == recipient
    assert returned.feedback_type == feedback_type


def test_plain_message_is_other() -> None:
    returned = parse(ORIGINAL)

    assert returned.kind == "other"
    assert returned.recipient is None
    assert returned.report == {}


def test_msfbl_message_id() -> None:
    payload = base64.b64encode(json.dumps({"message_id": "0000ffee", "r": "a@b.test"}).encode()).decode()
    header = f"c2lnbmF0dXJl|{payload[:20]}\r\n {payload[20:]}"
    original = ORIGINAL.replace(b"X-Sp-Message-Id: 0000aabbccdd11223344\r\n", f"X-MSFBL: {header}\r\n".encode())
    report = (
        b"From: a@b.test\r\nTo: fbl@x.test\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
        b"--b1\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: t/1\r\nVersion: 1\r\n\r\n"
        b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + original + b"\r\n--b1--\r\n"
    )

    returned = parse(report)

    assert decode_msfbl(header) == {"message_id": "0000ffee", "r": "a@b.test"}
    assert returned.sparkpost_message_id == "0000ffee"
    assert returned.recipient == "a@b.test"


def test_msfbl_unreadable() -> None:
    assert decode_msfbl("not|base64!!") == {}
    assert decode_msfbl("x|" + base64.b64encode(b"[1, 2]").decode()) == {}


def test_complaint_matched_through_msfbl() -> None:
    # SparkPost's own generator: Version 0.1, no Original-Rcpt-To, a redacted To,
    # and a folded X-MSFBL as the only link to the send.
    data = {"r": "user@example.com", "message_id": "0000aabbccdd00112233", "subaccount_id": "7", "customer_id": "1"}
    payload = base64.b64encode(json.dumps(data).encode()).decode()
    folded = "\r\n\t".join(payload[index : index + 30] for index in range(0, len(payload), 30))
    original = (
        b"From: news@example.com\r\nTo: <Undisclosed Recipients>\r\nSubject: Hi\r\n"
        + f"X-MSFBL: c2lnbmF0dXJl|{folded}\r\n".encode()
        + b"\r\nHello\r\n"
    )
    report = (
        b"From: complainer@example.com\r\nTo: fbl@bounces.example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
        b"--b1\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 0.1\r\n\r\n"
        b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + original + b"\r\n--b1--\r\n"
    )

    returned = parse(report)

    assert returned.kind == "arf"
    assert returned.feedback_type == "abuse"
    assert returned.recipient == "user@example.com"
    assert returned.sparkpost_message_id == "0000aabbccdd00112233"
    assert returned.subaccount_id == 7
    assert returned.customer_id == 1


def dsn_report(action: str, status: str) -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n"
        b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        + f"Final-Recipient: rfc822; user@example.com\r\nAction: {action}\r\nStatus: {status}\r\n\r\n".encode()
        + b"--b1--\r\n"
    )


@pytest.mark.parametrize(
    "action,status,failed",
    [("failed", "4.0.0", True), ("failed", "5.4.317", True), ("delayed", "4.4.7", False)],
)
def test_dsn_action_decides_failure(action: str, status: str, failed: bool) -> None:
    returned = parse(dsn_report(action, status))

    assert returned.kind == "dsn"
    assert returned.recipient == "user@example.com"
    assert returned.status == status
    assert returned.failed is failed

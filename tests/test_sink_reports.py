"""Out-of-band bounces (RFC 3464 DSNs) and spam complaints (RFC 5965 ARF) sent by the sink."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator.api.keys import SERVER_ERRORS
from emulator.app import EmulatorServer
from tests.sink_helpers import (
    CaptureServer,
    RawClient,
    free_port,
    simple_message,
    start_emulator,
    wait_for,
)

SENDER = "bounces@pmta.example.com"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
MSFBL_JSON = {"r": "user@example.com", "message_id": "0000aabbccdd00112233", "subaccount_id": "7", "customer_id": "1"}


def msfbl_header() -> str:
    payload = base64.b64encode(json.dumps(MSFBL_JSON).encode()).decode()
    signature = base64.b64encode(b"s" * 32).decode()
    value = f"{signature}|{payload}"
    # Folded over several lines, as SparkPost writes it.
    chunks = [value[index : index + 40] for index in range(0, len(value), 40)]
    return "X-MSFBL: " + "\r\n\t".join(chunks) + "\r\n"


@pytest.fixture
async def emulator(capture: CaptureServer) -> AsyncIterator[EmulatorServer]:
    server = await start_emulator(capture.port)
    yield server
    await server.stop()


async def send(
    server: EmulatorServer, recipients: list[str], body: bytes, sender: str = SENDER, mail_options: str = ""
) -> tuple[list[str], str | None]:
    client = await RawClient.connect(server.components["sink"].port)
    await client.command("EHLO pmta.example.com")
    try:
        return await client.transaction(sender, recipients, body, mail_options)
    finally:
        await client.close()


def parts_of(message: email.message.EmailMessage) -> list[email.message.EmailMessage]:
    return list(message.iter_parts())  # type: ignore[arg-type]


async def test_oob_sends_rfc3464_dsn(emulator: EmulatorServer, capture: CaptureServer) -> None:
    rcpt = "someone@oob.bouncy-sink.test"
    original = simple_message(rcpt, subject="oob please")
    _, final = await send(emulator, [rcpt], original)
    assert final is not None and final.startswith("250")
    [captured] = await wait_for(lambda: capture.messages, what="a DSN at the capture server")

    assert captured.mail_from == "<>"
    assert captured.rcpt_tos == [SENDER]
    dsn = captured.parsed()
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert dsn["Auto-Submitted"].startswith("auto-")
    assert SENDER in dsn["To"]
    human, status, returned = parts_of(dsn)
    assert human.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    per_message, per_recipient = status.get_payload()
    assert per_message["Reporting-MTA"].startswith("dns;")
    assert per_message["Arrival-Date"]
    assert per_recipient["Final-Recipient"] == f"rfc822; {rcpt}"
    assert per_recipient["Action"] == "failed"
    assert re.fullmatch(r"5\.\d{1,3}\.\d{1,3}", per_recipient["Status"])
    assert per_recipient["Diagnostic-Code"].lower().startswith("smtp; 550")
    assert returned.get_content_type() == "message/rfc822"
    embedded = returned.get_payload(0)
    assert embedded["Subject"] == "oob please"
    assert original.rstrip(b"\r\n") in captured.data

    sink = emulator.components["sink"]
    # The capture server stores the DSN before the sink reads its 250 reply.
    await wait_for(lambda: sink.stats()["actions"]["oob_sent"] == 1, what="the DSN to be counted as sent")
    [stored] = emulator.components["sink"].messages.search(behaviour="oob")
    await wait_for(lambda: any(a["action"] == "oob_sent" for a in stored.recipients[0].actions), what="oob_sent action")


def corpus_delivery_status_fields(path: Path) -> tuple[set[str], set[str]]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            return {key.lower() for key in blocks[0]}, {key.lower() for key in blocks[1]}
    raise AssertionError(f"{path.name} has no delivery-status part")


async def test_dsn_has_corpus_shape(emulator: EmulatorServer, capture: CaptureServer) -> None:
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus folder ../shared/corpus is not present in this checkout")
    rcpt = "shape@oob.bouncy-sink.test"
    await send(emulator, [rcpt], simple_message(rcpt))
    [captured] = await wait_for(lambda: capture.messages, what="a DSN")
    _, status, _ = parts_of(captured.parsed())
    ours_message = {key.lower() for key in status.get_payload()[0]}
    ours_recipient = {key.lower() for key in status.get_payload()[1]}
    for name in ("rfc3464-07.eml", "lhost-powermta-01.eml", "rhost-google-01.eml"):
        theirs_message, theirs_recipient = corpus_delivery_status_fields(CORPUS / "dsn" / name)
        # The fields RFC 3464 requires are in the corpus DSN and in ours.
        assert "reporting-mta" in theirs_message & ours_message, name
        assert {"final-recipient", "action", "status"} <= theirs_recipient & ours_recipient, name
    # And the report's top-level layout is the one the corpus DSNs use.
    corpus_dsn = email.message_from_bytes((CORPUS / "dsn" / "lhost-powermta-01.eml").read_bytes(), policy=email.policy.default)
    assert corpus_dsn.get_content_type() == captured.parsed().get_content_type() == "multipart/report"


async def test_fbl_sends_rfc5965_arf_with_msfbl(emulator: EmulatorServer, capture: CaptureServer) -> None:
    rcpt = "complainer@fbl.bouncy-sink.test"
    original = simple_message("<Undisclosed Recipients>", subject="complain", extra=msfbl_header())
    original = original.replace(b"To: <Undisclosed Recipients>", b'To: "Doe, Jane" <jane@fbl.bouncy-sink.test>')
    await send(emulator, [rcpt], original)
    [captured] = await wait_for(lambda: capture.messages, what="an ARF at the capture server")

    assert captured.mail_from == "<>"
    assert captured.rcpt_tos == ["fbl@fbl.pmta.example.com"]
    arf = captured.parsed()
    assert arf.get_content_type() == "multipart/report"
    assert arf.get_param("report-type") == "feedback-report"
    assert "jane@fbl.bouncy-sink.test" in arf["From"]
    human, feedback, returned = parts_of(arf)
    assert human.get_content_type() == "text/plain"
    assert feedback.get_content_type() == "message/feedback-report"
    fields = feedback.get_payload(0)
    assert fields["Feedback-Type"] == "abuse"
    assert fields["Version"] == "1"
    assert fields["User-Agent"]
    assert fields["Original-Mail-From"] == f"<{SENDER}>"
    assert fields["Original-Rcpt-To"] == f"<{rcpt}>"
    assert fields["Arrival-Date"]
    assert fields["Source-IP"] == "127.0.0.1"
    assert fields["Reported-Domain"] == "pmta.example.com"
    assert returned.get_content_type() == "message/rfc822"
    embedded = returned.get_payload(0)
    unfolded = re.sub(r"\s+", "", str(embedded["X-MSFBL"]))
    decoded = json.loads(base64.b64decode(unfolded.split("|", 1)[1]))
    assert decoded == MSFBL_JSON
    sink = emulator.components["sink"]
    await wait_for(lambda: sink.stats()["actions"]["fbl_sent"] == 1, what="the ARF to be counted as sent")


async def test_fbl_to_overrides_recipient(capture: CaptureServer) -> None:
    server = await start_emulator(capture.port, fbl_to="fbl@sparkpostmail.test")
    try:
        await send(server, ["x@fbl.bouncy-sink.test"], simple_message("x@fbl.bouncy-sink.test"))
        [captured] = await wait_for(lambda: capture.messages, what="an ARF")
        assert captured.rcpt_tos == ["fbl@sparkpostmail.test"]
    finally:
        await server.stop()


async def test_arf_parses_like_corpus_reports(emulator: EmulatorServer, capture: CaptureServer) -> None:
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus folder ../shared/corpus is not present in this checkout")
    await send(emulator, ["y@fbl.bouncy-sink.test"], simple_message("y@fbl.bouncy-sink.test"))
    [captured] = await wait_for(lambda: capture.messages, what="an ARF")
    ours = parts_of(captured.parsed())[1].get_payload(0)
    for name in ("arf-02.eml", "arf-14.eml", "arf-15.eml"):
        corpus = email.message_from_bytes((CORPUS / "arf" / name).read_bytes(), policy=email.policy.default)
        assert corpus.get_content_type() == "multipart/report", name
        report = next(part for part in corpus.walk() if part.get_content_type() == "message/feedback-report")
        theirs = report.get_payload(0)
        # RFC 5965 requires these three once; the corpus reports and ours all have them.
        for field in ("Feedback-Type", "User-Agent", "Version"):
            assert theirs[field] is not None, (name, field)
            assert ours[field] is not None, field


async def test_return_host_down_retries_then_delivers() -> None:
    port = free_port()
    server = await start_emulator(port, return_retry_for=30)
    capture = CaptureServer(port)
    try:
        await send(server, ["late@oob.bouncy-sink.test"], simple_message("late@oob.bouncy-sink.test"))
        sink = server.components["sink"]
        await wait_for(lambda: sink.counters["delivery_failures"] >= 2, what="two failed attempts")
        await capture.start()
        await wait_for(lambda: capture.messages, timeout=15, what="the DSN after the capture server came up")
        # The capture server stores the DSN before the sink reads its 250 reply.
        await wait_for(lambda: sink.counters["oob_sent"] == 1, what="the DSN to be counted as sent")
        assert sink.stats()["actions"]["oob_abandoned"] == 0
    finally:
        await server.stop()
        await capture.stop()


async def test_return_host_down_gives_up_and_counts() -> None:
    server = await start_emulator(free_port(), return_retry_for=0.5)
    try:
        await send(server, ["lost@fbl.bouncy-sink.test"], simple_message("lost@fbl.bouncy-sink.test"))
        sink = server.components["sink"]
        await wait_for(lambda: sink.counters["fbl_abandoned"] == 1, what="the ARF to be given up")
        assert sink.counters["delivery_failures"] >= 1
        [message] = sink.messages.search()
        assert [action["action"] for action in message.recipients[0].actions] == ["fbl_failed"]
    finally:
        await server.stop()


async def test_data_stage_reply_alone_rejects_message(emulator: EmulatorServer, capture: CaptureServer) -> None:
    rcpt = "reply-data-554-5.7.1-content_rejected@bouncy-sink.test"
    replies, final = await send(emulator, [rcpt], simple_message(rcpt))
    assert replies[0].startswith("250")
    assert final == "554 5.7.1 content rejected"
    assert emulator.components["sink"].stats()["actions"]["bounced"] == 1


async def test_data_stage_reply_with_others_becomes_dsn(emulator: EmulatorServer, capture: CaptureServer) -> None:
    rcpt = "reply-data-554-5.7.1-content_rejected@bouncy-sink.test"
    _, final = await send(emulator, ["ok@accept.bouncy-sink.test", rcpt], simple_message(rcpt))
    assert final is not None and final.startswith("250")
    [captured] = await wait_for(lambda: capture.messages, what="a DSN for the DATA-stage recipient")
    _, status, _ = parts_of(captured.parsed())
    per_recipient = status.get_payload()[1]
    assert per_recipient["Final-Recipient"] == f"rfc822; {rcpt}"
    assert per_recipient["Status"] == "5.7.1"
    assert per_recipient["Diagnostic-Code"] == "smtp; 554 5.7.1 content rejected"


async def test_null_sender_gets_no_report(emulator: EmulatorServer, capture: CaptureServer) -> None:
    await send(emulator, ["n@oob.bouncy-sink.test"], simple_message("n@oob.bouncy-sink.test"), sender="")
    sink = emulator.components["sink"]
    await wait_for(lambda: sink.counters["no_return_path"] == 1, what="the skipped report to be counted")
    assert capture.messages == []


EIGHT_BIT_ORIGINAL = (
    "From: a@pmta.example.com\r\nTo: {rcpt}\r\nSubject: Grüße aus Köln\r\n"
    "Message-ID: <umlaut@pmta.example.com>\r\n\r\nÜmlaut body ✓\r\n"
)


@pytest.mark.parametrize(("label", "report_type"), [("oob", "delivery-status"), ("fbl", "feedback-report")])
async def test_8bit_original_embedded_byte_for_byte(
    emulator: EmulatorServer, capture: CaptureServer, label: str, report_type: str
) -> None:
    rcpt = f"k@{label}.bouncy-sink.test"
    original = EIGHT_BIT_ORIGINAL.format(rcpt=rcpt).encode()
    _, final = await send(emulator, [rcpt], original, mail_options="BODY=8BITMIME")
    assert final is not None and final.startswith("250"), final
    [captured] = await wait_for(lambda: capture.messages, what=f"the {label} report at the capture server")

    assert original in captured.data
    assert "BODY=8BITMIME" in captured.mail_options
    report = captured.parsed()
    assert report.get_param("report-type") == report_type
    returned = parts_of(report)[2]
    assert returned.get_content_type() == "message/rfc822"
    assert returned["Content-Transfer-Encoding"] == "8bit"
    assert returned.get_payload(0)["Subject"] == "Grüße aus Köln"
    assert emulator.app[SERVER_ERRORS] == []


async def test_utf8_recipient_gets_dsn(emulator: EmulatorServer, capture: CaptureServer) -> None:
    rcpt = "jörg@oob.bouncy-sink.test"
    original = EIGHT_BIT_ORIGINAL.format(rcpt=rcpt).encode()
    _, final = await send(emulator, [rcpt], original, mail_options="SMTPUTF8 BODY=8BITMIME")
    assert final is not None and final.startswith("250"), final
    [captured] = await wait_for(lambda: capture.messages, what="the DSN at the capture server")

    assert original in captured.data
    _, status, _ = parts_of(captured.parsed())
    per_recipient = status.get_payload()[1]
    assert per_recipient["Final-Recipient"] == f"rfc822; {rcpt}"
    assert emulator.app[SERVER_ERRORS] == []


async def test_utf8_sender_gets_dsn_over_smtputf8(emulator: EmulatorServer, capture: CaptureServer) -> None:
    sender = "grå@exämple.com"
    rcpt = "k@oob.bouncy-sink.test"
    _, final = await send(emulator, [rcpt], simple_message(rcpt), sender=sender, mail_options="SMTPUTF8")
    assert final is not None and final.startswith("250"), final
    [captured] = await wait_for(lambda: capture.messages, what="the DSN at the capture server")

    assert captured.mail_from == "<>"
    assert captured.rcpt_tos == [sender]
    assert "SMTPUTF8" in captured.mail_options
    assert f"To: <{sender}>\r\n".encode() in captured.data
    sink = emulator.components["sink"]
    await wait_for(lambda: sink.counters["oob_sent"] == 1, what="the DSN to be counted as sent")
    assert sink.counters["delivery_failures"] == 0
    assert emulator.app[SERVER_ERRORS] == []


async def test_return_server_without_smtputf8_counted() -> None:
    capture = await CaptureServer(smtputf8=False).start()
    server = await start_emulator(capture.port, return_retry_for=0.5)
    try:
        rcpt = "k@oob.bouncy-sink.test"
        await send(server, [rcpt], simple_message(rcpt), sender="grå@exämple.com", mail_options="SMTPUTF8")
        sink = server.components["sink"]
        await wait_for(lambda: sink.counters["oob_abandoned"] == 1, what="the DSN to be given up")
        assert sink.counters["delivery_failures"] >= 1
        assert sink.counters["oob_sent"] == 0
        assert capture.messages == []
        [message] = sink.messages.search()
        assert [action["action"] for action in message.recipients[0].actions] == ["oob_failed"]
        assert "SMTPUTF8" in message.recipients[0].actions[0]["detail"]
        assert server.app[SERVER_ERRORS] == []
    finally:
        await server.stop()
        await capture.stop()

"""Sink-side helpers of the fixture: SMTP to the sink, sink messages, returned DSNs and complaints."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import aiosmtplib
import pytest

from emulator.testing import Emulator, WaitTimeout

RETURN_PATH = "bounces@sender.example"


def make_message(rcpt: str, message_id: str, subject: str = "Hello") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "News <news@sender.example>"
    message["To"] = rcpt
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}@sender.example>"
    message["X-Sp-Message-Id"] = message_id
    message.set_content("Hello from the test suite.")
    return message


def send(emulator: Emulator, message: EmailMessage) -> None:
    with smtplib.SMTP(emulator.smtp_host, emulator.smtp_port, timeout=10) as smtp:
        smtp.send_message(message, from_addr=RETURN_PATH)


def test_oob_dsn_then_out_of_band_event(sparkpost_emulator: Emulator) -> None:
    emulator = sparkpost_emulator
    rcpt, message_id = emulator.address("oob"), emulator.message_id()
    send(emulator, make_message(rcpt, message_id))

    [bounce] = emulator.wait_for_returned_mail(kind="dsn", recipient=rcpt)
    events = [emulator.ingest_event(kind, message_id=message_id, rcpt_to=rcpt) for kind in ("reception", "delivery", "outofband")]
    emulator.wait_for_batch(emulator.upload(events))
    [event] = emulator.wait_for_events(events="out_of_band", messages=message_id)

    assert bounce.sparkpost_message_id == message_id
    assert bounce.rcpt_tos == (RETURN_PATH,)
    assert bounce.mail_from == ""
    assert bounce.action == "failed"
    assert event["rcpt_to"] == rcpt
    assert event["type"] == "out_of_band"


def test_fbl_complaint_returned(sparkpost_emulator: Emulator) -> None:
    rcpt, message_id = sparkpost_emulator.address("fbl"), sparkpost_emulator.message_id()
    send(sparkpost_emulator, make_message(rcpt, message_id))

    [complaint] = sparkpost_emulator.wait_for_returned_mail(kind="arf")

    assert complaint.recipient == rcpt
    assert complaint.feedback_type == "abuse"
    assert complaint.sparkpost_message_id == message_id
    assert complaint.rcpt_tos == ("fbl@fbl.sender.example",)
    assert sparkpost_emulator.returned_mail(kind="dsn") == []


def test_sink_messages_filters(sparkpost_emulator: Emulator) -> None:
    accept, oob = sparkpost_emulator.address("accept"), sparkpost_emulator.address("oob")
    send(sparkpost_emulator, make_message(accept, sparkpost_emulator.message_id(), "first"))
    send(sparkpost_emulator, make_message(oob, sparkpost_emulator.message_id(), "second"))

    everything = sparkpost_emulator.wait_for_sink_messages(count=2)
    by_behaviour = sparkpost_emulator.sink_messages(behaviour="accept")
    by_recipient = sparkpost_emulator.sink_messages(recipient=oob)

    assert [message["subject"] for message in everything] == ["second", "first"]
    assert [message["rcpt_to"] for message in by_behaviour] == [[accept]]
    assert [message["subject"] for message in by_recipient] == ["second"]
    assert everything[0]["mail_from"] == RETURN_PATH


def test_in_band_bounce_is_an_smtp_reply(sparkpost_emulator: Emulator) -> None:
    rcpt = sparkpost_emulator.address("bounce")

    with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)) as caught:
        send(sparkpost_emulator, make_message(rcpt, sparkpost_emulator.message_id()))

    stats = sparkpost_emulator.sink_stats()
    assert "5" in str(caught.value)
    assert stats["behaviours"].get("bounce", 0) >= 1
    assert sparkpost_emulator.returned_mail() == []


def test_wait_for_sink_messages_timeout_lists_arrivals(sparkpost_emulator: Emulator) -> None:
    rcpt = sparkpost_emulator.address("accept")
    send(sparkpost_emulator, make_message(rcpt, sparkpost_emulator.message_id()))
    sparkpost_emulator.wait_for_sink_messages(recipient=rcpt)

    with pytest.raises(WaitTimeout) as caught:
        sparkpost_emulator.wait_for_sink_messages(behaviour="fbl", timeout=0.1)

    assert "expected at least 1 sink message(s) matching behaviour='fbl' within 0.1 s, found 0" in str(caught.value)
    assert f"{rcpt} [accept/accepted]" in str(caught.value)


def test_wait_for_returned_mail_timeout(sparkpost_emulator: Emulator) -> None:
    with pytest.raises(WaitTimeout, match="expected at least 1 returned message"):
        sparkpost_emulator.wait_for_returned_mail(kind="arf", timeout=0.1)


def test_returned_mail_kind_checked(sparkpost_emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="kind must be one of dsn, arf, other"):
        sparkpost_emulator.returned_mail(kind="bounce")


def test_sink_filter_names_checked(sparkpost_emulator: Emulator) -> None:
    with pytest.raises(TypeError, match="'to' is not a sink message filter"):
        sparkpost_emulator.sink_messages(to="x")


async def test_async_oob_with_aiosmtplib(sparkpost_emulator: Emulator) -> None:
    emulator = sparkpost_emulator.aio
    rcpt, message_id = emulator.address("oob"), emulator.message_id()

    await aiosmtplib.send(
        make_message(rcpt, message_id),
        sender=RETURN_PATH,
        hostname=emulator.smtp_host,
        port=emulator.smtp_port,
        start_tls=False,
    )
    [bounce] = await emulator.wait_for_returned_mail(kind="dsn", recipient=rcpt)
    [message] = await emulator.wait_for_sink_messages(recipient=rcpt)
    batch_id = await emulator.upload(
        [emulator.ingest_event(kind, message_id=message_id, rcpt_to=rcpt) for kind in ("reception", "delivery", "outofband")]
    )
    await emulator.wait_for_batch(batch_id)
    [event] = await emulator.wait_for_events(events="out_of_band", recipients=rcpt)

    assert bounce.sparkpost_message_id == message_id
    assert message["recipients"][0]["behaviour"] == "oob"
    assert event["message_id"] == message_id
    assert (await emulator.sink_stats())["actions"]["oob_sent"] == 1


def test_reply_address_forces_reply(sparkpost_emulator: Emulator) -> None:
    rcpt = sparkpost_emulator.reply_address(550, "5.1.1", "no such user")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(sparkpost_emulator, make_message(rcpt, sparkpost_emulator.message_id()))

    assert rcpt == "reply-550-5.1.1-no_such_user@bouncy-sink.test"
    assert caught.value.recipients[rcpt] == (550, b"5.1.1 no such user")


def test_reply_address_after_data(sparkpost_emulator: Emulator) -> None:
    rcpt = sparkpost_emulator.reply_address(452, "4.2.2", "mailbox full", after_data=True)

    with pytest.raises(smtplib.SMTPDataError) as caught:
        send(sparkpost_emulator, make_message(rcpt, sparkpost_emulator.message_id()))

    assert rcpt.startswith("reply-data-452-4.2.2-")
    assert caught.value.smtp_code == 452
    with pytest.raises(ValueError, match="reply code 250 is invalid"):
        sparkpost_emulator.reply_address(250)

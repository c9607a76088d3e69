import smtplib
from email.message import EmailMessage


def test_oob_bounce(sparkpost_emulator):
    rcpt, message_id = sparkpost_emulator.address("oob"), sparkpost_emulator.message_id()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "news@sender.example", rcpt, "Hello"
    message["X-Sp-Message-Id"] = message_id
    message.set_content("Hello")
    with smtplib.SMTP(sparkpost_emulator.smtp_host, sparkpost_emulator.smtp_port) as smtp:
        smtp.send_message(message, from_addr="bounces@sender.example")

    [dsn] = sparkpost_emulator.wait_for_returned_mail(kind="dsn", recipient=rcpt)
    assert dsn.sparkpost_message_id == message_id

    events = [sparkpost_emulator.ingest_event(kind, message_id=message_id, rcpt_to=rcpt)
              for kind in ("reception", "delivery", "outofband")]
    sparkpost_emulator.wait_for_batch(sparkpost_emulator.upload(events))
    [event] = sparkpost_emulator.wait_for_events(events="out_of_band", messages=message_id)
    assert event["rcpt_to"] == rcpt

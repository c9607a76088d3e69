import aiosmtplib
import pytest


@pytest.mark.asyncio
async def test_complaint_async(sparkpost_emulator):
    emulator = sparkpost_emulator.aio
    rcpt = emulator.address("fbl")
    await aiosmtplib.send(
        f"From: news@sender.example\r\nTo: {rcpt}\r\nSubject: Hi\r\n\r\nHi\r\n",
        sender="bounces@sender.example", recipients=[rcpt],
        hostname=emulator.smtp_host, port=emulator.smtp_port,
    )

    [complaint] = await emulator.wait_for_returned_mail(kind="arf", recipient=rcpt)
    assert complaint.feedback_type == "abuse"
    assert complaint.rcpt_tos == ("fbl@fbl.sender.example",)

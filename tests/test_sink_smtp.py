"""SMTP conduct of the sink: extensions, limits, routing and in-band replies."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator

import pytest

from emulator.app import EmulatorServer
from emulator.config import Settings
from emulator.sink import catalogue
from emulator.sink.options import MixShares, SinkSettings
from tests.sink_helpers import (
    CaptureServer,
    RawClient,
    simple_message,
    start_emulator,
    wait_for,
)

SENDER = "bounces@pmta.example.com"


@pytest.fixture
async def emulator(capture: CaptureServer) -> AsyncIterator[EmulatorServer]:
    server = await start_emulator(capture.port, max_message_size=10_000)
    yield server
    await server.stop()


def sink_port(server: EmulatorServer) -> int:
    return server.components["sink"].port


async def test_ehlo_lists_only_implemented_extensions(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    ehlo = await client.command("EHLO client.example.com")
    keywords = [line[4:].split()[0].upper() for line in ehlo.splitlines()[1:]]
    assert "SIZE" in keywords
    assert "250-SIZE 10000" in ehlo
    assert "8BITMIME" in keywords
    assert "SMTPUTF8" in keywords
    assert "PIPELINING" in keywords
    assert "STARTTLS" not in keywords
    assert "CHUNKING" not in keywords
    assert "AUTH" not in keywords
    bdat = await client.command("BDAT 10 LAST")
    assert bdat[:3] in ("500", "502"), bdat
    await client.close()


async def test_starttls_offered_with_certificate(capture: CaptureServer, tmp_path) -> None:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    server = await start_emulator(capture.port, tls_cert=str(cert_path), tls_key=str(key_path))
    try:
        import aiosmtplib

        context = ssl.create_default_context()
        authority.configure_trust(context)
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink_port(server), tls_context=context, start_tls=False)
        await client.connect()
        await client.ehlo()
        assert client.supports_extension("starttls")
        await client.starttls()
        assert client.is_connected
        await client.ehlo()
        assert not client.supports_extension("starttls")
        assert not client.supports_extension("auth")
        errors, _ = await client.sendmail(SENDER, ["tls@accept.bouncy-sink.test"], simple_message("tls@accept.bouncy-sink.test"))
        assert errors == {}
        await client.quit()
    finally:
        await server.stop()


async def test_utf8_envelope_and_body_stored_exactly(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    assert (await client.command("MAIL FROM:<grå@exämple.com> SMTPUTF8 BODY=8BITMIME")).startswith("250")
    assert (await client.command("RCPT TO:<jörg@accept.bouncy-sink.test>")).startswith("250")
    assert (await client.command("DATA")).startswith("354")
    body = "Subject: Grüße aus Köln\r\nTo: jörg@accept.bouncy-sink.test\r\n\r\nÜmlaut body ✓\r\n".encode()
    await client.send(body + b".\r\n")
    final = await client.reply()
    assert final.startswith("250"), final
    await client.close()
    sink = emulator.components["sink"]
    [stored] = sink.messages.search(recipient="jörg@accept.bouncy-sink.test")
    assert stored.raw == body
    assert stored.mail_from == "grå@exämple.com"


async def test_oversize_and_long_lines_answer_once(emulator: EmulatorServer) -> None:
    sink = emulator.components["sink"]
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")

    sized = await client.command(f"MAIL FROM:<{SENDER}> SIZE=999999")
    assert sized.startswith("552"), sized

    rcpt = "big@accept.bouncy-sink.test"
    large = simple_message(rcpt) + b"x" * 70 + (b"\r\n" + b"y" * 78) * 250
    _, final = await client.transaction(SENDER, [rcpt], large)
    assert final is not None and final.startswith("552 5.3.4"), final
    assert await client.no_reply_pending()

    long_line = simple_message(rcpt) + b"z" * 1500 + b"\r\n"
    _, final = await client.transaction(SENDER, [rcpt], long_line)
    assert final is not None and re.match(r"500 5\.5\.\d", final), final
    assert await client.no_reply_pending()
    assert len(sink.messages) == 0

    _, final = await client.transaction(SENDER, [rcpt], simple_message(rcpt))
    assert final is not None and final.startswith("250"), final
    assert len(sink.messages) == 1
    await client.close()


async def test_routing_uses_envelope_last_at_any_case(emulator: EmulatorServer) -> None:
    sink = emulator.components["sink"]
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    await client.command(f"MAIL FROM:<{SENDER}>")
    quoted = await client.command('RCPT TO:<"x@y"@oob.sink.bouncy-sink.test>')
    upper = await client.command("RCPT TO:<user@FBL.Sink.Bouncy-Sink.TEST>")
    bare = await client.command("RCPT TO:Postmaster")
    other = await client.command("RCPT TO:<user@example.com>")
    assert quoted.startswith("250"), quoted
    assert upper.startswith("250"), upper
    assert bare.startswith("501"), bare
    assert other.startswith("550 5.7.1"), other
    assert (await client.command("DATA")).startswith("354")
    header_to = 'To: "Sink, Test" <other@accept.bouncy-sink.test>\r\n'
    await client.send(f"From: a@pmta.example.com\r\n{header_to}Subject: routing\r\n\r\nbody\r\n.\r\n".encode())
    assert (await client.reply()).startswith("250")
    await client.close()
    [message] = sink.messages.search()
    behaviours = {record.address: record.plan.behaviour for record in message.recipients}
    assert behaviours == {'"x@y"@oob.sink.bouncy-sink.test': "oob", "user@FBL.Sink.Bouncy-Sink.TEST": "fbl"}


async def test_null_sender_accepted(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    assert (await client.command("MAIL FROM:<>")).startswith("250")
    assert (await client.command("RCPT TO:<dsn@accept.bouncy-sink.test>")).startswith("250")
    assert (await client.command("DATA")).startswith("354")
    await client.send(b"Subject: dsn\r\n\r\nbody\r\n.\r\n")
    assert (await client.reply()).startswith("250")
    await client.close()
    [message] = emulator.components["sink"].messages.search()
    assert message.mail_from == ""


async def test_forced_replies_basic_code_decides(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    await client.command(f"MAIL FROM:<{SENDER}>")
    quota = await client.command("RCPT TO:<reply-550-4.2.2-user_over_quota@bouncy-sink.test>")
    blocked = await client.command("RCPT TO:<reply-450-5.7.1-blocked@x.bouncy-sink.test>")
    plain = await client.command("RCPT TO:<reply-421@bouncy-sink.test>")
    assert quota == "550 4.2.2 user over quota"
    assert blocked == "450 5.7.1 blocked"
    assert plain.startswith("421 4.0.0 ")
    await client.close()
    stats = emulator.components["sink"].stats()
    assert stats["actions"]["bounced"] == 1
    assert stats["actions"]["deferred"] == 2


async def test_pipelined_refused_group_gets_554(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    await client.send(
        f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<reply-550-5.1.1-no_such_user@bouncy-sink.test>\r\nDATA\r\n".encode()
    )
    replies = [await client.reply() for _ in range(3)]
    assert replies[0].startswith("250")
    assert replies[1] == "550 5.1.1 no such user"
    assert replies[2].startswith("554")
    assert await client.no_reply_pending()
    await client.close()
    assert len(emulator.components["sink"].messages) == 0


async def test_bounce_replies_have_placeholders_substituted(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    seen = []
    for index in range(30):
        rcpt = f"user{index}@bounce.bouncy-sink.test"
        replies, final = await client.transaction(SENDER, [rcpt], simple_message(rcpt))
        reply = replies[0] if final is None else final
        assert re.match(r"5\d\d ", reply), reply
        assert "{" not in reply, reply
        assert "}" not in reply, reply
        seen.append(reply)
    await client.close()
    assert len(set(seen)) > 5
    assert any(reply.startswith("250") is False for reply in seen)


async def test_tempfail_and_greylist(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    for _ in range(3):
        replies, final = await client.transaction(SENDER, ["t@tempfail.bouncy-sink.test"], b"Subject: t\r\n\r\nx\r\n")
        assert final is None
        assert replies[0].startswith("4"), replies
    grey = "g@greylist.bouncy-sink.test"
    first, final = await client.transaction(SENDER, [grey], b"Subject: g\r\n\r\nx\r\n")
    assert final is None
    assert first[0].startswith("451"), first
    second, final = await client.transaction(SENDER, [grey], b"Subject: g\r\n\r\nx\r\n")
    assert second[0].startswith("250"), second
    assert final is not None
    assert final.startswith("250"), final
    other_sender, _ = await client.transaction("other@pmta.example.com", [grey], b"Subject: g\r\n\r\nx\r\n")
    assert other_sender[0].startswith("451")
    await client.close()


async def test_each_recipient_gets_its_own_behaviour(emulator: EmulatorServer) -> None:
    sink = emulator.components["sink"]
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    recipients = [
        "a@accept.bouncy-sink.test",
        "b@oob.bouncy-sink.test",
        "c@fbl.bouncy-sink.test",
        "d@openclick.bouncy-sink.test",
        "e@tempfail.bouncy-sink.test",
        "reply-550-5.1.1@bounce.bouncy-sink.test",
    ]
    replies, final = await client.transaction(SENDER, recipients, simple_message("list@accept.bouncy-sink.test"))
    await client.close()
    assert [reply[:1] for reply in replies] == ["2", "2", "2", "2", "4", "5"]
    assert final is not None and final.startswith("250")
    [message] = sink.messages.search()
    assert [record.plan.behaviour for record in message.recipients] == ["accept", "oob", "fbl", "openclick"]


def mixed_settings(seed: int) -> Settings:
    mix = MixShares(oob=10, fbl=10, open=50, open_again=20, click=30, click_again=10, bounce=20)
    return Settings(port=0, seed=seed, sink=SinkSettings(port=0, mix=mix, return_smtp=("127.0.0.1", 9), engage_delay=60,
                                                           return_delay=60))


async def behaviour_sequence(seed: int) -> list[tuple[str, str | None, int, int, bool, bool]]:
    server = EmulatorServer(mixed_settings(seed))
    await server.start()
    try:
        policy = server.components["sink"].policy
        plans = [policy.decide(f"user{i}@bouncy-sink.test", "", {"rcpt": f"user{i}@bouncy-sink.test"}) for i in range(200)]
        client = await RawClient.connect(sink_port(server))
        await client.command("EHLO client.example.com")
        replies, _ = await client.transaction(SENDER, [f"wire{i}@mixed.bouncy-sink.test" for i in range(20)],
                                              b"Subject: s\r\n\r\nx\r\n")
        await client.close()
    finally:
        await server.stop()
    sequence = [(plan.outcome, plan.reply, plan.opens, plan.clicks, plan.oob, plan.fbl) for plan in plans]
    sequence.extend((reply, None, 0, 0, False, False) for reply in replies)
    return sequence


async def test_same_seed_same_behaviours() -> None:
    first = await behaviour_sequence(42)
    second = await behaviour_sequence(42)
    other = await behaviour_sequence(43)
    assert first == second
    assert first != other
    outcomes = {item[0] for item in first}
    assert {"bounce", "oob", "fbl", "engage", "accept"} <= outcomes


async def test_listener_binds_loopback_and_reports_port(emulator: EmulatorServer) -> None:
    sink = emulator.components["sink"]
    assert sink.host == "127.0.0.1"
    assert sink.port and sink.port != 2525
    assert any(f"127.0.0.1:{sink.port}" in line for line in emulator.describe())


async def test_failed_start_tears_down_quickly(capture: CaptureServer) -> None:
    holder = await asyncio.start_server(lambda reader, writer: writer.close(), "127.0.0.1", 0)
    taken = holder.sockets[0].getsockname()[1]
    settings = Settings(port=0, sink=SinkSettings(port=taken, return_smtp=("127.0.0.1", capture.port)))
    server = EmulatorServer(settings)
    try:
        with pytest.raises(OSError):
            await server.start()
        started = time.monotonic()
        await asyncio.wait_for(server.stop(), 5)
        assert time.monotonic() - started < 5
    finally:
        holder.close()
        await holder.wait_closed()


async def test_line_length_limit_is_998(emulator: EmulatorServer) -> None:
    sink = emulator.components["sink"]
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    rcpt = "lines@accept.bouncy-sink.test"
    header = b"Subject: lines\r\n\r\n"

    _, final = await client.transaction(SENDER, [rcpt], header + b"a" * 998 + b"\r\n")
    assert final is not None and final.startswith("250"), final
    # The dot added for transparency does not count towards the limit.
    _, final = await client.transaction(SENDER, [rcpt], header + b"." + b"b" * 997 + b"\r\n")
    assert final is not None and final.startswith("250"), final
    assert len(sink.messages) == 2

    for length in (999, 1000):
        _, final = await client.transaction(SENDER, [rcpt], header + b"c" * length + b"\r\n")
        assert final == "500 5.5.2 Line too long, the limit is 998 characters plus CRLF", (length, final)
        assert await client.no_reply_pending()
    assert len(sink.messages) == 2
    await client.close()


async def test_postmaster_without_domain_accepted(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    await client.command(f"MAIL FROM:<{SENDER}>")
    lower = await client.command("RCPT TO:<postmaster>")
    mixed_case = await client.command("RCPT TO:<PostMaster>")
    unbracketed = await client.command("RCPT TO:Postmaster")
    other = await client.command("RCPT TO:<someone>")
    assert lower == "250 2.1.5 Ok"
    assert mixed_case == "250 2.1.5 Ok"
    assert unbracketed.startswith("501"), unbracketed
    assert other.startswith("501"), other
    assert (await client.command("DATA")).startswith("354")
    await client.send(b"Subject: to postmaster\r\n\r\nbody\r\n.\r\n")
    assert (await client.reply()).startswith("250")
    await client.close()
    [message] = emulator.components["sink"].messages.search()
    assert [(record.address, record.plan.behaviour) for record in message.recipients] == [
        ("postmaster", "accept"),
        ("PostMaster", "accept"),
    ]


async def test_auth_not_implemented(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    reply = await client.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
    assert reply.startswith("502 5.5.1 "), reply
    assert (await client.command(f"MAIL FROM:<{SENDER}>")).startswith("250")
    await client.close()


@pytest.mark.parametrize(
    ("local_part", "code"),
    [("reply-600", "600"), ("reply-399", "399"), ("reply-5500", "5500"), ("reply-42-4.2.0", "42"),
     ("reply-data-600-5.0.0-text", "600")],
)
async def test_forced_reply_invalid_code_rejected(emulator: EmulatorServer, local_part: str, code: str) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    await client.command(f"MAIL FROM:<{SENDER}>")
    reply = await client.command(f"RCPT TO:<{local_part}@bouncy-sink.test>")
    await client.close()
    assert reply.startswith("553 5.1.3 "), reply
    assert f"Invalid forced reply code {code} in {local_part}" in reply
    assert len(emulator.components["sink"].messages) == 0


async def test_relay_denied_for_lookalike_domain(emulator: EmulatorServer) -> None:
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    await client.command(f"MAIL FROM:<{SENDER}>")
    lookalike = await client.command("RCPT TO:<a@notbouncy-sink.test>")
    suffix = await client.command("RCPT TO:<a@bouncy-sink.test.example.com>")
    subdomain = await client.command("RCPT TO:<a@x.bouncy-sink.test>")
    await client.close()
    assert lookalike.startswith("550 5.7.1"), lookalike
    assert suffix.startswith("550 5.7.1"), suffix
    assert subdomain.startswith("250"), subdomain
    assert emulator.components["sink"].counters["relay_denied"] == 2


def test_bounce_catalogue_stages() -> None:
    stages = {reply.stage for reply in catalogue.PERMANENT}
    assert stages == {"rcpt", "data"}
    for reply in catalogue.PERMANENT:
        if reply.enhanced.startswith(("5.1.", "5.2.")):
            assert reply.stage == "rcpt", reply
        if any(word in reply.text.lower() for word in ("spam", "content", "dnsbl", "reputation", "blocked")):
            assert reply.stage == "data", reply


async def test_bounce_label_uses_both_stages(emulator: EmulatorServer) -> None:
    sink = emulator.components["sink"]
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    at_rcpt, at_data = [], []
    for index in range(40):
        rcpt = f"user{index}@bounce.bouncy-sink.test"
        replies, final = await client.transaction(SENDER, [rcpt], simple_message(rcpt))
        if final is None:
            at_rcpt.append(replies[0])
        else:
            assert replies[0].startswith("250"), replies
            at_data.append(final)
    await client.close()
    assert at_rcpt, "no bounce was given at RCPT"
    assert at_data, "no bounce was given after DATA"
    assert all(reply.startswith("5") for reply in at_rcpt + at_data)
    # Only the DATA-stage bounces reach the message store, each with a content or reputation reply.
    stored = sink.messages.search(behaviour="bounce")
    assert len(stored) == len(at_data)
    assert all(message.recipients[0].plan.stage == "data" for message in stored)


async def test_one_log_line_per_action(
    emulator: EmulatorServer, capture: CaptureServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The live console, when on, takes over log output; these lines are for runs without it.
    assert emulator.settings.console.enabled is False
    caplog.set_level(logging.INFO, logger="emulator.smtp")
    sink = emulator.components["sink"]
    client = await RawClient.connect(sink_port(emulator))
    await client.command("EHLO client.example.com")
    recipients = {
        "accepted": "a@accept.bouncy-sink.test",
        "bounced": "reply-data-554-5.7.1-spam@bouncy-sink.test",
        "oob": "o@oob.bouncy-sink.test",
        "fbl": "f@fbl.bouncy-sink.test",
    }
    for rcpt in recipients.values():
        await client.transaction(SENDER, [rcpt], simple_message(rcpt))
    rcpt_bounce, _ = await client.transaction(SENDER, ["reply-550-5.1.1-gone@bouncy-sink.test"], b"Subject: x\r\n\r\nx\r\n")
    await client.close()
    await wait_for(lambda: sink.counters["oob_sent"] == 1 and sink.counters["fbl_sent"] == 1, what="both reports")

    ids = {name: sink.messages.search(recipient=rcpt)[0].id for name, rcpt in recipients.items()}
    lines = [record.getMessage() for record in caplog.records if record.name == "emulator.smtp"]

    def lines_with(*words: str) -> list[str]:
        return [line for line in lines if all(word in line for word in words)]

    assert len(lines_with(ids["accepted"])) == 1
    assert "250" in lines_with(ids["accepted"])[0]
    assert len(lines_with(ids["bounced"])) == 1
    assert "554 5.7.1 spam" in lines_with(ids["bounced"])[0]
    assert len(lines_with(ids["oob"], "oob report", "sent")) == 1
    assert len(lines_with(ids["oob"])) == 2
    assert len(lines_with(ids["fbl"], "fbl report", "sent")) == 1
    assert len(lines_with(ids["fbl"])) == 2
    assert rcpt_bounce[0].startswith("550")
    assert len(lines_with("reply-550-5.1.1-gone@bouncy-sink.test", "550 5.1.1 gone")) == 1


async def test_reset_restarts_random_draws() -> None:
    server = EmulatorServer(mixed_settings(42))
    await server.start()
    try:
        sink = server.components["sink"]

        def draw() -> list[tuple[str, str | None]]:
            plans = [sink.policy.decide(f"user{i}@bouncy-sink.test", "", {"rcpt": f"user{i}@bouncy-sink.test"}) for i in range(100)]
            return [(plan.outcome, plan.reply) for plan in plans]

        first = draw()
        await sink.reset()
        assert draw() == first
    finally:
        await server.stop()

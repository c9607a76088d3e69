"""Sink inspection routes, reset, and the sink's command-line options."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import pytest

from emulator.app import EmulatorServer
from emulator.errors import ConfigError
from emulator.sink.options import (
    MixShares,
    SinkSettings,
    add_sink_arguments,
    sink_settings_from_args,
)
from tests.sink_helpers import CaptureServer, RawClient, simple_message, start_emulator

SENDER = "bounces@pmta.example.com"


@pytest.fixture
async def emulator(capture: CaptureServer) -> AsyncIterator[EmulatorServer]:
    server = await start_emulator(capture.port, max_messages=3)
    yield server
    await server.stop()


async def deliver(server: EmulatorServer, rcpt: str, subject: str, accepted: bool = True) -> None:
    client = await RawClient.connect(server.components["sink"].port)
    await client.command("EHLO pmta.example.com")
    _, final = await client.transaction(SENDER, [rcpt], simple_message(rcpt, subject=subject))
    await client.close()
    assert final is not None or not accepted, "DATA was not reached"
    assert (final or "").startswith("250") is accepted, final


async def get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_messages_listed_and_filtered(emulator: EmulatorServer) -> None:
    await deliver(emulator, "a@accept.bouncy-sink.test", "first")
    await deliver(emulator, "b@greylist.bouncy-sink.test", "never stored", accepted=False)
    await deliver(emulator, "c@accept.bouncy-sink.test", "second")
    base = f"{emulator.url}/__emulator/sink/messages"
    status, body = await get_json(base)
    assert status == 200
    assert [item["subject"] for item in body["results"]] == ["second", "first"]
    _, body = await get_json(f"{base}?recipient=A@accept.bouncy-sink.test")
    assert [item["subject"] for item in body["results"]] == ["first"]
    _, body = await get_json(f"{base}?behaviour=accept")
    assert len(body["results"]) == 2
    _, body = await get_json(f"{base}?behaviour=oob")
    assert body["results"] == []


async def test_message_detail_and_raw(emulator: EmulatorServer) -> None:
    await deliver(emulator, "raw@accept.bouncy-sink.test", "raw one")
    [stored] = emulator.components["sink"].messages.search()
    status, body = await get_json(f"{emulator.url}/__emulator/sink/messages/{stored.id}")
    assert status == 200
    detail = body["results"]
    assert detail["mail_from"] == SENDER
    assert detail["recipients"][0]["behaviour"] == "accept"
    assert ["Subject", "raw one"] in detail["headers"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emulator.url}/__emulator/sink/messages/{stored.id}.eml") as response:
            assert response.status == 200
            assert response.content_type == "message/rfc822"
            assert await response.read() == stored.raw
    status, body = await get_json(f"{emulator.url}/__emulator/sink/messages/nope")
    assert status == 404
    assert body["errors"][0]["message"]


async def test_store_evicts_oldest_and_counts(emulator: EmulatorServer) -> None:
    for index in range(5):
        await deliver(emulator, f"e{index}@accept.bouncy-sink.test", f"m{index}")
    _, body = await get_json(f"{emulator.url}/__emulator/sink/stats")
    stats = body["results"]
    assert stats["stored_messages"] == 3
    assert stats["actions"]["evictions"] == 2
    assert stats["actions"]["accepted"] == 5
    assert stats["behaviours"] == {"accept": 5}


async def test_reset_clears_messages_and_counters(emulator: EmulatorServer) -> None:
    await deliver(emulator, "r@accept.bouncy-sink.test", "before reset")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emulator.url}/__emulator/reset") as response:
            assert response.status == 200
    _, body = await get_json(f"{emulator.url}/__emulator/sink/stats")
    assert body["results"]["stored_messages"] == 0
    assert body["results"]["actions"]["accepted"] == 0
    assert body["results"]["behaviours"] == {}


def parse(argv: list[str], env: dict[str, str] | None = None):
    env = env or {}
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    add_sink_arguments(parser, env)
    return sink_settings_from_args(parser.parse_args(argv), env)


def test_options_from_flags_and_environment(tmp_path) -> None:
    settings = parse(
        ["--smtp-port", "0", "--return-smtp", "127.0.0.1:2526", "--sink-domain", "Sink.Example", "--sink-domain", "b.test"],
        {"EMULATOR_FBL_TO": "fbl@x.test", "EMULATOR_MIX_OOB": "5"},
    )
    assert settings.port == 0
    assert settings.return_smtp == ("127.0.0.1", 2526)
    assert settings.domains == ("sink.example", "b.test")
    assert settings.fbl_to == "fbl@x.test"
    assert settings.mix.oob == 5
    env_domains = parse([], {"EMULATOR_SINK_DOMAIN": "one.test,two.test", "EMULATOR_NO_SMTP": "1"})
    assert env_domains.domains == ("one.test", "two.test")
    assert env_domains.enabled is False


def test_mix_config_file_and_override(tmp_path) -> None:
    config = tmp_path / "sink.ini"
    config.write_text("[mix]\noob = 1\nopen = 40\nclick = 20\nclick_again = 5\nopen-again = 4\n")
    settings = parse(["--sink-config", str(config), "--mix-click", "30"])
    assert settings.mix == MixShares(oob=1, open=40, open_again=4, click=30, click_again=5)


@pytest.mark.parametrize(
    "argv",
    [
        ["--mix-oob", "101"],
        ["--mix-bounce", "-1"],
        ["--mix-open", "10", "--mix-click", "20"],
        ["--return-smtp", "host:99999"],
        ["--smtp-tls-cert", "cert.pem"],
    ],
)
def test_invalid_options_rejected(argv: list[str]) -> None:
    with pytest.raises(ConfigError):
        parse(argv)


def test_unknown_config_key_rejected(tmp_path) -> None:
    config = tmp_path / "sink.ini"
    config.write_text("[mix]\nbounces = 3\n")
    with pytest.raises(ConfigError, match="unknown key"):
        parse(["--sink-config", str(config)])


def test_default_mix_matches_public_sink() -> None:
    # The public Bouncy Sink's [Sink] defaults, plus this sink's in-band reply share of 2.
    expected = MixShares(oob=0.5, fbl=0.01, open=55, open_again=10, click=15, click_again=3, bounce=2)
    assert MixShares() == expected
    assert parse([]).mix == expected
    assert SinkSettings().mix == expected

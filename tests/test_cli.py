"""The emulator command: serve's start line and signals, settings from the environment, send."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from emulator.cli import build_parser, build_settings, main
from tests.ingest_helpers import search
from tests.process_helpers import ServeProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def settings_for(argv: list[str], env: dict[str, str]):
    args = build_parser(env).parse_args(["serve", *argv])
    return build_settings(args, env)


def test_flags_read_environment():
    env = {
        "EMULATOR_PORT": "9999",
        "EMULATOR_API_KEYS": "key-one, key-two",
        "EMULATOR_MAX_EVENT_AGE": "0",
        "EMULATOR_SEED": "42",
        "EMULATOR_DB": "/tmp/x.sqlite",
    }
    settings = settings_for([], env)
    assert settings.port == 9999
    assert settings.api_keys == ("key-one", "key-two")
    assert settings.max_event_age == 0
    assert settings.seed == 42
    assert settings.db == "/tmp/x.sqlite"
    assert "key-one" not in repr(settings)


def test_flag_wins_over_environment():
    settings = settings_for(["--port", "0", "--api-key", "k1", "--api-key", "k2"], {"EMULATOR_PORT": "9999", "EMULATOR_API_KEYS": "x"})
    assert settings.port == 0
    assert settings.api_keys == ("k1", "k2")


def test_invalid_settings_exit_with_message(capsys):
    assert main(["serve", "--tls-cert", "cert.pem"], env={}) == 2
    assert "--tls-key" in capsys.readouterr().err
    assert main(["serve"], env={"EMULATOR_PORT": "eighty"}) == 2
    assert "EMULATOR_PORT" in capsys.readouterr().err


def test_serve_prints_url_and_stops_on_sigterm():
    process = ServeProcess()
    try:
        assert process.url.startswith("http://127.0.0.1:")
        assert process.terminate() == 0
    finally:
        process.close()


async def run_send(*args: str) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "send", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), timeout=60)
    return child.returncode or 0, stdout.decode(), stderr.decode()


async def test_send_fixture_batches_with_outcomes(server, http):
    files = sorted(str(path) for path in (FIXTURES / "batches").iterdir())
    code, stdout, stderr = await run_send("--url", server.url, "--wait", "--shift-timestamps", *files)
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 3
    assert all("success" in line for line in lines), stdout
    _, page = await search(http, server.url, per_page="100")
    assert page["total_count"] == 21
    _, page = await search(http, server.url, events="click")
    click = page["results"][0]
    assert click["campaign_id"] == "spring-sale"
    assert click["ip_pool"] == "pool-a"
    assert click["sending_ip"] == "192.0.2.10"


@pytest.mark.parametrize(
    "name,expected",
    [
        ("truncated.ndjson.gz", "error (decompress)"),
        ("not-gzip.ndjson.gz", "error (decompress)"),
        ("empty.ndjson.gz", "error (empty_batch)"),
        ("partly-invalid.ndjson.gz", "error (validation): 1 succeeded, 5 failed"),
    ],
)
async def test_send_broken_fixture_batches(server, name, expected):
    code, stdout, _ = await run_send("--url", server.url, "--wait", "--shift-timestamps", str(FIXTURES / "broken" / name))
    assert code == 1
    assert expected in stdout


async def test_send_reads_stdin_and_reports_http_errors(start_server):
    server = await start_server(api_keys=("right",))
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "send", "--url", server.url, "--api-key", "wrong",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(child.communicate(b'{"msys":{}}\n'), timeout=60)
    assert child.returncode == 1
    assert "HTTP 401" in stderr.decode()

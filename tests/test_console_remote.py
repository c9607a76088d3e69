"""``emulator console --url``: the remote view, its errors and retries."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from emulator.app import EmulatorServer
from emulator.cli import main
from emulator.config import Settings
from emulator.console import CONSOLE
from emulator.console.remote import RemoteOptions, run_remote
from emulator.console.view import EMPTY_VALUE_LABEL
from tests.console_helpers import (
    FIXED_NOW,
    UNICODE_CAMPAIGN,
    EventIds,
    capture_console,
    known_events,
    upload,
    wait_for_batches,
)


def closed_port() -> int:
    """Return a loopback port that nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def loaded_server() -> AsyncIterator[EmulatorServer]:
    server = EmulatorServer(Settings(port=0, api_keys=("console-test-key",)))
    server.app[CONSOLE].clock = lambda: FIXED_NOW
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            await upload(http, server, known_events(EventIds()))
            await upload_done(http, server)
        yield server
    finally:
        await server.stop()


async def upload_done(http: aiohttp.ClientSession, server: EmulatorServer) -> None:
    await wait_for_batches(http, server, 1, headers={"Authorization": "console-test-key"})


async def test_remote_once_shows_same_view(loaded_server):
    console = capture_console()
    options = RemoteOptions(url=loaded_server.url, api_key="console-test-key", once=True)
    status = await run_remote(options, asyncio.Event(), console=console, live=False)
    assert status == 0
    text = console.export_text()
    assert "By campaign (4 values)" in text
    assert "spring-sale" in text
    assert UNICODE_CAMPAIGN in text
    assert EMPTY_VALUE_LABEL in text
    assert "at 22:13:20 UTC" in text


async def test_remote_without_key_says_what_to_pass(loaded_server):
    console = capture_console()
    errors = io.StringIO()
    options = RemoteOptions(url=loaded_server.url, once=True)
    status = await run_remote(options, asyncio.Event(), console=console, live=False, errors=errors)
    assert status == 1
    assert "401" in errors.getvalue()
    assert "pass one of its keys with --api-key" in errors.getvalue()
    assert console.export_text() == ""


async def test_remote_live_view_redraws_until_stopped(loaded_server):
    console = capture_console(height=60)
    stop = asyncio.Event()
    options = RemoteOptions(url=loaded_server.url, api_key="console-test-key", interval=0.25)
    task = asyncio.create_task(run_remote(options, stop, console=console, live=True))
    deadline = time.monotonic() + 5
    while "spring-sale" not in console.file.getvalue():  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the remote live view was never drawn"
        await asyncio.sleep(0.02)
    stop.set()
    assert await asyncio.wait_for(task, 5) == 0


async def test_cli_once_against_running_server(loaded_server):
    env = {**os.environ, "COLUMNS": "80", "LINES": "60", "EMULATOR_API_KEY": "console-test-key"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "console", "--url", loaded_server.url, "--once",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    text = stdout.decode()
    assert "By sending IP (4 values)" in text
    assert "2001:db8::1" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_cli_unreachable_server_gives_clear_message(capsys):
    port = closed_port()
    status = main(["console", "--url", f"http://127.0.0.1:{port}", "--max-attempts", "2", "--once"], env={})
    assert status == 1
    err = capsys.readouterr().err
    assert f"cannot connect to http://127.0.0.1:{port}" in err
    assert "retrying in 0.5 s (attempt 1)" in err
    assert "Gave up after 2 attempts" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "127.0.0.1:8080"], "--url must start with http:// or https://"),
        (["--interval", "0.01"], "--interval must be at least 0.25 seconds"),
        (["--max-attempts", "-1"], "--max-attempts must be 0"),
    ],
)
def test_cli_rejects_invalid_flags(capsys, argv, message):
    assert main(["console", *argv], env={}) == 2
    assert message in capsys.readouterr().err

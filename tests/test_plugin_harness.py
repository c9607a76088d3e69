"""EmulatorHarness without pytest fixtures: start, stop, failed starts, remote mode."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
import urllib.request

import pytest

from emulator.config import Settings
from emulator.sink.options import SinkSettings
from emulator.testing import EmulatorHarness, HarnessError, HarnessOptions
from emulator.testing.harness import local_settings


def harness_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "sparkpost-emulator"]


def accepts_connections(host: str, port: int) -> bool:
    """Connect and read the SMTP greeting, so the server has finished accepting before the socket closes."""
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            return connection.recv(3) == b"220"
    except OSError:
        return False


def test_start_binds_free_ports_on_loopback() -> None:
    threads_before = len(harness_threads())

    with EmulatorHarness() as harness:
        with urllib.request.urlopen(harness.url + "/__emulator/health", timeout=5) as response:
            health = response.status
        capture = harness.capture_address
        assert capture is not None
        listening = [
            accepts_connections(harness.smtp_host, harness.smtp_port),
            accepts_connections(*capture),
        ]
        ports = {int(harness.url.rsplit(":", 1)[1]), harness.smtp_port, capture[1]}

    assert health == 200
    assert listening == [True, True]
    assert len(ports) == 3
    assert harness.url.startswith("http://127.0.0.1:")
    assert capture[0] == "127.0.0.1"
    assert not accepts_connections(harness.smtp_host, harness.smtp_port)
    assert len(harness_threads()) == threads_before


def test_two_harnesses_side_by_side() -> None:
    with EmulatorHarness() as first, EmulatorHarness() as second:
        assert first.url != second.url
        assert first.smtp_port != second.smtp_port


def test_stop_is_idempotent_and_restart_refused() -> None:
    harness = EmulatorHarness().start()
    with pytest.raises(HarnessError, match="already started"):
        harness.start()
    harness.stop()
    harness.stop()

    with pytest.raises(HarnessError, match="not running"):
        harness.run(asyncio.sleep(0))


@pytest.mark.parametrize("failure", ["http-tls-files-missing", "sink-port-taken"])
def test_failed_start_tears_down_quickly(tmp_path, failure: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if failure == "http-tls-files-missing":
            # The HTTP listener fails after the capture listener is bound.
            settings = Settings(
                port=0,
                tls_cert=str(tmp_path / "missing-cert.pem"),
                tls_key=str(tmp_path / "missing-key.pem"),
                sink=SinkSettings(port=0),
            )
            expected: type[Exception] = FileNotFoundError
        else:
            # The sink fails after the HTTP listener and the batch worker are running.
            settings = Settings(port=0, sink=SinkSettings(port=taken.getsockname()[1]))
            expected = OSError
        harness = EmulatorHarness(HarnessOptions(settings=settings))
        threads_before = len(harness_threads())

        started = time.monotonic()
        with pytest.raises(expected):
            harness.start()
        elapsed = time.monotonic() - started

    assert elapsed < 5
    assert not harness.running
    assert harness.server is None
    assert len(harness_threads()) == threads_before


def test_start_timeout_is_reported() -> None:
    harness = EmulatorHarness()
    with pytest.raises(HarnessError, match="the emulator did not become ready within 1e-06 s"):
        harness.start(timeout=0.000001)
    assert not harness.running


def test_settings_override_keeps_capture_return() -> None:
    settings = Settings(port=0, seed=9, sink=SinkSettings(port=0, domains=("sink.example",), return_delay=0))

    built = local_settings(HarnessOptions(settings=settings), ("127.0.0.1", 2600))

    assert built.sink.return_smtp == ("127.0.0.1", 2600)
    assert built.sink.domains == ("sink.example",)
    assert built.seed == 9


def test_default_settings_for_tests() -> None:
    built = local_settings(HarnessOptions(seed=3, sink_domain="x.test"), ("127.0.0.1", 2600))

    assert built.port == 0
    assert built.sink.port == 0
    assert built.host == built.sink.host == "127.0.0.1"
    assert built.api_keys == ("emulator-test-key",)
    assert built.sink.return_delay == 0
    assert built.sink.domains == ("x.test",)
    assert dataclasses.replace(built).seed == 3


def test_remote_mode_uses_given_url_and_smtp() -> None:
    with EmulatorHarness() as server:
        options = HarnessOptions(remote_url=server.url + "/", remote_smtp=("127.0.0.1", server.smtp_port))
        with EmulatorHarness(options) as remote:
            assert remote.is_remote
            assert remote.url == server.url
            assert remote.smtp_port == server.smtp_port
            assert remote.capture is None


def test_remote_mode_with_capture_address() -> None:
    with EmulatorHarness() as server:
        options = HarnessOptions(remote_url=server.url, capture_address=("127.0.0.1", 0))
        with EmulatorHarness(options) as remote:
            capture = remote.capture_address
            assert capture is not None
            assert accepts_connections(*capture)


def test_remote_mode_rejects_bad_url() -> None:
    with pytest.raises(HarnessError, match="emulator URL 'ftp://x' is invalid"):
        EmulatorHarness(HarnessOptions(remote_url="ftp://x")).start()

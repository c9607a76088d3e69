"""pytest fixtures that run the SparkPost Signals emulator on free ports.

Installed through the ``pytest11`` entry point, so installing the package is
enough.  The fixtures are layered like pytest-httpserver's:

- ``sparkpost_emulator_options`` (session): a
  :class:`~emulator.testing.harness.HarnessOptions` built from the command line
  and the environment; override it in a ``conftest.py`` to change the seed,
  the sink domain or the sink's delays;
- ``sparkpost_emulator_harness`` (session): the running
  :class:`~emulator.testing.harness.EmulatorHarness`, started once per test
  session (once per pytest-xdist worker);
- ``sparkpost_emulator`` (function): an
  :class:`~emulator.testing.emulator.Emulator` over that harness, reset before
  the test.  At teardown, errors the emulator raised while serving the test
  fail the test with their tracebacks.

This module imports only pytest and the standard library; the emulator itself
is imported when a test first requests a fixture.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emulator.testing.emulator import Emulator
    from emulator.testing.harness import EmulatorHarness, HarnessOptions

URL_VARIABLE = "EMULATOR_URL"
API_KEY_VARIABLE = "EMULATOR_API_KEY"
SMTP_VARIABLE = "EMULATOR_SMTP"
CAPTURE_VARIABLE = "EMULATOR_CAPTURE"
SINK_DOMAIN_VARIABLE = "EMULATOR_SINK_DOMAIN"
SEED_VARIABLE = "EMULATOR_SEED"
REPORT_SECTION = "sparkpost emulator"

EMULATOR_KEY = pytest.StashKey["Emulator"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sparkpost-emulator", "SparkPost Signals emulator fixtures")
    group.addoption(
        "--emulator-url",
        default=None,
        help=f"use the emulator already running at this URL instead of starting one in the test process; "
        f"a comma-separated list gives one URL per pytest-xdist worker (env {URL_VARIABLE})",
    )
    group.addoption(
        "--emulator-api-key",
        default=None,
        help=f"API key the fixtures send (env {API_KEY_VARIABLE}; default emulator-test-key)",
    )
    group.addoption(
        "--emulator-smtp",
        default=None,
        help=f"HOST:PORT of that emulator's SMTP sink (env {SMTP_VARIABLE}; default the URL's host, port 2525)",
    )
    group.addoption(
        "--emulator-capture",
        default=None,
        help=f"HOST:PORT where the fixtures listen for the DSNs and complaints that emulator returns; "
        f"start it with --return-smtp pointing there (env {CAPTURE_VARIABLE})",
    )
    group.addoption(
        "--emulator-sink-domain",
        default=None,
        help=f"domain of the sink; addresses end in it (env {SINK_DOMAIN_VARIABLE}; default bouncy-sink.test)",
    )
    group.addoption(
        "--emulator-seed",
        default=None,
        type=int,
        help=f"seed of the in-process emulator's random choices (env {SEED_VARIABLE}; default 0)",
    )


def _split_host_port(raw: str, flag: str) -> tuple[str, int]:
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise pytest.UsageError(f"{flag} {raw!r} is invalid; expected HOST:PORT")
    return host.strip("[]"), int(port)


def _pick_url(raw: str, env: Mapping[str, str]) -> str:
    """Return this worker's URL from a comma-separated list (``gw3`` takes the fourth, wrapping around)."""
    urls = [url.strip() for url in raw.split(",") if url.strip()]
    if not urls:
        raise pytest.UsageError("--emulator-url is empty")
    worker = env.get("PYTEST_XDIST_WORKER", "")
    workers = int(env.get("PYTEST_XDIST_WORKER_COUNT", "1") or "1")
    if len(urls) == 1 and workers > 1:
        # Every worker resets the emulator before each test, so workers
        # sharing one emulator would wipe each other's events.
        raise pytest.UsageError(
            f"--emulator-url names one emulator but pytest-xdist runs {workers} workers, which would reset "
            "each other's data; give one URL per worker as a comma-separated list, or run without -n"
        )
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return urls[index % len(urls)]


def options_from_config(config: pytest.Config, env: Mapping[str, str]) -> HarnessOptions:
    """Build the harness options from the command line, falling back to the environment (the one place env is read)."""
    from emulator.testing.harness import HarnessOptions

    def value(option: str, variable: str) -> Any:
        from_command_line = config.getoption(option)
        if from_command_line not in (None, ""):
            return from_command_line
        return env.get(variable) or None

    kwargs: dict[str, Any] = {}
    seed = value("emulator_seed", SEED_VARIABLE)
    if seed is not None:
        try:
            kwargs["seed"] = int(seed)
        except ValueError:
            raise pytest.UsageError(f"{SEED_VARIABLE}={seed!r} is invalid; expected an integer") from None
    api_key = value("emulator_api_key", API_KEY_VARIABLE)
    if api_key:
        kwargs["api_key"] = api_key
    sink_domain = value("emulator_sink_domain", SINK_DOMAIN_VARIABLE)
    if sink_domain:
        kwargs["sink_domain"] = sink_domain.strip().strip(".").lower()

    url = value("emulator_url", URL_VARIABLE)
    if url:
        kwargs["remote_url"] = _pick_url(url, env)
        smtp = value("emulator_smtp", SMTP_VARIABLE)
        if smtp:
            kwargs["remote_smtp"] = _split_host_port(smtp, "--emulator-smtp")
        capture = value("emulator_capture", CAPTURE_VARIABLE)
        if capture:
            kwargs["capture_address"] = _split_host_port(capture, "--emulator-capture")
    return HarnessOptions(**kwargs)


@pytest.fixture(scope="session")
def sparkpost_emulator_options(pytestconfig: pytest.Config) -> HarnessOptions:
    """Options for the session's emulator; override this fixture to change them."""
    return options_from_config(pytestconfig, os.environ)


@pytest.fixture(scope="session")
def sparkpost_emulator_harness(sparkpost_emulator_options: HarnessOptions) -> Iterator[EmulatorHarness]:
    """Start the emulator and the capture listener once per session (once per xdist worker)."""
    from emulator.testing.harness import EmulatorHarness

    harness = EmulatorHarness(sparkpost_emulator_options)
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def sparkpost_emulator(sparkpost_emulator_harness: EmulatorHarness, request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """Reset the emulator for this test and fail the test at teardown on server-side errors."""
    from emulator.log import root_logger
    from emulator.testing.emulator import Emulator, format_server_errors

    emulator = Emulator(sparkpost_emulator_harness)
    stale = emulator.reset(label=request.node.nodeid)
    for error in stale:
        root_logger.warning("server-side error recorded between tests (before %s):\n%s", request.node.nodeid, error)
    request.node.stash[EMULATOR_KEY] = emulator

    yield emulator

    errors = emulator.take_server_errors()
    if errors:
        pytest.fail(format_server_errors(errors), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the emulator's events, sink messages and returned mail to the report of a failed test."""
    report = yield
    emulator = item.stash.get(EMULATOR_KEY, None)
    if emulator is not None and report.failed and report.when in ("call", "teardown"):
        try:
            text = emulator.arrivals_text()
        except Exception as exc:  # noqa: BLE001 - the report must never break because the emulator is gone
            text = f"could not read the emulator's state: {exc!r}"
        report.sections.append((REPORT_SECTION, text))
    return report

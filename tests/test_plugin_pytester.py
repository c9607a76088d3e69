"""The plugin seen from a user's test run: report sections, teardown errors, isolation, options."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from emulator.testing import EmulatorHarness, HarnessOptions

pytest_plugins = ["pytester"]

# Plugins the inner runs do without: pytest-benchmark (when installed) warns about
# xdist, which the inner runs turn into an error, and Hypothesis's plugin imports
# Hypothesis anew for each inner run, which takes seconds.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "no:hypothesispytest")

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


@pytest.fixture
def user_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory with the settings a user's project would have, and no emulator variables."""
    for name in (
        "EMULATOR_URL", "EMULATOR_API_KEY", "EMULATOR_SMTP", "EMULATOR_CAPTURE", "EMULATOR_SINK_DOMAIN",
        # Under pytest-xdist the outer worker's variables would make the inner run look like a worker.
        "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
    ):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini(INI)
    return pytester


def test_failing_test_gets_report_section(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        def test_expects_bounce(sparkpost_emulator):
            event = sparkpost_emulator.ingest_event("delivery", message_id="0000aaaa", rcpt_to="x@accept.bouncy-sink.test")
            sparkpost_emulator.wait_for_batch(sparkpost_emulator.upload([event]))
            assert sparkpost_emulator.events(events="bounce"), "no bounce"
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- sparkpost emulator -*",
            "Events stored (1):",
            "  - delivery message_id=0000aaaa rcpt_to=x@accept.bouncy-sink.test *",
            "Ingest batch outcomes (1):",
            "Sink messages: none",
            "Returned mail: none",
        ]
    )


def test_passing_test_has_no_report_section(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        def test_quiet(sparkpost_emulator):
            assert sparkpost_emulator.events() == []
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS, "-rA")

    result.assert_outcomes(passed=1)
    assert "sparkpost emulator" not in result.stdout.str()


def test_server_error_fails_at_teardown(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import asyncio

        def explode():
            raise RuntimeError("boom inside the emulator loop")

        async def schedule_failure():
            asyncio.get_running_loop().call_soon(explode)
            await asyncio.sleep(0.01)

        def test_passes_but_server_fails(sparkpost_emulator):
            sparkpost_emulator.harness.run(schedule_failure(), timeout=5)

        def test_next_test_is_clean(sparkpost_emulator):
            assert sparkpost_emulator.take_server_errors() == []
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS)

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_passes_but_server_fails*",
            "*the emulator recorded 1 server-side error(s) during this test:*",
            "*RuntimeError: boom inside the emulator loop*",
        ]
    )


def test_server_error_listed_in_wait_failure(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import asyncio

        def explode():
            raise ValueError("handler bug")

        async def schedule_failure():
            asyncio.get_running_loop().call_soon(explode)
            await asyncio.sleep(0.01)

        def test_waits(sparkpost_emulator):
            sparkpost_emulator.harness.run(schedule_failure(), timeout=5)
            sparkpost_emulator.wait_for_events(timeout=0.1)
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS)

    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*Server-side errors (full tracebacks at teardown) (1):*", "*ValueError: handler bug*"])


def test_events_do_not_leak_between_tests(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        def test_first_uploads(sparkpost_emulator):
            events = [sparkpost_emulator.ingest_event(kind, message_id="0000leak", rcpt_to="l@x.test")
                      for kind in ("reception", "delivery")]
            sparkpost_emulator.wait_for_batch(sparkpost_emulator.upload(events))
            assert len(sparkpost_emulator.wait_for_events(count=2)) == 2

        def test_second_sees_nothing(sparkpost_emulator):
            assert sparkpost_emulator.events() == []
            sparkpost_emulator.assert_no_events(within=0.1)
            assert sparkpost_emulator.sink_messages() == []
            assert sparkpost_emulator.returned_mail() == []
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS)

    result.assert_outcomes(passed=2)


def test_async_tests_use_aio_helpers(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import asyncio

        async def test_async_helpers(sparkpost_emulator):
            emulator = sparkpost_emulator.aio
            message_id = emulator.message_id()
            event = emulator.ingest_event("delivery", message_id=message_id, rcpt_to="a@x.test")
            batch_id = await emulator.upload([event])
            waiting = asyncio.ensure_future(emulator.wait_for_events(messages=message_id))
            # The test's own loop keeps running while the helper polls.
            await asyncio.sleep(0)
            assert not waiting.done()
            outcome = await emulator.wait_for_batch(batch_id)
            [found] = await waiting
            assert outcome["type"] == "success"
            assert found["message_id"] == message_id
            await emulator.assert_no_events(within=0.05, events="bounce")
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS)

    result.assert_outcomes(passed=1)


def test_remote_emulator_url(user_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    user_project.makepyfile(
        """
        def test_against_remote(sparkpost_emulator):
            assert sparkpost_emulator.harness.is_remote
            assert sparkpost_emulator.harness.server is None
            event = sparkpost_emulator.ingest_event("delivery", message_id="0000remote", rcpt_to="r@x.test")
            sparkpost_emulator.wait_for_batch(sparkpost_emulator.upload([event]))
            assert [e["message_id"] for e in sparkpost_emulator.wait_for_events()] == ["0000remote"]
        """
    )

    with EmulatorHarness(HarnessOptions(api_key="remote-key")) as remote:
        # The variable names the emulator; the key comes from the option, which wins over a variable.
        monkeypatch.setenv("EMULATOR_URL", remote.url)
        result = user_project.runpytest(*QUIET_PLUGINS, "--emulator-api-key", "remote-key")
        remote_events = remote.run(_remote_event_ids(remote), timeout=10)

    result.assert_outcomes(passed=1)
    assert remote_events == ["0000remote"]


async def _remote_event_ids(harness: EmulatorHarness) -> list[str]:
    from emulator.testing.client import EmulatorClient

    return [event["message_id"] for event in await EmulatorClient(harness).events({})]


def test_remote_without_capture_explains_returned_mail(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import pytest
        from emulator.testing import FeatureUnavailable

        def test_returned(sparkpost_emulator):
            with pytest.raises(FeatureUnavailable, match="--emulator-capture"):
                sparkpost_emulator.returned_mail()
        """
    )

    with EmulatorHarness() as remote:
        result = user_project.runpytest(*QUIET_PLUGINS, f"--emulator-url={remote.url}")

    result.assert_outcomes(passed=1)


def test_unreachable_remote_is_a_clear_error(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        def test_never_runs(sparkpost_emulator):
            pass
        """
    )
    with EmulatorHarness() as stopped:
        url = stopped.url

    result = user_project.runpytest(*QUIET_PLUGINS, f"--emulator-url={url}")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*the emulator at {url} is not reachable*"])


def test_one_url_with_many_workers_is_rejected(user_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    user_project.makepyfile(
        """
        def test_never_runs(sparkpost_emulator):
            pass
        """
    )
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")

    result = user_project.runpytest(*QUIET_PLUGINS, "--emulator-url=http://127.0.0.1:9")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*give one URL per worker as a comma-separated list*"])


def test_options_pick_worker_url(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.pytest_plugin import options_from_config

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    config = pytester.parseconfig(
        "--emulator-url=http://a:1,http://b:2",
        "--emulator-smtp=b:2526",
        "--emulator-capture=127.0.0.1:2600",
        "--emulator-sink-domain=Sink.Example.",
    )

    options = options_from_config(config, {"EMULATOR_SEED": "42", **os.environ})

    assert options.remote_url == "http://b:2"
    assert options.remote_smtp == ("b", 2526)
    assert options.capture_address == ("127.0.0.1", 2600)
    assert options.sink_domain == "sink.example"
    assert options.seed == 42


def test_invalid_smtp_option_is_usage_error(pytester: pytest.Pytester) -> None:
    from emulator.pytest_plugin import options_from_config

    config = pytester.parseconfig("--emulator-url=http://a:1", "--emulator-smtp=nohostport")

    with pytest.raises(pytest.UsageError, match="--emulator-smtp 'nohostport' is invalid"):
        options_from_config(config, {})


def test_plugin_import_starts_nothing() -> None:
    code = (
        "import sys, threading, emulator.pytest_plugin\n"
        "heavy = [name for name in ('aiohttp', 'aiosmtpd', 'emulator.app') if name in sys.modules]\n"
        "print(heavy, threading.active_count())\n"
    )

    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert output.strip() == "[] 1"


# The conftest.py example of the README, verbatim.
README_CONFTEST = '''import pytest
from emulator.testing import HarnessOptions

@pytest.fixture(scope="session")
def sparkpost_emulator_options():
    return HarnessOptions(seed=7, sink_domain="sink.example.test", return_delay=0.2)
'''


def test_options_fixture_override(user_project: pytest.Pytester) -> None:
    user_project.makeconftest(README_CONFTEST)
    user_project.makepyfile(
        """
        import smtplib

        def test_custom_domain(sparkpost_emulator):
            rcpt = sparkpost_emulator.address("oob", "someone")
            assert rcpt == "someone@oob.sink.example.test"
            assert sparkpost_emulator.harness.options.seed == 7
            with smtplib.SMTP(sparkpost_emulator.smtp_host, sparkpost_emulator.smtp_port) as smtp:
                smtp.sendmail("bounces@sender.example", [rcpt], b"Subject: hi\\r\\nTo: " + rcpt.encode() + b"\\r\\n\\r\\nhi\\r\\n")
            [dsn] = sparkpost_emulator.wait_for_returned_mail(kind="dsn")
            assert dsn.recipient == rcpt
            assert dsn.received_at - sparkpost_emulator.sink_messages()[0]["received_at"] >= 0.2
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS)

    result.assert_outcomes(passed=1)


def test_recorded_app_error_fails_at_teardown(user_project: pytest.Pytester) -> None:
    # A component records an unexpected failure in the application's error list,
    # as the HTTP middleware and the sink's background tasks do.
    user_project.makepyfile(
        """
        from emulator.api.keys import SERVER_ERRORS

        async def record_failure(app):
            app[SERVER_ERRORS].append("GET /api/v1/x: KeyError('rcpt')\\nTraceback (most recent call last):\\nKeyError: 'rcpt'")

        def test_component_failure(sparkpost_emulator):
            harness = sparkpost_emulator.harness
            harness.run(record_failure(harness.server.app), timeout=5)
        """
    )

    result = user_project.runpytest(*QUIET_PLUGINS)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_component_failure*",
            "*the emulator recorded 1 server-side error(s) during this test:*",
            "*GET /api/v1/x: KeyError('rcpt')*",
        ]
    )

"""Console aggregates and view against a real server fed through the ingest API."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from emulator.app import EmulatorServer
from emulator.console import CONSOLE, build_view, run_console
from emulator.console.options import ConsoleSettings
from emulator.console.view import EMPTY_VALUE_LABEL
from tests.console_helpers import (
    AUTH,
    COUNT_KEYS,
    EXPECTED,
    FIXED_NOW,
    LONG_CAMPAIGN,
    UNICODE_CAMPAIGN,
    EventIds,
    capture_console,
    get_snapshot,
    known_events,
    message_event,
    rows_by_value,
    track_event,
    upload,
    wait_for_batches,
)


@pytest.fixture
def start_server(start_server: Callable[..., Any]) -> Callable[..., Any]:
    """The shared factory, with the console's clock fixed before the server starts."""

    def fix_clock(server: EmulatorServer) -> None:
        server.app[CONSOLE].clock = lambda: FIXED_NOW

    async def start(**settings: Any) -> EmulatorServer:
        return await start_server(before_start=fix_clock, **settings)

    return start


async def loaded_server(start_server: Callable[..., Any], http: aiohttp.ClientSession, **settings: Any) -> EmulatorServer:
    server = await start_server(**settings)
    await upload(http, server, known_events(EventIds()))
    await wait_for_batches(http, server, 1)
    return server


def render(snapshot: dict[str, Any], *, width: int = 80, max_rows: int = 5) -> str:
    console = capture_console(width=width)
    console.print(build_view(snapshot, max_rows=max_rows, width=width))
    return console.export_text()


def table_section(text: str, title: str) -> list[str]:
    """Return the lines of the table titled ``title`` up to the next blank-titled section."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(title))
    section = []
    for line in lines[start + 3 :]:
        if not line.strip() or line.startswith(("By ", "all events", "… ")):
            break
        section.append(line)
    return section


async def test_counts_per_campaign_match_known_events(start_server, http):
    server = await loaded_server(start_server, http)
    snapshot = await get_snapshot(http, server)
    rows = rows_by_value(snapshot, "campaign_id")
    assert set(rows) == set(EXPECTED)
    for campaign, expected in EXPECTED.items():
        actual = tuple(rows[campaign][key] for key in COUNT_KEYS)
        assert actual == expected, campaign
    assert rows[""]["admin_bounced"] == 1
    assert [row["value"] for row in snapshot["groups"]["campaign_id"]["rows"]] == [
        "spring-sale",
        UNICODE_CAMPAIGN,
        "",
        LONG_CAMPAIGN,
    ]


async def test_rates_follow_sparkpost_definitions(start_server, http):
    server = await loaded_server(start_server, http)
    spring = rows_by_value(await get_snapshot(http, server), "campaign_id")["spring-sale"]
    # sent = 4 delivered + 1 in-band = 5; accepted = 4 delivered - 1 out-of-band = 3
    assert spring["delivery_rate"] == pytest.approx(3 / 5)
    assert spring["bounce_rate"] == pytest.approx(2 / 5)
    assert spring["complaint_rate"] == pytest.approx(1 / 3)
    empty = rows_by_value(await get_snapshot(http, server), "campaign_id")[""]
    assert empty["delivery_rate"] is None
    assert empty["complaint_rate"] is None


async def test_pool_and_ip_rows(start_server, http):
    server = await loaded_server(start_server, http)
    snapshot = await get_snapshot(http, server)
    pools = rows_by_value(snapshot, "ip_pool")
    assert {value: row["events"] for value, row in pools.items()} == {"pool-a": 17, "pool-b": 5, "": 2}
    assert pools["pool-b"]["delivered"] == 2
    assert pools["pool-b"]["unique_opens"] == 1
    ips = rows_by_value(snapshot, "sending_ip")
    assert {value: row["events"] for value, row in ips.items()} == {
        "192.0.2.10": 17,
        "2001:db8::1": 3,
        "": 2,
        "192.0.2.20": 2,
    }
    assert snapshot["totals"]["events"] == 24
    assert snapshot["totals"]["injected"] == 8


async def test_view_at_80_columns(start_server, http):
    server = await loaded_server(start_server, http)
    text = render(await get_snapshot(http, server))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "at 22:13:20 UTC" in text

    campaigns = table_section(text, "By campaign (4 values)")
    assert campaigns[0].split() == ["spring-sale", "17", "5", "4", "1", "1", "1", "1", "1", "1", "60.0%", "40.0%", "33.3%"]
    assert campaigns[1].split() == [UNICODE_CAMPAIGN, "3", "1", "1", "0", "0", "0", "0", "1", "0", "100%", "0.0%", "0.0%"]
    assert campaigns[2].split() == [EMPTY_VALUE_LABEL, "2", "1", "0", "0", "0", "0", "0", "0", "0", "–", "–", "–"]
    long_row = campaigns[3].split()
    assert long_row[0].endswith("…")
    assert LONG_CAMPAIGN.startswith(long_row[0][:-1])
    assert long_row[1:] == ["2", "1", "1", "0", "0", "0", "0", "0", "0", "100%", "0.0%", "0.0%"]

    pools = table_section(text, "By IP pool (3 values)")
    assert [line.split()[0] for line in pools] == ["pool-a", "pool-b", EMPTY_VALUE_LABEL]
    ips = table_section(text, "By sending IP (4 values)")
    assert [line.split()[0] for line in ips] == ["192.0.2.10", "2001:db8::1", EMPTY_VALUE_LABEL, "192.0.2.20"]


async def test_cut_lists_count_hidden_rows(start_server, http):
    server = await loaded_server(start_server, http)
    text = render(await get_snapshot(http, server, rows=2), max_rows=2)
    campaigns = table_section(text, "By campaign (4 values)")
    assert len(campaigns) == 2
    assert "… 2 more (4 events)" in text
    assert "… 2 more (4 events)" in text.split("By sending IP")[1]


async def test_batches_chart_and_subsystems_in_view(start_server, http):
    server = await loaded_server(start_server, http)
    await upload(http, server, ["not json"])  # type: ignore[list-item]
    snapshot = await wait_for_batches(http, server, 2)
    assert snapshot["batch_counts"] == {"success": 1, "error": 1}
    text = render(snapshot)
    batch_lines = text.split("Recent ingest batches")[1].splitlines()[3:5]
    assert batch_lines[0].split()[2:] == ["error", "0", "1", "0", "validation"]
    assert batch_lines[1].split()[2:] == ["ok", "24", "0", "0"]
    # Every event arrived in the current 10-second bucket, the last bar.
    chart = next(line for line in text.splitlines() if line.startswith("▁"))
    assert chart == "▁" * 59 + "█"
    assert snapshot["event_rate"]["peak_per_second"] == pytest.approx(2.4)
    for name in ("sink", "tracking"):
        if snapshot[name] is None:
            assert f"{name}: not running" in text
        else:
            assert f"{name}: not running" not in text


async def test_reenrichment_moves_counts(start_server, http):
    server = await start_server()
    ids = EventIds()
    # Opens and a click arrive before their injection: no campaign yet.
    await upload(
        http,
        server,
        [track_event("open", ids(), "late-1"), track_event("open", ids(), "late-1"), track_event("click", ids(), "late-1")],
    )
    before = rows_by_value(await wait_for_batches(http, server, 1), "campaign_id")
    assert before[""]["unique_opens"] == 1
    assert before[""]["unique_clicks"] == 1

    reception = message_event("reception", ids(), "late-1", campaign_id="late-campaign", binding_group="pool-late")
    await upload(http, server, [reception])
    after = await wait_for_batches(http, server, 2)
    campaigns = rows_by_value(after, "campaign_id")
    assert "" not in campaigns
    assert campaigns["late-campaign"]["unique_opens"] == 1
    assert campaigns["late-campaign"]["unique_clicks"] == 1
    assert campaigns["late-campaign"]["events"] == 4
    assert set(rows_by_value(after, "ip_pool")) == {"pool-late"}


async def test_reset_clears_counts(start_server, http):
    server = await loaded_server(start_server, http)
    async with http.post(server.url + "/__emulator/reset") as response:
        assert response.status == 200
    snapshot = await get_snapshot(http, server)
    assert snapshot["totals"]["events"] == 0
    assert snapshot["groups"]["campaign_id"]["rows"] == []
    assert snapshot["batches"] == []
    assert "no events" in render(snapshot)


async def test_restart_on_same_db_rebuilds_counts(start_server, http, tmp_path):
    db = str(tmp_path / "console.sqlite")
    first = await loaded_server(start_server, http, db=db)
    expected = await get_snapshot(http, first)
    await first.stop()

    second = await start_server(db=db)
    rebuilt = await get_snapshot(http, second)
    assert rebuilt["groups"] == expected["groups"]
    assert rebuilt["totals"] == expected["totals"]
    assert rebuilt["batch_counts"] == {"success": 1}
    assert [batch["batch_id"] for batch in rebuilt["batches"]] == [batch["batch_id"] for batch in expected["batches"]]


async def test_endpoint_rejects_invalid_rows(start_server, http):
    server = await start_server()
    for raw in ("0", "1001", "many"):
        async with http.get(server.url + "/__emulator/console", params={"rows": raw}) as response:
            body = await response.json()
        assert response.status == 400, raw
        assert "rows must be a whole number from 1 to 1000" in body["errors"][0]["description"]


async def test_endpoint_requires_configured_key(start_server, http):
    server = await start_server(api_keys=("console-test-key",))
    async with http.get(server.url + "/__emulator/console") as response:
        assert response.status == 401
    async with http.get(server.url + "/__emulator/console", headers={"Authorization": "wrong"}) as response:
        assert response.status == 401
    snapshot = await get_snapshot(http, server, headers=AUTH)
    assert snapshot["version"] == 1
    assert snapshot["server"]["url"] == server.url


async def test_run_console_draws_live_view_and_logs_above(start_server, http):
    server = await loaded_server(start_server, http, console=ConsoleSettings(enabled=True, refresh_per_second=4))
    console = capture_console(height=60)
    stream = console.file
    assert isinstance(stream, io.StringIO)
    root = logging.getLogger()
    plain_handler = logging.StreamHandler(sys.stderr)
    root.addHandler(plain_handler)
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(run_console(server, server.settings, stop, console=console))
        deadline = time.monotonic() + 5
        while "By campaign" not in stream.getvalue():
            assert time.monotonic() < deadline, "the live view was never drawn"
            await asyncio.sleep(0.02)
        assert plain_handler not in root.handlers
        logging.getLogger("emulator.console").warning("marker record %s", "abc123")
        while "marker record abc123" not in stream.getvalue():
            assert time.monotonic() < deadline, "the log record did not reach the console"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 5)
        assert plain_handler in root.handlers
    finally:
        root.removeHandler(plain_handler)
    output = stream.getvalue()
    assert "spring-sale" in output
    assert EMPTY_VALUE_LABEL in output


async def test_run_console_off_only_waits(start_server):
    server = await start_server(console=ConsoleSettings(enabled=False))
    console = capture_console()
    stop = asyncio.Event()
    task = asyncio.create_task(run_console(server, server.settings, stop, console=console))
    await asyncio.sleep(0)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]

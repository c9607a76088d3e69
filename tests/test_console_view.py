"""Aggregates and view of the console on hand-made store changes."""

from __future__ import annotations

import pytest

from emulator.cli import build_parser, build_settings
from emulator.console.aggregates import ConsoleAggregates
from emulator.console.options import ConsoleSettings
from emulator.console.rate import EventRate
from emulator.console.view import (
    Sparkline,
    build_view,
    format_count,
    format_rate,
    rows_for_height,
)
from emulator.errors import ConfigError
from emulator.store.db import StoreChange
from tests.console_helpers import FIXED_NOW, capture_console


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(type_: str, message_id: str, campaign: str | None = None, **fields: str) -> dict[str, str]:
    body = {"type": type_, "message_id": message_id, **fields}
    if campaign is not None:
        body["campaign_id"] = campaign
    return body


def campaign_rows(aggregates: ConsoleAggregates, rows: int = 100) -> dict[str, dict]:
    snapshot = aggregates.snapshot(rows=rows)
    return {row["value"]: row for row in snapshot["groups"]["campaign_id"]["rows"]}


def render(aggregates: ConsoleAggregates, *, width: int = 80, max_rows: int = 5) -> str:
    snapshot = aggregates.snapshot(rows=max_rows)
    snapshot.update(generated_at="2023-11-14T22:13:20.000+00:00", server={"url": "http://127.0.0.1:1", "version": "t"})
    console = capture_console(width=width)
    console.print(build_view(snapshot, max_rows=max_rows, width=width))
    return console.export_text()


def test_update_moves_only_the_moved_event():
    aggregates = ConsoleAggregates(ManualClock(FIXED_NOW))
    first = event("open", "m1")
    second = event("open", "m1")
    aggregates.apply_change(StoreChange(added=[first, second]))
    assert campaign_rows(aggregates)[""]["unique_opens"] == 1

    aggregates.apply_change(StoreChange(updated=[(first, {**first, "campaign_id": "c"})]))
    rows = campaign_rows(aggregates)
    # The second open still sits in the empty row until it is moved too.
    assert rows[""]["unique_opens"] == 1
    assert rows["c"]["unique_opens"] == 1

    aggregates.apply_change(StoreChange(updated=[(second, {**second, "campaign_id": "c"})]))
    rows = campaign_rows(aggregates)
    assert "" not in rows
    assert rows["c"]["unique_opens"] == 1
    assert rows["c"]["events"] == 2


def test_admin_bounces_are_counted_apart():
    aggregates = ConsoleAggregates(ManualClock(FIXED_NOW))
    aggregates.apply_change(
        StoreChange(
            added=[
                event("bounce", "m1", "c", bounce_class="25"),
                event("out_of_band", "m2", "c", bounce_class="80"),
                event("bounce", "m3", "c", bounce_class="10"),
            ]
        )
    )
    row = campaign_rows(aggregates)["c"]
    assert row["admin_bounced"] == 2
    assert row["bounced_inband"] == 1
    assert row["bounced_outofband"] == 0


def test_reset_forgets_everything():
    aggregates = ConsoleAggregates(ManualClock(FIXED_NOW))
    aggregates.apply_change(StoreChange(added=[event("injection", "m1", "c")], outcome={"type": "success"}))
    aggregates.apply_change(StoreChange(reset=True))
    snapshot = aggregates.snapshot(rows=5)
    assert snapshot["totals"]["events"] == 0
    assert snapshot["batches"] == []
    assert sum(snapshot["event_rate"]["counts"]) == 0


def test_many_campaigns_are_cut_with_count():
    aggregates = ConsoleAggregates(ManualClock(FIXED_NOW))
    added = []
    for number in range(30):
        added.extend(event("delivery", f"m{number}-{copy}", f"camp-{number:02d}") for copy in range(number + 1))
    aggregates.apply_change(StoreChange(added=added))
    snapshot = aggregates.snapshot(rows=3)
    group = snapshot["groups"]["campaign_id"]
    assert [row["value"] for row in group["rows"]] == ["camp-29", "camp-28", "camp-27"]
    assert group["hidden_rows"] == 27
    assert group["hidden_events"] == sum(range(1, 28))
    text = render(aggregates, max_rows=3)
    assert "By campaign (30 values)" in text
    assert f"… 27 more ({sum(range(1, 28))} events)" in text


def test_equal_volumes_sort_by_value():
    aggregates = ConsoleAggregates(ManualClock(FIXED_NOW))
    aggregates.apply_change(StoreChange(added=[event("delivery", "m1", "b"), event("delivery", "m2", "a")]))
    assert [row["value"] for row in aggregates.snapshot(rows=5)["groups"]["campaign_id"]["rows"]] == ["a", "b"]


def test_control_characters_are_not_printed():
    aggregates = ConsoleAggregates(ManualClock(FIXED_NOW))
    aggregates.apply_change(StoreChange(added=[event("delivery", "m1", "bad\x1b[2Jname")]))
    text = render(aggregates)
    assert "\x1b" not in text
    assert "bad?[2Jname" in text


@pytest.mark.parametrize("width", [60, 80, 120])
def test_view_fits_width(width):
    aggregates = ConsoleAggregates(ManualClock(FIXED_NOW))
    aggregates.apply_change(StoreChange(added=[event("delivery", f"m{n}", "x" * 90) for n in range(456)]))
    text = render(aggregates, width=width)
    assert max(len(line) for line in text.splitlines()) <= width


def test_rate_series_follows_clock():
    clock = ManualClock(FIXED_NOW)
    aggregates = ConsoleAggregates(clock)
    aggregates.apply_change(StoreChange(added=[event("delivery", "m1")] * 10))
    clock.now += 10
    aggregates.apply_change(StoreChange(added=[event("delivery", "m2")] * 5))
    clock.now += 10
    rate = aggregates.snapshot(rows=1)["event_rate"]
    assert rate["counts"][-3:] == [10, 5, 0]
    assert rate["per_second"] == pytest.approx(0.5)
    assert rate["peak_per_second"] == pytest.approx(1.0)
    clock.now += 600
    assert sum(aggregates.snapshot(rows=1)["event_rate"]["counts"]) == 0


def test_rate_drops_old_buckets():
    rate = EventRate(bucket_seconds=1, buckets=3)
    for second in range(10):
        rate.add(FIXED_NOW + second, 1)
    assert len(rate._counts) == 3
    assert rate.series(FIXED_NOW + 9) == [1, 1, 1]


def test_sparkline_levels():
    assert Sparkline([0, 1, 4, 8]).render_text(10) == "▁▂▅█"
    assert Sparkline([5, 0, 5]).render_text(2) == "▁█"
    assert Sparkline([]).render_text(5) == ""


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (99_999, "99999"), (123_456, "123k"), (1_234_567, "1.2M"), (123_456_789, "123M")]
)
def test_format_count(value, text):
    assert format_count(value) == text


@pytest.mark.parametrize(("value", "text"), [(None, "–"), (0.0, "0.0%"), (0.3333, "33.3%"), (1.0, "100%")])
def test_format_rate(value, text):
    assert format_rate(value) == text


def test_rows_for_height():
    assert rows_for_height(24) == (1, 1)
    rows, batches = rows_for_height(50)
    assert 27 + 3 * rows + batches <= 50


def test_console_settings_reject_fast_refresh():
    with pytest.raises(ConfigError, match="--console-refresh"):
        ConsoleSettings(refresh_per_second=30)


@pytest.mark.parametrize(
    ("argv", "env", "enabled"),
    [
        ([], {}, None),
        (["--console"], {}, True),
        (["--no-console"], {}, False),
        ([], {"EMULATOR_CONSOLE": "0"}, False),
        (["--console"], {"EMULATOR_CONSOLE": "0"}, True),
    ],
)
def test_serve_console_flags(argv, env, enabled):
    parser = build_parser(env)
    args = parser.parse_args(["serve", *argv])
    assert build_settings(args, env).console.enabled is enabled

"""Rich renderables built from a console snapshot (a plain dict).

The same functions draw the local view of ``emulator serve`` and the remote
view of ``emulator console --url``, because both start from the snapshot
that ``GET /__emulator/console`` returns.  Nothing here keeps state.

Meaning never rests on colour alone: outcomes are words (``ok``, ``error``),
the empty value is ``(none)`` and cut lists show how much they hide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

DEFAULT_MAX_ROWS = 5
EMPTY_VALUE_LABEL = "(none)"
SPARK_LEVELS = "▂▃▄▅▆▇█"
SPARK_ZERO = "▁"

GROUP_TITLES: dict[str, str] = {
    "campaign_id": "By campaign",
    "ip_pool": "By IP pool",
    "sending_ip": "By sending IP",
}

# (snapshot key, column header); headers stay short so 80 columns fit.
COUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("events", "all"),
    ("injected", "inj"),
    ("delivered", "dlv"),
    ("delayed", "dly"),
    ("bounced_inband", "bnc"),
    ("bounced_outofband", "oob"),
    ("spam_complaints", "cmp"),
    ("unique_opens", "open"),
    ("unique_clicks", "click"),
)
RATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("delivery_rate", "dlv%"),
    ("bounce_rate", "bnc%"),
    ("complaint_rate", "cmp%"),
)
LEGEND = (
    "all events  inj injected  dlv delivered  dly delayed  cmp spam complaints\n"
    "bnc/oob in-band/out-of-band bounces  open/click unique messages  – no base\n"
    "dlv% = (dlv-oob)/(dlv+bnc)  bnc% = (bnc+oob)/(dlv+bnc)  cmp% = cmp/(dlv-oob)"
)


def format_count(value: int) -> str:
    """Format a count in at most five characters (``12345``, ``123k``, ``1.2M``)."""
    if value < 100_000:
        return str(value)
    if value < 1_000_000:
        return f"{value // 1000}k"
    if value < 100_000_000:
        return f"{value / 1_000_000:.1f}M"
    return f"{value // 1_000_000}M"


def format_rate(value: float | None) -> str:
    """Format a rate as a percentage; None (no denominator) is a dash."""
    if value is None:
        return "–"
    percent = value * 100
    if percent >= 99.95:
        return f"{percent:.0f}%"
    return f"{percent:.1f}%"


def value_label(value: str) -> Text:
    """Return a row label; the empty value is shown as ``(none)``."""
    if value == "":
        return Text(EMPTY_VALUE_LABEL, style="italic")
    # Control characters would move the cursor inside the live view.
    printable = "".join(char if char.isprintable() else "?" for char in value)
    return Text(printable)


class Sparkline:
    """One-line bar chart of counts that keeps the newest values that fit the width."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts

    def render_text(self, width: int) -> str:
        counts = self.counts[-width:] if width > 0 else []
        peak = max(counts, default=0)
        chars = []
        for count in counts:
            if count <= 0 or peak <= 0:
                chars.append(SPARK_ZERO)
            else:
                level = min(len(SPARK_LEVELS) - 1, (count * len(SPARK_LEVELS) - 1) // peak)
                chars.append(SPARK_LEVELS[level])
        return "".join(chars)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.render_text(options.max_width), no_wrap=True)


def build_header(snapshot: dict[str, Any]) -> Text:
    """Return the title line: server, totals and snapshot time."""
    server = snapshot.get("server", {})
    totals = snapshot.get("totals", {})
    batch_counts = snapshot.get("batch_counts", {})
    ok = batch_counts.get("success", 0)
    failed = batch_counts.get("error", 0)
    generated = str(snapshot.get("generated_at", ""))[11:19]
    header = Text()
    header.append("SparkPost emulator", style="bold")
    header.append(f" {server.get('version', '')} · {server.get('url', '')}\n")
    header.append(f"{totals.get('events', 0)} events · batches: {ok} ok, {failed} error · at {generated} UTC")
    return header


def build_rate(snapshot: dict[str, Any]) -> RenderableType:
    """Return the event-rate chart with its scale in words."""
    rate = snapshot.get("event_rate") or {}
    counts = list(rate.get("counts", []))
    bucket = rate.get("bucket_seconds", 10)
    minutes = len(counts) * bucket / 60
    caption = Text(
        f"events/s: now {rate.get('per_second', 0):.1f}, peak {rate.get('peak_per_second', 0):.1f} "
        f"(last {minutes:g} min, one bar per {bucket} s)"
    )
    return Group(caption, Sparkline(counts))


def _fixed_widths(header_row: list[str], rows: list[list[str]]) -> list[int]:
    return [max(len(cell) for cell in column) for column in zip(header_row, *rows)]


def _flexible_width(width: int, fixed: list[int], minimum: int, maximum: int) -> int:
    """Return the width left for the one flexible column, one space between columns."""
    left = width - sum(fixed) - len(fixed)
    return max(minimum, min(maximum, left))


def _table(title: str, caption: str | None) -> Table:
    return Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=0,
        pad_edge=False,
        show_edge=False,
    )


def build_group_table(dimension: str, group: dict[str, Any], *, max_rows: int, width: int) -> Table:
    """Return one grouping's table (campaign, IP pool or sending IP), ``width`` columns wide at most."""
    rows = group.get("rows", [])
    shown = rows[:max_rows]
    hidden_rows = group.get("hidden_rows", 0) + len(rows) - len(shown)
    hidden_events = group.get("hidden_events", 0) + sum(row.get("events", 0) for row in rows[len(shown):])
    row_count = group.get("row_count", len(rows))
    title = f"{GROUP_TITLES.get(dimension, dimension)} ({row_count} {'value' if row_count == 1 else 'values'})"
    caption = f"… {hidden_rows} more ({hidden_events} events)" if hidden_rows else None

    headers = [header for _, header in COUNT_COLUMNS + RATE_COLUMNS]
    cells = [
        [format_count(int(row.get(key, 0))) for key, _ in COUNT_COLUMNS]
        + [format_rate(row.get(key)) for key, _ in RATE_COLUMNS]
        for row in shown
    ]
    # The numbers keep their full width and the value column takes the rest,
    # so a long campaign name is cut with an ellipsis rather than the counts.
    widths = _fixed_widths(headers, cells)
    labels = [value_label(str(row.get("value", ""))) for row in shown]
    placeholder = Text("no events", style="italic")
    label_width = max([len("value")] + [label.cell_len for label in labels or [placeholder]])
    value_width = min(label_width, _flexible_width(width, widths, 6, 40))

    table = _table(title, caption)
    table.add_column("value", overflow="ellipsis", no_wrap=True, width=value_width)
    for header, column_width in zip(headers, widths):
        table.add_column(header, justify="right", no_wrap=True, width=column_width)
    if not shown:
        table.add_row(placeholder)
    for label, row_cells in zip(labels, cells):
        table.add_row(label, *row_cells)
    return table


def build_batches_table(batches: Iterable[dict[str, Any]], *, width: int) -> Table:
    """Return the recent ingest batch outcomes, newest first, ``width`` columns wide at most."""
    headers = ["time", "outcome", "stored", "failed", "dupes", "error type"]
    rows = []
    ids = []
    for batch in batches:
        ok = batch.get("type") == "success"
        ids.append(str(batch.get("batch_id") or ""))
        rows.append(
            [
                str(batch.get("timestamp") or "")[11:19],
                "ok" if ok else "error",
                format_count(int(batch.get("number_succeeded") or 0)),
                format_count(int(batch.get("number_failed") or 0)),
                format_count(int(batch.get("number_duplicates") or 0)),
                str(batch.get("error_type") or ("" if ok else "unknown")),
            ]
        )
    widths = _fixed_widths(headers, rows)
    id_width = min(max([len("batch id")] + [len(batch_id) for batch_id in ids]), _flexible_width(width, widths, 8, 36))

    table = _table("Recent ingest batches", None)
    table.add_column("time", no_wrap=True, width=widths[0])
    table.add_column("batch id", overflow="ellipsis", no_wrap=True, width=id_width)
    table.add_column("outcome", no_wrap=True, width=widths[1])
    for header, column_width in zip(headers[2:5], widths[2:5]):
        table.add_column(header, justify="right", no_wrap=True, width=column_width)
    table.add_column("error type", no_wrap=True, width=widths[5])
    if not rows:
        table.add_row("", Text("none yet", style="italic"))
    for batch_id, row in zip(ids, rows):
        outcome = Text(row[1], style="green" if row[1] == "ok" else "bold red")
        table.add_row(row[0], batch_id, outcome, *row[2:])
    return table


def _pairs_text(stats: dict[str, Any], prefix: str = "") -> str:
    """Join scalar counters as ``name value · …``; nested dicts get dotted names."""
    parts = []
    for key, value in stats.items():
        name = f"{prefix}{key}".replace("_", " ")
        if isinstance(value, dict):
            parts.append(_pairs_text(value, f"{prefix}{key}."))
        else:
            parts.append(f"{name} {value}")
    return " · ".join(part for part in parts if part)


def build_stats_line(label: str, stats: dict[str, Any] | None) -> Text:
    """Return the subsystem's counters, one line per group, or ``not running`` when it is absent."""
    text = Text()
    text.append(f"{label}: ", style="bold")
    if stats is None:
        text.append("not running", style="italic")
        return text
    scalars = {key: value for key, value in stats.items() if not isinstance(value, dict)}
    groups = {key: value for key, value in stats.items() if isinstance(value, dict)}
    text.append(_pairs_text(scalars) or ("no counters" if not groups else ""))
    for key, value in groups.items():
        text.append(f"\n  {key.replace('_', ' ')}: ")
        text.append(_pairs_text(value) or "none")
    return text


def build_view(snapshot: dict[str, Any], *, max_rows: int = DEFAULT_MAX_ROWS, width: int = 80) -> RenderableType:
    """Return the whole console view for ``snapshot``.

    Args:
        snapshot (dict): Data as returned by ``GET /__emulator/console`` (``results``).
        max_rows (int, optional): Rows per grouping table. Defaults to 5.
        width (int, optional): Terminal width the tables are fitted to. Defaults to 80.
    """
    groups = snapshot.get("groups", {})
    parts: list[RenderableType] = [build_header(snapshot), build_rate(snapshot)]
    for dimension in GROUP_TITLES:
        parts.append(build_group_table(dimension, groups.get(dimension, {}), max_rows=max_rows, width=width))
    parts.append(Text(LEGEND, style="dim"))
    parts.append(build_batches_table(snapshot.get("batches", []), width=width))
    parts.append(build_stats_line("sink", snapshot.get("sink")))
    parts.append(build_stats_line("tracking", snapshot.get("tracking")))
    return Group(*parts)


def rows_for_height(height: int) -> tuple[int, int]:
    """Return (rows per grouping table, batch rows) that fit a terminal ``height`` lines tall."""
    # Without any rows the view takes 27 lines: header and chart 4, three
    # tables with title, header, rule and "more" line 12, legend 3, the
    # batches' title, header and rule 3, sink and tracking 5.
    spare = max(0, height - 27)
    batches = max(1, min(10, spare // 4))
    rows = max(1, min(20, (spare - batches) // 3))
    return rows, batches

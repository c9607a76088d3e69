"""Counters behind the console, kept up to date as events are stored.

:class:`ConsoleAggregates` listens to the store's :class:`StoreChange`
notifications, so a refresh reads a few dictionaries and never scans the
events table.  It is rebuilt from the store once at start-up, so a server
restarted on the same ``--db`` file shows the old numbers again.

All methods run on the event loop thread, except :meth:`rebuild_from`, which
fills a fresh object on the store thread before it is handed to the loop.
"""

from __future__ import annotations

import collections
import heapq
from collections.abc import Callable, Iterable
from typing import Any

from emulator.console.rate import EventRate
from emulator.store.db import StoreChange, SyncStore

# Dimensions the console groups by, as public event field names.
DIMENSIONS: tuple[str, ...] = ("campaign_id", "ip_pool", "sending_ip")

# Counted event types: public type -> counter name.
COUNTER_BY_TYPE: dict[str, str] = {
    "injection": "injected",
    "delivery": "delivered",
    "delay": "delayed",
    "bounce": "bounced_inband",
    "out_of_band": "bounced_outofband",
    "spam_complaint": "spam_complaints",
}
OPEN_TYPES = frozenset({"open", "initial_open"})
CLICK_TYPES = frozenset({"click"})
BOUNCE_TYPES = frozenset({"bounce", "out_of_band"})

# Bounce classes in SparkPost's Admin category (25 Admin Failure, 80 Subscribe).
# SparkPost's metrics leave them out of count_bounce, so they are counted apart.
ADMIN_BOUNCE_CLASSES = frozenset({"25", "80"})

COUNTERS: tuple[str, ...] = (
    "injected",
    "delivered",
    "delayed",
    "bounced_inband",
    "bounced_outofband",
    "admin_bounced",
    "spam_complaints",
)

DEFAULT_RECENT_BATCHES = 10
MAX_RELOADED_OUTCOMES = 100_000


def dimension_value(event: dict[str, Any], dimension: str) -> str:
    """Return the event's value for ``dimension``; a missing value is the empty string."""
    value = event.get(dimension)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class GroupRow:
    """Counts of one value of one dimension (one campaign, pool or IP)."""

    __slots__ = ("clicks", "counts", "events", "opens")

    def __init__(self) -> None:
        self.events = 0
        self.counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        # message_id -> number of open (click) events, so that moving one
        # event elsewhere on re-enrichment keeps the others counted.
        self.opens: dict[str, int] = {}
        self.clicks: dict[str, int] = {}

    def apply(self, counter: str | None, message_id: str | None, sign: int) -> None:
        """Add (``sign`` = 1) or remove (``sign`` = -1) one event classified by :func:`classify`."""
        self.events += sign
        if counter is None:
            return
        if counter == "opens":
            if message_id:
                _count_member(self.opens, message_id, sign)
        elif counter == "clicks":
            if message_id:
                _count_member(self.clicks, message_id, sign)
        else:
            self.counts[counter] += sign

    def to_dict(self, value: str) -> dict[str, Any]:
        """Return the row as snapshot data, with SparkPost-style rates."""
        row: dict[str, Any] = {"value": value, "events": self.events, **self.counts}
        row["unique_opens"] = len(self.opens)
        row["unique_clicks"] = len(self.clicks)
        row.update(rates(row))
        return row


def classify(event: dict[str, Any]) -> str | None:
    """Return the counter an event adds to: a name in COUNTERS, ``opens``, ``clicks`` or None."""
    event_type = event.get("type")
    counter = COUNTER_BY_TYPE.get(event_type)  # type: ignore[arg-type]
    if counter is not None:
        if event_type in BOUNCE_TYPES and str(event.get("bounce_class", "")) in ADMIN_BOUNCE_CLASSES:
            return "admin_bounced"
        return counter
    if event_type in OPEN_TYPES:
        return "opens"
    if event_type in CLICK_TYPES:
        return "clicks"
    return None


def _count_member(members: dict[str, int], key: str, sign: int) -> None:
    count = members.get(key, 0) + sign
    if count > 0:
        members[key] = count
    else:
        members.pop(key, None)


def rates(row: dict[str, Any]) -> dict[str, float | None]:
    """Compute delivery, bounce and complaint rates from a row's counts.

    SparkPost's definitions: sent = delivered + in-band bounces; accepted =
    delivered - out-of-band bounces.  Delivery rate = accepted / sent, bounce
    rate = (in-band + out-of-band bounces) / sent, complaint rate = spam
    complaints / accepted.  A rate with a zero denominator is None.
    """
    sent = row["delivered"] + row["bounced_inband"]
    accepted = max(row["delivered"] - row["bounced_outofband"], 0)
    bounced = row["bounced_inband"] + row["bounced_outofband"]
    return {
        "delivery_rate": accepted / sent if sent else None,
        "bounce_rate": bounced / sent if sent else None,
        "complaint_rate": row["spam_complaints"] / accepted if accepted else None,
    }


class ConsoleAggregates:
    """Per-dimension counters, recent batch outcomes and the event rate.

    Args:
        clock (Callable[[], float]): Seconds since the epoch; the rate series uses it.
        recent_batches (int, optional): Batch outcomes kept. Defaults to 10.
    """

    def __init__(self, clock: Callable[[], float], *, recent_batches: int = DEFAULT_RECENT_BATCHES) -> None:
        self.clock = clock
        self.total = GroupRow()
        self.groups: dict[str, dict[str, GroupRow]] = {dimension: {} for dimension in DIMENSIONS}
        self.batches: collections.deque[dict[str, Any]] = collections.deque(maxlen=recent_batches)
        self.batch_counts: collections.Counter[str] = collections.Counter()
        self.rate = EventRate()

    # -- updates -------------------------------------------------------------

    def apply_change(self, change: StoreChange) -> None:
        """Fold one committed store change into the counters (a store listener)."""
        if change.reset:
            self.clear()
        for event in change.added:
            self._apply(event, 1)
        if change.added:
            self.rate.add(self.clock(), len(change.added))
        for before, after in change.updated:
            self._apply(before, -1)
            self._apply(after, 1)
        if change.outcome is not None:
            self.add_outcome(change.outcome)

    def add_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Count stored events without touching the rate series (used on rebuild)."""
        for event in events:
            self._apply(event, 1)

    def add_outcome(self, outcome: dict[str, Any]) -> None:
        """Remember one ingest batch outcome (newest first in the snapshot)."""
        self.batches.appendleft(_batch_summary(outcome))
        self.batch_counts[outcome.get("type", "unknown")] += 1

    def _apply(self, event: dict[str, Any], sign: int) -> None:
        counter = classify(event)
        message_id = event.get("message_id")
        self.total.apply(counter, message_id, sign)
        for dimension, rows in self.groups.items():
            value = dimension_value(event, dimension)
            row = rows.get(value)
            if row is None:
                row = rows[value] = GroupRow()
            row.apply(counter, message_id, sign)
            if row.events == 0:
                del rows[value]

    def clear(self) -> None:
        """Forget everything, as after ``POST /__emulator/reset``."""
        self.total = GroupRow()
        self.groups = {dimension: {} for dimension in DIMENSIONS}
        self.batches.clear()
        self.batch_counts.clear()
        self.rate.clear()

    def rebuild_from(self, sync: SyncStore) -> None:
        """Count every stored event and outcome (runs on the store thread)."""
        for chunk in sync.iter_events():
            self.add_events(chunk)
        # Outcomes are one per batch, so loading them all is cheap next to the
        # events; the cap only bounds a pathological store.
        for outcome in reversed(sync.recent_outcomes(MAX_RELOADED_OUTCOMES)):
            self.add_outcome(outcome)

    # -- reads ---------------------------------------------------------------

    def snapshot(self, *, rows: int) -> dict[str, Any]:
        """Return plain data for the view and the JSON endpoint, ``rows`` rows per dimension."""
        groups = {dimension: _top_rows(self.groups[dimension], rows) for dimension in DIMENSIONS}
        return {
            "totals": self.total.to_dict(""),
            "groups": groups,
            "batches": list(self.batches),
            "batch_counts": dict(self.batch_counts),
            "event_rate": self.rate.snapshot(self.clock()),
        }


def _top_rows(rows: dict[str, GroupRow], limit: int) -> dict[str, Any]:
    """Return the ``limit`` largest rows by event count, with what the cut hides."""
    # nsmallest is O(rows) for a small limit, which matters with many
    # campaigns; equal counts are listed by value so the output is stable.
    top = heapq.nsmallest(limit, rows.items(), key=lambda item: (-item[1].events, item[0]))
    hidden_events = sum(row.events for row in rows.values()) - sum(row.events for _, row in top)
    return {
        "rows": [row.to_dict(value) for value, row in top],
        "row_count": len(rows),
        "hidden_rows": len(rows) - len(top),
        "hidden_events": hidden_events,
    }


def _batch_summary(outcome: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": outcome.get("batch_id"),
        "type": outcome.get("type"),
        "timestamp": outcome.get("timestamp"),
        "number_succeeded": outcome.get("number_succeeded", 0),
        "number_failed": outcome.get("number_failed", 0),
        "number_duplicates": outcome.get("number_duplicates", 0),
        "error_type": outcome.get("error_type"),
    }

"""Helpers for the console tests: a known set of events, uploads, capture consoles."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from rich.console import Console

from emulator.app import EmulatorServer
from tests import ingest_helpers

# 2023-11-14T22:13:20Z, the fixed clock of the rendered views.
FIXED_NOW = 1_700_000_000.0
AUTH = {"Authorization": "console-test-key"}
LONG_CAMPAIGN = "quarterly-newsletter-for-customers-in-the-north-eastern-sales-region-2026"
UNICODE_CAMPAIGN = "Ünïcode-キャンペーン"


def capture_console(width: int = 80, height: int = 60) -> Console:
    """Return a fixed-size console that records plain text."""
    return Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system=None,
        _environ={},
    )


def message_event(type_: str, event_id: str, message_id: str, **fields: Any) -> dict[str, Any]:
    """A message event whose recipient is unique to its message."""
    fields.setdefault("delv_method", "esmtp")
    fields.setdefault("rcpt_to", f"{message_id}@example.com")
    return ingest_helpers.message_event(type_, event_id, message_id, **fields)


def track_event(type_: str, event_id: str, message_id: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("rcpt_to", f"{message_id}@example.com")
    return ingest_helpers.track_event(type_, event_id, message_id, **fields)


class EventIds:
    """Sequential decimal event ids, unique within one test."""

    def __init__(self, start: int = 1000) -> None:
        self.next = start

    def __call__(self) -> str:
        self.next += 1
        return str(self.next)


def known_events(ids: Callable[[], str]) -> list[dict[str, Any]]:
    """Return the known batch: four campaigns (one long, one Unicode, one empty).

    Expected counts are in :data:`EXPECTED`.
    """
    spring = {"campaign_id": "spring-sale", "binding_group": "pool-a", "sending_ip": "192.0.2.10"}
    long_name = {"campaign_id": LONG_CAMPAIGN, "binding_group": "pool-b", "sending_ip": "192.0.2.20"}
    unicode_name = {"campaign_id": UNICODE_CAMPAIGN, "binding_group": "pool-b", "sending_ip": "2001:db8::1"}
    events = []
    # spring-sale: five messages.
    for message in ("s1", "s2", "s3", "s4", "s5"):
        events.append(message_event("reception", ids(), message, **spring))
    events.append(message_event("delivery", ids(), "s1", **spring))
    events.append(track_event("open", ids(), "s1"))
    events.append(track_event("initial_open", ids(), "s1"))
    events.append(track_event("click", ids(), "s1", target_link_url="https://example.com/a"))
    events.append(track_event("click", ids(), "s1", target_link_url="https://example.com/b"))
    events.append(message_event("inband", ids(), "s2", bounce_class="10", reason="550 5.1.1 unknown user", **spring))
    events.append(message_event("tempfail", ids(), "s3", bounce_class="22", reason="452 4.2.2 mailbox full", **spring))
    events.append(message_event("delivery", ids(), "s3", **spring))
    events.append(message_event("outofband", ids(), "s3", bounce_class="10", reason="550 5.1.1 unknown user"))
    events.append(message_event("delivery", ids(), "s4", **spring))
    events.append(message_event("feedback", ids(), "s4", fbtype="abuse"))
    events.append(message_event("delivery", ids(), "s5", **spring))
    # The long name: one delivered message.
    events.append(message_event("reception", ids(), "l1", **long_name))
    events.append(message_event("delivery", ids(), "l1", **long_name))
    # The Unicode name: one delivered and opened message.
    events.append(message_event("reception", ids(), "u1", **unicode_name))
    events.append(message_event("delivery", ids(), "u1", **unicode_name))
    events.append(track_event("open", ids(), "u1"))
    # No campaign, pool or IP: an admin-class in-band bounce, which SparkPost
    # counts apart from bounces.
    events.append(message_event("reception", ids(), "n1"))
    events.append(message_event("inband", ids(), "n1", bounce_class="25", reason="550 5.7.1 policy"))
    return events


# campaign -> (injected, delivered, delayed, in-band, out-of-band, complaints, opens, clicks, events)
EXPECTED: dict[str, tuple[int, ...]] = {
    "spring-sale": (5, 4, 1, 1, 1, 1, 1, 1, 17),
    LONG_CAMPAIGN: (1, 1, 0, 0, 0, 0, 0, 0, 2),
    UNICODE_CAMPAIGN: (1, 1, 0, 0, 0, 0, 1, 0, 3),
    "": (1, 0, 0, 0, 0, 0, 0, 0, 2),
}
COUNT_KEYS = (
    "injected",
    "delivered",
    "delayed",
    "bounced_inband",
    "bounced_outofband",
    "spam_complaints",
    "unique_opens",
    "unique_clicks",
    "events",
)


async def upload(session: aiohttp.ClientSession, server: EmulatorServer, events: list[dict[str, Any]]) -> str:
    headers = {**ingest_helpers.INGEST_HEADERS, **AUTH}
    status, payload = await ingest_helpers.post_batch(session, server.url, ingest_helpers.gz(events), headers)
    assert status == 200, payload
    return str(payload["results"]["id"])


async def get_snapshot(
    session: aiohttp.ClientSession, server: EmulatorServer, *, rows: int = 20, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    async with session.get(server.url + "/__emulator/console", params={"rows": str(rows)}, headers=headers) as response:
        payload = await response.json()
        assert response.status == 200, payload
    return dict(payload["results"])


async def wait_for_batches(
    session: aiohttp.ClientSession,
    server: EmulatorServer,
    count: int,
    *,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Poll the console endpoint until ``count`` batch outcomes are counted."""
    deadline = time.monotonic() + timeout
    while True:
        snapshot = await get_snapshot(session, server, headers=headers)
        if sum(snapshot["batch_counts"].values()) >= count:
            return snapshot
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} batch outcomes not counted within {timeout} s: {snapshot['batch_counts']}")
        await asyncio.sleep(0.02)


def rows_by_value(snapshot: dict[str, Any], dimension: str) -> dict[str, dict[str, Any]]:
    return {row["value"]: row for row in snapshot["groups"][dimension]["rows"]}

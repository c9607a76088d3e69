"""Measure the console's refresh cost with a small and a large store.

Stores synthetic events straight into a real server's SQLite store (the
ingest HTTP path is not what is measured here), feeding the console through
the same store listener that ingest uses, then reports:

* the cost of one refresh (snapshot + render at 80x50) at both sizes;
* how long the store listener spent counting, per event;
* the start-up rebuild time for a ``--db`` file of that size;
* ``GET /__emulator/health`` latency with and without refreshes running at
  the maximum redraw rate, to show the server stays responsive.

Usage: python scripts/bench_console.py [--events 1000000] [--small 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.app import EmulatorServer
from emulator.config import Settings
from emulator.console import CONSOLE, build_view
from emulator.console.aggregates import ConsoleAggregates
from emulator.console.options import MAX_REFRESH_PER_SECOND
from emulator.console.view import rows_for_height
from emulator.events.normalise import NormalisedEvent
from emulator.events.timefmt import format_iso

CHUNK = 10_000


class EventFactory:
    """Public events of whole messages: injection, then delivery or bounce, then engagement."""

    def __init__(self, seed: int, campaigns: int, pools: int, ips: int) -> None:
        self.random = random.Random(seed)
        self.campaigns = [f"campaign-{number:04d}" for number in range(campaigns)] + [""]
        self.pools = [f"pool-{number:02d}" for number in range(pools)]
        self.ips = [f"198.51.100.{number}" for number in range(ips)]
        self.next_event = 0
        self.next_message = 0
        self.now = time.time()

    def message(self) -> list[NormalisedEvent]:
        pick = self.random.random
        self.next_message += 1
        message_id = f"{self.next_message:020x}"
        common = {
            "message_id": message_id,
            "campaign_id": self.random.choice(self.campaigns),
            "ip_pool": self.random.choice(self.pools),
            "sending_ip": self.random.choice(self.ips),
            "rcpt_to": f"user{self.next_message}@example.com",
        }
        types = ["injection"]
        roll = pick()
        if roll < 0.05:
            types.append("bounce")
        else:
            if roll < 0.10:
                types.append("delay")
            types.append("delivery")
            if pick() < 0.01:
                types.append("out_of_band")
            if pick() < 0.30:
                types.append("open")
                if pick() < 0.3:
                    types.append("click")
            if pick() < 0.002:
                types.append("spam_complaint")
        events = []
        for event_type in types:
            self.next_event += 1
            event = {
                **common,
                "type": event_type,
                "event_id": str(self.next_event),
                "timestamp": format_iso(self.now),
            }
            if event_type in ("bounce", "out_of_band"):
                event["bounce_class"] = "10"
            events.append(NormalisedEvent(event, self.now))
        return events

    def events(self, count: int) -> list[NormalisedEvent]:
        batch: list[NormalisedEvent] = []
        while len(batch) < count:
            batch.extend(self.message())
        return batch[:count]


async def fill(server: EmulatorServer, factory: EventFactory, count: int) -> tuple[float, float]:
    """Store ``count`` events and notify listeners; return (total seconds, seconds in listeners)."""
    store = server.store
    listener_seconds = 0.0
    started = time.perf_counter()
    stored = 0
    while stored < count:
        chunk = factory.events(min(CHUNK, count - stored))
        result = await store.run(lambda sync, items=chunk: sync.store_events(items))
        before = time.perf_counter()
        store.notify(result.change)
        listener_seconds += time.perf_counter() - before
        stored += len(chunk)
    return time.perf_counter() - started, listener_seconds


async def refresh_once(server: EmulatorServer, console: Console) -> tuple[float, float]:
    """Build one frame as ``emulator serve`` does and render it; return (snapshot, total) seconds."""
    started = time.perf_counter()
    width, height = console.size
    rows, batches = rows_for_height(height)
    snapshot = await server.app[CONSOLE].snapshot(rows=rows)
    snapshot["batches"] = snapshot["batches"][:batches]
    snapshot_done = time.perf_counter()
    # Drawn in a worker thread, as emulator serve's live view does.
    await asyncio.to_thread(console.print, build_view(snapshot, max_rows=rows, width=width))
    console.file = io.StringIO()
    return snapshot_done - started, time.perf_counter() - started


async def refresh_cost(server: EmulatorServer, repeats: int) -> tuple[list[float], list[float]]:
    console = Console(width=80, height=50, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    timings = [await refresh_once(server, console) for _ in range(repeats)]
    return [snapshot for snapshot, _ in timings], [total for _, total in timings]


async def health_latency(server: EmulatorServer, requests: int, *, refreshing: bool) -> list[float]:
    """Time ``requests`` health checks, optionally with refreshes at the maximum redraw rate."""
    stop = asyncio.Event()

    async def refresh_loop() -> None:
        console = Console(width=80, height=50, file=io.StringIO(), force_terminal=True)
        while not stop.is_set():
            await refresh_once(server, console)
            await asyncio.sleep(1 / MAX_REFRESH_PER_SECOND)

    task = asyncio.create_task(refresh_loop()) if refreshing else None
    latencies = []
    async with aiohttp.ClientSession() as session:
        for _ in range(requests):
            started = time.perf_counter()
            async with session.get(server.url + "/__emulator/health") as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    stop.set()
    if task is not None:
        await task
    return latencies


def describe(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{label}: median {statistics.median(ordered) * 1000:.2f} ms, "
        f"p95 {p95 * 1000:.2f} ms, max {ordered[-1] * 1000:.2f} ms (n={len(ordered)})"
    )


async def measure_size(server: EmulatorServer, factory: EventFactory, size: int, args: argparse.Namespace) -> None:
    missing = size - server.app[CONSOLE].aggregates.total.events
    if missing > 0:
        seconds, listener_seconds = await fill(server, factory, missing)
        print(
            f"stored {missing} events in {seconds:.1f} s ({missing / seconds:,.0f}/s); "
            f"console listener {listener_seconds:.2f} s ({listener_seconds / missing * 1e6:.2f} µs per event)"
        )
    print(f"--- store with {size} events")
    snapshots, totals = await refresh_cost(server, args.refreshes)
    print(describe("snapshot only", snapshots))
    print(describe("refresh (snapshot + render at 80x50)", totals))
    print(describe("health, idle", await health_latency(server, args.requests, refreshing=False)))
    print(describe(f"health, refreshing {MAX_REFRESH_PER_SECOND:g}/s", await health_latency(server, args.requests, refreshing=True)))


async def main_async(args: argparse.Namespace) -> None:
    factory = EventFactory(args.seed, args.campaigns, args.pools, args.ips)
    with tempfile.TemporaryDirectory() as directory:
        db = str(Path(directory) / "bench.sqlite")
        server = EmulatorServer(Settings(port=0, db=db))
        await server.start()
        try:
            budget_started = time.monotonic()
            await measure_size(server, factory, args.small, args)
            await measure_size(server, factory, args.events, args)

            started = time.perf_counter()
            fresh = ConsoleAggregates(time.time)
            await server.store.run(fresh.rebuild_from)
            print(f"start-up rebuild of {fresh.total.events} events from the --db file: {time.perf_counter() - started:.1f} s")
            print(f"total run time {time.monotonic() - budget_started:.0f} s")
        finally:
            await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the large store (default 1000000)")
    parser.add_argument("--small", type=int, default=1000, help="events in the small store (default 1000)")
    parser.add_argument("--campaigns", type=int, default=200, help="distinct campaigns (default 200)")
    parser.add_argument("--pools", type=int, default=10, help="distinct IP pools (default 10)")
    parser.add_argument("--ips", type=int, default=50, help="distinct sending IPs (default 50)")
    parser.add_argument("--refreshes", type=int, default=50, help="refreshes timed per size (default 50)")
    parser.add_argument("--requests", type=int, default=100, help="health requests timed per case (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the event mix (default 1)")
    args = parser.parse_args()
    if args.events < args.small:
        parser.error("--events must be at least --small")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

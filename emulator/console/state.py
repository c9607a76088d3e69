"""The console's state on the app and its read-only endpoint ``GET /__emulator/console``."""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import Callable
from typing import Any

from aiohttp import web

from emulator import __version__
from emulator.api.auth import require_key
from emulator.api.keys import SERVER_ERRORS, SETTINGS, STORE, base_url, component
from emulator.console.aggregates import ConsoleAggregates
from emulator.errors import BadRequest
from emulator.events.timefmt import format_iso
from emulator.log import console_logger
from emulator.store.db import StoreChange

SNAPSHOT_VERSION = 1
DEFAULT_SNAPSHOT_ROWS = 20
MAX_SNAPSHOT_ROWS = 1000
# Subsystems whose ``stats()`` the console shows.
STATS_COMPONENTS: tuple[str, ...] = ("sink", "tracking")


class ConsoleState:
    """Aggregates of one app plus the snapshot that the view and the endpoint share.

    Args:
        app (web.Application): The emulator app; its store and components are read.
        clock (Callable[[], float], optional): Seconds since the epoch. Defaults to time.time.
    """

    def __init__(self, app: web.Application, *, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.clock = clock
        self.aggregates = ConsoleAggregates(self._now)
        self._failed_stats: set[str] = set()

    def _now(self) -> float:
        return self.clock()

    def on_change(self, change: StoreChange) -> None:
        """Store listener: fold a committed change into the aggregates."""
        self.aggregates.apply_change(change)

    async def rebuild(self) -> None:
        """Count what the store already contains, then follow its changes."""
        store = self.app[STORE]
        fresh = ConsoleAggregates(self._now)
        started = time.perf_counter()
        try:
            await store.run(fresh.rebuild_from)
        except Exception:  # noqa: BLE001 - logged and recorded below
            # The console must not stop the server from starting; it then
            # shows only what is stored from now on.
            console_logger.exception("console: counting the stored events failed; counts start from zero")
            self.app[SERVER_ERRORS].append(traceback.format_exc())
            fresh = ConsoleAggregates(self._now)
        self.aggregates = fresh
        store.add_listener(self.on_change)
        if fresh.total.events:
            console_logger.info(
                "console: counted %d stored events in %.2f s", fresh.total.events, time.perf_counter() - started
            )

    def detach(self) -> None:
        self.app[STORE].remove_listener(self.on_change)

    async def snapshot(self, *, rows: int = DEFAULT_SNAPSHOT_ROWS) -> dict[str, Any]:
        """Build the plain snapshot dict that :mod:`emulator.console.view` renders."""
        data = self.aggregates.snapshot(rows=rows)
        now = self.clock()
        data.update(
            {
                "version": SNAPSHOT_VERSION,
                "generated_at": format_iso(now),
                "server": {"url": base_url(self.app), "version": __version__},
            }
        )
        for name in STATS_COMPONENTS:
            data[name] = await self._component_stats(name)
        return data

    async def _component_stats(self, name: str) -> dict[str, Any] | None:
        """Return a subsystem's ``stats()``, or None when it is not running or has none."""
        stats = getattr(component(self.app, name), "stats", None)
        if stats is None:
            return None
        try:
            result = stats()
            if inspect.isawaitable(result):
                result = await result
        except Exception:  # noqa: BLE001 - another subsystem's bug, logged and recorded below
            # Log and record only the first failure, so a refresh loop does not
            # repeat the same traceback several times a second.
            if name not in self._failed_stats:
                self._failed_stats.add(name)
                console_logger.exception("console: %s.stats() failed", name)
                self.app[SERVER_ERRORS].append(traceback.format_exc())
            return {"error": f"{name}.stats() failed; see the server log"}
        return dict(result) if isinstance(result, dict) else {"value": result}


CONSOLE = web.AppKey("console", ConsoleState)


async def get_console_snapshot(request: web.Request) -> web.Response:
    """GET /__emulator/console: the console snapshot as JSON (read-only).

    Query parameter ``rows`` (1-1000, default 20) sets how many rows each
    grouping lists.  When the server was started with ``--api-key``, the
    request needs one of those keys in ``Authorization``.
    """
    settings = request.app[SETTINGS]
    if settings.strict_keys:
        require_key(request, settings)
    raw = request.query.get("rows", str(DEFAULT_SNAPSHOT_ROWS))
    try:
        rows = int(raw)
    except ValueError:
        rows = 0
    if not 1 <= rows <= MAX_SNAPSHOT_ROWS:
        raise BadRequest(
            "invalid rows parameter",
            description=f"rows must be a whole number from 1 to {MAX_SNAPSHOT_ROWS}, got {raw!r}.",
        )
    snapshot = await request.app[CONSOLE].snapshot(rows=rows)
    return web.json_response({"results": snapshot})

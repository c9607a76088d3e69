"""Live terminal view of accepted events by campaign, IP pool and sending IP.

:func:`setup` keeps counters on the app (:mod:`emulator.console.aggregates`)
and adds ``GET /__emulator/console``.  :func:`run_console` draws the view for
``emulator serve``.  ``emulator console --url`` (:mod:`emulator.console.cli`)
draws the same view from another server's endpoint.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiohttp import web
from rich.console import Console, RenderableType

from emulator.console.state import CONSOLE, ConsoleState, get_console_snapshot
from emulator.console.view import build_view, rows_for_height

__all__ = ["CONSOLE", "ConsoleState", "build_view", "run_console", "setup"]


def setup(app: web.Application) -> None:
    """Keep the console's aggregates on ``app`` and add its read-only endpoint."""
    state = ConsoleState(app)
    app[CONSOLE] = state

    async def start_counting(app: web.Application) -> None:
        # on_startup runs before the listener is bound and before pending
        # batches resume, so no write can slip between the rebuild and the
        # listener taking over.
        await state.rebuild()

    async def stop_counting(app: web.Application) -> None:
        state.detach()

    app.on_startup.append(start_counting)
    app.on_cleanup.append(stop_counting)
    app.router.add_get("/__emulator/console", get_console_snapshot)


def console_enabled(setting: bool | None) -> bool:
    """Resolve ``--console``/``--no-console``; unset means "only when stdout is a terminal"."""
    if setting is None:
        return sys.stdout.isatty()
    return setting


async def run_console(server: Any, settings: Any, stop: asyncio.Event, *, console: Console | None = None) -> None:
    """Show the live view until ``stop`` is set, or only wait when the console is off."""
    if not console_enabled(settings.console.enabled):
        await stop.wait()
        return

    from emulator.console.live import run_live

    state: ConsoleState = server.app[CONSOLE]
    output = console if console is not None else Console()

    async def build_frame(width: int, height: int) -> RenderableType:
        max_rows, max_batches = rows_for_height(height)
        snapshot = await state.snapshot(rows=max_rows)
        snapshot["batches"] = snapshot["batches"][:max_batches]
        return build_view(snapshot, max_rows=max_rows, width=width)

    await run_live(build_frame, stop, console=output, refresh_per_second=settings.console.refresh_per_second)

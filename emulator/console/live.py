"""Drive a ``rich.live.Live`` view from an asyncio loop.

The loop, not rich's refresh thread, builds each frame: the aggregates are
changed on the event loop, so reading them from another thread could see a
dictionary change size mid-iteration.  ``Live`` therefore runs with
``auto_refresh=False`` and is redrawn by :func:`run_live`.  The frame is
built from a snapshot copy, so drawing it (the costly part, tens of
milliseconds) runs in a worker thread and leaves the loop free for requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator

from rich.console import Console, RenderableType
from rich.live import Live
from rich.logging import RichHandler

# Builds one frame for a console of the given (width, height).
FrameBuilder = Callable[[int, int], Awaitable[RenderableType]]


@contextlib.contextmanager
def logging_through(console: Console) -> Iterator[None]:
    """Send log records through a RichHandler on ``console`` while the view runs.

    Stream handlers writing to the terminal are swapped out, so that records
    print above the live view instead of tearing it, and put back afterwards.
    """
    root = logging.getLogger()
    terminal_streams = {sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__}
    replaced = [
        handler
        for handler in root.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream in terminal_streams
    ]
    rich_handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    if replaced:
        rich_handler.setLevel(min(handler.level for handler in replaced))
    for handler in replaced:
        root.removeHandler(handler)
    root.addHandler(rich_handler)
    try:
        yield
    finally:
        root.removeHandler(rich_handler)
        for handler in replaced:
            root.addHandler(handler)


async def run_live(
    build_frame: FrameBuilder,
    stop: asyncio.Event,
    *,
    console: Console,
    refresh_per_second: float,
) -> None:
    """Redraw ``build_frame``'s output on ``console`` until ``stop`` is set.

    Args:
        build_frame (FrameBuilder): Coroutine function taking (width, height).
        stop (asyncio.Event): Set to end the view; the last frame stays on screen.
        console (Console): Where the view is drawn; log records go above it.
        refresh_per_second (float): Redraws per second.
    """
    interval = 1.0 / refresh_per_second
    width, height = console.size
    first = await build_frame(width, height)
    live = Live(
        first,
        console=console,
        auto_refresh=False,
        redirect_stdout=True,
        redirect_stderr=True,
        vertical_overflow="crop",
    )
    with logging_through(console), live:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            width, height = console.size
            frame = await build_frame(width, height)
            await asyncio.to_thread(live.update, frame, refresh=True)

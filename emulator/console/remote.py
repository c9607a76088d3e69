"""Poll another emulator's ``GET /__emulator/console`` and draw the same view."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import Any, TextIO

import aiohttp
from rich.console import Console, Group, RenderableType
from rich.text import Text

from emulator.console.view import build_view, rows_for_height

FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 10.0
REQUEST_TIMEOUT = 5.0
# Rows per grouping and batches in a printed (not live) frame.
PRINTED_ROWS = 20
PRINTED_BATCHES = 10


class FetchError(Exception):
    """A snapshot could not be fetched; ``retry`` is True when trying again can help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclasses.dataclass(frozen=True, kw_only=True)
class RemoteOptions:
    """Polling settings of ``emulator console --url``: server, key, interval and attempts."""

    url: str
    api_key: str | None = None
    interval: float = 1.0
    # Failed attempts in a row before giving up; 0 keeps retrying.
    max_attempts: int = 0
    once: bool = False

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/__emulator/console"


async def fetch_snapshot(session: aiohttp.ClientSession, options: RemoteOptions, rows: int) -> dict[str, Any]:
    """Return the ``results`` of one ``GET /__emulator/console``, or raise :class:`FetchError`."""
    headers = {"Authorization": options.api_key} if options.api_key else {}
    try:
        async with session.get(options.endpoint, params={"rows": str(rows)}, headers=headers) as response:
            if response.status == 401:
                raise FetchError(
                    f"{options.endpoint} rejected the request (401): the server was started with "
                    "--api-key, so pass one of its keys with --api-key",
                    retry=False,
                )
            if response.status == 404:
                raise FetchError(
                    f"{options.endpoint} was not found (404): is {options.url} an emulator of this version?",
                    retry=False,
                )
            if response.status != 200:
                raise FetchError(f"{options.endpoint} returned HTTP {response.status}", retry=True)
            body = await response.json()
    except aiohttp.ClientConnectorError as exc:
        raise FetchError(f"cannot connect to {options.url} ({exc.os_error or exc})", retry=True) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise FetchError(f"request to {options.endpoint} failed ({type(exc).__name__}: {exc})", retry=True) from None
    except ValueError as exc:
        raise FetchError(f"{options.endpoint} did not return JSON ({exc})", retry=True) from None
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, dict):
        raise FetchError(f"{options.endpoint} returned JSON without a results object", retry=False)
    return results


class RemoteConsole:
    """Fetch loop with back-off; draws on a live view or prints frames one after another.

    Args:
        options (RemoteOptions): Server URL, key and polling settings.
        console (Console): Where frames are drawn.
        errors (TextIO, optional): Where retry messages go when no live view runs.
            Defaults to sys.stderr.
    """

    def __init__(self, options: RemoteOptions, console: Console, *, errors: TextIO | None = None) -> None:
        self.options = options
        self.console = console
        self.errors = errors if errors is not None else sys.stderr
        self.snapshot: dict[str, Any] | None = None
        self.status: str | None = None
        self.failures = 0

    def frame(self, width: int, height: int | None) -> RenderableType:
        """Return the last view, with the connection status above it when polling fails.

        ``height`` None means the frame is printed, not redrawn in place, so
        its height is not limited.
        """
        if height is None:
            max_rows, max_batches = PRINTED_ROWS, PRINTED_BATCHES
        else:
            max_rows, max_batches = rows_for_height(height - (2 if self.status else 0))
        parts: list[RenderableType] = []
        if self.status:
            parts.append(Text(f"! {self.status}", style="bold"))
        if self.snapshot is None:
            parts.append(Text(f"waiting for {self.options.url} …", style="italic"))
        else:
            snapshot = dict(self.snapshot)
            snapshot["batches"] = list(snapshot.get("batches", []))[:max_batches]
            parts.append(build_view(snapshot, max_rows=max_rows, width=width))
        return Group(*parts)

    async def poll(self, session: aiohttp.ClientSession, rows: int, *, live: bool) -> float | None:
        """Fetch once; return the seconds to wait before the next poll, or None to stop with an error."""
        try:
            self.snapshot = await fetch_snapshot(session, self.options, rows)
        except FetchError as exc:
            self.failures += 1
            if not exc.retry:
                self.status = str(exc)
                return None
            if self.options.max_attempts and self.failures >= self.options.max_attempts:
                self.status = (
                    f"{exc}. Gave up after {self.failures} attempts; "
                    "check that `emulator serve` is running and --url points at it."
                )
                return None
            delay = min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2 ** (self.failures - 1))
            self.status = f"{exc}; retrying in {delay:g} s (attempt {self.failures})"
            if not live:
                self.report()
            return delay
        self.failures = 0
        self.status = None
        return self.options.interval

    def report(self) -> None:
        """Write the connection status to ``errors``."""
        self.errors.write(f"emulator console: {self.status}\n")
        self.errors.flush()


async def run_remote(
    options: RemoteOptions,
    stop: asyncio.Event,
    *,
    console: Console,
    live: bool,
    errors: TextIO | None = None,
) -> int:
    """Show another server's console until ``stop`` is set; returns the exit status.

    With ``live`` the view is redrawn in place; otherwise each successful
    poll prints one frame (with ``options.once``, only the first).
    """
    remote = RemoteConsole(options, console, errors=errors)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        if live and not options.once:
            return await _run_live(remote, session, stop)
        while not stop.is_set():
            wait = await remote.poll(session, PRINTED_ROWS, live=False)
            if wait is None:
                remote.report()
                return 1
            if remote.status is None:
                console.print(remote.frame(console.width, None))
                if options.once:
                    return 0
            await _wait(stop, wait)
    return 0


async def _run_live(remote: RemoteConsole, session: aiohttp.ClientSession, stop: asyncio.Event) -> int:
    from rich.live import Live

    console = remote.console
    status = 0
    with Live(remote.frame(*console.size), console=console, auto_refresh=False, vertical_overflow="crop") as live:
        while not stop.is_set():
            width, height = console.size
            rows, _ = rows_for_height(height)
            wait = await remote.poll(session, rows, live=True)
            live.update(remote.frame(width, height), refresh=True)
            if wait is None:
                status = 1
                break
            await _wait(stop, wait)
    if status:
        remote.report()
    return status


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass

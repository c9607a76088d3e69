"""Asynchronous face of the store: every call runs on one dedicated thread.

SQLite work never blocks the event loop, and because one thread owns the
connection, writes are serialised without locks.  Listeners receive each
:class:`StoreChange` on the event loop after the write has committed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from emulator.log import store_logger
from emulator.store.db import StoreChange, StoreResult, SyncStore

T = TypeVar("T")
Listener = Callable[[StoreChange], None]


class AsyncStore:
    """Run :class:`SyncStore` calls on a single worker thread."""

    def __init__(self, path: str = ":memory:") -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-store")
        self.sync: SyncStore = self._executor.submit(SyncStore, path).result()
        self._listeners: list[Listener] = []
        self.path = path

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every change, on the event loop."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function(sync_store, *args, **kwargs)`` on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, self.sync, *args, **kwargs)
        )

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a :class:`SyncStore` method by name on the store thread."""
        loop = asyncio.get_running_loop()
        bound = getattr(self.sync, method)
        return await loop.run_in_executor(self._executor, functools.partial(bound, *args, **kwargs))

    def notify(self, change: StoreChange) -> None:
        """Pass a committed change to every listener; a failing listener is logged, not fatal."""
        if not change:
            return
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                store_logger.exception("store listener %r failed", listener)

    async def store_events(self, events: list[Any], batch_id: str | None = None) -> StoreResult:
        """Store events outside a batch (tracking hits) and notify listeners."""
        result: StoreResult = await self.call("store_events", events, batch_id)
        self.notify(result.change)
        return result

    async def reset(self) -> None:
        await self.call("reset")
        self.notify(StoreChange(reset=True))

    def close(self) -> None:
        """Close the connection and stop the thread (waits for queued work)."""
        try:
            self._executor.submit(self.sync.close).result()
        finally:
            self._executor.shutdown(wait=True)

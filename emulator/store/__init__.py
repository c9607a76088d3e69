"""SQLite event store: schema, the single writer thread, queries and change notifications."""

from emulator.store.aio import AsyncStore
from emulator.store.db import StoreChange, SyncStore

__all__ = ["AsyncStore", "StoreChange", "SyncStore"]

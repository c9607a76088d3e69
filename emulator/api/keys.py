"""Typed keys for the state the application carries."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.config import Settings
from emulator.ingest.worker import BatchWorker
from emulator.randomness import RandomSource
from emulator.store.aio import AsyncStore

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", AsyncStore)
WORKER = web.AppKey("worker", BatchWorker)
RANDOM = web.AppKey("random", RandomSource)
# Base URL the server is reachable at, filled in once the listener is bound.
BASE_URL = web.AppKey("base_url", list)
# Exceptions raised inside handlers and background tasks, with tracebacks,
# for the pytest plugin to report at teardown.
SERVER_ERRORS = web.AppKey("server_errors", list)
# Subsystems that registered themselves (sink, tracking, console...), by name.
COMPONENTS = web.AppKey("components", dict)


def base_url(app: web.Application) -> str:
    """Return the server's base URL, such as ``http://127.0.0.1:8080``."""
    urls: list[str] = app[BASE_URL]
    return urls[0] if urls else "http://127.0.0.1"


def component(app: web.Application, name: str) -> Any:
    """Return a registered subsystem object, or None."""
    return app[COMPONENTS].get(name)

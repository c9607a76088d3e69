"""Application factory and server runner.

:func:`create_app` wires store, batch worker, routes and subsystems onto one
aiohttp application.  :class:`EmulatorServer` binds the listeners, starts the
background tasks in order and stops them again.

Subsystems (tracking, sink) register an object in ``app[COMPONENTS]`` with
``async start()``, ``async stop()``, ``reset()`` and ``describe()``. The
server starts them after the HTTP listener is bound, so they know its URL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from typing import Any, cast

from aiohttp import web

from emulator.api.keys import (
    BASE_URL,
    COMPONENTS,
    RANDOM,
    SERVER_ERRORS,
    SETTINGS,
    STORE,
    WORKER,
)
from emulator.api.middleware import errors_middleware
from emulator.api.routes import add_routes
from emulator.config import Settings
from emulator.ingest.processor import ProcessorConfig
from emulator.ingest.worker import BatchWorker
from emulator.log import root_logger
from emulator.randomness import RandomSource
from emulator.store.aio import AsyncStore


def create_app(settings: Settings, *, store: AsyncStore | None = None) -> web.Application:
    """Build the aiohttp application for ``settings`` (nothing is bound or started yet)."""
    # The raw ingest body is read in chunks with our own 5 MiB cap, so the
    # framework's own cap only has to stay out of the way.
    app = web.Application(middlewares=[errors_middleware], client_max_size=settings.max_request_bytes * 2)
    app[SETTINGS] = settings
    app[RANDOM] = RandomSource(settings.seed)
    app[STORE] = store if store is not None else AsyncStore(settings.db)
    app[BASE_URL] = []
    app[SERVER_ERRORS] = []
    app[COMPONENTS] = {}
    config = ProcessorConfig(
        max_event_age=settings.max_event_age,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        base_url="",
    )
    app[WORKER] = BatchWorker(app[STORE], config, app[RANDOM].child("ingest"), app[SERVER_ERRORS])
    add_routes(app)

    from emulator.console import setup as setup_console
    from emulator.tracking import setup as setup_tracking

    setup_tracking(app)
    setup_console(app)
    if settings.sink.enabled:
        from emulator.sink import setup as setup_sink

        setup_sink(app)
    return app


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


class EmulatorServer:
    """Binds the HTTP listener (and the subsystems' listeners) and runs the background tasks."""

    def __init__(self, settings: Settings, *, app: web.Application | None = None) -> None:
        self.settings = settings
        self.app = app if app is not None else create_app(settings)
        self._runner: web.AppRunner | None = None
        self._stopped = False
        self.port: int | None = None

    @property
    def url(self) -> str:
        return self.app[BASE_URL][0]

    @property
    def store(self) -> AsyncStore:
        return self.app[STORE]

    @property
    def components(self) -> dict[str, Any]:
        return self.app[COMPONENTS]

    async def start(self) -> None:
        """Bind, resume pending batches and start every subsystem; return once all accept connections."""
        # auto_decompress=False: the handler must see the gzip bytes as sent,
        # so a corrupt stream becomes a ``decompress`` outcome, not a framework 400.
        self._runner = web.AppRunner(self.app, auto_decompress=False, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, ssl_context=ssl_context(self.settings))
        await site.start()
        server = cast(asyncio.base_events.Server, site._server)
        self.port = server.sockets[0].getsockname()[1]
        host = self.settings.host
        shown = f"[{host}]" if ":" in host else host
        self.app[BASE_URL][:] = [f"{self.settings.scheme}://{shown}:{self.port}"]
        worker = self.app[WORKER]
        worker.config = dataclasses.replace(worker.config, base_url=self.url)
        await worker.start()
        for name, component in self.components.items():
            await component.start()
            root_logger.debug("started %s", name)

    def describe(self) -> list[str]:
        """Return one line per listener, for the start-up message."""
        lines = [f"SparkPost API on {self.url} (SQLite {self.settings.db})"]
        for component in self.components.values():
            lines.extend(component.describe())
        return lines

    async def stop(self) -> None:
        """Stop subsystems, the worker and the listener, then close the store; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        for component in reversed(list(self.components.values())):
            try:
                await component.stop()
            except Exception:
                root_logger.exception("stopping %r failed", component)
        await self.app[WORKER].stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.app[STORE].close()

"""Fixtures shared by the lead's tests: a real emulator server on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from emulator.app import EmulatorServer
from emulator.config import Settings
from tests.sink_helpers import CaptureServer


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., Any]]:
    """Factory: start an EmulatorServer on 127.0.0.1 port 0 with the given settings."""
    servers: list[EmulatorServer] = []

    async def start(before_start: Callable[[EmulatorServer], None] | None = None, **settings: Any) -> EmulatorServer:
        settings.setdefault("port", 0)
        server = EmulatorServer(Settings(**settings))
        if before_start is not None:
            before_start(server)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.stop()


@pytest.fixture
async def server(start_server: Callable[..., Any]) -> EmulatorServer:
    return await start_server()


@pytest.fixture
async def capture() -> AsyncIterator[CaptureServer]:
    """A capture SMTP listener standing in for the MTA's port 25."""
    listener = await CaptureServer().start()
    yield listener
    await listener.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session

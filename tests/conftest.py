"""Fixtures shared by the lead's tests: a real emulator server on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from emulator.app import EmulatorServer
from emulator.config import Settings


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., Any]]:
    """Factory: start an EmulatorServer on 127.0.0.1 port 0 with the given settings."""
    servers: list[EmulatorServer] = []

    async def start(**settings: Any) -> EmulatorServer:
        settings.setdefault("port", 0)
        server = EmulatorServer(Settings(**settings))
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
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session

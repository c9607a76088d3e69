"""Live terminal view of accepted events by campaign, IP pool and sending IP."""

import asyncio
from typing import Any

async def run_console(server: Any, settings: Any, stop: asyncio.Event) -> None:
    """Wait for ``stop``; the live view is drawn here when it is enabled."""
    await stop.wait()

"""Control plane under ``/__emulator/``: health and reset."""

from __future__ import annotations

from aiohttp import web

from emulator import __version__
from emulator.api.keys import COMPONENTS, STORE
from emulator.api.responses import json_response
from emulator.log import api_logger


async def get_health(request: web.Request) -> web.Response:
    """GET /__emulator/health: 200 once the server is ready."""
    return json_response({"status": "ready", "version": __version__})


async def post_reset(request: web.Request) -> web.Response:
    """POST /__emulator/reset: empty the store and every subsystem's records.

    Store calls run one at a time, so the reset lands between batches. Batches
    acknowledged before it and not processed yet are dropped with the rest.
    """
    await request.app[STORE].reset()
    for component in request.app[COMPONENTS].values():
        reset = getattr(component, "reset", None)
        if reset is not None:
            result = reset()
            if hasattr(result, "__await__"):
                await result
    api_logger.info("reset requested by %s", request.remote)
    return json_response({"results": {"reset": True}})

"""HTTP inspection routes of the sink under ``/__emulator/sink/``."""

from __future__ import annotations

from aiohttp import web

from emulator.api.keys import component
from emulator.errors import NotFound
from emulator.sink.component import SinkComponent


def _sink(request: web.Request) -> SinkComponent:
    sink = component(request.app, "sink")
    if sink is None:
        raise NotFound("The SMTP sink is not running", description="start the emulator without --no-smtp")
    return sink


async def list_messages(request: web.Request) -> web.Response:
    """GET /__emulator/sink/messages?recipient=&behaviour=: stored messages, newest first."""
    sink = _sink(request)
    found = sink.messages.search(
        recipient=request.query.get("recipient") or None,
        behaviour=request.query.get("behaviour") or None,
    )
    return web.json_response({"results": [message.summary() for message in found]})


async def get_message(request: web.Request) -> web.Response:
    """GET /__emulator/sink/messages/{id}: one message with its headers; ``{id}.eml`` returns the raw bytes."""
    sink = _sink(request)
    message_id = request.match_info["id"]
    raw = message_id.endswith(".eml")
    if raw:
        message_id = message_id[: -len(".eml")]
    message = sink.messages.get(message_id)
    if message is None:
        raise NotFound(f"Message {message_id!r} not found", description="it was never received, or was evicted")
    if raw:
        return web.Response(body=message.raw, content_type="message/rfc822")
    return web.json_response({"results": message.detail()})


async def get_stats(request: web.Request) -> web.Response:
    """GET /__emulator/sink/stats: counters per behaviour and action."""
    return web.json_response({"results": _sink(request).stats()})


def add_sink_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/__emulator/sink/messages", list_messages),
            web.get("/__emulator/sink/messages/{id}", get_message),
            web.get("/__emulator/sink/stats", get_stats),
        ]
    )

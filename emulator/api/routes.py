"""Route table of the emulated SparkPost API and the control plane."""

from __future__ import annotations

from aiohttp import web

from emulator.api import control, events, ingest


def add_routes(app: web.Application) -> None:
    """Add the routes. Each /api/ route also matches with a trailing slash, because SparkPost ignores it."""
    routes = [
        web.post("/api/v1/ingest/events", ingest.create_ingest_batch),
        web.get("/api/v1/ingest/events/documentation", ingest.get_ingest_documentation),
        web.get("/api/v1/ingest/events/samples", ingest.get_ingest_samples),
        web.get("/api/v1/ingest/events/failures/{batch_id}", ingest.get_ingest_batch_failures),
        web.get("/api/v1/ingest/events/{batch_id}", ingest.get_ingest_batch),
        web.get("/api/v1/events/message", events.search_message_events),
        web.get("/api/v1/events/message/documentation", events.get_events_documentation),
        web.get("/api/v1/events/message/samples", events.get_events_samples),
        web.get("/api/v1/events/ingest", events.search_ingest_events),
        web.get("/__emulator/health", control.get_health),
        web.post("/__emulator/reset", control.post_reset),
    ]
    for route in list(routes):
        if route.path.startswith("/api/"):
            routes.append(web.route(route.method, route.path + "/", route.handler))
    app.router.add_routes(routes)

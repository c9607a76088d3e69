"""Open and click tracking in SparkPost's link format.

``codec`` encodes and decodes tracked-link paths, ``wrap`` adds tracking to
HTML and messages, and the endpoints turn hits on ``/q/...`` and
``/f/a/...`` into ``initial_open``, ``open`` and ``click`` events.
"""

from __future__ import annotations

from aiohttp import web

from emulator.api.keys import COMPONENTS
from emulator.tracking.component import TrackingComponent
from emulator.tracking.endpoints import add_tracking_routes


def setup(app: web.Application) -> None:
    """Add the tracking endpoints to ``app`` and register the ``tracking`` component."""
    app[COMPONENTS]["tracking"] = TrackingComponent(app)
    add_tracking_routes(app)

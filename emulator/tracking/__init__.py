"""Open and click tracking in SparkPost's link format."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add the tracking endpoints to ``app``."""

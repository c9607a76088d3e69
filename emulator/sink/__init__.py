"""Bouncy Sink: an SMTP sink that answers like real mailbox providers."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register the SMTP sink as a component of ``app``."""

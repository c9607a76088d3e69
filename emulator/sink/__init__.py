"""Bouncy Sink: an SMTP sink that answers like real mailbox providers.

:func:`setup` registers a :class:`~emulator.sink.component.SinkComponent` as
``app[COMPONENTS]["sink"]`` and adds the inspection routes under
``/__emulator/sink/``.  The component binds its SMTP listener when the
server starts it.
"""

from __future__ import annotations

from aiohttp import web

from emulator.api.keys import COMPONENTS


def setup(app: web.Application) -> None:
    """Register the SMTP sink as a component of ``app``."""
    from emulator.sink.component import SinkComponent
    from emulator.sink.routes import add_sink_routes

    app[COMPONENTS]["sink"] = SinkComponent(app)
    add_sink_routes(app)

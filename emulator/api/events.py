"""Handlers of the Events API: message events, ingest outcome events, documentation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from emulator.api.auth import require_key
from emulator.api.keys import SETTINGS, STORE
from emulator.api.params import (
    invalid,
    parse_cursor,
    parse_delimiter,
    parse_list,
    parse_per_page,
    parse_window,
)
from emulator.api.responses import json_response
from emulator.errors import BadRequest
from emulator.events.docs import events_documentation, events_samples
from emulator.events.types import INGEST_ERROR_TYPES, INGEST_OUTCOME_TYPES, PUBLIC_TYPES
from emulator.store.search import ALL_FILTERS, UNSUPPORTED_FILTERS, Cursor, EventQuery

# Parameters of the retired Message Events API and their Events API names. They
# are refused rather than ignored, so a filter never silently matches everything.
RENAMED_FILTERS = {
    "campaign_ids": "campaigns",
    "template_ids": "templates",
    "friendly_froms": "from_addresses",
    "reason": "reasons",
    "message_ids": "messages",
}
INGEST_FILTERS = ("events", "event_ids", "batch_ids", "error_types", "subaccounts", "retryable")


def _links(request: web.Request, cursor: Cursor | None) -> dict[str, str]:
    if cursor is None:
        return {}
    params = [(name, value) for name, value in request.query.items() if name != "cursor"]
    params.append(("cursor", cursor.encode()))
    return {"next": f"{request.path}?{urlencode(params)}"}


_SUBACCOUNT_ID = re.compile(r"-?[0-9]{1,18}")


def _check_subaccounts(values: list[str]) -> None:
    for value in values:
        if not _SUBACCOUNT_ID.fullmatch(value):
            raise invalid("subaccounts", value, "a list of integer subaccount ids")


def parse_message_query(request: web.Request) -> EventQuery:
    """Validate the query string of ``GET /api/v1/events/message``."""
    query = request.query
    delimiter = parse_delimiter(query)
    for old_name, new_name in RENAMED_FILTERS.items():
        if old_name in query:
            raise BadRequest(
                f"parameter '{old_name}' was renamed to '{new_name}'",
                description=f"SparkPost's Events API takes '{new_name}'; '{old_name}' belonged to the retired Message Events API.",
                extra={"param": old_name},
            )
    for name in UNSUPPORTED_FILTERS:
        if name in query:
            raise BadRequest(
                f"parameter '{name}' is not supported by the emulator",
                description="The emulator does not model mailbox providers or A/B tests; remove this filter.",
                extra={"param": name},
            )
    filters: dict[str, list[str]] = {}
    for name in ALL_FILTERS:
        values = parse_list(query, name, delimiter)
        if values:
            filters[name] = values
    for event_type in filters.get("events", []):
        if event_type not in PUBLIC_TYPES:
            raise invalid("events", event_type, "a list of event types: " + ", ".join(PUBLIC_TYPES))
    _check_subaccounts(filters.get("subaccounts", []))
    from_ts, to_ts = parse_window(query)
    return EventQuery(
        from_ts=from_ts,
        to_ts=to_ts,
        per_page=parse_per_page(query),
        cursor=parse_cursor(query),
        filters=filters,
    )


async def search_message_events(request: web.Request) -> web.Response:
    """GET /api/v1/events/message."""
    require_key(request, request.app[SETTINGS])
    event_query = parse_message_query(request)
    results, total, cursor = await request.app[STORE].call("search_events", event_query)
    return json_response({"results": results, "total_count": total, "links": _links(request, cursor)})


async def search_ingest_events(request: web.Request) -> web.Response:
    """GET /api/v1/events/ingest."""
    require_key(request, request.app[SETTINGS])
    query = request.query
    delimiter = parse_delimiter(query)
    filters: dict[str, list[str]] = {name: parse_list(query, name, delimiter) for name in INGEST_FILTERS}
    for value in filters["events"]:
        if value not in INGEST_OUTCOME_TYPES:
            raise invalid("events", value, "success and/or error")
    for value in filters["error_types"]:
        if value not in INGEST_ERROR_TYPES:
            raise invalid("error_types", value, "a list of: " + ", ".join(INGEST_ERROR_TYPES))
    if filters["retryable"]:
        value = filters["retryable"][0].lower()
        if value not in ("true", "false"):
            raise invalid("retryable", filters["retryable"][0], "true or false")
        filters["retryable"] = [value]
    _check_subaccounts(filters["subaccounts"])
    from_ts, to_ts = parse_window(query)
    results, total, cursor = await request.app[STORE].call(
        "search_ingest_events",
        from_ts=from_ts,
        to_ts=to_ts,
        per_page=parse_per_page(query),
        cursor=parse_cursor(query),
        filters=filters,
    )
    body: dict[str, Any] = {"results": results, "total_count": total, "links": _links(request, cursor)}
    return json_response(body)


async def get_events_documentation(request: web.Request) -> web.Response:
    return json_response({"results": events_documentation()})


def samples_response(request: web.Request, build: Callable[[list[str]], list[dict[str, Any]]]) -> web.Response:
    """Return ``{"results": build(types)}`` for the ``events`` query parameter (all types when absent)."""
    requested = [item for item in request.query.get("events", "").split(",") if item.strip()]
    try:
        samples = build(requested)
    except KeyError as exc:
        raise invalid("events", str(exc.args[0]), "a list of event types: " + ", ".join(PUBLIC_TYPES)) from None
    return json_response({"results": samples})


async def get_events_samples(request: web.Request) -> web.Response:
    return samples_response(request, events_samples)

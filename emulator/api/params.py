"""Query parameter parsing shared by the search endpoints; errors name the parameter."""

from __future__ import annotations

import time
from collections.abc import Mapping

from emulator.errors import BadRequest
from emulator.events.timefmt import parse_iso
from emulator.store.search import Cursor

MAX_PER_PAGE = 10000
DEFAULT_PER_PAGE = 1000
DEFAULT_WINDOW_SECONDS = 24 * 3600


def invalid(name: str, value: str, expected: str) -> BadRequest:
    return BadRequest(
        f"invalid parameter '{name}'",
        description=f"'{name}' is {value!r}; expected {expected}.",
        code="1200",
        extra={"param": name, "value": value},
    )


def parse_time(query: Mapping[str, str], name: str, default: float) -> float:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse_iso(raw)
    except ValueError:
        raise invalid(name, raw, "a UTC date-time such as 2024-05-01T08:00:00Z or 2024-05-01T08:00") from None


def parse_window(query: Mapping[str, str]) -> tuple[float, float]:
    """Return (from, to) in Unix seconds: ``from`` inclusive, ``to`` exclusive.

    ``to`` defaults to now, not SparkPost's now minus one minute, so events are
    searchable as soon as they are stored.
    """
    now = time.time()
    to_ts = parse_time(query, "to", now + 1.0)
    from_ts = parse_time(query, "from", min(now, to_ts) - DEFAULT_WINDOW_SECONDS)
    if from_ts >= to_ts:
        raise invalid("from", query.get("from", ""), "a time before 'to'")
    return from_ts, to_ts


def parse_per_page(query: Mapping[str, str]) -> int:
    raw = query.get("per_page")
    if raw is None or raw == "":
        return DEFAULT_PER_PAGE
    if not (raw.isascii() and raw.isdigit()):
        raise invalid("per_page", raw, f"an integer from 1 to {MAX_PER_PAGE}")
    value = int(raw)
    if not 1 <= value <= MAX_PER_PAGE:
        raise invalid("per_page", raw, f"an integer from 1 to {MAX_PER_PAGE}")
    return value


def parse_cursor(query: Mapping[str, str]) -> Cursor | None:
    raw = query.get("cursor")
    if raw is None or raw in ("", "initial"):
        return None
    try:
        return Cursor.decode(raw)
    except ValueError:
        raise invalid("cursor", raw, "'initial' or the cursor from links.next") from None


def parse_delimiter(query: Mapping[str, str]) -> str:
    raw = query.get("delimiter", ",")
    if len(raw) != 1:
        raise invalid("delimiter", raw, "a single character")
    return raw


def parse_list(query: Mapping[str, str], name: str, delimiter: str) -> list[str]:
    raw = query.get(name)
    if raw is None:
        return []
    return [item.strip() for item in raw.split(delimiter) if item.strip()]

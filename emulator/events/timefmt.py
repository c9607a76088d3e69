"""Timestamps: parse ingest and query forms, format SparkPost's ISO form."""

from __future__ import annotations

import datetime as dt
import functools

UTC = dt.timezone.utc


@functools.lru_cache(maxsize=16384)
def _format_whole_second(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def format_iso(seconds: float) -> str:
    """Format Unix seconds as ISO-8601 UTC with milliseconds, ``2023-11-14T22:13:20.000+00:00``."""
    if seconds == int(seconds):
        # Ingest timestamps are whole seconds and a batch shares few of them.
        return _format_whole_second(int(seconds))
    moment = dt.datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def parse_iso(text: str) -> float:
    """Parse an ISO-8601 date-time (``Z``, offset or naive UTC; seconds optional).

    Raises ValueError for anything else.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty date-time")
    moment = dt.datetime.fromisoformat(value.replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_event_time(value: object) -> float:
    """Convert an ingest ``timestamp`` (Unix seconds as string or number, or ISO) to seconds.

    Raises ValueError when the value is neither.
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            return parse_iso(text)
    raise ValueError(f"expected Unix seconds or an ISO-8601 date-time, got {type(value).__name__}")

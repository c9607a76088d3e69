"""Build ingest events and batch bodies the way PowerMTA uploads them."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from emulator.events.types import INGEST_TYPES
from emulator.randomness import RandomSource

GZIP_MAGIC = b"\x1f\x8b"
# Ingest event ids are decimal strings in 0 .. 2**63 - 1.
EVENT_ID_BITS = 63

_GROUPING_BY_INGEST_TYPE: dict[str, str] = {
    ingest_type: grouping for grouping, types in INGEST_TYPES.items() for ingest_type in types
}

EventsOrBytes = bytes | bytearray | Iterable[Mapping[str, Any]]


def ingest_event(
    event_type: str,
    *,
    message_id: str,
    rcpt_to: str | None = None,
    ids: RandomSource | None = None,
    timestamp: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Return one ingest line ``{"msys": {grouping: {...}}}`` for ``event_type``.

    :param event_type: an ingest type such as ``reception``, ``delivery``,
        ``outofband``, ``feedback`` or ``click`` (not the public name).
    :param message_id: the message id that ties the events of one message together.
    :param rcpt_to: the recipient; omit it only for events that carry ``rcpt_hash``.
    :param ids: source of the ``event_id``; a fresh unseeded source when omitted.
    :param timestamp: Unix seconds; defaults to now.
    :param fields: further ingest fields, which override the defaults.
    :raises ValueError: when ``event_type`` is not an ingest type.
    """
    grouping = _GROUPING_BY_INGEST_TYPE.get(event_type)
    if grouping is None:
        known = ", ".join(sorted(_GROUPING_BY_INGEST_TYPE))
        raise ValueError(f"unknown ingest event type {event_type!r}; expected one of: {known}")

    source = ids if ids is not None else RandomSource()
    body: dict[str, Any] = {
        "type": event_type,
        "event_id": str(source.random.getrandbits(EVENT_ID_BITS)),
        "message_id": message_id,
        "timestamp": str(int(time.time() if timestamp is None else timestamp)),
    }
    if rcpt_to is not None:
        body["rcpt_to"] = rcpt_to
    # The reception is the injection, so it carries recv_method; every other
    # event is about a delivery attempt or what followed it.
    if event_type == "reception":
        body["recv_method"] = "esmtp"
    else:
        body["delv_method"] = "esmtp"
    body.update(fields)
    return {"msys": {grouping: body}}


def encode_batch(events_or_bytes: EventsOrBytes) -> bytes:
    """Return a gzip NDJSON body from event dicts, NDJSON bytes or gzip bytes.

    Gzip bytes (recognised by their magic number) pass through unchanged, so a
    test can upload a deliberately broken stream.
    """
    if isinstance(events_or_bytes, (bytes, bytearray)):
        raw = bytes(events_or_bytes)
        if raw.startswith(GZIP_MAGIC):
            return raw
        return gzip.compress(raw)
    if isinstance(events_or_bytes, Mapping):
        raise TypeError("upload() takes a list of events, not one event dict; wrap it in a list")

    lines = b"".join(orjson.dumps(dict(event)) + b"\n" for event in events_or_bytes)
    return gzip.compress(lines)

"""Turn one ingested event (``msys`` wrapper already removed) into a public event."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from emulator.events.coerce import STRING_FIELDS, CoercionError, coerce_value
from emulator.events.fields import BASE_REQUIRED, MESSAGE_ID_OPTIONAL
from emulator.events.redact import redact_reason
from emulator.events.timefmt import format_iso
from emulator.events.types import GENERATION_TYPES, INGEST_TYPES, UNSUPPORTED_GROUPINGS


class EventInvalid(ValueError):
    """An ingested event failed validation. The message names the field at fault."""


@dataclasses.dataclass(frozen=True)
class NormalisedEvent:
    """A validated public event and its time in Unix seconds."""

    event: dict[str, Any]
    timestamp: float


# Objects and arrays nested deeper than this are refused: orjson, which writes
# the stored event, stops at 255 levels, and no real metadata comes near 64.
MAX_NESTING = 64


def _nesting_depth(value: Any, level: int = 1) -> int:
    """Return how deeply ``value`` nests, stopping once past :data:`MAX_NESTING`."""
    if level > MAX_NESTING:
        return level
    children = value.values() if isinstance(value, dict) else value
    deepest = level
    for child in children:
        if isinstance(child, (dict, list)):
            deepest = max(deepest, _nesting_depth(child, level + 1))
            if deepest > MAX_NESTING:
                break
    return deepest


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _domain_of(address: str) -> str | None:
    _, at, domain = address.rpartition("@")
    return domain.lower() if at and domain else None


def unwrap(document: Any) -> tuple[str, dict[str, Any]]:
    """Return the grouping and fields of one ingest line's ``{"msys": {grouping: {...}}}``."""
    if not isinstance(document, dict):
        raise EventInvalid("event must be a JSON object")
    msys = document.get("msys")
    if not isinstance(msys, dict):
        raise EventInvalid("missing 'msys' object")
    if len(msys) != 1:
        raise EventInvalid(f"'msys' must hold exactly one event grouping, found {len(msys)}")
    grouping, body = next(iter(msys.items()))
    if grouping in UNSUPPORTED_GROUPINGS:
        raise EventInvalid(f"event grouping '{grouping}' is not supported by the emulator")
    if grouping not in INGEST_TYPES:
        raise EventInvalid(f"unknown event grouping '{grouping}'")
    if not isinstance(body, dict):
        raise EventInvalid(f"'{grouping}' must be a JSON object")
    return grouping, body


def normalise(
    grouping: str,
    body: dict[str, Any],
    *,
    max_age: float = 0.0,
    now: float | None = None,
) -> NormalisedEvent:
    """Validate, coerce and derive the public fields of one ingested event.

    ``max_age`` in seconds rejects older events; 0 turns the check off.
    Raises EventInvalid with a message that names the field at fault.
    """
    ingest_type = body.get("type")
    if not isinstance(ingest_type, str) or not ingest_type:
        raise EventInvalid("missing required field 'type'")
    public_type = INGEST_TYPES[grouping].get(ingest_type)
    if public_type is None:
        known = ", ".join(INGEST_TYPES[grouping])
        raise EventInvalid(f"unknown type '{ingest_type}' for {grouping} (expected one of {known})")

    for name in BASE_REQUIRED:
        if not _present(body.get(name)):
            raise EventInvalid(f"missing required field '{name}'")
    if ingest_type not in MESSAGE_ID_OPTIONAL and not _present(body.get("message_id")):
        raise EventInvalid("missing required field 'message_id'")
    if not (_present(body.get("recv_method")) or _present(body.get("delv_method"))):
        raise EventInvalid("missing required field: one of 'recv_method' or 'delv_method'")
    has_hash = _present(body.get("rcpt_hash"))
    has_domain = _present(body.get("rcpt_domain"))
    if has_hash and not has_domain:
        raise EventInvalid("Missing rcpt_domain on event with rcpt_hash")
    if has_domain and not has_hash:
        raise EventInvalid("Missing rcpt_hash on event with rcpt_domain")

    event: dict[str, Any] = {}
    try:
        for name, value in body.items():
            if value is None or name == "type":
                continue
            if value.__class__ is str and name in STRING_FIELDS:
                event[name] = value  # the common case, without a call
                continue
            if isinstance(value, (dict, list)) and _nesting_depth(value) > MAX_NESTING:
                raise EventInvalid(f"'{name}' is nested deeper than {MAX_NESTING} levels")
            event[name] = coerce_value(name, value)
    except CoercionError as exc:
        raise EventInvalid(str(exc)) from None

    seconds = float(event.pop("timestamp"))
    if max_age > 0:
        current = time.time() if now is None else now
        if seconds < current - max_age:
            hours = max_age / 3600
            raise EventInvalid(
                f"event timestamp {format_iso(seconds)} is older than the {hours:g}-hour limit"
            )
    event["type"] = public_type
    event["timestamp"] = format_iso(seconds)
    if "injection_time" in event:
        event["injection_time"] = format_iso(float(event["injection_time"]))
    elif public_type == "injection":
        event["injection_time"] = event["timestamp"]

    _derive_recipient(event)
    _derive_sending(event)
    if "raw_reason" in event and "reason" not in event:
        event["reason"] = event["raw_reason"]
    if "reason" in event:
        event["reason"] = redact_reason(event["reason"])
    if public_type not in GENERATION_TYPES:
        event.setdefault("rcpt_meta", {})
        event.setdefault("rcpt_tags", [])
    return NormalisedEvent(event=event, timestamp=seconds)


def _derive_recipient(event: dict[str, Any]) -> None:
    rcpt_domain = event.pop("rcpt_domain", None)
    if "rcpt_hash" in event:
        event.pop("rcpt_to", None)
        event.pop("raw_rcpt_to", None)
        if rcpt_domain:
            event["recipient_domain"] = rcpt_domain.lower()
        return
    rcpt_to = event.get("rcpt_to")
    if rcpt_to:
        event.setdefault("raw_rcpt_to", rcpt_to)
        event["rcpt_to"] = rcpt_to.lower()
        domain = _domain_of(rcpt_to)
        if domain:
            event.setdefault("recipient_domain", domain)


def _derive_sending(event: dict[str, Any]) -> None:
    if not event.get("ip_pool") and event.get("binding_group"):
        event["ip_pool"] = event["binding_group"]
    if not event.get("sending_ip") and event.get("binding"):
        event["sending_ip"] = event["binding"]
    friendly_from = event.get("friendly_from")
    if friendly_from and not event.get("sending_domain"):
        domain = _domain_of(friendly_from.strip().strip("<>"))
        if domain:
            event["sending_domain"] = domain

"""``/documentation`` and ``/samples`` bodies, generated from the field table."""

from __future__ import annotations

from typing import Any

from emulator.events.fields import (
    BASE_REQUIRED,
    FIELDS,
    INGEST_TYPE_FIELDS,
    MESSAGE_ID_OPTIONAL,
    PUBLIC_COMMON,
    PUBLIC_TYPE_FIELDS,
    REPORTING_FIELDS,
    TRANSPORT_FIELDS,
)
from emulator.events.normalise import normalise
from emulator.events.types import (
    DISPLAY_NAMES,
    GROUPING_BY_PUBLIC,
    INGEST_TYPE_BY_PUBLIC,
    PUBLIC_TYPE_BY_INGEST,
    PUBLIC_TYPES,
)

# Values that differ by type, so samples read like real events.
_TYPE_SAMPLES: dict[str, dict[str, Any]] = {
    "inband": {"error_code": "550", "bounce_class": "10", "raw_reason": "550 5.1.1 <recipient@example.net>: Recipient address rejected: User unknown"},
    "outofband": {"error_code": "550", "bounce_class": "10", "raw_reason": "550 5.0.0 <recipient@example.net>... User unknown"},
    "tempfail": {"error_code": "452", "bounce_class": "22", "raw_reason": "452 4.2.2 <recipient@example.net>: mailbox full"},
    "rejection": {"error_code": "550", "bounce_class": "25", "raw_reason": "550 5.7.1 Unconfigured Sending Domain <example.com>"},
    "gen_rejection": {"error_code": "550", "bounce_class": "25", "raw_reason": "550 5.6.0 No Sending Domain found in From header"},
    "gen_fail": {"error_code": "554", "raw_reason": "554 5.3.3 [internal] Error while rendering part html"},
}


def _required(ingest_type: str) -> set[str]:
    required = set(BASE_REQUIRED)
    if ingest_type not in MESSAGE_ID_OPTIONAL:
        required.add("message_id")
    return required


def _ingest_field_names(ingest_type: str) -> list[str]:
    names = ["type", "event_id", "timestamp"]
    names += [name for name in INGEST_TYPE_FIELDS[ingest_type] if name not in names]
    for name in TRANSPORT_FIELDS:
        if name not in names:
            names.append(name)
    return names


def ingest_sample(ingest_type: str) -> dict[str, Any]:
    """Return one ingest-side event of ``ingest_type`` (without the ``msys`` wrapper)."""
    sample: dict[str, Any] = {}
    for name in _ingest_field_names(ingest_type):
        sample[name] = FIELDS[name].sample
    sample["type"] = ingest_type
    sample.update(_TYPE_SAMPLES.get(ingest_type, {}))
    if "raw_reason" in sample:
        sample["reason"] = sample["raw_reason"]
    return sample


def ingest_documentation() -> list[dict[str, Any]]:
    """Return one object per ingest type: field -> description, sample, required, reporting."""
    documentation = []
    for ingest_type in INGEST_TYPE_FIELDS:
        required = _required(ingest_type)
        sample = ingest_sample(ingest_type)
        entry: dict[str, Any] = {}
        for name in _ingest_field_names(ingest_type):
            description = FIELDS[name].description
            if name in TRANSPORT_FIELDS:
                description += " One of recv_method or delv_method is required."
            field: dict[str, Any] = {"description": description, "sampleValue": sample[name]}
            if name in required:
                field["required"] = True
            if name in REPORTING_FIELDS:
                field["reporting"] = True
            entry[name] = field
        documentation.append(entry)
    return documentation


def _resolve_types(requested: list[str]) -> list[str]:
    """Map requested public (or ingest) type names to public names; raise KeyError for unknown."""
    if not requested:
        return list(PUBLIC_TYPES)
    resolved = []
    for name in requested:
        name = name.strip()
        if name in GROUPING_BY_PUBLIC:
            resolved.append(name)
        elif name in PUBLIC_TYPE_BY_INGEST:
            resolved.append(PUBLIC_TYPE_BY_INGEST[name])
        else:
            raise KeyError(name)
    return resolved


def ingest_samples(requested: list[str]) -> list[dict[str, Any]]:
    """Return one flat ingest-side sample per requested type (all types by default)."""
    return [ingest_sample(INGEST_TYPE_BY_PUBLIC[public]) for public in _resolve_types(requested)]


def public_sample(public_type: str) -> dict[str, Any]:
    """Return the public form of the ingest sample, as the Events API would show it."""
    ingest_type = INGEST_TYPE_BY_PUBLIC[public_type]
    grouping = GROUPING_BY_PUBLIC[public_type]
    event = dict(normalise(grouping, ingest_sample(ingest_type)).event)
    event.setdefault("customer_id", FIELDS["customer_id"].sample)
    return event


def events_documentation() -> list[dict[str, Any]]:
    """Return one object per public type: type, display_name, event_description and fields."""
    documentation = []
    for public_type in PUBLIC_TYPES:
        display_name, description = DISPLAY_NAMES[public_type]
        sample = public_sample(public_type)
        entry: dict[str, Any] = {
            "type": {"description": "Type of event this record describes", "sampleValue": public_type},
            "display_name": {"description": "Friendly name of the event type", "sampleValue": display_name},
            "event_description": {"description": "Description of the event type", "sampleValue": description},
        }
        names = [name for name in PUBLIC_COMMON if name != "type"] + list(PUBLIC_TYPE_FIELDS[public_type])
        for name in names:
            if name in entry:
                continue
            entry[name] = {
                "description": FIELDS[name].description,
                "sampleValue": sample.get(name, FIELDS[name].sample),
            }
        documentation.append(entry)
    return documentation


def events_samples(requested: list[str]) -> list[dict[str, Any]]:
    """Return one public sample per requested type (all types by default)."""
    return [public_sample(public) for public in _resolve_types(requested)]

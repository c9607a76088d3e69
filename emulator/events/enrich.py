"""Enrichment: engagement, complaint, out-of-band and unsubscribe events take
the message's attributes from its injection or delivery event, whichever batch
or order the events arrive in.
"""

from __future__ import annotations

from typing import Any

from emulator.events.types import ENRICHED_TYPES, ENRICHMENT_SOURCE_TYPES

# Attributes copied from the message's injection or delivery event.  Fields a
# hit captures itself (recipient, user agent, client address, link) are not in
# this list and are never overwritten.
ENRICHMENT_FIELDS = (
    "ab_test_id", "ab_test_version", "amp_enabled", "binding", "binding_group", "campaign_id",
    "click_tracking", "customer_id", "friendly_from", "initial_pixel", "injection_time", "ip_pool",
    "ip_pool_raw", "msg_from", "msg_size", "open_tracking", "rcpt_meta", "rcpt_tags", "rcpt_type",
    "recv_method", "routing_domain", "sending_domain", "sending_ip", "subaccount_id", "subject",
    "template_id", "template_version", "transactional", "transmission_id",
)

_ENRICHMENT_FIELD_SET = frozenset(ENRICHMENT_FIELDS)


def message_attributes(event: dict[str, Any]) -> dict[str, Any]:
    """Return the attributes an injection or delivery event lends to later events."""
    attributes = {}
    for name in event.keys() & _ENRICHMENT_FIELD_SET:
        value = event[name]
        if value is not None and value != "" and value != {} and value != []:
            attributes[name] = value
    if event.get("type") == "injection":
        attributes["injection_time"] = event["timestamp"]
    return attributes


def merge_attributes(existing: dict[str, Any], new: dict[str, Any], source_type: str) -> dict[str, Any]:
    """Merge a message's attributes; the injection event wins over a delivery event."""
    if source_type == "injection":
        return {**existing, **new}
    return {**new, **existing}


def is_enriched(public_type: str) -> bool:
    return public_type in ENRICHED_TYPES


def is_enrichment_source(public_type: str) -> bool:
    return public_type in ENRICHMENT_SOURCE_TYPES


def apply_enrichment(own: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """Fill the fields ``own`` lacks from the message ``attributes``."""
    if not attributes:
        return own
    enriched = dict(own)
    for name, value in attributes.items():
        current = enriched.get(name)
        if current is None or current == "" or current == {} or current == []:
            enriched[name] = value
    return enriched

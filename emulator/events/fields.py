"""The field table: every event field, its value kind, a sample and a description.

This one table drives validation and coercion of ingested events, the public
shape of stored events, and the ``/documentation`` and ``/samples`` endpoints
of both the Ingest and the Events API.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# Value kinds.  Output forms follow SparkPost's Events API: counters and codes
# are strings, account ids are integers, tracking options are booleans.
STRING = "string"
NUMBER_STRING = "number_string"
INTEGER = "integer"
BOOLEAN = "boolean"
FLAG_STRING = "flag_string"  # "1" or "0", as SparkPost shows ``transactional``
TIMESTAMP = "timestamp"
OBJECT = "object"
ARRAY = "array"
GEO = "geo"


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    kind: str
    sample: Any
    description: str


_FIELD_ROWS: tuple[tuple[str, str, Any, str], ...] = (
    ("type", STRING, "delivery", "Event type."),
    ("event_id", STRING, "92356927693813856", "Unique id of the event."),
    ("message_id", STRING, "0000123456789abcdef0", "Id of the message the event belongs to."),
    ("timestamp", TIMESTAMP, "1460989507", "Time of the event: Unix seconds on ingest, ISO-8601 UTC in search results."),
    ("injection_time", TIMESTAMP, "1460989507", "Time the message was injected."),
    ("customer_id", INTEGER, 1, "Account id."),
    ("subaccount_id", INTEGER, 101, "Subaccount id; 0 is the primary account."),
    ("transmission_id", STRING, "65832150921904138", "Transmission that created the message."),
    ("campaign_id", STRING, "spring-sale", "Campaign name (PowerMTA job id)."),
    ("template_id", STRING, "templ-1234", "Template used to build the message."),
    ("template_version", NUMBER_STRING, "1", "Version of that template."),
    ("ab_test_id", STRING, "subject-line-test", "A/B test the message belongs to."),
    ("ab_test_version", NUMBER_STRING, "1", "Version of that A/B test."),
    ("friendly_from", STRING, "sender@example.com", "Address in the From header."),
    ("friendly_name", STRING, "Example Sender", "Display name in the From header."),
    ("msg_from", STRING, "bounces@bounces.example.com", "Envelope sender (MAIL FROM)."),
    ("rcpt_to", STRING, "recipient@example.net", "Recipient address, lower case."),
    ("raw_rcpt_to", STRING, "Recipient@Example.net", "Recipient address as given, case kept."),
    ("rcpt_hash", STRING, "3n3GkUp0Nu4Y1r0Bjb9lHlJVxWs=", "Hashed recipient, sent instead of rcpt_to for privacy; needs rcpt_domain."),
    ("rcpt_domain", STRING, "example.net", "Recipient domain sent with rcpt_hash."),
    ("rcpt_type", STRING, "cc", "Recipient type (cc, bcc or archive) when not a primary recipient."),
    ("rcpt_meta", OBJECT, {"customer_ref": "A-1"}, "Metadata of the recipient."),
    ("rcpt_tags", ARRAY, ["newsletter"], "Tags of the recipient."),
    ("rcpt_subs", OBJECT, {"first_name": "Jo"}, "Substitution data of the recipient."),
    ("subject", STRING, "Spring sale starts today", "Subject header."),
    ("routing_domain", STRING, "example.net", "Domain the message was routed to."),
    ("recipient_domain", STRING, "example.net", "Domain of the recipient address."),
    ("sending_domain", STRING, "example.com", "Domain of the From address."),
    ("binding", STRING, "vmta-1", "Binding (PowerMTA VirtualMTA) used for delivery."),
    ("binding_group", STRING, "pool-a", "Binding group (PowerMTA VirtualMTA pool)."),
    ("ip_pool", STRING, "pool-a", "IP pool used for delivery."),
    ("ip_pool_raw", STRING, "pool-a", "IP pool as requested."),
    ("sending_ip", STRING, "192.0.2.10", "IP address the message was sent from."),
    ("ip_address", STRING, "198.51.100.7", "Remote MTA address for delivery events, client address for engagement events."),
    ("remote_addr", STRING, "198.51.100.8", "Address that injected the message."),
    ("recv_method", STRING, "esmtp", "Protocol the message was received with (esmtp, rest)."),
    ("delv_method", STRING, "esmtp", "Protocol the message was delivered with."),
    ("msg_size", NUMBER_STRING, "1337", "Message size in bytes."),
    ("num_retries", NUMBER_STRING, "0", "Failed attempts before this one."),
    ("queue_time", NUMBER_STRING, "12", "Milliseconds between injection and this attempt."),
    ("outbound_tls", NUMBER_STRING, "1", "1 when TLS was used, 0 when not offered, -1 when negotiation failed."),
    ("bounce_class", NUMBER_STRING, "10", "Bounce classification code."),
    ("error_code", NUMBER_STRING, "550", "SMTP reply code of the remote MTA."),
    ("reason", STRING, "550 5.1.1 ...@... unknown", "Reply text with addresses and IP addresses hidden."),
    ("raw_reason", STRING, "550 5.1.1 user@example.net unknown", "Reply text exactly as received."),
    ("fbtype", STRING, "abuse", "Feedback type of a spam complaint."),
    ("report_by", STRING, "server.example.net", "Reporter of a spam complaint."),
    ("report_to", STRING, "fbl@example.com", "Address the complaint was sent to."),
    ("open_tracking", BOOLEAN, True, "Whether open tracking was on."),
    ("click_tracking", BOOLEAN, True, "Whether click tracking was on."),
    ("initial_pixel", BOOLEAN, True, "Whether the top open pixel was added."),
    ("amp_enabled", BOOLEAN, False, "Whether the message had an AMP part."),
    ("transactional", FLAG_STRING, "1", "1 for transactional mail."),
    ("geo_ip", GEO, {"country": "US", "region": "MD", "city": "Columbia", "latitude": 39.1749, "longitude": -76.8375, "zip": 21046, "postal_code": "21046"}, "Location of the client address."),
    ("user_agent", STRING, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "User agent of the client."),
    ("target_link_url", STRING, "https://example.com/offer", "Target of the clicked link."),
    ("target_link_name", STRING, "Offer", "Name of the clicked link."),
    ("mailfrom", STRING, "bounces@bounces.example.com", "Envelope sender of the original message."),
    ("custom_message_id", STRING, "<abc@example.com>", "PowerMTA's own message id."),
    ("mailbox_provider", STRING, "Gmail", "Mailbox provider of the recipient domain."),
    ("mailbox_provider_region", STRING, "Global", "Region of that mailbox provider."),
)

FIELDS: dict[str, Field] = {row[0]: Field(*row) for row in _FIELD_ROWS}

# Fields every ingested event must carry.
BASE_REQUIRED = ("event_id", "type", "timestamp")
TRANSPORT_FIELDS = ("recv_method", "delv_method")

_RECEPTION = (
    "binding", "binding_group", "campaign_id", "friendly_from", "friendly_name", "message_id",
    "msg_from", "msg_size", "open_tracking", "click_tracking", "initial_pixel", "rcpt_to",
    "recv_method", "routing_domain", "sending_ip", "ip_pool", "subaccount_id", "subject",
    "template_id", "template_version", "transmission_id", "rcpt_meta", "rcpt_tags", "rcpt_type",
    "transactional", "custom_message_id",
)
_TRACK = (
    "delv_method", "geo_ip", "ip_address", "message_id", "rcpt_to", "subaccount_id", "user_agent",
)

# Fields documented per ingest type (besides type, event_id and timestamp).
INGEST_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "reception": _RECEPTION,
    "delivery": _RECEPTION + ("delv_method", "num_retries", "queue_time", "ip_address", "outbound_tls"),
    "inband": _RECEPTION + (
        "bounce_class", "error_code", "num_retries", "raw_reason", "reason", "delv_method", "ip_address",
    ),
    "outofband": (
        "bounce_class", "delv_method", "error_code", "friendly_from", "message_id", "msg_from",
        "raw_reason", "recv_method", "rcpt_to", "reason", "subaccount_id", "custom_message_id",
    ),
    "feedback": (
        "delv_method", "fbtype", "friendly_from", "message_id", "rcpt_to", "report_by", "report_to",
        "sending_ip", "subaccount_id", "custom_message_id",
    ),
    "tempfail": _RECEPTION + (
        "bounce_class", "delv_method", "error_code", "num_retries", "queue_time", "raw_reason", "reason",
    ),
    "rejection": (
        "bounce_class", "error_code", "friendly_from", "message_id", "msg_from", "raw_rcpt_to",
        "raw_reason", "rcpt_to", "reason", "recv_method", "remote_addr", "subaccount_id",
    ),
    "gen_fail": (
        "campaign_id", "error_code", "friendly_from", "msg_from", "raw_rcpt_to", "raw_reason",
        "rcpt_to", "reason", "recv_method", "template_id", "template_version", "subaccount_id",
    ),
    "gen_rejection": (
        "bounce_class", "campaign_id", "error_code", "friendly_from", "msg_from", "raw_rcpt_to",
        "raw_reason", "rcpt_to", "reason", "recv_method", "subject", "template_id",
        "template_version", "subaccount_id",
    ),
    "open": _TRACK,
    "initial_open": _TRACK,
    "amp_open": _TRACK,
    "amp_initial_open": _TRACK,
    "click": _TRACK + ("target_link_url", "target_link_name"),
    "amp_click": _TRACK + ("target_link_url", "target_link_name"),
    "link": ("delv_method", "message_id", "recv_method", "rcpt_to", "subaccount_id", "user_agent", "mailfrom"),
    "list": ("delv_method", "message_id", "recv_method", "rcpt_to", "subaccount_id", "mailfrom"),
}

# Fields SparkPost's reporting groups by; ``/documentation`` flags them.
REPORTING_FIELDS = frozenset(
    {"campaign_id", "subject", "ip_pool", "sending_ip", "binding", "binding_group", "friendly_from",
     "rcpt_to", "subaccount_id", "template_id", "bounce_class", "error_code", "reason", "raw_reason",
     "target_link_url", "fbtype"}
)

# Ingest types that may omit message_id: generation fails before a message exists.
MESSAGE_ID_OPTIONAL = frozenset({"gen_fail", "gen_rejection"})

# Public fields every public event type can carry.
PUBLIC_COMMON = (
    "campaign_id", "customer_id", "event_id", "friendly_from", "ip_pool", "raw_rcpt_to", "rcpt_hash",
    "rcpt_meta", "rcpt_tags", "rcpt_to", "recipient_domain", "sending_domain", "sending_ip",
    "subaccount_id", "template_id", "template_version", "timestamp", "transactional",
    "transmission_id", "type",
)
_INJECTION_PUBLIC = (
    "ab_test_id", "ab_test_version", "amp_enabled", "click_tracking", "initial_pixel",
    "injection_time", "message_id", "msg_from", "msg_size", "open_tracking", "rcpt_type",
    "recv_method", "routing_domain", "subject",
)
_DELIVERY_PUBLIC = _INJECTION_PUBLIC + ("delv_method", "ip_address", "num_retries", "outbound_tls", "queue_time")
_OPEN_PUBLIC = (
    "ab_test_id", "ab_test_version", "amp_enabled", "click_tracking", "delv_method", "geo_ip",
    "initial_pixel", "injection_time", "ip_address", "message_id", "msg_from", "msg_size",
    "num_retries", "open_tracking", "queue_time", "rcpt_type", "routing_domain", "subject",
    "user_agent",
)
_GENERATION_PUBLIC = (
    "ab_test_id", "ab_test_version", "error_code", "raw_reason", "rcpt_subs", "reason",
    "recv_method", "routing_domain",
)

PUBLIC_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "injection": _INJECTION_PUBLIC,
    "delivery": _DELIVERY_PUBLIC,
    "delay": tuple(f for f in _DELIVERY_PUBLIC if not f.startswith("ab_test"))
    + ("bounce_class", "error_code", "reason", "raw_reason"),
    "bounce": (
        "amp_enabled", "bounce_class", "click_tracking", "delv_method", "error_code", "initial_pixel",
        "injection_time", "ip_address", "message_id", "msg_from", "msg_size", "num_retries",
        "open_tracking", "raw_reason", "rcpt_type", "reason", "recv_method", "routing_domain", "subject",
    ),
    "out_of_band": (
        "ab_test_id", "ab_test_version", "bounce_class", "delv_method", "error_code", "injection_time",
        "ip_address", "message_id", "msg_from", "msg_size", "num_retries", "queue_time", "raw_reason",
        "reason", "recv_method", "routing_domain", "subject",
    ),
    "spam_complaint": (
        "ab_test_id", "ab_test_version", "delv_method", "fbtype", "injection_time", "ip_address",
        "message_id", "msg_from", "msg_size", "num_retries", "queue_time", "rcpt_type", "report_by",
        "report_to", "routing_domain", "subject",
    ),
    "policy_rejection": (
        "ab_test_id", "ab_test_version", "bounce_class", "error_code", "injection_time", "message_id",
        "msg_from", "raw_reason", "rcpt_type", "reason", "recv_method", "remote_addr",
    ),
    "generation_failure": _GENERATION_PUBLIC,
    "generation_rejection": _GENERATION_PUBLIC + ("bounce_class", "subject"),
    "open": _OPEN_PUBLIC,
    "initial_open": _OPEN_PUBLIC,
    "amp_open": _OPEN_PUBLIC,
    "amp_initial_open": _OPEN_PUBLIC,
    "click": _OPEN_PUBLIC + ("target_link_name", "target_link_url"),
    "amp_click": _OPEN_PUBLIC + ("target_link_name", "target_link_url"),
    "link_unsubscribe": tuple(f for f in _OPEN_PUBLIC if f != "geo_ip") + ("mailfrom", "recv_method"),
    "list_unsubscribe": tuple(
        f for f in _OPEN_PUBLIC if f not in ("geo_ip", "delv_method", "user_agent")
    ) + ("mailfrom", "recv_method"),
}


def field_kind(name: str) -> str | None:
    """Return the value kind of a known field, or None for an unknown one."""
    field = FIELDS.get(name)
    return field.kind if field else None

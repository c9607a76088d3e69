"""Event type names on the ingest side and on the public side.

PowerMTA and Momentum upload their own vocabulary (``reception``, ``inband``,
``feedback``, ...); SparkPost's Events API, webhooks and metrics show public
names (``injection``, ``bounce``, ``spam_complaint``, ...).
"""

from __future__ import annotations

# grouping -> {ingest type: public type}
INGEST_TYPES: dict[str, dict[str, str]] = {
    "message_event": {
        "reception": "injection",
        "delivery": "delivery",
        "inband": "bounce",
        "outofband": "out_of_band",
        "feedback": "spam_complaint",
        "tempfail": "delay",
        "rejection": "policy_rejection",
    },
    "track_event": {
        "open": "open",
        "initial_open": "initial_open",
        "click": "click",
        "amp_open": "amp_open",
        "amp_initial_open": "amp_initial_open",
        "amp_click": "amp_click",
    },
    "gen_event": {
        "gen_fail": "generation_failure",
        "gen_rejection": "generation_rejection",
    },
    "unsubscribe_event": {
        "link": "link_unsubscribe",
        "list": "list_unsubscribe",
    },
}

# Groupings SparkPost lists as valid whose ingest type names are not public.
# Events in them fail validation with a message that names the grouping.
UNSUPPORTED_GROUPINGS = ("adaptive_event", "relay_event", "ab_test_event")

KNOWN_GROUPINGS = tuple(INGEST_TYPES) + UNSUPPORTED_GROUPINGS

PUBLIC_TYPE_BY_INGEST: dict[str, str] = {
    ingest: public for types in INGEST_TYPES.values() for ingest, public in types.items()
}
INGEST_TYPE_BY_PUBLIC: dict[str, str] = {
    public: ingest for ingest, public in PUBLIC_TYPE_BY_INGEST.items()
}
GROUPING_BY_PUBLIC: dict[str, str] = {
    public: grouping
    for grouping, types in INGEST_TYPES.items()
    for public in types.values()
}

# Public types in the order of SparkPost's Events documentation output.
PUBLIC_TYPES: tuple[str, ...] = (
    "bounce",
    "delivery",
    "injection",
    "spam_complaint",
    "out_of_band",
    "policy_rejection",
    "delay",
    "click",
    "open",
    "initial_open",
    "amp_click",
    "amp_open",
    "amp_initial_open",
    "generation_failure",
    "generation_rejection",
    "list_unsubscribe",
    "link_unsubscribe",
)

ENGAGEMENT_TYPES = frozenset(
    {"open", "initial_open", "click", "amp_open", "amp_initial_open", "amp_click"}
)
GENERATION_TYPES = frozenset({"generation_failure", "generation_rejection"})

# Events that SparkPost fills in from the message's injection or delivery event.
ENRICHED_TYPES = ENGAGEMENT_TYPES | frozenset(
    {"spam_complaint", "out_of_band", "link_unsubscribe", "list_unsubscribe"}
)
# Events whose fields are the source of that enrichment.
ENRICHMENT_SOURCE_TYPES = frozenset({"injection", "delivery"})

INGEST_OUTCOME_TYPES = ("success", "error")
INGEST_ERROR_TYPES = ("validation", "system", "decompress", "duplicate_batch", "empty_batch")

# Display name and one-line description of each public type, shown by the
# Events documentation endpoint.
DISPLAY_NAMES: dict[str, tuple[str, str]] = {
    "injection": ("Injection", "The message was received or generated for sending."),
    "delivery": ("Delivery", "The receiving MTA accepted the message."),
    "bounce": ("Bounce", "The receiving MTA rejected the message permanently during the SMTP session."),
    "delay": ("Delay", "The receiving MTA rejected the message temporarily; it will be retried."),
    "out_of_band": (
        "Out of Band",
        "The receiving MTA accepted the message and later reported that it was not delivered.",
    ),
    "spam_complaint": ("Spam Complaint", "The recipient reported the message as spam."),
    "policy_rejection": ("Policy Rejection", "The message was rejected for policy reasons before sending."),
    "generation_failure": ("Generation Failure", "The message could not be generated for a technical reason."),
    "generation_rejection": ("Generation Rejection", "The message was not generated for a policy reason."),
    "open": ("Open", "The recipient's client loaded the open pixel at the bottom of the message."),
    "initial_open": ("Initial Open", "The recipient's client loaded the open pixel at the top of the message."),
    "click": ("Click", "The recipient followed a tracked link and was redirected."),
    "amp_open": ("AMP Open", "The AMP part loaded its bottom open pixel."),
    "amp_initial_open": ("AMP Initial Open", "The AMP part loaded its top open pixel."),
    "amp_click": ("AMP Click", "The recipient followed a tracked link in the AMP part."),
    "list_unsubscribe": ("List Unsubscribe", "The recipient used the List-Unsubscribe header."),
    "link_unsubscribe": ("Link Unsubscribe", "The recipient followed a link tagged as an unsubscribe link."),
}

"""Decide what a tracking hit means and turn accepted hits into engagement events."""

from __future__ import annotations

import dataclasses
from typing import Any

from emulator.events.normalise import NormalisedEvent, normalise
from emulator.tracking.codec import TokenError, TrackedLink, decode_path

# Verdicts of a hit.
RECORD = "record"  # attributed: store an event, serve the pixel or redirect
UNATTRIBUTED = "unattributed"  # not decodable or no message id: no event
REFUSED = "refused"  # decodable but rejected by policy: no event
PROBE = "probe"  # a tracker check without a token, such as the Bouncy Sink's GET /f/a: not counted

_PROBE_PATHS = frozenset({"/q", "/q/", "/f", "/f/", "/f/a", "/f/a/"})


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of checking one tracked-link path, with the reason when it is not recorded."""

    kind: str
    link: TrackedLink | None = None
    reason: str = ""
    # For refused hits, the rule that refused them: "signature", "expired" or "target".
    rule: str = ""


def _has_control_characters(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def judge_hit(
    path: str,
    *,
    secret: bytes,
    strict: bool,
    now: float,
    max_target_bytes: int,
) -> Verdict:
    """Decode ``path`` and decide whether the hit is recorded, unattributed, refused or a probe."""
    if path in _PROBE_PATHS:
        return Verdict(PROBE, reason="no token in the path")
    try:
        link = decode_path(path, secret)
    except TokenError as exc:
        return Verdict(UNATTRIBUTED, reason=str(exc))
    if not link.message_id:
        return Verdict(UNATTRIBUTED, link, "the token has no message id")
    if link.action == "click":
        if not link.target_url:
            return Verdict(UNATTRIBUTED, link, "the click token has no target URL")
        size = len(link.target_url.encode("utf-8"))
        if size > max_target_bytes:
            return Verdict(
                REFUSED, link, f"target URL is {size} bytes, above the {max_target_bytes}-byte limit", "target"
            )
        if _has_control_characters(link.target_url):
            return Verdict(REFUSED, link, "target URL contains control characters", "target")
    if strict and not link.signature_valid:
        return Verdict(REFUSED, link, "signature does not verify with the tracking secret", "signature")
    if strict and link.expires_at is not None and link.expires_at < now:
        return Verdict(REFUSED, link, f"link expired at Unix time {link.expires_at}", "expired")
    return Verdict(RECORD, link)


def build_event(
    link: TrackedLink,
    *,
    event_id: str,
    timestamp: float,
    user_agent: str | None,
    ip_address: str | None,
) -> NormalisedEvent:
    """Build the ``track_event`` of one accepted hit.  Raises EventInvalid on a bad field."""
    fields: dict[str, Any] = {
        "type": link.action,
        "event_id": event_id,
        "message_id": link.message_id,
        "timestamp": timestamp,
        "delv_method": "esmtp",
    }
    optional = {
        "rcpt_to": link.recipient,
        "user_agent": user_agent,
        "ip_address": ip_address,
        "customer_id": link.customer_id,
        "subaccount_id": link.subaccount_id,
    }
    if link.action == "click":
        optional["target_link_url"] = link.target_url
        optional["target_link_name"] = link.link_name
    fields.update({name: value for name, value in optional.items() if value not in (None, "")})
    return normalise("track_event", fields)

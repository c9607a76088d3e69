"""Event search: SparkPost's filters translated to SQL over the events table."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import math
from typing import Any

import orjson

from emulator.events.keywords import like_pattern

# Filter parameter -> column, for exact-match lists.
EXACT_FILTERS: dict[str, str] = {
    "event_ids": "event_id",
    "messages": "message_id",
    "transmissions": "transmission_id",
    "sending_ips": "sending_ip",
    "bounce_classes": "bounce_class",
    "from_addresses": "friendly_from",
}
# Filter parameter -> (keyword column, split on periods too).
KEYWORD_FILTERS: dict[str, tuple[str, bool]] = {
    "campaigns": ("campaign_kw", False),
    "ip_pools": ("ip_pool_kw", False),
    "templates": ("template_kw", False),
    "subjects": ("subject_kw", False),
    "reasons": ("reason_kw", False),
    "recipient_domains": ("recipient_domain_kw", True),
    "sending_domains": ("sending_domain_kw", True),
}
OTHER_FILTERS = ("events", "recipients", "subaccounts")
ALL_FILTERS = tuple(EXACT_FILTERS) + tuple(KEYWORD_FILTERS) + OTHER_FILTERS
# Filters SparkPost has that the emulator cannot evaluate: it does not derive
# mailbox providers and does not model A/B tests.
UNSUPPORTED_FILTERS = ("mailbox_providers", "mailbox_provider_regions", "ab_tests", "ab_test_versions")


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: (timestamp, sequence number)."""

    ts: float
    seq: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(orjson.dumps([self.ts, self.seq])).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor; raises ValueError when it is not one of ours."""
        padded = text + "=" * (-len(text) % 4)
        try:
            ts, seq = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
            cursor = cls(float(ts), int(seq))
        except Exception:  # noqa: BLE001 - any decoding failure means "not a cursor"
            raise ValueError("invalid cursor") from None
        # Both values go to SQLite, which stores finite doubles and signed 64-bit integers.
        if not (math.isfinite(cursor.ts) and 0 <= cursor.seq < 2**63):
            raise ValueError("invalid cursor")
        return cursor


@dataclasses.dataclass(frozen=True)
class EventQuery:
    """A validated message-event search."""

    from_ts: float
    to_ts: float
    per_page: int = 1000
    cursor: Cursor | None = None
    filters: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def recipient_hashes(address: str) -> list[str]:
    """Return the base64 and hex SHA-1 forms a hashed recipient may be stored as."""
    digest = hashlib.sha1(address.strip().lower().encode()).digest()
    return [base64.b64encode(digest).decode(), digest.hex(), digest.hex().upper()]


def build_where(query: EventQuery) -> tuple[str, list[Any]]:
    """Return the WHERE clause (without cursor) and its parameters."""
    clauses = ["ts >= ?", "ts < ?"]
    params: list[Any] = [query.from_ts, query.to_ts]
    for name, values in query.filters.items():
        if not values:
            continue
        if name == "events":
            clauses.append(f"type IN ({','.join('?' * len(values))})")
            params.extend(values)
        elif name == "subaccounts":
            clauses.append(f"subaccount_id IN ({','.join('?' * len(values))})")
            params.extend(int(value) for value in values)
        elif name == "recipients":
            lowered = [value.strip().lower() for value in values]
            # A value may be the address or the hash itself; hex hashes match in either case.
            hashes = [h for value in values for h in recipient_hashes(value)] + [
                form for value in values for form in {value.strip(), value.strip().lower(), value.strip().upper()}
            ]
            clauses.append(
                f"(rcpt_to IN ({','.join('?' * len(lowered))}) OR rcpt_hash IN ({','.join('?' * len(hashes))}))"
            )
            params.extend(lowered)
            params.extend(hashes)
        elif name in EXACT_FILTERS:
            column = EXACT_FILTERS[name]
            if column == "friendly_from":
                values = [value.strip().lower() for value in values]
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
        elif name in KEYWORD_FILTERS:
            column, domain = KEYWORD_FILTERS[name]
            patterns = [p for p in (like_pattern(value, domain=domain) for value in values) if p]
            if not patterns:
                clauses.append("0")
                continue
            clauses.append("(" + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for _ in patterns) + ")")
            params.extend(patterns)
    return " AND ".join(clauses), params

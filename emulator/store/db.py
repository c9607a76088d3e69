"""The synchronous store: one SQLite connection, used from one thread only.

:class:`emulator.store.aio.AsyncStore` runs every call on a dedicated thread so
the event loop never blocks on SQLite.  Nothing here knows about HTTP.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from emulator.events.enrich import (
    apply_enrichment,
    is_enriched,
    is_enrichment_source,
    merge_attributes,
    message_attributes,
)
from emulator.events.keywords import keyword_text
from emulator.events.normalise import NormalisedEvent
from emulator.log import store_logger
from emulator.store.schema import RESET_TABLES, SCHEMA, SCHEMA_VERSION
from emulator.store.search import Cursor, EventQuery, build_where

# SQLite allows 32766 host parameters per statement; stay well below it.
_CHUNK = 900


# Fields of each event that change notifications carry. Listeners keep
# aggregates, so they get these summaries rather than whole events, which keeps
# a large batch from holding every full event in memory until it commits.
SUMMARY_FIELDS = (
    "event_id", "type", "timestamp", "message_id", "campaign_id", "ip_pool", "sending_ip",
    "bounce_class", "subaccount_id", "rcpt_to", "recipient_domain", "sending_domain",
)


def summarise(event: dict[str, Any]) -> dict[str, Any]:
    """Return the :data:`SUMMARY_FIELDS` an event has."""
    return {name: event[name] for name in SUMMARY_FIELDS if name in event}


@dataclasses.dataclass
class StoreChange:
    """Changes of one committed write, for listeners such as the console aggregates.

    ``added`` contains summaries (:data:`SUMMARY_FIELDS`) of new events, and
    ``updated`` contains (before, after) summaries of events whose enrichment
    changed. ``outcome`` is a new ingest outcome event, and ``reset`` is true
    when the store was emptied.
    """

    added: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    updated: list[tuple[dict[str, Any], dict[str, Any]]] = dataclasses.field(default_factory=list)
    outcome: dict[str, Any] | None = None
    reset: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.outcome or self.reset)


@dataclasses.dataclass(frozen=True)
class StoreResult:
    """Counts of one ``store_events`` call."""

    stored: int
    duplicates: int
    change: StoreChange


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dumps(value: Any) -> bytes:
    # Stored as a BLOB: orjson reads bytes back directly, which saves a decode per row.
    return orjson.dumps(value)


def _columns(event: dict[str, Any], seconds: float, batch_id: str | None, own: dict[str, Any] | None) -> tuple[Any, ...]:
    friendly_from = event.get("friendly_from")
    return (
        event["event_id"],
        event["type"],
        seconds,
        batch_id,
        event.get("message_id"),
        event.get("transmission_id"),
        event.get("subaccount_id"),
        event.get("rcpt_to"),
        event.get("rcpt_hash"),
        friendly_from.strip().lower() if isinstance(friendly_from, str) else None,
        event.get("sending_ip"),
        event.get("bounce_class"),
        keyword_text(event.get("campaign_id")),
        keyword_text(event.get("ip_pool")),
        keyword_text(event.get("template_id")),
        keyword_text(event.get("subject")),
        keyword_text(event.get("reason")),
        keyword_text(event.get("recipient_domain"), domain=True),
        keyword_text(event.get("sending_domain"), domain=True),
        _dumps(own) if own is not None else None,
        _dumps(event),
    )


_INSERT_EVENT = """
INSERT INTO events (event_id, type, ts, batch_id, message_id, transmission_id, subaccount_id,
    rcpt_to, rcpt_hash, friendly_from, sending_ip, bounce_class, campaign_kw, ip_pool_kw,
    template_kw, subject_kw, reason_kw, recipient_domain_kw, sending_domain_kw, own, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPDATE_EVENT = """
UPDATE events SET subaccount_id = ?, friendly_from = ?, sending_ip = ?, campaign_kw = ?,
    ip_pool_kw = ?, template_kw = ?, subject_kw = ?, transmission_id = ?,
    sending_domain_kw = ?, body = ?
WHERE seq = ?
"""


class SyncStore:
    """All reads and writes of the emulator's SQLite database."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA foreign_keys = OFF")
        self._conn.execute("PRAGMA temp_store = MEMORY")
        self._conn.execute("PRAGMA cache_size = -65536")  # 64 MiB of page cache
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(SCHEMA)
        self._conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def close(self) -> None:
        self._conn.close()

    # -- batches -------------------------------------------------------------

    def add_batch(self, batch_id: str, body: bytes, *, received_at: float, expires_at: float, key_fingerprint: str | None) -> None:
        """Store an uploaded batch durably, before the POST returns its id."""
        self._conn.execute(
            "INSERT INTO batches (batch_id, received_at, key_fingerprint, body, expires_at) VALUES (?, ?, ?, ?, ?)",
            (batch_id, received_at, key_fingerprint, body, expires_at),
        )

    def pending_batch_ids(self) -> list[str]:
        """Return batches acknowledged but not processed yet, oldest first."""
        rows = self._conn.execute(
            "SELECT batch_id FROM batches WHERE state = 'pending' ORDER BY received_at, rowid"
        ).fetchall()
        return [row[0] for row in rows]

    def batch_body(self, batch_id: str) -> bytes | None:
        row = self._conn.execute("SELECT body FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return bytes(row[0]) if row else None

    def batch_info(self, batch_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT received_at, key_fingerprint, state, expires_at FROM batches WHERE batch_id = ?",
            (batch_id,),
        ).fetchone()
        if row is None:
            return None
        return {"received_at": row[0], "key_fingerprint": row[1], "state": row[2], "expires_at": row[3]}

    def content_seen(self, content_hash: str) -> str | None:
        """Return the batch that first had this content, if any."""
        row = self._conn.execute(
            "SELECT batch_id FROM batch_contents WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        return row[0] if row else None

    def batch_failures(self, batch_id: str) -> list[tuple[int, str, str]]:
        """Return (line number, error, line) of each failed line of a batch."""
        rows = self._conn.execute(
            "SELECT line_number, error, line FROM batch_failures WHERE batch_id = ? ORDER BY line_number",
            (batch_id,),
        ).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def finish_batch(
        self,
        batch_id: str,
        *,
        outcome: dict[str, Any],
        outcome_ts: float,
        failures: list[tuple[int, str, str]],
        content_hash: str | None,
    ) -> StoreChange:
        """Store a batch's outcome event, failed lines and content hash, and mark it done.

        The batch's events were stored before, chunk by chunk, with :meth:`store_events`.
        """
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if failures:
                self._conn.executemany(
                    "INSERT INTO batch_failures (batch_id, line_number, error, line) VALUES (?, ?, ?, ?)",
                    [(batch_id, number, error, line) for number, error, line in failures],
                )
            if content_hash is not None:
                self._conn.execute(
                    "INSERT OR IGNORE INTO batch_contents (content_hash, batch_id) VALUES (?, ?)",
                    (content_hash, batch_id),
                )
            self._conn.execute(
                "INSERT INTO ingest_events (event_id, batch_id, type, error_type, retryable, subaccount_id, ts, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    outcome["event_id"],
                    batch_id,
                    outcome["type"],
                    outcome.get("error_type"),
                    None if "retryable" not in outcome else int(outcome["retryable"]),
                    outcome.get("subaccount_id"),
                    outcome_ts,
                    _dumps(outcome),
                ),
            )
            self._conn.execute("UPDATE batches SET state = 'done' WHERE batch_id = ?", (batch_id,))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return StoreChange(outcome=outcome)

    # -- message events ------------------------------------------------------

    def store_events(self, events: list[NormalisedEvent], batch_id: str | None = None) -> StoreResult:
        """Store events in one transaction (a batch chunk or tracking hits); duplicates by event_id are skipped."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            result = self._store_events(events, batch_id)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return result

    def _existing_event_ids(self, event_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(event_ids):
            rows = self._conn.execute(
                f"SELECT event_id FROM events WHERE event_id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            found.update(row[0] for row in rows)
        return found

    def _load_attributes(self, message_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(set(message_ids))
        attributes: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(wanted):
            rows = self._conn.execute(
                f"SELECT message_id, attributes FROM messages WHERE message_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            attributes.update((row[0], orjson.loads(row[1])) for row in rows)
        return attributes

    def _store_events(self, events: list[NormalisedEvent], batch_id: str | None) -> StoreResult:
        change = StoreChange()
        if not events:
            return StoreResult(0, 0, change)
        existing = self._existing_event_ids([item.event["event_id"] for item in events])
        seen: set[str] = set()
        fresh: list[NormalisedEvent] = []
        duplicates = 0
        for item in events:
            event_id = item.event["event_id"]
            if event_id in existing or event_id in seen:
                duplicates += 1
                continue
            seen.add(event_id)
            fresh.append(item)

        message_ids = {item.event["message_id"] for item in fresh if item.event.get("message_id")}
        attributes = self._load_attributes(message_ids)
        changed_messages: set[str] = set()
        for item in fresh:
            event = item.event
            message_id = event.get("message_id")
            if message_id and is_enrichment_source(event["type"]):
                before = attributes.get(message_id, {})
                after = merge_attributes(before, message_attributes(event), event["type"])
                if after != before:
                    attributes[message_id] = after
                    changed_messages.add(message_id)

        rows = []
        for item in fresh:
            event = item.event
            own = None
            if is_enriched(event["type"]) and event.get("message_id"):
                own = event
                event = apply_enrichment(own, attributes.get(event["message_id"], {}))
            elif event.get("message_id") and "injection_time" not in event:
                injection_time = attributes.get(event["message_id"], {}).get("injection_time")
                if injection_time:
                    event = {**event, "injection_time": injection_time}
                else:
                    # Kept (and indexed) so that a later injection can still add injection_time.
                    own = event
            rows.append(_columns(event, item.timestamp, batch_id, own))
            change.added.append(summarise(event))
        self._conn.executemany(_INSERT_EVENT, rows)

        if changed_messages:
            self._conn.executemany(
                "INSERT OR REPLACE INTO messages (message_id, attributes) VALUES (?, ?)",
                [(message_id, _dumps(attributes[message_id])) for message_id in changed_messages],
            )
            change.updated = self._reenrich(changed_messages, attributes, skip=seen)
        return StoreResult(len(fresh), duplicates, change)

    def _reenrich(
        self, message_ids: set[str], attributes: dict[str, dict[str, Any]], *, skip: set[str]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Apply new message attributes to events stored before them."""
        updated: list[tuple[dict[str, Any], dict[str, Any]]] = []
        updates = []
        for chunk in _chunks(sorted(message_ids)):
            rows = self._conn.execute(
                f"SELECT seq, event_id, own, body FROM events WHERE own IS NOT NULL AND message_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for seq, event_id, own_text, body_text in rows:
                if event_id in skip:
                    continue
                own = orjson.loads(own_text)
                before = orjson.loads(body_text)
                message_attrs = attributes.get(own.get("message_id", ""), {})
                if is_enriched(own["type"]):
                    after = apply_enrichment(own, message_attrs)
                elif "injection_time" in message_attrs:
                    after = {**own, "injection_time": message_attrs["injection_time"]}
                else:
                    continue
                if after == before:
                    continue
                friendly_from = after.get("friendly_from")
                updates.append(
                    (
                        after.get("subaccount_id"),
                        friendly_from.strip().lower() if isinstance(friendly_from, str) else None,
                        after.get("sending_ip"),
                        keyword_text(after.get("campaign_id")),
                        keyword_text(after.get("ip_pool")),
                        keyword_text(after.get("template_id")),
                        keyword_text(after.get("subject")),
                        after.get("transmission_id"),
                        keyword_text(after.get("sending_domain"), domain=True),
                        _dumps(after),
                        seq,
                    )
                )
                updated.append((summarise(before), summarise(after)))
        if updates:
            self._conn.executemany(_UPDATE_EVENT, updates)
            store_logger.debug("re-enriched %d stored events", len(updates))
        return updated

    def search_events(self, query: EventQuery) -> tuple[list[dict[str, Any]], int, Cursor | None]:
        """Return one page of matching events (newest first), the total and the next cursor."""
        where, params = build_where(query)
        return self._page("events", where, params, query.per_page, query.cursor)

    def _page(
        self, table: str, where: str, params: list[Any], per_page: int, cursor: Cursor | None
    ) -> tuple[list[dict[str, Any]], int, Cursor | None]:
        """Return one newest-first page of ``table`` rows matching ``where``, the total and the next cursor."""
        total = self._conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params).fetchone()[0]
        page_where, page_params = where, list(params)
        if cursor is not None:
            page_where += " AND (ts < ? OR (ts = ? AND seq < ?))"
            page_params += [cursor.ts, cursor.ts, cursor.seq]
        rows = self._conn.execute(
            f"SELECT ts, seq, body FROM {table} WHERE {page_where} ORDER BY ts DESC, seq DESC LIMIT ?",
            page_params + [per_page + 1],
        ).fetchall()
        more = len(rows) > per_page
        rows = rows[:per_page]
        next_cursor = Cursor(rows[-1][0], rows[-1][1]) if more and rows else None
        return [orjson.loads(row[2]) for row in rows], total, next_cursor

    def search_ingest_events(
        self,
        *,
        from_ts: float,
        to_ts: float,
        per_page: int,
        cursor: Cursor | None,
        filters: dict[str, list[str]],
    ) -> tuple[list[dict[str, Any]], int, Cursor | None]:
        """Search ingest outcome events, newest first."""
        clauses = ["ts >= ?", "ts < ?"]
        params: list[Any] = [from_ts, to_ts]
        column_by_filter = {
            "events": "type",
            "batch_ids": "batch_id",
            "event_ids": "event_id",
            "error_types": "error_type",
        }
        for name, values in filters.items():
            if not values:
                continue
            if name in column_by_filter:
                clauses.append(f"{column_by_filter[name]} IN ({','.join('?' * len(values))})")
                params.extend(values)
            elif name == "subaccounts":
                clauses.append(f"subaccount_id IN ({','.join('?' * len(values))})")
                params.extend(int(value) for value in values)
            elif name == "retryable":
                clauses.append("retryable = ?")
                params.append(int(values[0] == "true"))
        return self._page("ingest_events", " AND ".join(clauses), params, per_page, cursor)

    def iter_events(self, chunk_size: int = 5000) -> Iterator[list[dict[str, Any]]]:
        """Yield all stored public events in storage order, a chunk at a time."""
        last = 0
        while True:
            rows = self._conn.execute(
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (last, chunk_size)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [orjson.loads(row[1]) for row in rows]

    def recent_outcomes(self, limit: int) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT body FROM ingest_events ORDER BY seq DESC LIMIT ?", (limit,)
        ).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def reset(self) -> None:
        """Delete every batch, event and outcome."""
        self._conn.execute("BEGIN IMMEDIATE")
        for table in RESET_TABLES:
            self._conn.execute(f"DELETE FROM {table}")
        self._conn.execute("COMMIT")
        store_logger.info("store reset at %.3f", time.time())

"""The batch processor: gunzip, split, decode, validate, dedupe, store, outcome.

It runs on the store thread (see :class:`emulator.store.aio.AsyncStore`). Every
batch ends in exactly one ingest outcome event, ``success`` or ``error`` with
``error_type`` ``decompress``, ``empty_batch``, ``duplicate_batch``,
``validation`` or ``system``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import orjson

from emulator.events.normalise import EventInvalid, NormalisedEvent, normalise, unwrap
from emulator.events.timefmt import format_iso
from emulator.ingest.gzipio import DecompressError, gunzip
from emulator.log import ingest_logger
from emulator.randomness import RandomSource
from emulator.store.db import StoreChange, SyncStore

# SparkPost keeps an uploaded batch downloadable for about ten days.
BATCH_RETENTION_SECONDS = 10 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class ProcessorConfig:
    """Settings the processor uses."""

    max_event_age: float
    max_decompressed_bytes: int
    base_url: str


def failures_href(base_url: str, batch_id: str) -> str:
    return f"{base_url}/api/v1/ingest/events/failures/{batch_id}"


def _outcome(batch_id: str, ids: RandomSource, now: float, expires_at: float, error_type: str | None) -> dict[str, Any]:
    outcome: dict[str, Any] = {
        "type": "success" if error_type is None else "error",
        "event_id": ids.uuid4(),
        "batch_id": batch_id,
        "timestamp": format_iso(now),
        "expiration_timestamp": format_iso(expires_at),
        "number_succeeded": 0,
        "number_duplicates": 0,
    }
    if error_type is not None:
        outcome["number_failed"] = 0
        outcome["error_type"] = error_type
        outcome["retryable"] = error_type == "system"
    return outcome


# Events normalised and stored per chunk, to bound memory on large batches.
CHUNK_EVENTS = 5000


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is processed.

    A large batch allocates hundreds of thousands of small dicts, none of them
    in reference cycles. The collector would traverse all of them again and
    again (a profile showed 20 to 30 % of the batch time), so it is paused and
    restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class BatchRun:
    """The processing of one batch, split into short steps that run on the store thread.

    The first step decompresses and classifies the batch. Each later step
    validates and stores one chunk of events in its own transaction, and the
    last one stores the outcome. Between steps the store thread serves other calls,
    so uploads, searches and tracking hits wait for one chunk at most, not for
    the whole batch. The batch stays ``pending`` until its outcome is stored, so
    after a crash it is processed again and the events stored before the crash
    count as duplicates.
    """

    def __init__(self, batch_id: str, config: ProcessorConfig, ids: RandomSource) -> None:
        self.batch_id = batch_id
        self.config = config
        self.ids = ids
        self.now = time.time()
        self.expires_at = self.now + BATCH_RETENTION_SECONDS
        self.stored = 0
        self.duplicates = 0
        self.failures: list[tuple[int, str, str]] = []
        self.accounts: dict[str, set[int]] = {"customer_id": set(), "subaccount_id": set()}
        self.content_hash: str | None = None
        # True when the batch was gone (reset) or already processed at a step.
        self.skipped = False
        self._chunks: Iterator[list[NormalisedEvent]] | None = None

    def step(self, store: SyncStore) -> tuple[bool, StoreChange | None]:
        """Run the next step; return whether the batch is finished and what it changed."""
        info = store.batch_info(self.batch_id)
        if info is None or info["state"] != "pending":
            # A reset removed the batch, or it was processed already.
            self.skipped = True
            return True, None
        with _gc_paused():
            if self._chunks is None:
                return self._begin(store, info)
            chunk = next(self._chunks, None)
            if chunk is not None:
                result = store.store_events(chunk, self.batch_id)
                self.stored += result.stored
                self.duplicates += result.duplicates
                return False, result.change
            return True, self._finish(store, None)

    def _begin(self, store: SyncStore, info: dict[str, Any]) -> tuple[bool, StoreChange | None]:
        self.expires_at = info["received_at"] + BATCH_RETENTION_SECONDS
        body = store.batch_body(self.batch_id) or b""
        try:
            text = gunzip(body, self.config.max_decompressed_bytes)
        except DecompressError as exc:
            ingest_logger.warning("batch %s: decompression failed: %s", self.batch_id, exc)
            self.failures.append((0, str(exc), ""))
            return True, self._finish(store, "decompress")
        del body
        if text.startswith(b"\xef\xbb\xbf"):
            text = text[3:]  # a UTF-8 byte order mark some writers put first
        if not text.strip():
            return True, self._finish(store, "empty_batch")

        content_hash = hashlib.sha256(text).hexdigest()
        first = store.content_seen(content_hash)
        if first is not None:
            ingest_logger.warning("batch %s: same content as batch %s, nothing stored", self.batch_id, first)
            return True, self._finish(store, "duplicate_batch")
        self.content_hash = content_hash
        self._chunks = self._validated_chunks(text)
        return False, None

    def _validated_chunks(self, text: bytes) -> Iterator[list[NormalisedEvent]]:
        chunk: list[NormalisedEvent] = []
        for number, line in enumerate(text.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                self.failures.append((number, f"invalid JSON: {exc}", line.decode("utf-8", "replace")))
                continue
            try:
                grouping, fields = unwrap(document)
                item = normalise(grouping, fields, max_age=self.config.max_event_age, now=self.now)
            except EventInvalid as exc:
                self.failures.append((number, str(exc), line.decode("utf-8", "replace")))
                continue
            except (ValueError, TypeError, OverflowError) as exc:
                # A value the validator did not foresee fails its own line, never the batch.
                ingest_logger.warning("batch %s line %d: unexpected invalid value: %r", self.batch_id, number, exc)
                self.failures.append((number, f"invalid event: {exc}", line.decode("utf-8", "replace")))
                continue
            for name, values in self.accounts.items():
                if name in item.event:
                    values.add(item.event[name])
            chunk.append(item)
            if len(chunk) >= CHUNK_EVENTS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _finish(self, store: SyncStore, error_type: str | None) -> StoreChange:
        """Store the outcome event, the failed lines and the content hash."""
        kind = error_type
        if kind is None and self.failures:
            kind = "validation"
        outcome = _outcome(self.batch_id, self.ids, self.now, self.expires_at, kind)
        outcome["number_succeeded"] = self.stored
        outcome["number_duplicates"] = self.duplicates
        outcome.update(_single_values(self.accounts))
        if kind == "validation":
            outcome["number_failed"] = sum(1 for number, _, _ in self.failures if number > 0)
            outcome["href"] = failures_href(self.config.base_url, self.batch_id)

        change = store.finish_batch(
            self.batch_id,
            outcome=outcome,
            outcome_ts=self.now,
            failures=self.failures,
            content_hash=self.content_hash,
        )
        ingest_logger.info(
            "batch %s: %s%s, %d succeeded, %d failed, %d duplicates",
            self.batch_id,
            outcome["type"],
            f"/{outcome['error_type']}" if "error_type" in outcome else "",
            outcome["number_succeeded"],
            outcome.get("number_failed", 0),
            outcome["number_duplicates"],
        )
        return change


def _single_values(accounts: dict[str, set[int]]) -> dict[str, int]:
    """Return customer_id and subaccount_id when every event that has one agrees."""
    return {name: next(iter(values)) for name, values in accounts.items() if len(values) == 1}


def record_system_error(store: SyncStore, batch_id: str, ids: RandomSource, reason: str) -> StoreChange:
    """Close a batch whose processing crashed with a retryable ``system`` error."""
    info = store.batch_info(batch_id)
    now = time.time()
    received_at = info["received_at"] if info else now
    outcome = _outcome(batch_id, ids, now, received_at + BATCH_RETENTION_SECONDS, "system")
    return store.finish_batch(batch_id, outcome=outcome, outcome_ts=now, failures=[(0, reason, "")], content_hash=None)

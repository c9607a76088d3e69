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
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from emulator.events.normalise import EventInvalid, NormalisedEvent, normalise, unwrap
from emulator.events.timefmt import format_iso
from emulator.ingest.gzipio import DecompressError, gunzip
from emulator.log import ingest_logger
from emulator.randomness import RandomSource
from emulator.store.db import StoreResult, SyncStore

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


def process_batch(store: SyncStore, batch_id: str, config: ProcessorConfig, ids: RandomSource) -> StoreResult | None:
    """Process one stored batch and store its events and outcome.

    Returns None when the batch is no longer stored, because a reset emptied
    the store after the batch was queued, or it was already processed.
    """
    info = store.batch_info(batch_id)
    if info is None or info["state"] != "pending":
        return None
    with _gc_paused():
        return _process_batch(store, batch_id, config, ids)


def _process_batch(store: SyncStore, batch_id: str, config: ProcessorConfig, ids: RandomSource) -> StoreResult:
    body = store.batch_body(batch_id)
    info = store.batch_info(batch_id)
    if body is None or info is None:
        raise KeyError(f"batch {batch_id} is not stored")
    now = time.time()
    expires_at = info["received_at"] + BATCH_RETENTION_SECONDS

    def finish(
        error_type: str | None,
        event_chunks: Iterable[list[NormalisedEvent]] = (),
        failures: list[tuple[int, str, str]] | None = None,
        content_hash: str | None = None,
        accounts: dict[str, set[int]] | None = None,
    ) -> StoreResult:
        failed = failures if failures is not None else []

        def build_outcome(stored: int, duplicates: int) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
            kind = error_type
            if kind is None and failed and content_hash is not None:
                kind = "validation"
            outcome = _outcome(batch_id, ids, now, expires_at, kind)
            outcome["number_succeeded"] = stored
            outcome["number_duplicates"] = duplicates
            if accounts:
                outcome.update(_single_values(accounts))
            if kind == "validation":
                outcome["number_failed"] = sum(1 for number, _, _ in failed if number > 0)
                outcome["href"] = failures_href(config.base_url, batch_id)
            return outcome, failed

        result = store.finish_batch(
            batch_id,
            outcome_ts=now,
            event_chunks=event_chunks,
            build_outcome=build_outcome,
            content_hash=content_hash,
        )
        outcome = result.change.outcome or {}
        ingest_logger.info(
            "batch %s: %s%s, %d succeeded, %d failed, %d duplicates",
            batch_id,
            outcome.get("type"),
            f"/{outcome['error_type']}" if "error_type" in outcome else "",
            outcome.get("number_succeeded", 0),
            outcome.get("number_failed", 0),
            outcome.get("number_duplicates", 0),
        )
        return result

    try:
        text = gunzip(body, config.max_decompressed_bytes)
    except DecompressError as exc:
        ingest_logger.warning("batch %s: decompression failed: %s", batch_id, exc)
        return finish("decompress", failures=[(0, str(exc), "")])
    del body
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]  # a UTF-8 byte order mark some writers put first

    if not text.strip():
        return finish("empty_batch")

    content_hash = hashlib.sha256(text).hexdigest()
    first = store.content_seen(content_hash)
    if first is not None:
        ingest_logger.warning("batch %s: same content as batch %s, nothing stored", batch_id, first)
        return finish("duplicate_batch")

    failures: list[tuple[int, str, str]] = []
    accounts: dict[str, set[int]] = {"customer_id": set(), "subaccount_id": set()}

    def chunks() -> Iterator[list[NormalisedEvent]]:
        chunk: list[NormalisedEvent] = []
        for number, line in enumerate(text.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                failures.append((number, f"invalid JSON: {exc}", line.decode("utf-8", "replace")))
                continue
            try:
                grouping, fields = unwrap(document)
                item = normalise(grouping, fields, max_age=config.max_event_age, now=now)
            except EventInvalid as exc:
                failures.append((number, str(exc), line.decode("utf-8", "replace")))
                continue
            except (ValueError, TypeError, OverflowError) as exc:
                # A value the validator did not foresee fails its own line, never the batch.
                ingest_logger.warning("batch %s line %d: unexpected invalid value: %r", batch_id, number, exc)
                failures.append((number, f"invalid event: {exc}", line.decode("utf-8", "replace")))
                continue
            for name, values in accounts.items():
                if name in item.event:
                    values.add(item.event[name])
            chunk.append(item)
            if len(chunk) >= CHUNK_EVENTS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    return finish(None, chunks(), failures, content_hash, accounts)


def _single_values(accounts: dict[str, set[int]]) -> dict[str, int]:
    """Return customer_id and subaccount_id when every event that has one agrees."""
    return {name: next(iter(values)) for name, values in accounts.items() if len(values) == 1}


def record_system_error(store: SyncStore, batch_id: str, ids: RandomSource, reason: str) -> StoreResult:
    """Close a batch whose processing crashed with a retryable ``system`` error."""
    info = store.batch_info(batch_id)
    now = time.time()
    received_at = info["received_at"] if info else now
    outcome = _outcome(batch_id, ids, now, received_at + BATCH_RETENTION_SECONDS, "system")
    return store.finish_batch(
        batch_id,
        outcome_ts=now,
        event_chunks=(),
        build_outcome=lambda stored, duplicates: (outcome, [(0, reason, "")]),
        content_hash=None,
    )

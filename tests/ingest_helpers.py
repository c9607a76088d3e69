"""Shared helpers for tests that drive the HTTP API of a real emulator server."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import time
from typing import Any

import aiohttp

INGEST_HEADERS = {
    "Authorization": "test-key",
    "Content-Type": "application/x-ndjson",
    "Content-Encoding": "gzip",
}


def ndjson(events: list[dict[str, Any] | str]) -> bytes:
    """Encode events (or raw lines) as NDJSON with a trailing newline."""
    lines = [item if isinstance(item, str) else json.dumps(item) for item in events]
    return ("\n".join(lines) + "\n").encode()


def gz(events: list[dict[str, Any] | str]) -> bytes:
    return gzip.compress(ndjson(events))


def wrap(grouping: str, **fields: Any) -> dict[str, Any]:
    return {"msys": {grouping: fields}}


def message_event(type_: str, event_id: str, message_id: str = "msg-1", **fields: Any) -> dict[str, Any]:
    """An ingest message_event with the required fields and a current timestamp."""
    body = {
        "type": type_,
        "event_id": event_id,
        "message_id": message_id,
        "timestamp": str(int(time.time())),
        "recv_method": "smtp",
        "rcpt_to": "user@example.com",
    }
    body.update(fields)
    return wrap("message_event", **body)


def track_event(type_: str, event_id: str, message_id: str = "msg-1", **fields: Any) -> dict[str, Any]:
    body = {
        "type": type_,
        "event_id": event_id,
        "message_id": message_id,
        "timestamp": str(int(time.time())),
        "delv_method": "esmtp",
        "rcpt_to": "user@example.com",
    }
    body.update(fields)
    return wrap("track_event", **body)


async def post_batch(
    session: aiohttp.ClientSession, base: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    data = io.BytesIO(body) if len(body) > 512 * 1024 else body
    async with session.post(base + "/api/v1/ingest/events", data=data, headers=headers or INGEST_HEADERS) as response:
        return response.status, await response.json(content_type=None)


async def upload(session: aiohttp.ClientSession, base: str, body: bytes) -> str:
    status, payload = await post_batch(session, base, body)
    assert status == 200, payload
    return str(payload["results"]["id"])


async def wait_for_outcome(session: aiohttp.ClientSession, base: str, batch_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(
            base + "/api/v1/events/ingest", params={"batch_ids": batch_id}, headers={"Authorization": "test-key"}
        ) as response:
            payload = await response.json()
        if payload["results"]:
            return dict(payload["results"][0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no outcome for batch {batch_id} within {timeout} s")
        await asyncio.sleep(0.02)


async def ingest(session: aiohttp.ClientSession, base: str, events: list[dict[str, Any] | str]) -> dict[str, Any]:
    """Upload events as one batch and return its outcome."""
    batch_id = await upload(session, base, gz(events))
    return await wait_for_outcome(session, base, batch_id)


async def search(session: aiohttp.ClientSession, base: str, **params: str) -> tuple[int, dict[str, Any]]:
    async with session.get(
        base + "/api/v1/events/message", params=params, headers={"Authorization": "test-key"}
    ) as response:
        return response.status, await response.json()

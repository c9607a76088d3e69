"""Helpers for the tracking tests: corpus access and polling a real server's Events API."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TRACKED_MESSAGE = CORPUS / "messages" / "sparkpost-tracked-newsletter.eml"
UNTRACKED_MESSAGE = CORPUS / "messages" / "sparkypmtatracking-example.eml"
AUTH = {"Authorization": "test-key"}
# Values decoded from the sample message's links; its X-MSFBL header agrees.
SAMPLE_MESSAGE_ID = "0001527d155b119d5ed2"
SAMPLE_RECIPIENT = "test+32991901266478036392@not-gmail.com.bouncy-sink.trymsys.net"
SAMPLE_EXPIRES_AT = 0x5CF8024E


def corpus_bytes(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"corpus file {path} is absent (the shared corpus is not checked out)")
    return path.read_bytes()


def sample_links() -> dict[str, str]:
    """Return the sample message's tracked URLs: initial_open, click, open."""
    text = corpus_bytes(TRACKED_MESSAGE).decode("utf-8")
    urls = re.findall(r'(?:src|href)="(http://click\.hp2demo\.trymsys\.net/[^"]+)"', text)
    assert len(urls) == 3, urls
    return {"initial_open": urls[0], "click": urls[1], "open": urls[2]}


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def search_events(session: aiohttp.ClientSession, base: str, **params: str) -> list[dict[str, Any]]:
    params.setdefault("from", "2000-01-01T00:00:00Z")
    async with session.get(base + "/api/v1/events/message", params=params, headers=AUTH) as response:
        assert response.status == 200, await response.text()
        payload = await response.json()
    return list(payload["results"])


async def wait_for_events(
    session: aiohttp.ClientSession, base: str, count: int, timeout: float = 10.0, **params: str
) -> list[dict[str, Any]]:
    """Poll the Events API until at least ``count`` events match ``params``."""
    deadline = time.monotonic() + timeout
    while True:
        events = await search_events(session, base, **params)
        if len(events) >= count:
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} events for {params}, found {len(events)}: {events}")
        await asyncio.sleep(0.02)


async def upload_injection(session: aiohttp.ClientSession, base: str, message_id: str, recipient: str, **fields: Any) -> None:
    """Ingest a ``reception`` (injection) event and wait until it is searchable."""
    body = {
        "type": "reception",
        "event_id": str(int(hashlib.sha256(message_id.encode()).hexdigest()[:15], 16)),
        "message_id": message_id,
        "timestamp": str(int(time.time())),
        "recv_method": "esmtp",
        "rcpt_to": recipient,
    }
    body.update(fields)
    data = gzip.compress((json.dumps({"msys": {"message_event": body}}) + "\n").encode())
    headers = {**AUTH, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    async with session.post(base + "/api/v1/ingest/events", data=data, headers=headers) as response:
        assert response.status == 200, await response.text()
    await wait_for_events(session, base, 1, messages=message_id, events="injection")

"""Handlers of the Ingest API: upload, download, failures, documentation and samples."""

from __future__ import annotations

import gzip
import time

import orjson
from aiohttp import web

from emulator.api.auth import key_fingerprint, require_key
from emulator.api.events import samples_response
from emulator.api.keys import RANDOM, SETTINGS, STORE, WORKER
from emulator.api.responses import json_response
from emulator.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from emulator.events.docs import ingest_documentation, ingest_samples
from emulator.ingest.processor import BATCH_RETENTION_SECONDS
from emulator.log import ingest_logger

NDJSON = "application/x-ndjson"


async def _read_capped(request: web.Request, limit: int) -> bytes:
    """Read the raw body (never decompressed by aiohttp), refusing more than ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            "request too large",
            description=f"The body is {request.content_length} bytes; the limit is {limit} bytes (5 MiB).",
        )
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                "request too large", description=f"The body exceeds the limit of {limit} bytes (5 MiB)."
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def create_ingest_batch(request: web.Request) -> web.Response:
    """POST /api/v1/ingest/events: check the headers, store the raw batch and return its id."""
    settings = request.app[SETTINGS]
    key = require_key(request, settings)
    content_type = request.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() != NDJSON:
        raise UnsupportedMediaType(
            "Unsupported Content-Type header",
            description=f"Content-Type is {content_type or 'missing'!r}; send {NDJSON}.",
        )
    encoding = request.headers.get("Content-Encoding", "")
    if encoding.strip().lower() != "gzip":
        raise BadRequest(
            "Content-Encoding must be gzip",
            description=f"Content-Encoding is {encoding or 'missing'!r}; compress the NDJSON with gzip and send Content-Encoding: gzip.",
            code="1300",
        )
    body = await _read_capped(request, settings.max_request_bytes)
    batch_id = request.app[RANDOM].uuid4()
    now = time.time()
    await request.app[STORE].call(
        "add_batch",
        batch_id,
        body,
        received_at=now,
        expires_at=now + BATCH_RETENTION_SECONDS,
        key_fingerprint=key_fingerprint(key),
    )
    request.app[WORKER].submit(batch_id)
    ingest_logger.info("batch %s: received %d bytes from %s", batch_id, len(body), request.remote)
    return json_response({"results": {"id": batch_id}})


async def _known_batch(request: web.Request) -> str:
    require_key(request, request.app[SETTINGS])
    batch_id = request.match_info["batch_id"]
    info = await request.app[STORE].call("batch_info", batch_id)
    if info is None or info["expires_at"] < time.time():
        raise NotFound("resource not found", description=f"No ingest batch with id {batch_id!r}.")
    return batch_id


async def get_ingest_batch(request: web.Request) -> web.Response:
    """GET /api/v1/ingest/events/{batch_id}: the uploaded bytes as they arrived."""
    batch_id = await _known_batch(request)
    body = await request.app[STORE].call("batch_body", batch_id)
    return web.Response(
        body=body,
        content_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}.gz"'},
    )


async def get_ingest_batch_failures(request: web.Request) -> web.Response:
    """GET /api/v1/ingest/events/failures/{batch_id}: gzip NDJSON, one failed line each."""
    batch_id = await _known_batch(request)
    failures = await request.app[STORE].call("batch_failures", batch_id)
    lines = b"".join(
        orjson.dumps({"line_number": number, "error": error, "line": line}) + b"\n"
        for number, error, line in failures
    )
    return web.Response(
        body=gzip.compress(lines),
        content_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}-failures.gz"'},
    )


async def get_ingest_documentation(request: web.Request) -> web.Response:
    return json_response({"results": ingest_documentation()})


async def get_ingest_samples(request: web.Request) -> web.Response:
    return samples_response(request, ingest_samples)

"""``emulator send``: upload NDJSON batches to an ingest endpoint, as PowerMTA does."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import sys
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from emulator.config import DEFAULT_URL, env_value

INGEST_PATH = "/api/v1/ingest/events"


def add_send_command(subparsers: argparse._SubParsersAction, env: Mapping[str, str]) -> None:
    parser = subparsers.add_parser(
        "send",
        help="upload .ndjson or .ndjson.gz batches to an ingest endpoint",
        description="Upload each FILE (or standard input when none or '-') as one batch. "
        "Plain NDJSON is gzipped first; gzip files are sent byte for byte.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="batch file; '-' or none reads standard input")
    parser.add_argument(
        "--url",
        default=env_value(env, "--url", DEFAULT_URL, str),
        help=f"emulator base URL or full ingest URL (default {DEFAULT_URL}; EMULATOR_URL)",
    )
    parser.add_argument(
        "--api-key",
        default=env_value(env, "--api-key", "emulator-key", str),
        help="API key sent in the Authorization header (default 'emulator-key'; EMULATOR_API_KEY)",
    )
    parser.add_argument("--wait", action="store_true", help="wait for each batch's outcome and print it")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for an outcome with --wait (default 30)"
    )
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    parser.add_argument(
        "--shift-timestamps",
        action="store_true",
        help="move every event's timestamp forward so the newest event of each batch is now "
        "(for stored sample batches older than the server's --max-event-age)",
    )
    parser.set_defaults(handler=_send)


def ingest_url(url: str) -> str:
    """Accept a base URL, a URL ending in /api/v1, or the full ingest URL."""
    base = url.rstrip("/")
    if base.endswith(INGEST_PATH):
        return base
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]
    return base + INGEST_PATH


def batch_body(data: bytes, name: str = "-") -> bytes:
    """Return the bytes to upload: ``.gz`` files and gzip data as they are, anything else gzipped."""
    if name.endswith(".gz") or data.startswith(b"\x1f\x8b"):
        return data
    return gzip.compress(data)


def shift_timestamps(body: bytes, now: float) -> bytes:
    """Return ``body`` (gzip NDJSON) with timestamps moved so the newest one is ``now``.

    Lines that are not ingest events are kept unchanged; a body that does not
    decompress is returned unchanged, so broken batches stay broken.
    """
    try:
        text = gzip.decompress(body)
    except (OSError, EOFError):
        return body
    documents: list[Any] = []
    newest = None
    for line in text.split(b"\n"):
        try:
            document = orjson.loads(line)
            fields = next(iter(document["msys"].values()))
            stamp = float(fields["timestamp"])
        except Exception:  # noqa: BLE001 - anything that is not an event stays as it is
            documents.append(line)
            continue
        documents.append((document, fields, stamp))
        newest = stamp if newest is None else max(newest, stamp)
    if newest is None:
        return body
    offset = int(now - newest)
    lines = []
    for item in documents:
        if isinstance(item, bytes):
            lines.append(item)
            continue
        document, fields, stamp = item
        fields["timestamp"] = str(int(stamp) + offset)
        lines.append(orjson.dumps(document))
    return gzip.compress(b"\n".join(lines))


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    with open(name, "rb") as handle:
        return handle.read()


async def upload(session: aiohttp.ClientSession, url: str, api_key: str, body: bytes, *, ssl: Any = None) -> str:
    """POST one gzip batch; return its batch id or raise RuntimeError with the error body."""
    headers = {
        "Authorization": api_key,
        "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip",
    }
    # A BytesIO body is streamed, so a large batch does not stall the event loop.
    async with session.post(url, data=io.BytesIO(body), headers=headers, ssl=ssl) as response:
        text = await response.text()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {text.strip()}")
        payload = await response.json(content_type=None)
        return str(payload["results"]["id"])


async def wait_for_outcome(
    session: aiohttp.ClientSession, base: str, api_key: str, batch_id: str, timeout: float, *, ssl: Any = None
) -> dict[str, Any]:
    """Poll the ingest events search until the batch's outcome appears."""
    deadline = time.monotonic() + timeout
    url = base + "/api/v1/events/ingest"
    delay = 0.05
    while True:
        async with session.get(url, params={"batch_ids": batch_id}, headers={"Authorization": api_key}, ssl=ssl) as response:
            payload = await response.json(content_type=None)
        if response.status == 200 and payload.get("results"):
            return dict(payload["results"][0])
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no outcome for batch {batch_id} within {timeout:g} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


def describe_outcome(outcome: dict[str, Any]) -> str:
    text = outcome["type"]
    if outcome.get("error_type"):
        text += f" ({outcome['error_type']})"
    text += f": {outcome.get('number_succeeded', 0)} succeeded"
    if "number_failed" in outcome:
        text += f", {outcome['number_failed']} failed"
    text += f", {outcome.get('number_duplicates', 0)} duplicates"
    return text


async def _send_all(args: argparse.Namespace) -> int:
    url = ingest_url(args.url)
    base = url[: -len(INGEST_PATH)]
    names = args.files or ["-"]
    ssl: Any = False if args.insecure else None
    status = 0
    async with aiohttp.ClientSession() as session:
        for name in names:
            label = "<stdin>" if name == "-" else name
            try:
                body = batch_body(_read(name), name)
                if args.shift_timestamps:
                    body = shift_timestamps(body, time.time())
                batch_id = await upload(session, url, args.api_key, body, ssl=ssl)
            except (OSError, RuntimeError, aiohttp.ClientError) as exc:
                sys.stderr.write(f"{label}: upload failed: {exc}\n")
                status = 1
                continue
            line = f"{label}: batch {batch_id}"
            if args.wait:
                try:
                    outcome = await wait_for_outcome(session, base, args.api_key, batch_id, args.timeout, ssl=ssl)
                    line += " " + describe_outcome(outcome)
                    if outcome["type"] != "success":
                        status = 1
                except (TimeoutError, aiohttp.ClientError) as exc:
                    line += f" outcome unknown: {exc}"
                    status = 1
            sys.stdout.write(line + "\n")
    return status


def _send(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return asyncio.run(_send_all(args))

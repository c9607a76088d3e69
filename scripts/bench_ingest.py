"""Benchmark: ingest throughput from POST until the events are searchable.

Builds gzip NDJSON batches close to the 5 MiB request limit, uploads each to an
``emulator serve`` child process, and waits until the batch outcome exists and
the events are searchable.  The baseline, measured in the same run on the same
bytes, is gunzip plus orjson decoding of every line.  Prints events/s for both,
their ratio (target >= 0.5) and the server's peak RSS.

    python3 scripts/bench_ingest.py [--batches 3] [--target-bytes 4800000]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.process_helpers import ServeProcess  # noqa: E402

CAMPAIGNS = ["spring-sale", "welcome", "winback", "newsletter-weekly", "receipts"]
POOLS = ["pool-a", "pool-b", "transactional"]
DOMAINS = ["gmail.test", "yahoo.test", "outlook.test", "example.net"]


def build_batch(rng: random.Random, first_id: int, target_bytes: int) -> tuple[bytes, int]:
    """Return (gzip body, event count) with realistic reception/delivery events."""
    now = int(time.time())
    lines: list[bytes] = []
    count = 0
    raw = io.BytesIO()
    while True:
        for _ in range(2000):
            # A reception and then a delivery of the same message, as PowerMTA uploads them.
            if count % 2 == 0:
                message = f"0000{now:08x}{rng.getrandbits(32):08x}"
            pool = rng.choice(POOLS)
            fields = {
                "type": "reception" if count % 2 == 0 else "delivery",
                "event_id": str(first_id + count),
                "message_id": message,
                "timestamp": str(now - rng.randrange(3600)),
                "recv_method": "smtp",
                "delv_method": "esmtp",
                "rcpt_to": f"user{rng.getrandbits(40):x}@{rng.choice(DOMAINS)}",
                "msg_from": "bounces@bounces.example.com",
                "friendly_from": "news@example.com",
                "subject": f"Offer {rng.randrange(1000)} just for you",
                "campaign_id": rng.choice(CAMPAIGNS),
                "binding_group": pool,
                "binding": f"vmta-{pool}-{rng.randrange(4)}",
                "sending_ip": f"192.0.2.{rng.randrange(1, 255)}",
                "msg_size": str(rng.randrange(2000, 90000)),
                "subaccount_id": "0",
                "open_tracking": "1",
                "click_tracking": "1",
            }
            line = json.dumps({"msys": {"message_event": fields}}, separators=(",", ":")).encode() + b"\n"
            lines.append(line)
            raw.write(line)
            count += 1
        body = gzip.compress(raw.getvalue(), compresslevel=6)
        if len(body) >= target_bytes:
            # Trim to the target so the body stays under the 5 MiB limit.
            while len(body) > target_bytes:
                keep = int(len(lines) * target_bytes / len(body) * 0.995)
                lines = lines[:keep]
                body = gzip.compress(b"".join(lines), compresslevel=6)
            return body, len(lines)


def baseline_rate(body: bytes, count: int, repeats: int = 3) -> float:
    """Events/s of gunzip + orjson.loads of every line of ``body``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        text = gzip.decompress(body)
        decoded = [orjson.loads(line) for line in text.splitlines() if line]
        times.append(time.perf_counter() - started)
        assert len(decoded) == count
    return count / statistics.median(times)


def request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> dict:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=120) as response:
        return json.loads(response.read())


def emulator_rate(base: str, body: bytes, count: int) -> float:
    """Events/s from the start of the POST until all events are searchable."""
    key = {"Authorization": "bench"}
    started = time.perf_counter()
    reply = request(
        base + "/api/v1/ingest/events",
        data=body,
        headers={**key, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    batch_id = reply["results"]["id"]
    while True:
        outcome = request(f"{base}/api/v1/events/ingest?batch_ids={batch_id}", headers=key)["results"]
        if outcome:
            break
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    if outcome[0]["type"] != "success" or outcome[0]["number_succeeded"] != count:
        raise SystemExit(f"unexpected outcome: {outcome[0]}")
    return count / elapsed


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3, help="batches to upload (default 3)")
    parser.add_argument("--target-bytes", type=int, default=4_800_000, help="gzip size of each batch (default 4800000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=None, help="SQLite file for the server (default: in memory)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    extra = ["--db", args.db] if args.db else []
    server = ServeProcess("--max-event-age", "0", *extra)
    try:
        baseline_rates, emulator_rates = [], []
        for number in range(args.batches):
            body, count = build_batch(rng, 10**12 + number * 10**7, args.target_bytes)
            baseline_rates.append(baseline_rate(body, count))
            emulator_rates.append(emulator_rate(server.url, body, count))
            print(f"batch {number + 1}: {len(body)} bytes gzip, {count} events")
        rss = peak_rss_kib(server.process.pid)
    finally:
        server.close()
    baseline = statistics.median(baseline_rates)
    emulator = statistics.median(emulator_rates)
    print(f"baseline gunzip+orjson: {baseline:,.0f} events/s")
    print(f"emulator POST->searchable: {emulator:,.0f} events/s")
    print(f"ratio: {emulator / baseline:.2f} (target >= 0.5)")
    print(f"server peak RSS: {rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

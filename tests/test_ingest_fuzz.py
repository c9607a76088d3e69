"""Seeded mutations of valid events: every line is stored or fails alone, never the batch."""

from __future__ import annotations

import json
import random

from emulator.api.keys import SERVER_ERRORS
from emulator.events.docs import ingest_samples
from emulator.events.types import GROUPING_BY_PUBLIC, PUBLIC_TYPE_BY_INGEST
from tests.ingest_helpers import ingest, search

ODD_VALUES = [
    None, "", " ", 0, -1, 2**63, -(2**63) - 1, 1.5, float("1e308"), True, False, [], {}, [1, "a"],
    {"nested": {"deeper": [1, 2]}}, "ünïcödé ✓", "a" * 5000, "1e400", "NaN", "-0", "0x10", "\u0000",
]


def mutated_lines(rng: random.Random, count: int) -> list[str]:
    samples = ingest_samples([])
    lines = []
    for number in range(count):
        sample = dict(rng.choice(samples))
        grouping = GROUPING_BY_PUBLIC[PUBLIC_TYPE_BY_INGEST[sample["type"]]]
        sample["event_id"] = f"fuzz-{number}"
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(list(sample))
            if name in ("event_id", "type") and rng.random() < 0.7:
                continue
            sample[name] = rng.choice(ODD_VALUES)
        if rng.random() < 0.1:
            sample[f"unknown_{number}"] = rng.choice(ODD_VALUES)
        document = {"msys": {grouping: sample}}
        lines.append(json.dumps(document, allow_nan=False) if number % 17 else json.dumps(document)[:-rng.randint(1, 5)])
    return lines


async def test_mutated_events_never_fail_the_batch(start_server, http):
    server = await start_server(max_event_age=0)
    rng = random.Random(20261204)
    for round_number in range(4):
        lines = mutated_lines(rng, 150)
        outcome = await ingest(http, server.url, lines)
        assert outcome["type"] in ("success", "error"), outcome
        assert outcome.get("error_type") in (None, "validation"), outcome
        stored = outcome["number_succeeded"] + outcome.get("number_failed", 0) + outcome["number_duplicates"]
        assert stored == len(lines), (round_number, outcome)
    assert server.app[SERVER_ERRORS] == []
    status, page = await search(http, server.url, per_page="10000", **{"from": "1970-01-01T00:00"})
    assert status == 200
    assert page["total_count"] > 0


async def test_odd_query_parameters_never_fail_the_server(server, http):
    rng = random.Random(7)
    names = ["events", "campaigns", "recipients", "from", "to", "per_page", "cursor", "delimiter", "subaccounts", "reasons", "recipient_domains"]
    values = ["", "%", "_", "\\", "a,b,,", "ü", "' OR 1=1 --", "9" * 40, "2024-02-30T00:00", "-1", "initial", ";", "x" * 3000]
    for _ in range(60):
        params = {rng.choice(names): rng.choice(values) for _ in range(rng.randint(1, 3))}
        async with http.get(server.url + "/api/v1/events/message", params=params, headers={"Authorization": "k"}) as response:
            assert response.status in (200, 400), (params, response.status)
            body = await response.json()
            assert ("results" in body) if response.status == 200 else ("errors" in body)
    assert server.app[SERVER_ERRORS] == []

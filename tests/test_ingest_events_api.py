"""GET /api/v1/events/ingest and the documentation and samples endpoints."""

from __future__ import annotations

import gzip

import pytest

from emulator.events.docs import ingest_samples
from emulator.events.types import (
    GROUPING_BY_PUBLIC,
    PUBLIC_TYPE_BY_INGEST,
    PUBLIC_TYPES,
)
from tests.ingest_helpers import ingest, message_event, upload, wait_for_outcome, wrap

KEY = {"Authorization": "k"}


async def outcomes(http, server, **params):
    async with http.get(server.url + "/api/v1/events/ingest", params=params, headers=KEY) as response:
        return response.status, await response.json()


@pytest.fixture
async def three_batches(server, http):
    ok = await ingest(http, server.url, [message_event("reception", "1")])
    bad = await wait_for_outcome(http, server.url, await upload(http, server.url, bytes.fromhex("1f8b0800")))
    partial = await ingest(http, server.url, [message_event("reception", "2", "m2"), "{}"])
    return ok, bad, partial


async def test_filters_by_batch_type_and_error(three_batches, server, http):
    ok, bad, partial = three_batches
    _, page = await outcomes(http, server)
    assert page["total_count"] == 3
    assert [item["batch_id"] for item in page["results"]] == [partial["batch_id"], bad["batch_id"], ok["batch_id"]]
    _, page = await outcomes(http, server, events="success")
    assert [item["batch_id"] for item in page["results"]] == [ok["batch_id"]]
    _, page = await outcomes(http, server, error_types="decompress,validation")
    assert {item["batch_id"] for item in page["results"]} == {bad["batch_id"], partial["batch_id"]}
    _, page = await outcomes(http, server, batch_ids=bad["batch_id"])
    assert page["results"][0]["error_type"] == "decompress"
    _, page = await outcomes(http, server, retryable="false")
    assert page["total_count"] == 2
    _, page = await outcomes(http, server, retryable="true")
    assert page["total_count"] == 0


async def test_paging_and_window(three_batches, server, http):
    _, first = await outcomes(http, server, per_page="2")
    assert len(first["results"]) == 2
    next_link = first["links"]["next"]
    async with http.get(server.url + next_link, headers=KEY) as response:
        second = await response.json()
    assert len(second["results"]) == 1
    assert second["links"] == {}
    _, page = await outcomes(http, server, **{"from": "2000-01-01T00:00", "to": "2000-01-02T00:00"})
    assert page["total_count"] == 0


@pytest.mark.parametrize("name,value", [("events", "done"), ("error_types", "decoding"), ("retryable", "maybe"), ("per_page", "0")])
async def test_invalid_ingest_parameters(server, http, name, value):
    status, payload = await outcomes(http, server, **{name: value})
    assert status == 400
    assert name in payload["errors"][0]["message"]


async def test_ingest_documentation_lists_every_type(server, http):
    async with http.get(server.url + "/api/v1/ingest/events/documentation") as response:
        assert response.status == 200
        results = (await response.json())["results"]
    types = [entry["type"]["sampleValue"] for entry in results]
    assert sorted(types) == sorted(PUBLIC_TYPE_BY_INGEST)
    reception = next(entry for entry in results if entry["type"]["sampleValue"] == "reception")
    assert reception["event_id"]["required"] is True
    assert reception["message_id"]["required"] is True
    assert reception["campaign_id"]["reporting"] is True
    gen_fail = next(entry for entry in results if entry["type"]["sampleValue"] == "gen_fail")
    assert "message_id" not in gen_fail


async def test_every_ingest_sample_is_accepted(start_server, http):
    server = await start_server(max_event_age=0)
    samples = ingest_samples([])
    lines = []
    for number, sample in enumerate(samples):
        public = PUBLIC_TYPE_BY_INGEST[sample["type"]]
        lines.append(wrap(GROUPING_BY_PUBLIC[public], **{**sample, "event_id": str(number)}))
    outcome = await ingest(http, server.url, lines)
    assert outcome["type"] == "success", outcome
    assert outcome["number_succeeded"] == len(PUBLIC_TYPES)


async def test_samples_filter_by_type(server, http):
    async with http.get(server.url + "/api/v1/ingest/events/samples", params={"events": "bounce,open"}) as response:
        results = (await response.json())["results"]
    assert [item["type"] for item in results] == ["inband", "open"]
    async with http.get(server.url + "/api/v1/events/message/samples", params={"events": "bounce"}) as response:
        results = (await response.json())["results"]
    assert results[0]["type"] == "bounce"
    assert results[0]["timestamp"].endswith("+00:00")
    async with http.get(server.url + "/api/v1/events/message/samples", params={"events": "nope"}) as response:
        assert response.status == 400


async def test_events_documentation_shape(server, http):
    async with http.get(server.url + "/api/v1/events/message/documentation") as response:
        results = (await response.json())["results"]
    assert [entry["type"]["sampleValue"] for entry in results] == list(PUBLIC_TYPES)
    bounce = results[0]
    assert bounce["display_name"]["sampleValue"] == "Bounce"
    assert bounce["bounce_class"]["sampleValue"] == "10"
    assert "description" in bounce["raw_reason"]


async def test_health_and_reset(server, http):
    async with http.get(server.url + "/__emulator/health") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ready"
    await ingest(http, server.url, [message_event("reception", "1")])
    async with http.post(server.url + "/__emulator/reset") as response:
        assert response.status == 200
    _, page = await outcomes(http, server)
    assert page["total_count"] == 0
    outcome = await ingest(http, server.url, [message_event("reception", "1")])
    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 1


async def test_failures_file_is_gzip_ndjson_even_when_empty(server, http):
    outcome = await ingest(http, server.url, [message_event("reception", "1")])
    async with http.get(f"{server.url}/api/v1/ingest/events/failures/{outcome['batch_id']}", headers=KEY) as response:
        assert response.status == 200
        assert gzip.decompress(await response.read()) == b""

"""Each batch ends in exactly one ingest outcome event, as SparkPost reports them."""

from __future__ import annotations

import asyncio
import logging
import gzip
import json
import time

import pytest

from tests.ingest_helpers import (
    gz,
    ingest,
    message_event,
    ndjson,
    search,
    track_event,
    upload,
    wait_for_outcome,
    wrap,
)


async def outcome_of(http, server, body: bytes) -> dict:
    return await wait_for_outcome(http, server.url, await upload(http, server.url, body))


async def test_success_outcome_fields(server, http):
    outcome = await ingest(http, server.url, [message_event("reception", "1"), message_event("delivery", "2", delv_method="esmtp")])
    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 2
    assert outcome["number_duplicates"] == 0
    assert "error_type" not in outcome
    assert "number_failed" not in outcome
    assert outcome["timestamp"].endswith("+00:00")
    assert outcome["expiration_timestamp"] > outcome["timestamp"]


async def test_truncated_gzip_is_decompress_error(server, http):
    outcome = await outcome_of(http, server, bytes.fromhex("1f8b0800"))
    assert outcome["type"] == "error"
    assert outcome["error_type"] == "decompress"
    assert outcome["retryable"] is False


async def test_plain_text_is_decompress_error(server, http):
    outcome = await outcome_of(http, server, ndjson([message_event("reception", "1")]))
    assert outcome["error_type"] == "decompress"


async def test_gzip_bomb_is_decompress_error(start_server, http):
    server = await start_server(max_decompressed_bytes=1_000_000)
    outcome = await outcome_of(http, server, gzip.compress(b"\n" * 2_000_000))
    assert outcome["error_type"] == "decompress"


async def test_concatenated_members_are_all_read(server, http):
    body = gz([message_event("reception", "1")]) + gz([message_event("reception", "2", message_id="msg-2")])
    outcome = await outcome_of(http, server, body)
    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 2


@pytest.mark.parametrize("text", [b"", b"\n\n  \n"])
async def test_blank_batch_is_empty_batch(server, http, text):
    outcome = await outcome_of(http, server, gzip.compress(text))
    assert outcome["error_type"] == "empty_batch"


async def test_resent_batch_is_duplicate_batch(server, http):
    body = gz([message_event("reception", "1")])
    first = await outcome_of(http, server, body)
    second = await outcome_of(http, server, body)
    assert first["type"] == "success"
    assert second["type"] == "error"
    assert second["error_type"] == "duplicate_batch"
    assert second["batch_id"] != first["batch_id"]
    status, page = await search(http, server.url)
    assert page["total_count"] == 1


async def test_same_content_other_compression_is_duplicate(server, http):
    text = ndjson([message_event("reception", "1")])
    await outcome_of(http, server, gzip.compress(text, compresslevel=1))
    outcome = await outcome_of(http, server, gzip.compress(text, compresslevel=9))
    assert outcome["error_type"] == "duplicate_batch"


async def test_partly_invalid_batch_keeps_valid_lines(server, http):
    good = message_event("reception", "1")
    banana = {"msys": {"banana": good["msys"]["message_event"]}}
    outcome = await ingest(http, server.url, [good, banana, "{}", "{not json", message_event("delivery", "5", delv_method="esmtp")])
    assert outcome["type"] == "error"
    assert outcome["error_type"] == "validation"
    assert outcome["number_succeeded"] == 2
    assert outcome["number_failed"] == 3
    assert outcome["retryable"] is False
    assert outcome["href"] == f"{server.url}/api/v1/ingest/events/failures/{outcome['batch_id']}"
    _, page = await search(http, server.url)
    assert sorted(event["event_id"] for event in page["results"]) == ["1", "5"]


async def test_failures_download_lists_each_failed_line(server, http):
    outcome = await ingest(http, server.url, [message_event("reception", "1"), '{"msys":{"banana":{}}}', "{}"])
    async with http.get(outcome["href"], headers={"Authorization": "k"}) as response:
        assert response.status == 200
        lines = [json.loads(line) for line in gzip.decompress(await response.read()).splitlines()]
    assert [line["line_number"] for line in lines] == [2, 3]
    assert lines[0]["line"] == '{"msys":{"banana":{}}}'
    assert "banana" in lines[0]["error"]
    assert "msys" in lines[1]["error"]


async def test_duplicate_events_are_counted_not_stored(server, http):
    await ingest(http, server.url, [message_event("reception", "1")])
    outcome = await ingest(http, server.url, [message_event("reception", "1"), message_event("delivery", "2", delv_method="esmtp"), message_event("delivery", "2", delv_method="esmtp", num_retries="1")])
    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 1
    assert outcome["number_duplicates"] == 2
    _, page = await search(http, server.url)
    assert page["total_count"] == 2


REQUIRED_FAILURES = [
    ({"event_id": None}, "event_id"),
    ({"timestamp": None}, "timestamp"),
    ({"message_id": None}, "message_id"),
    ({"recv_method": None}, "recv_method"),
    ({"type": "no_such_type"}, "no_such_type"),
    ({"rcpt_hash": "abc="}, "Missing rcpt_domain on event with rcpt_hash"),
    ({"rcpt_domain": "example.com"}, "Missing rcpt_hash on event with rcpt_domain"),
    ({"timestamp": str(int(time.time()) - 2 * 86400)}, "older than"),
    ({"timestamp": "yesterday"}, "timestamp"),
    ({"subaccount_id": "abc"}, "subaccount_id"),
    ({"subaccount_id": str(2**64)}, "subaccount_id"),
    ({"customer_id": 2**63}, "customer_id"),
    ({"timestamp": str(int(time.time() * 1000))}, "milliseconds"),
    ({"timestamp": "nan"}, "timestamp"),
    ({"timestamp": "-inf"}, "timestamp"),
    ({"injection_time": "1e20"}, "injection_time"),
    ({"open_tracking": "maybe"}, "open_tracking"),
]


@pytest.mark.parametrize("change,message", REQUIRED_FAILURES)
async def test_invalid_event_is_validation_failure(server, http, change, message):
    event = message_event("reception", "1")
    fields = event["msys"]["message_event"]
    for name, value in change.items():
        if value is None:
            del fields[name]
        else:
            fields[name] = value
    outcome = await ingest(http, server.url, [event, message_event("reception", "2", message_id="msg-2")])
    assert outcome["error_type"] == "validation"
    assert outcome["number_failed"] == 1
    assert outcome["number_succeeded"] == 1
    async with http.get(outcome["href"], headers={"Authorization": "k"}) as response:
        failure = json.loads(gzip.decompress(await response.read()).splitlines()[0])
    assert message in failure["error"]


async def test_msys_with_two_groupings_fails(server, http):
    fields = message_event("reception", "1")["msys"]["message_event"]
    outcome = await ingest(http, server.url, [{"msys": {"message_event": fields, "track_event": fields}}])
    assert outcome["error_type"] == "validation"


async def test_generation_events_need_no_message_id(server, http):
    now = str(int(time.time()))
    outcome = await ingest(
        http,
        server.url,
        [
            wrap("gen_event", type="gen_fail", event_id="1", timestamp=now, recv_method="rest", rcpt_to="a@example.com"),
            wrap("gen_event", type="gen_rejection", event_id="2", timestamp=now, recv_method="rest", rcpt_to="b@example.com"),
        ],
    )
    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 2


async def test_hashed_recipient_pair_is_accepted(server, http):
    event = message_event("reception", "1", rcpt_hash="3n3GkUp0Nu4Y1r0Bjb9lHlJVxWs=", rcpt_domain="Example.NET")
    del event["msys"]["message_event"]["rcpt_to"]
    outcome = await ingest(http, server.url, [event])
    assert outcome["type"] == "success"
    _, page = await search(http, server.url, recipient_domains="example.net")
    result = page["results"][0]
    assert result["recipient_domain"] == "example.net"
    assert "rcpt_to" not in result
    assert "raw_rcpt_to" not in result


async def test_max_event_age_zero_accepts_old_events(start_server, http):
    server = await start_server(max_event_age=0)
    outcome = await ingest(http, server.url, [message_event("reception", "1", timestamp="1700000000")])
    assert outcome["type"] == "success"


async def test_values_are_coerced_without_loss(server, http):
    outcome = await ingest(
        http,
        server.url,
        [
            message_event(
                "reception", "1", timestamp=int(time.time()), subaccount_id="7", msg_size=1337,
                open_tracking="1", click_tracking=0, transactional=True, template_version=3.0,
            ),
            message_event("delivery", 2, subaccount_id=7.0, num_retries="0", open_tracking=True, delv_method="esmtp"),
        ],
    )
    assert outcome["type"] == "success"
    assert outcome["subaccount_id"] == 7
    _, page = await search(http, server.url, events="injection")
    event = page["results"][0]
    assert event["subaccount_id"] == 7
    assert event["msg_size"] == "1337"
    assert event["open_tracking"] is True
    assert event["click_tracking"] is False
    assert event["transactional"] == "1"
    assert event["template_version"] == "3"
    _, page = await search(http, server.url, events="delivery")
    assert page["results"][0]["event_id"] == "2"


async def test_unknown_grouping_names_are_reported(server, http):
    outcome = await ingest(http, server.url, [wrap("relay_event", type="relay_injection", event_id="1")])
    assert outcome["error_type"] == "validation"


async def test_track_event_without_recv_method_is_valid(server, http):
    outcome = await ingest(http, server.url, [track_event("open", "1")])
    assert outcome["type"] == "success"


async def test_processing_crash_is_system_error(server, http, monkeypatch):
    from emulator.ingest import processor

    def broken_normalise(*args, **kwargs):
        raise RuntimeError("simulated processor bug")

    monkeypatch.setattr(processor, "normalise", broken_normalise)
    outcome = await ingest(http, server.url, [message_event("reception", "1")])
    assert outcome["error_type"] == "system"
    assert outcome["retryable"] is True
    from emulator.api.keys import SERVER_ERRORS

    errors = server.app[SERVER_ERRORS]
    assert len(errors) == 1
    assert "simulated processor bug" in errors[0]
    errors.clear()


async def test_concurrent_uploads_each_get_one_outcome(server, http):
    batches = [
        gz([message_event("reception", f"{n}-{i}", f"m{n}-{i}") for i in range(50)]) for n in range(20)
    ]
    batch_ids = await asyncio.gather(*(upload(http, server.url, body) for body in batches))
    assert len(set(batch_ids)) == 20
    outcomes = [await wait_for_outcome(http, server.url, batch_id) for batch_id in batch_ids]
    assert all(outcome["type"] == "success" for outcome in outcomes)
    assert sum(outcome["number_succeeded"] for outcome in outcomes) == 1000
    status, page = await search(http, server.url, per_page="1")
    assert page["total_count"] == 1000


async def test_outcome_carries_account_ids(server, http):
    outcome = await ingest(http, server.url, [message_event("reception", "1", customer_id="42", subaccount_id="3")])
    assert outcome["customer_id"] == 42
    assert outcome["subaccount_id"] == 3


async def test_mixed_subaccounts_leave_outcome_without_one(server, http):
    outcome = await ingest(
        http, server.url, [message_event("reception", "1", subaccount_id="3"), message_event("reception", "2", "m2", subaccount_id="4")]
    )
    assert "subaccount_id" not in outcome


async def test_file_database_uses_wal(tmp_path, start_server):
    server = await start_server(db=str(tmp_path / "events.sqlite"))
    mode = await server.store.run(lambda sync: sync._conn.execute("PRAGMA journal_mode").fetchone()[0])
    assert mode == "wal"


async def test_each_outcome_is_logged_once(server, http, caplog):
    caplog.set_level(logging.INFO, logger="emulator.ingest")
    outcome = await ingest(http, server.url, [message_event("reception", "1"), "{}"])
    lines = [record.getMessage() for record in caplog.records if outcome["batch_id"] in record.getMessage()]
    outcome_lines = [line for line in lines if "succeeded" in line]
    assert outcome_lines == [f"batch {outcome['batch_id']}: error/validation, 1 succeeded, 1 failed, 0 duplicates"]


async def test_batch_removed_by_reset_is_skipped(server, http):
    from emulator.api.keys import SERVER_ERRORS, WORKER

    worker = server.app[WORKER]
    await worker.stop()  # hold processing so the reset lands between intake and processing
    batch_id = await upload(http, server.url, gz([message_event("reception", "1")]))
    await server.store.call("reset")
    await worker.start()
    await worker.drain()
    assert server.app[SERVER_ERRORS] == []
    outcome = await search(http, server.url)
    assert outcome[1]["total_count"] == 0
    async with http.get(server.url + "/api/v1/events/ingest", params={"batch_ids": batch_id}, headers={"Authorization": "k"}) as response:
        assert (await response.json())["total_count"] == 0


async def test_deep_nesting_fails_its_line_only(server, http):
    nested: dict = {}
    for _ in range(300):
        nested = {"a": nested}
    outcome = await ingest(http, server.url, [message_event("reception", "1"), message_event("reception", "2", "m2", rcpt_meta=nested)])
    assert outcome["error_type"] == "validation"
    assert outcome["number_succeeded"] == 1
    assert outcome["number_failed"] == 1


async def test_byte_order_mark_is_ignored(server, http):
    body = gzip.compress(b"\xef\xbb\xbf" + ndjson([message_event("reception", "1")]))
    outcome = await outcome_of(http, server, body)
    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 1


async def test_reset_does_not_wait_for_queued_batches(server, http):
    from emulator.api.keys import WORKER

    worker = server.app[WORKER]
    await worker.stop()  # batches stay queued, as under a steady stream of uploads
    for number in range(3):
        await upload(http, server.url, gz([message_event("reception", str(number), f"m{number}")]))

    async def reset() -> int:
        async with http.post(server.url + "/__emulator/reset") as response:
            return response.status

    assert await asyncio.wait_for(reset(), timeout=5) == 200
    await worker.start()
    await worker.drain()
    _, page = await search(http, server.url)
    assert page["total_count"] == 0


async def test_upload_is_answered_while_large_batch_runs(server, http):
    big = gz([message_event("reception", f"big-{n}", f"mb{n}") for n in range(60_000)])
    big_id = await upload(http, server.url, big)
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # wait until the first chunks are stored
        _, page = await search(http, server.url, per_page="1")
        if page["total_count"] > 0:
            break
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    small_id = await upload(http, server.url, gz([message_event("reception", "small", "ms")]))
    async with http.get(server.url + "/api/v1/events/ingest", params={"batch_ids": big_id}, headers={"Authorization": "k"}) as response:
        big_outcomes = (await response.json())["results"]
    assert big_outcomes == [], "the small upload waited for the whole large batch"
    big_outcome = await wait_for_outcome(http, server.url, big_id, timeout=60)
    small_outcome = await wait_for_outcome(http, server.url, small_id)
    assert big_outcome["number_succeeded"] == 60_000
    assert small_outcome["number_succeeded"] == 1

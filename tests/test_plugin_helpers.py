"""The ``sparkpost_emulator`` fixture's HTTP-side helpers: upload, batches, events, addresses, PowerMTA config."""

from __future__ import annotations

import gzip
import re
import time

import orjson
import pytest

from emulator.testing import Emulator, WaitTimeout


def message_events(emulator: Emulator, message_id: str, rcpt_to: str, *types: str) -> list[dict]:
    return [emulator.ingest_event(event_type, message_id=message_id, rcpt_to=rcpt_to) for event_type in types]


def test_fixture_exposes_connection_details(sparkpost_emulator: Emulator) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sparkpost_emulator.url)
    assert sparkpost_emulator.api_key == "emulator-test-key"
    assert sparkpost_emulator.smtp_host == "127.0.0.1"
    assert sparkpost_emulator.smtp_port > 0
    assert sparkpost_emulator.sink_domain == "bouncy-sink.test"
    assert sparkpost_emulator.capture_address is not None
    assert sparkpost_emulator.upload_url == sparkpost_emulator.url + "/api/v1/ingest/events"


def test_upload_list_and_wait_for_batch(sparkpost_emulator: Emulator) -> None:
    message_id = sparkpost_emulator.message_id()
    events = message_events(sparkpost_emulator, message_id, "a@accept.bouncy-sink.test", "reception", "delivery")

    batch_id = sparkpost_emulator.upload(events)
    outcome = sparkpost_emulator.wait_for_batch(batch_id)

    assert outcome["type"] == "success"
    assert outcome["batch_id"] == batch_id
    assert outcome["number_succeeded"] == 2


def test_upload_ndjson_bytes(sparkpost_emulator: Emulator) -> None:
    event = sparkpost_emulator.ingest_event("delivery", message_id=sparkpost_emulator.message_id(), rcpt_to="b@x.test")
    ndjson = orjson.dumps(event) + b"\n"

    outcome = sparkpost_emulator.wait_for_batch(sparkpost_emulator.upload(ndjson))

    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 1


def test_upload_gzip_bytes_sent_unchanged(sparkpost_emulator: Emulator) -> None:
    truncated = gzip.compress(b'{"msys": {}}\n' * 50)[:-12]

    outcome = sparkpost_emulator.wait_for_batch(sparkpost_emulator.upload(truncated))

    assert outcome["type"] == "error"
    assert outcome["error_type"] == "decompress"


def test_upload_rejects_single_event_dict(sparkpost_emulator: Emulator) -> None:
    event = sparkpost_emulator.ingest_event("delivery", message_id="m", rcpt_to="c@x.test")
    with pytest.raises(TypeError, match="wrap it in a list"):
        sparkpost_emulator.upload(event)  # type: ignore[arg-type]


def test_wait_for_events_returns_matching(sparkpost_emulator: Emulator) -> None:
    first, second = sparkpost_emulator.message_id(), sparkpost_emulator.message_id()
    rcpt = "d@accept.bouncy-sink.test"
    sparkpost_emulator.upload(
        message_events(sparkpost_emulator, first, rcpt, "reception", "delivery")
        + message_events(sparkpost_emulator, second, rcpt, "reception", "inband")
    )

    deliveries = sparkpost_emulator.wait_for_events(events="delivery")
    both = sparkpost_emulator.wait_for_events(count=2, messages=[first, second], events=["injection"])
    bounces = sparkpost_emulator.wait_for_events(events="bounce", recipients=rcpt)

    assert [event["message_id"] for event in deliveries] == [first]
    assert sorted(event["message_id"] for event in both) == sorted([first, second])
    assert [event["message_id"] for event in bounces] == [second]
    assert len(sparkpost_emulator.events()) == 4


def test_wait_for_events_timeout_lists_arrivals(sparkpost_emulator: Emulator) -> None:
    message_id = sparkpost_emulator.message_id()
    batch_id = sparkpost_emulator.upload(message_events(sparkpost_emulator, message_id, "e@x.test", "delivery"))
    sparkpost_emulator.wait_for_batch(batch_id)

    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        sparkpost_emulator.wait_for_events(events="bounce", timeout=0.2)
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert "expected at least 1 event(s) matching events='bounce' within 0.2 s, found 0" in message
    assert f"delivery message_id={message_id}" in message
    assert f"batch {batch_id}: success" in message
    assert elapsed < 5


def test_wait_for_batch_timeout_names_batch(sparkpost_emulator: Emulator) -> None:
    with pytest.raises(WaitTimeout, match="no outcome for ingest batch no-such-batch within 0.1 s"):
        sparkpost_emulator.wait_for_batch("no-such-batch", timeout=0.1)


def test_failed_validation_shows_in_wait_message(sparkpost_emulator: Emulator) -> None:
    batch_id = sparkpost_emulator.upload([{"msys": {"message_event": {"type": "delivery"}}}])

    outcome = sparkpost_emulator.wait_for_batch(batch_id)
    with pytest.raises(WaitTimeout) as caught:
        sparkpost_emulator.wait_for_events(timeout=0.1)

    assert outcome["error_type"] == "validation"
    assert f"batch {batch_id}: error error_type=validation" in str(caught.value)


def test_assert_no_events_passes_when_quiet(sparkpost_emulator: Emulator) -> None:
    sparkpost_emulator.upload(message_events(sparkpost_emulator, sparkpost_emulator.message_id(), "f@x.test", "delivery"))

    sparkpost_emulator.assert_no_events(within=0.2, events="bounce")


def test_assert_no_events_fails_on_match(sparkpost_emulator: Emulator) -> None:
    message_id = sparkpost_emulator.message_id()
    sparkpost_emulator.upload(message_events(sparkpost_emulator, message_id, "g@x.test", "inband"))

    with pytest.raises(AssertionError) as caught:
        sparkpost_emulator.assert_no_events(within=2.0, events="bounce")

    assert "expected no events matching events='bounce'" in str(caught.value)
    assert f"bounce message_id={message_id}" in str(caught.value)


def test_event_filters_are_checked(sparkpost_emulator: Emulator) -> None:
    with pytest.raises(TypeError, match="'message_id' is not an Events API filter"):
        sparkpost_emulator.events(message_id="x")


def test_events_time_window_filter(sparkpost_emulator: Emulator) -> None:
    import datetime

    sparkpost_emulator.upload(message_events(sparkpost_emulator, sparkpost_emulator.message_id(), "h@x.test", "delivery"))
    sparkpost_emulator.wait_for_events(events="delivery")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)

    assert sparkpost_emulator.events(from_=later, to=later + datetime.timedelta(hours=1)) == []


def test_address_per_behaviour(sparkpost_emulator: Emulator) -> None:
    oob = sparkpost_emulator.address("oob")
    mixed = sparkpost_emulator.address("mixed", "alice")

    assert re.fullmatch(r"oob-[0-9a-f]{10}@oob\.bouncy-sink\.test", oob)
    assert mixed == "alice@bouncy-sink.test"
    assert sparkpost_emulator.address("fbl", "bob") == "bob@fbl.bouncy-sink.test"
    assert sparkpost_emulator.address("oob") != oob


def test_address_rejects_unknown_behaviour(sparkpost_emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown sink behaviour 'bounced'"):
        sparkpost_emulator.address("bounced")
    with pytest.raises(ValueError, match="local part 'a b' is invalid"):
        sparkpost_emulator.address("accept", "a b")


def test_message_id_is_sparkpost_style(sparkpost_emulator: Emulator) -> None:
    message_id = sparkpost_emulator.message_id()

    assert re.fullmatch(r"0000[0-9a-f]{16}", message_id)
    assert message_id != sparkpost_emulator.message_id()


def test_ingest_event_shape(sparkpost_emulator: Emulator) -> None:
    reception = sparkpost_emulator.ingest_event("reception", message_id="m1", rcpt_to="r@x.test", campaign_id="c")
    click = sparkpost_emulator.ingest_event("click", message_id="m1", rcpt_to="r@x.test")

    body = reception["msys"]["message_event"]
    assert body["type"] == "reception"
    assert body["recv_method"] == "esmtp"
    assert body["campaign_id"] == "c"
    assert 0 <= int(body["event_id"]) < 2**63
    assert abs(int(body["timestamp"]) - time.time()) < 5
    assert click["msys"]["track_event"]["delv_method"] == "esmtp"
    with pytest.raises(ValueError, match="unknown ingest event type 'out_of_band'"):
        sparkpost_emulator.ingest_event("out_of_band", message_id="m1")


def test_pmta_config_points_here(sparkpost_emulator: Emulator) -> None:
    config = sparkpost_emulator.pmta_config()

    assert f"upload-url {sparkpost_emulator.url}/api/v1/ingest/events\n" in config
    assert f"api-key {sparkpost_emulator.api_key}\n" in config
    assert config.count("<signals>") == 1
    assert config.count("</signals>") == 1
    route = f"route [127.0.0.1]:{sparkpost_emulator.smtp_port}"
    assert f"<domain bouncy-sink.test>\n    {route}\n</domain>" in config
    assert f"<domain *.bouncy-sink.test>\n    {route}\n</domain>" in config


def test_reset_empties_events_and_capture(sparkpost_emulator: Emulator) -> None:
    sparkpost_emulator.upload(message_events(sparkpost_emulator, sparkpost_emulator.message_id(), "i@x.test", "delivery"))
    sparkpost_emulator.wait_for_events()

    stale_errors = sparkpost_emulator.reset()

    assert stale_errors == []
    assert sparkpost_emulator.events() == []
    assert sparkpost_emulator.returned_mail() == []
    assert sparkpost_emulator.sink_messages() == []

"""Engagement, complaint, OOB and unsubscribe events take the message's attributes,
whichever batch or order the events arrive in."""

from __future__ import annotations

import pytest

from emulator.events.timefmt import format_iso
from tests.ingest_helpers import ingest, message_event, search, track_event, wrap

INJECTION = message_event(
    "reception", "100", "m1", campaign_id="spring-sale", subject="Spring", binding_group="pool-a",
    transmission_id="t-77", routing_domain="example.com",
    binding="vmta-a", sending_ip="192.0.2.10", template_id="tpl", friendly_from="news@example.com",
    msg_from="bounces@example.com", subaccount_id="4", rcpt_meta={"ref": "A1"}, rcpt_tags=["t1"],
)
LATER_EVENTS = [
    track_event("open", "201", "m1"),
    track_event("click", "202", "m1", target_link_url="https://example.com/x"),
    message_event("outofband", "203", "m1", delv_method="esmtp", bounce_class="10", raw_reason="550 5.1.1 unknown"),
    message_event("feedback", "204", "m1", delv_method="esmtp", fbtype="abuse"),
    wrap("unsubscribe_event", type="list", event_id="205", message_id="m1", timestamp=INJECTION["msys"]["message_event"]["timestamp"], recv_method="esmtp", rcpt_to="user@example.com"),
    wrap("unsubscribe_event", type="link", event_id="206", message_id="m1", timestamp=INJECTION["msys"]["message_event"]["timestamp"], recv_method="esmtp", delv_method="esmtp", rcpt_to="user@example.com"),
    track_event("initial_open", "207", "m1"),
    track_event("amp_open", "208", "m1"),
    track_event("amp_initial_open", "209", "m1"),
    track_event("amp_click", "210", "m1", target_link_url="https://example.com/amp"),
]
ENRICHED_TYPES = "open,click,out_of_band,spam_complaint,list_unsubscribe,link_unsubscribe,initial_open,amp_open,amp_initial_open,amp_click"
ENRICHED = {
    "campaign_id": "spring-sale",
    "subject": "Spring",
    "ip_pool": "pool-a",
    "sending_ip": "192.0.2.10",
    "template_id": "tpl",
    "friendly_from": "news@example.com",
    "msg_from": "bounces@example.com",
    "subaccount_id": 4,
    "sending_domain": "example.com",
    "rcpt_meta": {"ref": "A1"},
    "rcpt_tags": ["t1"],
    "transmission_id": "t-77",
    "routing_domain": "example.com",
}


INJECTION_TIME = format_iso(float(INJECTION["msys"]["message_event"]["timestamp"]))


async def check_enriched(http, server):
    _, page = await search(http, server.url, events=ENRICHED_TYPES)
    assert page["total_count"] == len(LATER_EVENTS)
    for event in page["results"]:
        for name, value in ENRICHED.items():
            assert event.get(name) == value, (event["type"], name)
        assert event["injection_time"] == INJECTION_TIME


@pytest.mark.parametrize(
    "batches",
    [
        pytest.param([[INJECTION], LATER_EVENTS], id="injection-first"),
        pytest.param([LATER_EVENTS, [INJECTION]], id="injection-last"),
        pytest.param([LATER_EVENTS + [INJECTION]], id="same-batch-after"),
    ],
)
async def test_enrichment_in_any_order(server, http, batches):
    for batch in batches:
        outcome = await ingest(http, server.url, batch)
        assert outcome["type"] == "success", outcome
    await check_enriched(http, server)


async def test_filters_see_late_enrichment(server, http):
    await ingest(http, server.url, LATER_EVENTS)
    _, page = await search(http, server.url, campaigns="spring")
    assert page["total_count"] == 0
    await ingest(http, server.url, [INJECTION])
    _, page = await search(http, server.url, campaigns="spring", events="open,click")
    assert page["total_count"] == 2
    _, page = await search(http, server.url, ip_pools="pool-a", sending_ips="192.0.2.10", events="click")
    assert [event["event_id"] for event in page["results"]] == ["202"]


async def test_captured_fields_are_not_overwritten(server, http):
    click = track_event("click", "202", "m1", target_link_url="https://example.com/x", rcpt_to="other@example.com", ip_address="203.0.113.9")
    await ingest(http, server.url, [INJECTION, click])
    _, page = await search(http, server.url, events="click")
    event = page["results"][0]
    assert event["rcpt_to"] == "other@example.com"
    assert event["ip_address"] == "203.0.113.9"
    assert event["target_link_url"] == "https://example.com/x"


async def test_delivery_enriches_when_injection_missing(server, http):
    delivery = message_event("delivery", "300", "m9", delv_method="esmtp", campaign_id="from-delivery", binding_group="pool-d")
    await ingest(http, server.url, [track_event("open", "301", "m9"), delivery])
    _, page = await search(http, server.url, events="open")
    assert page["results"][0]["campaign_id"] == "from-delivery"
    assert page["results"][0]["ip_pool"] == "pool-d"


async def test_injection_wins_over_delivery(server, http):
    delivery = message_event("delivery", "300", "m1", delv_method="esmtp", campaign_id="other")
    await ingest(http, server.url, [delivery, track_event("open", "301", "m1")])
    await ingest(http, server.url, [INJECTION])
    _, page = await search(http, server.url, events="open")
    assert page["results"][0]["campaign_id"] == "spring-sale"


async def test_late_injection_adds_injection_time(server, http):
    delivery = message_event("delivery", "300", "m1", delv_method="esmtp")
    await ingest(http, server.url, [delivery])
    _, page = await search(http, server.url, events="delivery")
    assert "injection_time" not in page["results"][0]
    await ingest(http, server.url, [INJECTION])
    _, page = await search(http, server.url, events="delivery")
    assert page["results"][0]["injection_time"] == INJECTION_TIME

"""Tracking endpoints on a real server: hits become events, the tracker contract, strict mode."""

from __future__ import annotations

import email
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from emulator.api.keys import SERVER_ERRORS
from emulator.app import EmulatorServer
from emulator.config import Settings
from emulator.tracking.codec import TrackedLink, decode_url, encode_path
from emulator.tracking.endpoints import PIXEL_GIF
from emulator.tracking.options import TrackingSettings
from emulator.tracking.wrap import WrapOptions, wrap_message
from tests.tracking_helpers import (
    SAMPLE_MESSAGE_ID,
    SAMPLE_RECIPIENT,
    UNTRACKED_MESSAGE,
    corpus_bytes,
    path_of,
    sample_links,
    search_events,
    upload_injection,
    wait_for_events,
)

SECRET = "server-test-secret"
MESSAGE_ID = "0000aabbccdd00112233"
RECIPIENT = "reader@example.net"


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Any]]:
    servers: list[EmulatorServer] = []

    async def start_server(**tracking: Any) -> EmulatorServer:
        seed = tracking.pop("seed", None)
        tracking.setdefault("secret", SECRET)
        server = EmulatorServer(Settings(port=0, seed=seed, tracking=TrackingSettings(**tracking)))
        await server.start()
        servers.append(server)
        return server

    yield start_server
    for server in reversed(servers):
        errors = list(server.app[SERVER_ERRORS])
        await server.stop()
        assert not errors


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def link_path(server: EmulatorServer, **fields: Any) -> str:
    fields.setdefault("message_id", MESSAGE_ID)
    fields.setdefault("recipient", RECIPIENT)
    url = server.components["tracking"].link_url(TrackedLink(**fields))
    return path_of(url)


async def fetch(
    http: aiohttp.ClientSession, server: EmulatorServer, path: str, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    async with http.request(method, server.url + path, headers=headers, allow_redirects=False) as response:
        body = await response.read()
        return response.status, dict(response.headers), body


async def test_wrapped_message_round_trip(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    await upload_injection(
        http, server.url, MESSAGE_ID, RECIPIENT,
        campaign_id="spring-sale", ip_pool="pool-a", sending_ip="192.0.2.10", subject="Avocados",
    )
    raw = corpus_bytes(UNTRACKED_MESSAGE)
    wrapped = wrap_message(
        raw,
        WrapOptions(tracking_url=server.url, secret=SECRET.encode(), message_id=MESSAGE_ID, recipient=RECIPIENT),
    )
    assert isinstance(wrapped, bytes)
    html_part = [p for p in email.message_from_bytes(wrapped).walk() if p.get_content_type() == "text/html"][0]
    html = html_part.get_payload(decode=True).decode("utf-8")
    urls = re.findall(re.escape(server.url) + r"/(?:q|f/a)/[^\"']+", html)
    by_action: dict[str, str] = {}
    for url in urls:
        by_action.setdefault(decode_url(url).action, url)
    assert set(by_action) == {"initial_open", "open", "click"}

    user_agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"
    for action in ("initial_open", "open"):
        status, headers, body = await fetch(http, server, path_of(by_action[action]), **{"User-Agent": user_agent})
        assert status == 200
        assert body == PIXEL_GIF
        assert headers["Content-Type"] == "image/gif"
        assert "no-cache" in headers["Cache-Control"]
        assert headers["Server"] == "msys-http"
    status, headers, _ = await fetch(http, server, path_of(by_action["click"]), **{"User-Agent": user_agent})
    assert status == 302
    assert headers["Location"] == "https://www.sparkpost.com/platform/signals/"
    assert headers["Server"] == "msys-http"

    events = await wait_for_events(http, server.url, 3, messages=MESSAGE_ID, events="initial_open,open,click")
    by_type = {event["type"]: event for event in events}
    assert set(by_type) == {"initial_open", "open", "click"}
    for event in by_type.values():
        assert event["message_id"] == MESSAGE_ID
        assert event["rcpt_to"] == RECIPIENT
        assert event["user_agent"] == user_agent
        assert event["ip_address"] == "127.0.0.1"
        assert event["delv_method"] == "esmtp"
        assert event["campaign_id"] == "spring-sale"
        assert event["ip_pool"] == "pool-a"
        assert event["sending_ip"] == "192.0.2.10"
        assert event["subject"] == "Avocados"
        assert re.fullmatch(r"[0-9]+", event["event_id"])
    assert by_type["click"]["target_link_url"] == "https://www.sparkpost.com/platform/signals/"
    assert server.components["tracking"].stats() == {
        "opens": 1, "initial_opens": 1, "clicks": 1, "unattributed": 0, "refused": 0, "unsigned": 0,
    }


async def test_injection_after_hit_still_enriches(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    status, _, _ = await fetch(http, server, link_path(server, action="open"))
    assert status == 200
    await wait_for_events(http, server.url, 1, messages=MESSAGE_ID, events="open")
    await upload_injection(http, server.url, MESSAGE_ID, RECIPIENT, campaign_id="late", ip_pool="p2", sending_ip="192.0.2.99")
    events = await wait_for_events(http, server.url, 1, messages=MESSAGE_ID, events="open", campaigns="late")
    assert events[0]["ip_pool"] == "p2"
    assert events[0]["sending_ip"] == "192.0.2.99"


async def test_sample_links_recorded_unsigned(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    links = sample_links()
    for action, url in links.items():
        status, headers, _ = await fetch(http, server, path_of(url), Host="click.hp2demo.trymsys.net")
        assert status == (302 if action == "click" else 200)
        assert headers["Server"] == "msys-http"
    events = await wait_for_events(http, server.url, 3, messages=SAMPLE_MESSAGE_ID)
    by_type = {event["type"]: event for event in events}
    assert set(by_type) == {"initial_open", "open", "click"}
    click = by_type["click"]
    assert click["target_link_url"] == "http://example.com/index.html"
    assert click["target_link_name"] == "More Daily News"
    assert click["subaccount_id"] == 26
    assert click["customer_id"] == 1
    assert click["rcpt_to"] == SAMPLE_RECIPIENT
    assert server.components["tracking"].stats()["unsigned"] == 3


async def test_tracker_contract(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    # The Bouncy Sink probes /f/a and trusts the host only when Server is msys-http.
    for probe in ("/f/a", "/f", "/q", "/f/", "/q/"):
        status, headers, _ = await fetch(http, server, probe)
        assert headers["Server"] == "msys-http", probe
        assert status == (200 if probe.startswith("/q") else 404), probe

    open_path = link_path(server, action="open")
    click_path = link_path(server, action="click", target_url="https://example.com/landing?id=5")
    for method in ("HEAD", "OPTIONS", "POST", "PUT", "DELETE"):
        for path in (open_path, click_path):
            status, headers, _ = await fetch(http, server, path, method=method)
            assert status == 405, (method, path)
            assert headers["Allow"] == "GET"
            assert headers["Server"] == "msys-http"

    status, headers, body = await fetch(http, server, "/q/~~~~")
    assert status == 200
    assert body == PIXEL_GIF
    status, headers, _ = await fetch(http, server, "/f/a/~~~~/AAAA/BBBB")
    assert status == 404
    assert headers["Server"] == "msys-http"
    assert await search_events(http, server.url, messages=MESSAGE_ID) == []
    stats = server.components["tracking"].stats()
    # The five probes carry no token, so only the two bad tokens count.
    assert stats["unattributed"] == 2
    assert stats["opens"] == stats["clicks"] == 0


async def test_any_host_header_accepted(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    path = link_path(server, action="click", target_url="https://example.com/")
    for host in ("click.example.com", "track.customer.example:8443", "localhost"):
        status, headers, _ = await fetch(http, server, path, Host=host)
        assert status == 302, host
        assert headers["Location"] == "https://example.com/"
    await wait_for_events(http, server.url, 3, messages=MESSAGE_ID, events="click")


@pytest.mark.parametrize(
    "target",
    [
        "https://example.com/a%2Fb/%7Euser?x=%41&y=a+b&z=1#frag%20ment",
        "http://example.com/caf\u00e9/\u65e5\u672c?q=\u00fc",
        "https://example.com/" + "x" * 4076,
    ],
)
async def test_location_byte_for_byte(start: Callable[..., Any], http: aiohttp.ClientSession, target: str) -> None:
    server = await start()
    path = link_path(server, action="click", target_url=target)
    async with http.get(server.url + path, allow_redirects=False) as response:
        assert response.status == 302
        raw = dict(response.raw_headers)[b"Location"]
    assert raw == target.encode("utf-8")
    events = await wait_for_events(http, server.url, 1, messages=MESSAGE_ID, events="click")
    assert events[0]["target_link_url"] == target


async def test_target_over_limit_refused(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    target = "https://example.com/" + "x" * 4077
    assert len(target.encode()) == 4097
    status, headers, _ = await fetch(http, server, link_path(server, action="click", target_url=target))
    assert status == 400
    assert "Location" not in headers
    assert server.components["tracking"].stats()["refused"] == 1
    assert await search_events(http, server.url, messages=MESSAGE_ID) == []


async def test_control_characters_in_target_refused(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    path = link_path(server, action="click", target_url="https://example.com/\r\nSet-Cookie: a=b")
    status, headers, _ = await fetch(http, server, path)
    assert status == 400
    assert "Set-Cookie" not in headers
    assert server.components["tracking"].stats()["refused"] == 1


async def test_decodable_token_without_message_id(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    status, _, body = await fetch(http, server, link_path(server, action="open", message_id=None))
    assert status == 200
    assert body == PIXEL_GIF
    status, _, _ = await fetch(http, server, link_path(server, action="click", message_id=None, target_url="https://a.example/"))
    assert status == 404
    assert server.components["tracking"].stats()["unattributed"] == 2


async def test_proxy_and_prefetch_opens_recorded(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    path = link_path(server, action="open")
    agents = [
        "Mozilla/5.0",
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    ]
    for agent in agents:
        status, _, _ = await fetch(http, server, path, **{"User-Agent": agent})
        assert status == 200
    events = await wait_for_events(http, server.url, 2, messages=MESSAGE_ID, events="open")
    assert sorted(event["user_agent"] for event in events) == sorted(agents)
    assert len({event["event_id"] for event in events}) == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}, "203.0.113.7"),
        ({"X-Real-IP": "198.51.100.23"}, "198.51.100.23"),
        ({"X-Forwarded-For": "2001:db8::5", "X-Real-IP": "198.51.100.23"}, "2001:db8::5"),
        ({}, "127.0.0.1"),
    ],
)
async def test_client_address(
    start: Callable[..., Any], http: aiohttp.ClientSession, headers: dict[str, str], expected: str
) -> None:
    server = await start()
    status, _, _ = await fetch(http, server, link_path(server, action="open"), **headers)
    assert status == 200
    events = await wait_for_events(http, server.url, 1, messages=MESSAGE_ID)
    assert events[0]["ip_address"] == expected


async def test_strict_mode(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start(strict=True)
    for action, url in sample_links().items():
        status, headers, _ = await fetch(http, server, path_of(url))
        assert status == 403, action
        assert "Location" not in headers
        assert headers["Server"] == "msys-http"
    forged = TrackedLink(action="click", message_id=MESSAGE_ID, recipient=RECIPIENT, target_url="https://evil.example/")
    forged_url = server.components["tracking"].link_url(forged)
    own = decode_url(forged_url)
    other_key_path = encode_path(own, b"some other key")
    status, headers, _ = await fetch(http, server, other_key_path)
    assert status == 403
    assert "Location" not in headers

    expired = link_path(server, action="open", expires_at=int(time.time()) - 60)
    status, _, _ = await fetch(http, server, expired)
    assert status == 403

    status, headers, _ = await fetch(http, server, link_path(server, action="click", target_url="https://ok.example/"))
    assert status == 302
    assert headers["Location"] == "https://ok.example/"
    events = await wait_for_events(http, server.url, 1, messages=MESSAGE_ID)
    assert [event["type"] for event in events] == ["click"]
    assert await search_events(http, server.url, messages=SAMPLE_MESSAGE_ID) == []
    stats = server.components["tracking"].stats()
    assert stats["refused"] == 5
    assert stats["clicks"] == 1


async def test_expired_link_accepted_when_not_strict(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    status, _, _ = await fetch(http, server, link_path(server, action="open", expires_at=1))
    assert status == 200
    await wait_for_events(http, server.url, 1, messages=MESSAGE_ID, events="open")


async def test_reset_clears_counters(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    server = await start()
    await fetch(http, server, link_path(server, action="open"))
    await fetch(http, server, "/q/bad")
    assert server.components["tracking"].stats()["opens"] == 1
    async with http.post(server.url + "/__emulator/reset") as response:
        assert response.status == 200
    assert set(server.components["tracking"].stats().values()) == {0}


async def test_event_ids_follow_seed(start: Callable[..., Any], http: aiohttp.ClientSession) -> None:
    ids = []
    for _ in range(2):
        server = await start(seed=77)
        await fetch(http, server, link_path(server, action="open"))
        events = await wait_for_events(http, server.url, 1, messages=MESSAGE_ID)
        ids.append(events[0]["event_id"])
    assert ids[0] == ids[1]
    other = await start(seed=78)
    await fetch(http, other, link_path(other, action="open"))
    events = await wait_for_events(http, other.url, 1, messages=MESSAGE_ID)
    assert events[0]["event_id"] != ids[0]


async def test_key_follows_seed_without_secret(start: Callable[..., Any]) -> None:
    first = await start(seed=5, secret=None)
    second = await start(seed=5, secret=None)
    unseeded = await start(secret=None)
    assert first.components["tracking"].secret == second.components["tracking"].secret
    assert unseeded.components["tracking"].secret != first.components["tracking"].secret
    assert "derived from --seed" in " ".join(first.describe())
    assert "random key" in " ".join(unseeded.describe())

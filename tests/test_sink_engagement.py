"""Opens and clicks: the sink reads the HTML part and requests tracked URLs from the emulator."""

from __future__ import annotations

import base64
import collections
import quopri
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulator.app import EmulatorServer
from emulator.sink.engagement import Engager, find_links, html_part
from emulator.tracking.options import TrackingSettings
from emulator.tracking.wrap import WrapOptions, wrap_message
from tests.sink_helpers import (
    CaptureServer,
    RawClient,
    start_emulator,
    wait_for,
    wait_for_async,
)

SENDER = "bounces@pmta.example.com"
SECRET = "sink-test-secret"
HTML = (
    "<html><body><p>Grüße, café</p>"
    '<a href="https://shop.example.com/sale?x=1&amp;y=2">Sale</a> '
    '<a href="https://docs.example.com/help">Help</a> '
    '<a href="mailto:help@example.com">Mail</a>'
    '<img src="https://cdn.example.com/logo.png">'
    "</body></html>"
)


def message(rcpt: str, html: str = HTML, *, charset: str = "utf-8", encoding: str = "quoted-printable") -> bytes:
    body = html.encode(charset)
    if encoding == "base64":
        encoded = base64.encodebytes(body)
    else:
        encoded = quopri.encodestring(body)
    return (
        f"From: news@pmta.example.com\r\nTo: {rcpt}\r\nSubject: engage\r\n"
        "Message-ID: <engage-1@pmta.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n"
        f"--b1\r\nContent-Type: text/html; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode() + encoded.replace(b"\n", b"\r\n") + b"\r\n--b1--\r\n"


def tracked(rcpt: str, message_id: str, **kwargs: Any) -> bytes:
    options = WrapOptions(
        tracking_url="http://click.pmta.example.com", secret=SECRET.encode(), message_id=message_id, recipient=rcpt
    )
    return wrap_message(message(rcpt, **kwargs), options)  # type: ignore[return-value]


@pytest.fixture
async def emulator(capture: CaptureServer) -> AsyncIterator[EmulatorServer]:
    server = await start_emulator(capture.port, tracking=TrackingSettings(secret=SECRET))
    yield server
    await server.stop()


async def send(server: EmulatorServer, rcpt: str, body: bytes) -> str | None:
    client = await RawClient.connect(server.components["sink"].port)
    await client.command("EHLO pmta.example.com")
    _, final = await client.transaction(SENDER, [rcpt], body)
    await client.close()
    return final


@pytest.mark.parametrize(
    ("charset", "encoding"), [("utf-8", "quoted-printable"), ("iso-8859-1", "base64"), ("utf-8", "base64")]
)
def test_find_links_any_charset_and_encoding(charset: str, encoding: str) -> None:
    raw = tracked("r@openclick.bouncy-sink.test", "00001111222233334444", charset=charset, encoding=encoding)
    text = html_part(raw)
    assert text is not None and "Grüße" in text
    page = find_links(text)
    assert len(page.pixels) == 2
    assert all("/q/" in url for url in page.pixels)
    assert len(page.links) == 2
    assert all("/f/" in url for url in page.links)
    # Images other than the pixels are not tracked by SparkPost either.
    assert page.unattributed == ["https://cdn.example.com/logo.png"]


def test_untracked_links_are_unattributed() -> None:
    page = find_links(HTML)
    assert page.pixels == []
    assert page.links == []
    assert page.unattributed == [
        "https://cdn.example.com/logo.png",
        "https://shop.example.com/sale?x=1&y=2",
        "https://docs.example.com/help",
    ]


async def test_openclick_produces_events(emulator: EmulatorServer) -> None:
    rcpt = "reader@openclick.bouncy-sink.test"
    message_id = "0000aabbccdd00112233"
    assert (await send(emulator, rcpt, tracked(rcpt, message_id)) or "").startswith("250")
    sink = emulator.components["sink"]
    await sink.wait_idle()

    async def events() -> list[dict[str, Any]] | None:
        url = f"{emulator.url}/api/v1/events/message"
        params = {"events": "open,initial_open,click", "recipients": rcpt}
        async with aiohttp.ClientSession() as session:
            async with session.get(url, params=params, headers={"Authorization": "test"}) as response:
                body = await response.json()
        results = body.get("results", [])
        return results if len(results) >= 4 else None

    found = await wait_for_async(events, what="open and click events in the events API")
    types = sorted(event["type"] for event in found)
    assert types == ["click", "click", "initial_open", "open"]
    assert all(event["message_id"] == message_id for event in found)
    user_agents = {event.get("user_agent") for event in found}
    assert len(user_agents) == 1
    assert "Mozilla/5.0" in str(user_agents.pop())

    [stored] = sink.messages.search(behaviour="openclick")
    actions = [action["action"] for action in stored.recipients[0].actions]
    assert actions == ["unattributed_links", "open", "click"]
    stats = sink.stats()["actions"]
    assert stats["opens"] == 1
    assert stats["open_requests"] == 2
    assert stats["clicks"] == 2
    assert stats["click_requests"] == 2
    assert stats["unattributed_links"] == 1


async def test_untracked_links_counted_not_fetched(emulator: EmulatorServer) -> None:
    rcpt = "plain@openclick.bouncy-sink.test"
    await send(emulator, rcpt, message(rcpt))
    sink = emulator.components["sink"]
    await wait_for(lambda: sink.counters["unattributed_links"] == 3, what="unattributed links to be counted")
    await sink.wait_idle()
    stats = sink.stats()["actions"]
    assert stats["open_requests"] == 0
    assert stats["click_requests"] == 0
    assert stats["no_tracking_pixel"] == 1


async def test_message_without_html_counted(emulator: EmulatorServer) -> None:
    rcpt = "text@openclick.bouncy-sink.test"
    await send(emulator, rcpt, b"Subject: text only\r\nTo: text@openclick.bouncy-sink.test\r\n\r\nno html\r\n")
    sink = emulator.components["sink"]
    await wait_for(lambda: sink.counters["no_html"] == 1, what="the missing HTML part to be counted")


async def test_fetch_keeps_original_host_header() -> None:
    # A plain aiohttp server takes the place of the emulator's HTTP server and records each request.
    seen: list[tuple[str, str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers["Host"], request.headers["User-Agent"]))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    counters: collections.Counter[str] = collections.Counter()
    engager = Engager(lambda: f"http://127.0.0.1:{port}", random.Random(3), counters)
    try:
        raw = tracked("host@openclick.bouncy-sink.test", "00001111222233334444")
        actions = await engager.engage(raw, "m1", opens=1, clicks=1)
    finally:
        await engager.close()
        await runner.cleanup()

    assert [action["action"] for action in actions] == ["unattributed_links", "open", "click"]
    assert len(seen) == 4
    assert [path[:3] for path, _, _ in seen] == ["/q/", "/q/", "/f/", "/f/"]
    assert {host for _, host, _ in seen} == {"click.pmta.example.com"}
    assert all(agent.startswith("Mozilla/5.0") for _, _, agent in seen)

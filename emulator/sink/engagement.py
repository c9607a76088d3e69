"""Opens and clicks: fetch a message's tracking pixels and links from the emulator.

The HTML part is read in whatever charset and transfer encoding it has.  Every
``<img src>`` and ``<a href>`` whose path is a tracking path is requested from
the emulator's own HTTP server with the link's original ``Host`` header, so
nothing ever leaves the machine.  Redirects are not followed because they lead
to the real target.  Other http(s) URLs are counted as unattributed and never
requested.  Opens always come before clicks.
"""

from __future__ import annotations

import collections
import dataclasses
import email.policy
import html.parser
import random
import urllib.parse
from collections.abc import Callable

import aiohttp

from emulator.log import tracking_logger
from emulator.sink.agents import USER_AGENTS

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)
TRACKING_PREFIXES = ("/q/", "/f/")


def is_tracking_path(path: str) -> bool:
    """Return whether ``path`` is an open or click tracking path."""
    try:
        from emulator.tracking.codec import is_tracking_path as codec_check
    except ImportError:
        # The tracking codec is optional at import time; its prefixes are /q/ and /f/.
        return path.startswith(TRACKING_PREFIXES)
    return bool(codec_check(path))


class _LinkCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.images.append(values["src"].strip())  # type: ignore[union-attr]
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"].strip())  # type: ignore[union-attr]

    handle_startendtag = handle_starttag


@dataclasses.dataclass
class PageLinks:
    """Tracked pixels and links of one HTML part, and the http(s) URLs that are not tracked."""

    pixels: list[str]
    links: list[str]
    unattributed: list[str]


def html_part(raw: bytes) -> str | None:
    """Return the decoded text of the message's HTML part, or None when it has none."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(preferencelist=("html",))
    if body is None:
        return None
    try:
        return str(body.get_content())
    except (LookupError, UnicodeError):
        # Unknown or wrong charset: decode the transfer encoding and keep the bytes readable.
        payload = body.get_payload(decode=True) or b""
        return payload.decode("latin-1")


def find_links(html_text: str) -> PageLinks:
    """Split the HTML's image and anchor URLs into tracked pixels, tracked links and the rest."""
    collector = _LinkCollector()
    collector.feed(html_text)
    collector.close()
    found = PageLinks([], [], [])
    for urls, tracked in ((collector.images, found.pixels), (collector.links, found.links)):
        for url in urls:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                continue
            if is_tracking_path(parts.path):
                tracked.append(url)
            else:
                found.unattributed.append(url)
    return found


class Engager:
    """Performs the open and click passes of one message recipient."""

    def __init__(
        self,
        base_url: Callable[[], str],
        rng: random.Random,
        counters: collections.Counter[str],
    ) -> None:
        self.base_url = base_url
        self.rng = rng
        self.counters = counters
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=FETCH_TIMEOUT, auto_decompress=True)
        return self._session

    async def engage(self, raw: bytes, message_id: str, opens: int, clicks: int) -> list[dict[str, object]]:
        """Open ``opens`` times, then click every tracked link ``clicks`` times; return the actions taken."""
        text = html_part(raw)
        if text is None:
            self.counters["no_html"] += 1
            tracking_logger.info("message %s has no HTML part, nothing to open or click", message_id)
            return [{"action": "no_html"}]
        page = find_links(text)
        self.counters["unattributed_links"] += len(page.unattributed)
        agent = self.rng.choice(USER_AGENTS)
        actions: list[dict[str, object]] = []
        if page.unattributed:
            actions.append({"action": "unattributed_links", "count": len(page.unattributed)})
        if opens and not page.pixels:
            self.counters["no_tracking_pixel"] += 1
        for _ in range(opens if page.pixels else 0):
            statuses = [await self._fetch(url, agent, message_id, "open") for url in page.pixels]
            self.counters["opens"] += 1
            actions.append({"action": "open", "statuses": statuses, "user_agent": agent})
        for _ in range(clicks if page.links else 0):
            statuses = [await self._fetch(url, agent, message_id, "click") for url in page.links]
            self.counters["clicks"] += len(page.links)
            actions.append({"action": "click", "statuses": statuses, "user_agent": agent})
        return actions

    async def _fetch(self, url: str, agent: str, message_id: str, kind: str) -> int:
        parts = urllib.parse.urlsplit(url)
        local = self.base_url().rstrip("/") + urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        headers = {"Host": parts.netloc, "User-Agent": agent, "Accept": "*/*"}
        self.counters[f"{kind}_requests"] += 1
        try:
            async with self._client().get(local, headers=headers, allow_redirects=False) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.counters["fetch_failures"] += 1
            tracking_logger.warning("%s request for message %s to %s failed: %s", kind, message_id, local, exc)
            return 0
        if status >= 400:
            self.counters["fetch_failures"] += 1
            tracking_logger.warning("%s request for message %s to %s returned %d", kind, message_id, local, status)
        return status

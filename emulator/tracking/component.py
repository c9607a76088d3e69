"""The tracking component: signing key, hit counters and event recording."""

from __future__ import annotations

import time
import traceback
from aiohttp import web

from emulator.api.keys import RANDOM, SERVER_ERRORS, SETTINGS, STORE, base_url
from emulator.events.normalise import EventInvalid
from emulator.log import tracking_logger
from emulator.tracking.codec import TrackedLink, encode_path
from emulator.tracking.hits import PROBE, RECORD, REFUSED, Verdict, build_event, judge_hit
from emulator.tracking.options import TrackingSettings, signing_key

COUNTERS = ("opens", "initial_opens", "clicks", "unattributed", "refused", "unsigned")
_COUNTER_BY_ACTION = {"open": "opens", "initial_open": "initial_opens", "click": "clicks"}


class TrackingComponent:
    """Checks tracked-link hits, stores their events and counts them.

    ``stats()`` returns the counters: ``opens``, ``initial_opens`` and
    ``clicks`` count recorded events, ``unattributed`` counts hits that could
    not be tied to a message, ``refused`` counts hits rejected by policy, and
    ``unsigned`` counts recorded hits whose signature did not verify.  Probes
    without a token (``GET /f/a``) are not counted.
    """

    def __init__(self, app: web.Application) -> None:
        self.app = app
        settings = app[SETTINGS]
        self.settings: TrackingSettings = settings.tracking
        self.secret = signing_key(self.settings.secret, settings.seed)
        if self.settings.secret:
            self.key_source = "--tracking-secret"
        elif settings.seed is not None:
            self.key_source = "a key derived from --seed"
        else:
            self.key_source = "a random key"
        self._random = app[RANDOM].child("tracking").random
        self._counters = dict.fromkeys(COUNTERS, 0)

    async def start(self) -> None:
        tracking_logger.debug("tracking endpoints ready on %s", self.base_url)

    async def stop(self) -> None:
        return None

    def reset(self) -> None:
        self._counters = dict.fromkeys(COUNTERS, 0)

    def describe(self) -> list[str]:
        mode = "strict" if self.settings.strict else "unsigned links accepted"
        return [
            f"tracking on {self.base_url}/q/ (opens) and {self.base_url}/f/a/ (clicks), "
            f"links signed with {self.key_source}, {mode}"
        ]

    def stats(self) -> dict[str, int]:
        """Return a copy of the hit counters."""
        return dict(self._counters)

    @property
    def base_url(self) -> str:
        return base_url(self.app)

    def link_url(self, link: TrackedLink, tracking_url: str | None = None) -> str:
        """Return the full signed URL of ``link`` on ``tracking_url`` (default: this server)."""
        return (tracking_url or self.base_url).rstrip("/") + encode_path(link, self.secret)

    def judge(self, path: str) -> Verdict:
        """Decode and check one hit's path under the current settings."""
        return judge_hit(
            path,
            secret=self.secret,
            strict=self.settings.strict,
            now=time.time(),
            max_target_bytes=self.settings.max_target_bytes,
        )

    async def record(self, verdict: Verdict, *, user_agent: str | None, ip_address: str | None) -> None:
        """Count a judged hit and, when it is attributed and allowed, store its event."""
        link = verdict.link
        if verdict.kind == PROBE:
            tracking_logger.debug("tracker probe from %s", ip_address)
            return
        if verdict.kind != RECORD or link is None:
            counter = "refused" if verdict.kind == REFUSED else "unattributed"
            self._counters[counter] += 1
            tracking_logger.info(
                "%s tracking hit from %s (message %s): %s",
                counter,
                ip_address,
                link.message_id if link else None,
                verdict.reason,
            )
            return

        try:
            event = build_event(
                link,
                event_id=str(self._random.randrange(1, 1 << 63)),
                timestamp=time.time(),
                user_agent=user_agent,
                ip_address=ip_address,
            )
        except EventInvalid as exc:
            self._counters["unattributed"] += 1
            tracking_logger.info("unattributed tracking hit for message %s: %s", link.message_id, exc)
            return
        self._counters[_COUNTER_BY_ACTION[link.action]] += 1
        if link.signature_valid is False:
            self._counters["unsigned"] += 1
        tracking_logger.debug(
            "%s of message %s by %s from %s", link.action, link.message_id, link.recipient, ip_address
        )
        try:
            await self.app[STORE].store_events([event])
        except Exception as exc:
            # The recipient still gets the pixel or the redirect; the failure
            # is logged and reported to the test run.
            tracking_logger.exception("storing the %s event of message %s failed", link.action, link.message_id)
            self.app[SERVER_ERRORS].append(f"tracking store_events: {exc!r}\n{traceback.format_exc()}")


"""Asynchronous operations behind the test helpers; they run on the harness loop.

Everything goes through the emulator's HTTP API (SparkPost's Ingest and
Events APIs and the ``/__emulator/`` control plane), so the same helpers work
against an emulator in this process and against one running elsewhere.  Only
returned mail comes from the capture listener object directly.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import aiohttp

from emulator.store.search import ALL_FILTERS
from emulator.testing.events import EventsOrBytes, encode_batch
from emulator.testing.harness import EmulatorHarness, FeatureUnavailable, HarnessError
from emulator.testing.returned import ReturnedMail, parse_returned_mail
from emulator.testing.waiting import WaitTimeout, poll

EVENT_FILTERS = frozenset(ALL_FILTERS) | {"from", "to"}
SINK_FILTERS = frozenset({"recipient", "behaviour"})
RETURNED_KINDS = ("dsn", "arf", "other")
# Pages followed when collecting search results, so a runaway cursor cannot loop forever.
MAX_PAGES = 100
# Items listed in a failure message before it ends with "and N more".
LISTED_ITEMS = 30


class EmulatorHttpError(HarnessError):
    """The emulator responded to a helper's request with an error status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} returned HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


def query_value(value: Any) -> str:
    """Encode one filter value: lists are comma-joined, datetimes become UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(query_value(item) for item in value)
    return str(value)


def event_query(filters: Mapping[str, Any]) -> dict[str, str]:
    """Translate keyword filters into Events API query parameters (``from_`` means ``from``).

    :raises TypeError: for a name that is not an Events API filter.
    """
    query: dict[str, str] = {}
    for name, value in filters.items():
        key = "from" if name == "from_" else name
        if key not in EVENT_FILTERS:
            known = ", ".join(sorted(EVENT_FILTERS - {"from"} | {"from_"}))
            raise TypeError(f"{name!r} is not an Events API filter; use one of: {known}")
        if value is None:
            continue
        query[key] = query_value(value)
    return query


def describe_filters(filters: Mapping[str, Any]) -> str:
    if not filters:
        return "(no filters)"
    return ", ".join(f"{name}={value!r}" for name, value in filters.items())


def event_line(event: Mapping[str, Any]) -> str:
    """Return one line naming an event: type, message id, recipient, time and the fields that matter."""
    parts = [
        str(event.get("type")),
        f"message_id={event.get('message_id')}",
        f"rcpt_to={event.get('rcpt_to')}",
        f"timestamp={event.get('timestamp')}",
    ]
    for name in ("campaign_id", "bounce_class", "reason", "target_link_url"):
        if event.get(name):
            parts.append(f"{name}={event[name]}")
    return " ".join(parts)


def outcome_line(outcome: Mapping[str, Any]) -> str:
    parts = [f"batch {outcome.get('batch_id')}: {outcome.get('type')}"]
    for name in ("error_type", "number_succeeded", "number_failed", "number_duplicates", "retryable"):
        if name in outcome:
            parts.append(f"{name}={outcome[name]}")
    return " ".join(parts)


def sink_message_line(message: Mapping[str, Any]) -> str:
    recipients = []
    for record in message.get("recipients") or []:
        actions = ",".join(str(action.get("action")) for action in record.get("actions") or [])
        recipients.append(f"{record.get('address')} [{record.get('behaviour')}/{record.get('status')}"
                          f"{' ' + actions if actions else ''}]")
    return (
        f"{message.get('id')} from <{message.get('mail_from')}> reply={message.get('reply')!r} "
        f"message_id={message.get('message_id')} " + "; ".join(recipients)
    )


def error_summary(error: str) -> str:
    """Return the line of a traceback text that names the error."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return "(empty traceback)"
    return lines[-1].strip() if lines[0].startswith("Traceback") else lines[0].strip()


def listing(title: str, lines: list[str]) -> str:
    if not lines:
        return f"{title}: none"
    listed = lines[:LISTED_ITEMS]
    text = f"{title} ({len(lines)}):\n" + "\n".join(f"  - {line}" for line in listed)
    if len(lines) > len(listed):
        text += f"\n  ... and {len(lines) - len(listed)} more"
    return text


class EmulatorClient:
    """The helpers' operations as coroutines for the harness loop."""

    def __init__(self, harness: EmulatorHarness) -> None:
        self.harness = harness

    # -- HTTP plumbing ----------------------------------------------------------

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self.harness.http is None:
            raise HarnessError("the emulator harness is not running; call start() first")
        return self.harness.http

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        url = path if path.startswith("http") else self.harness.url + path
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = self.harness.api_key
        async with self._http.request(method, url, params=params, data=data, headers=all_headers) as response:
            body = await response.read()
            if response.status >= 400:
                raise EmulatorHttpError(method, str(response.url), response.status, body.decode("utf-8", "replace"))
            return await response.json(content_type=None)

    async def _collect(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """Return every result of a paged search, following ``links.next``."""
        results: list[dict[str, Any]] = []
        body = await self._request("GET", path, params=params)
        for _ in range(MAX_PAGES):
            results.extend(body.get("results") or [])
            next_link = (body.get("links") or {}).get("next")
            if not next_link:
                break
            body = await self._request("GET", next_link if next_link.startswith("http") else self.harness.url + next_link)
        return results

    # -- control plane ---------------------------------------------------------------

    async def reset(self) -> list[str]:
        """Empty the emulator's store and the sink, clear the capture listener.

        Returns the server-side errors recorded since the last check, which
        belong to no test.
        """
        await self._request("POST", "/__emulator/reset", auth=False)
        if self.harness.capture is not None:
            self.harness.capture.clear()
        return await self.harness.take_server_errors()

    # -- ingest ---------------------------------------------------------------------

    async def upload(self, events_or_bytes: EventsOrBytes) -> str:
        body = encode_batch(events_or_bytes)
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        result = await self._request("POST", "/api/v1/ingest/events", data=body, headers=headers)
        return str(result["results"]["id"])

    async def batch_outcome(self, batch_id: str) -> dict[str, Any] | None:
        results = await self._collect("/api/v1/events/ingest", {"batch_ids": batch_id})
        return results[0] if results else None

    async def ingest_outcomes(self) -> list[dict[str, Any]]:
        return await self._collect("/api/v1/events/ingest", {})

    async def wait_for_batch(self, batch_id: str, timeout: float) -> dict[str, Any]:
        found, outcome = await poll(lambda: self.batch_outcome(batch_id), lambda result: result is not None, timeout)
        if not found or outcome is None:
            outcomes = [outcome_line(item) for item in await self.ingest_outcomes()]
            raise WaitTimeout(
                f"no outcome for ingest batch {batch_id} within {timeout} s\n" + listing("Batch outcomes so far", outcomes)
            )
        return outcome

    # -- events -----------------------------------------------------------------------

    async def events(self, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        return await self._collect("/api/v1/events/message", event_query(filters))

    async def wait_for_events(self, count: int, timeout: float, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        query = event_query(filters)
        found, matching = await poll(
            lambda: self._collect("/api/v1/events/message", query), lambda result: len(result) >= count, timeout
        )
        if found:
            return matching
        raise WaitTimeout(
            f"expected at least {count} event(s) matching {describe_filters(filters)} within {timeout} s, "
            f"found {len(matching)}\n" + await self.arrivals_text()
        )

    async def assert_no_events(self, within: float, filters: Mapping[str, Any]) -> None:
        query = event_query(filters)
        found, matching = await poll(
            lambda: self._collect("/api/v1/events/message", query), lambda result: len(result) > 0, within
        )
        if found:
            lines = [event_line(event) for event in matching]
            raise AssertionError(
                f"expected no events matching {describe_filters(filters)} within {within} s\n"
                + listing("Matching events", lines)
            )

    # -- sink ----------------------------------------------------------------------

    async def sink_messages(self, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        params: dict[str, str] = {}
        for name, value in filters.items():
            if name not in SINK_FILTERS:
                raise TypeError(f"{name!r} is not a sink message filter; use one of: {', '.join(sorted(SINK_FILTERS))}")
            if value is not None:
                params[name] = str(value)
        return await self._collect("/__emulator/sink/messages", params)

    async def wait_for_sink_messages(
        self, count: int, timeout: float, filters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        found, matching = await poll(lambda: self.sink_messages(filters), lambda result: len(result) >= count, timeout)
        if found:
            return matching
        raise WaitTimeout(
            f"expected at least {count} sink message(s) matching {describe_filters(filters)} within {timeout} s, "
            f"found {len(matching)}\n" + await self.arrivals_text()
        )

    async def sink_stats(self) -> dict[str, Any]:
        body = await self._request("GET", "/__emulator/sink/stats")
        return dict(body.get("results", body))

    # -- returned mail (capture listener) ----------------------------------------------

    def _capture_messages(self) -> list[ReturnedMail]:
        capture = self.harness.capture
        if capture is None:
            raise FeatureUnavailable(
                "returned mail is unavailable: this run uses an emulator elsewhere without a capture listener; "
                "pass --emulator-capture HOST:PORT and start that emulator with --return-smtp pointing there"
            )
        return [
            parse_returned_mail(item.data, mail_from=item.mail_from, rcpt_tos=item.rcpt_tos, received_at=item.received_at)
            for item in list(capture.messages)
        ]

    async def returned_mail(self, kind: str | None = None, recipient: str | None = None) -> list[ReturnedMail]:
        if kind is not None and kind not in RETURNED_KINDS:
            raise ValueError(f"kind must be one of {', '.join(RETURNED_KINDS)}, got {kind!r}")
        mails = self._capture_messages()
        if kind is not None:
            mails = [mail for mail in mails if mail.kind == kind]
        if recipient is not None:
            mails = [mail for mail in mails if (mail.recipient or "").lower() == recipient.lower()]
        return mails

    async def wait_for_returned_mail(
        self, count: int, timeout: float, kind: str | None, recipient: str | None
    ) -> list[ReturnedMail]:
        found, matching = await poll(
            lambda: self.returned_mail(kind, recipient), lambda result: len(result) >= count, timeout
        )
        if found:
            return matching
        filters = {name: value for name, value in (("kind", kind), ("recipient", recipient)) if value is not None}
        raise WaitTimeout(
            f"expected at least {count} returned message(s) matching {describe_filters(filters)} within {timeout} s, "
            f"found {len(matching)}\n" + await self.arrivals_text()
        )

    # -- what arrived, for failure messages and report sections ---------------------------

    async def arrivals_text(self) -> str:
        """Describe everything the emulator holds: events, batch outcomes, sink messages, returned mail."""
        sections = []
        try:
            sections.append(listing("Events stored", [event_line(event) for event in await self.events({})]))
            sections.append(listing("Ingest batch outcomes", [outcome_line(item) for item in await self.ingest_outcomes()]))
        except (HarnessError, aiohttp.ClientError) as exc:
            sections.append(f"Events: could not be read: {exc}")
        try:
            messages = await self.sink_messages({})
            sections.append(listing("Sink messages", [sink_message_line(message) for message in messages]))
        except EmulatorHttpError as exc:
            if exc.status != 404:
                sections.append(f"Sink messages: could not be read: {exc}")
        except (HarnessError, aiohttp.ClientError) as exc:
            sections.append(f"Sink messages: could not be read: {exc}")
        if self.harness.capture is not None:
            sections.append(listing("Returned mail", [mail.summary() for mail in self._capture_messages()]))
        errors = self.harness.server_errors()
        if errors:
            summaries = [error_summary(error) for error in errors]
            sections.append(listing("Server-side errors (full tracebacks at teardown)", summaries))
        return "\n".join(sections)



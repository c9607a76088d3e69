"""The objects tests use: :class:`Emulator` (blocking helpers) and :class:`AsyncEmulator` (awaitable twins).

Both wrap one :class:`~emulator.testing.harness.EmulatorHarness`.  The
blocking helpers suit plain test functions.  Inside ``async def`` tests use
``emulator.aio``: its helpers have the same names and arguments but are
awaited, so the test's own event loop keeps running while they wait.
"""

from __future__ import annotations

import re
import struct
import time
from typing import Any

from emulator.randomness import RandomSource
from emulator.sink.policy import BEHAVIOURS, MIXED
from emulator.testing.client import EmulatorClient
from emulator.testing.events import EventsOrBytes, ingest_event
from emulator.testing.harness import HTTP_TIMEOUT, EmulatorHarness
from emulator.testing.pmta import pmta_config
from emulator.testing.returned import ReturnedMail
from emulator.testing.waiting import DEFAULT_TIMEOUT

# Default window of assert_no_events(): long enough for a batch of a few
# events to be processed on a loaded CI machine.
DEFAULT_QUIET_PERIOD = 0.5
_LOCAL_PART_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


class ServerSideError(AssertionError):
    """The emulator raised unexpected errors while serving the test; the message contains the tracebacks."""


class HelperState:
    """Per-test values shared by the blocking and the async helpers: id source and address counter."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self.ids = RandomSource(seed, label="pytest")

    def restart(self, label: str) -> None:
        """Start a new id sequence named after the test, so ids do not depend on test order."""
        self.ids = RandomSource(self.seed, label=f"pytest/{label}")


class _EmulatorBase:
    def __init__(self, harness: EmulatorHarness, client: EmulatorClient, state: HelperState) -> None:
        self.harness = harness
        self._client = client
        self._state = state

    @property
    def url(self) -> str:
        """HTTP base URL, such as ``http://127.0.0.1:41234``."""
        return self.harness.url

    @property
    def api_key(self) -> str:
        return self.harness.api_key

    @property
    def smtp_host(self) -> str:
        """Host of the Bouncy Sink's SMTP listener."""
        return self.harness.smtp_host

    @property
    def smtp_port(self) -> int:
        return self.harness.smtp_port

    @property
    def sink_domain(self) -> str:
        return self.harness.sink_domain

    @property
    def capture_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the listener that receives returned mail, or None."""
        return self.harness.capture_address

    @property
    def upload_url(self) -> str:
        return f"{self.url}/api/v1/ingest/events"

    def address(self, behaviour: str, local_part: str | None = None) -> str:
        """Return a recipient address that triggers ``behaviour`` in the sink.

        :param behaviour: ``accept``, ``bounce``, ``tempfail``, ``greylist``,
            ``oob``, ``fbl``, ``openclick``, or ``mixed`` for the statistical mix.
        :param local_part: the part before ``@``; by default a token unique to
            this test, so mail returned late for another test never matches.
        """
        if behaviour != MIXED and behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown sink behaviour {behaviour!r}; expected one of: {', '.join(BEHAVIOURS + (MIXED,))}")
        if local_part is None:
            local_part = f"{behaviour}-{self._state.ids.random.getrandbits(40):010x}"
        elif not _LOCAL_PART_RE.match(local_part):
            raise ValueError(f"local part {local_part!r} is invalid; use letters, digits and .!#$%&'*+/=?^_`{{|}}~-")
        domain = self.sink_domain if behaviour == MIXED else f"{behaviour}.{self.sink_domain}"
        return f"{local_part}@{domain}"

    def reply_address(
        self, code: int, enhanced: str | None = None, text: str | None = None, *, after_data: bool = False
    ) -> str:
        """Return an address that gets exactly this SMTP reply from the sink.

        :param code: the basic reply code, 400-599.
        :param enhanced: the enhanced status code such as ``5.1.1``.
        :param text: the reply text; spaces become ``_`` in the address.
        :param after_data: give the reply after DATA instead of at RCPT.
        """
        if not 400 <= code <= 599:
            raise ValueError(f"reply code {code} is invalid; a forced reply is a 4xx or 5xx code")
        parts = ["reply"] + (["data"] if after_data else []) + [str(code)]
        if enhanced is not None:
            parts.append(enhanced)
        if text:
            parts.append(text.replace(" ", "_"))
        local_part = "-".join(parts)
        if not _LOCAL_PART_RE.match(local_part):
            raise ValueError(f"reply text {text!r} cannot be written in an address; use letters, digits and spaces")
        return f"{local_part}@{self.sink_domain}"

    def message_id(self) -> str:
        """Return a new message id in SparkPost's style: ``0000``, the time as 8 little-endian hex digits, 8 random hex digits."""
        stamp = struct.pack("<I", int(time.time()) & 0xFFFFFFFF).hex()
        return f"0000{stamp}{self._state.ids.random.getrandbits(32):08x}"

    def ingest_event(self, event_type: str, *, message_id: str, rcpt_to: str | None = None, **fields: Any) -> dict[str, Any]:
        """Return one ingest line for ``upload()``; see :func:`emulator.testing.events.ingest_event`."""
        return ingest_event(event_type, message_id=message_id, rcpt_to=rcpt_to, ids=self._state.ids, **fields)

    def pmta_config(self) -> str:
        """Return a PowerMTA snippet (``<signals>`` block and sink routes) pointing at this emulator."""
        return pmta_config(
            upload_url=self.upload_url,
            api_key=self.api_key,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            sink_domains=(self.sink_domain,),
        )


class AsyncEmulator(_EmulatorBase):
    """Awaitable helpers for ``async def`` tests; reached as ``sparkpost_emulator.aio``."""

    async def reset(self) -> list[str]:
        return await self.harness.run_async(self._client.reset())

    async def upload(self, events_or_bytes: EventsOrBytes) -> str:
        return await self.harness.run_async(self._client.upload(events_or_bytes))

    async def wait_for_batch(self, batch_id: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        __tracebackhide__ = True
        return await self.harness.run_async(self._client.wait_for_batch(batch_id, timeout))

    async def events(self, **filters: Any) -> list[dict[str, Any]]:
        return await self.harness.run_async(self._client.events(filters))

    async def wait_for_events(self, count: int = 1, timeout: float = DEFAULT_TIMEOUT, **filters: Any) -> list[dict[str, Any]]:
        __tracebackhide__ = True
        return await self.harness.run_async(self._client.wait_for_events(count, timeout, filters))

    async def assert_no_events(self, within: float = DEFAULT_QUIET_PERIOD, **filters: Any) -> None:
        __tracebackhide__ = True
        await self.harness.run_async(self._client.assert_no_events(within, filters))

    async def sink_messages(self, **filters: Any) -> list[dict[str, Any]]:
        return await self.harness.run_async(self._client.sink_messages(filters))

    async def wait_for_sink_messages(
        self, count: int = 1, timeout: float = DEFAULT_TIMEOUT, **filters: Any
    ) -> list[dict[str, Any]]:
        __tracebackhide__ = True
        return await self.harness.run_async(self._client.wait_for_sink_messages(count, timeout, filters))

    async def sink_stats(self) -> dict[str, Any]:
        return await self.harness.run_async(self._client.sink_stats())

    async def returned_mail(self, kind: str | None = None, recipient: str | None = None) -> list[ReturnedMail]:
        return await self.harness.run_async(self._client.returned_mail(kind, recipient))

    async def wait_for_returned_mail(
        self, count: int = 1, timeout: float = DEFAULT_TIMEOUT, *, kind: str | None = None, recipient: str | None = None
    ) -> list[ReturnedMail]:
        __tracebackhide__ = True
        return await self.harness.run_async(self._client.wait_for_returned_mail(count, timeout, kind, recipient))


class Emulator(_EmulatorBase):
    """Blocking helpers over one running emulator; the object the ``sparkpost_emulator`` fixture gives a test.

    Every ``wait_for_*`` helper polls until its condition is met and raises
    :class:`~emulator.testing.waiting.WaitTimeout` (an ``AssertionError``)
    after ``timeout`` seconds, listing what did arrive.
    """

    def __init__(self, harness: EmulatorHarness, client: EmulatorClient | None = None, state: HelperState | None = None) -> None:
        client = client if client is not None else EmulatorClient(harness)
        state = state if state is not None else HelperState(harness.options.seed)
        super().__init__(harness, client, state)
        self.aio = AsyncEmulator(harness, client, state)

    def _run(self, coro: Any, timeout: float) -> Any:
        __tracebackhide__ = True
        # The wait itself is bounded by ``timeout``; the margin covers the
        # requests made after it to describe what arrived.
        return self.harness.run(coro, timeout=timeout + 2 * HTTP_TIMEOUT)

    def reset(self, label: str | None = None) -> list[str]:
        """Empty the emulator (events, batches, sink messages) and the captured mail.

        :param label: names the new id sequence (the fixture passes the test id).
        :return: server-side errors recorded before the reset, which belong to no test.
        """
        if label is not None:
            self._state.restart(label)
        return self._run(self._client.reset(), 0)

    def upload(self, events_or_bytes: EventsOrBytes) -> str:
        """Upload a batch to the Ingest API and return its batch id.

        :param events_or_bytes: a list of ingest lines (see :meth:`ingest_event`),
            NDJSON bytes, or gzip bytes sent unchanged.
        """
        return self._run(self._client.upload(events_or_bytes), 0)

    def wait_for_batch(self, batch_id: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Wait for the batch's ingest outcome event (``success`` or ``error``) and return it."""
        __tracebackhide__ = True
        return self._run(self._client.wait_for_batch(batch_id, timeout), timeout)

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """Return message events matching Events API filters, oldest first as the API pages them.

        Filter names are the API's (``events``, ``messages``, ``recipients``,
        ``campaigns``, ``from_`` for ``from``, ``to``, ...); a value may be a
        string, a list or a ``datetime``.
        """
        return self._run(self._client.events(filters), 0)

    def wait_for_events(self, count: int = 1, timeout: float = DEFAULT_TIMEOUT, **filters: Any) -> list[dict[str, Any]]:
        """Wait until at least ``count`` events match ``filters``; return all matching events."""
        __tracebackhide__ = True
        return self._run(self._client.wait_for_events(count, timeout, filters), timeout)

    def assert_no_events(self, within: float = DEFAULT_QUIET_PERIOD, **filters: Any) -> None:
        """Fail as soon as an event matches ``filters`` during the next ``within`` seconds."""
        __tracebackhide__ = True
        self._run(self._client.assert_no_events(within, filters), within)

    def sink_messages(self, **filters: Any) -> list[dict[str, Any]]:
        """Return the messages the sink received, newest first; filters: ``recipient``, ``behaviour``."""
        return self._run(self._client.sink_messages(filters), 0)

    def wait_for_sink_messages(self, count: int = 1, timeout: float = DEFAULT_TIMEOUT, **filters: Any) -> list[dict[str, Any]]:
        """Wait until the sink has stored at least ``count`` messages matching ``filters``."""
        __tracebackhide__ = True
        return self._run(self._client.wait_for_sink_messages(count, timeout, filters), timeout)

    def sink_stats(self) -> dict[str, Any]:
        """Return the sink's counters."""
        return self._run(self._client.sink_stats(), 0)

    def returned_mail(self, kind: str | None = None, recipient: str | None = None) -> list[ReturnedMail]:
        """Return the DSNs and ARF complaints the sink sent back, oldest first.

        :param kind: ``dsn``, ``arf`` or ``other``.
        :param recipient: the sink recipient the report is about.
        """
        return self._run(self._client.returned_mail(kind, recipient), 0)

    def wait_for_returned_mail(
        self, count: int = 1, timeout: float = DEFAULT_TIMEOUT, *, kind: str | None = None, recipient: str | None = None
    ) -> list[ReturnedMail]:
        """Wait until at least ``count`` returned messages match; return all matching ones."""
        __tracebackhide__ = True
        return self._run(self._client.wait_for_returned_mail(count, timeout, kind, recipient), timeout)

    def take_server_errors(self) -> list[str]:
        """Return and forget the tracebacks of server-side errors recorded since the last call."""
        return self._run(self.harness.take_server_errors(), 0)

    def check(self) -> None:
        """Raise :class:`ServerSideError` when the emulator recorded server-side errors (the fixture calls this at teardown)."""
        __tracebackhide__ = True
        errors = self.take_server_errors()
        if errors:
            raise ServerSideError(format_server_errors(errors))

    def arrivals_text(self) -> str:
        """Describe everything the emulator holds, as the failure messages do."""
        return self._run(self._client.arrivals_text(), 0)


def format_server_errors(errors: list[str]) -> str:
    header = f"the emulator recorded {len(errors)} server-side error(s) during this test:"
    return "\n\n".join([header, *errors])

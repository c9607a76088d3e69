"""Delivery of DSNs and ARF reports to the configured return SMTP server.

Reports go only to ``--return-smtp HOST:PORT`` (PowerMTA's own listener in a
typical setup), never to an MX found in DNS.  A refused or failed attempt is
logged, counted as a delivery failure and retried with exponential back-off
until ``retry_for`` seconds have passed.  After that the report is given up,
which is logged as an error and counted too.
"""

from __future__ import annotations

import asyncio
import collections
import time
import traceback
from collections.abc import Callable

import aiosmtplib

from emulator.log import smtp_logger
from emulator.sink.reports import needs_smtputf8

FIRST_RETRY_DELAY = 0.25
MAX_RETRY_DELAY = 30.0
SEND_TIMEOUT = 30.0


def mail_options(recipient: str, data: bytes) -> list[str]:
    """Return the MAIL FROM parameters a report needs: BODY=8BITMIME for 8-bit data, SMTPUTF8 for UTF-8 addresses."""
    options = []
    if not data.isascii():
        options.append("BODY=8BITMIME")
    if needs_smtputf8(data, recipient):
        options.append("SMTPUTF8")
    return options


class ReturnMailer:
    """Sends reports from the null sender after a delay, retrying failures for a bounded time."""

    def __init__(
        self,
        target: tuple[str, int],
        *,
        delay: float,
        retry_for: float,
        counters: collections.Counter[str],
        errors: list[str],
        local_hostname: str,
    ) -> None:
        self.target = target
        self.delay = delay
        self.retry_for = retry_for
        self.counters = counters
        self.errors = errors
        self.local_hostname = local_hostname
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(
        self,
        kind: str,
        message_id: str,
        recipient: str,
        data: bytes,
        on_done: Callable[[bool, str], None],
    ) -> None:
        """Schedule ``data`` (a DSN or ARF, ``kind`` "oob" or "fbl") for ``recipient``."""
        task = asyncio.get_running_loop().create_task(self._deliver(kind, message_id, recipient, data, on_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        """Cancel reports not yet delivered (on stop and reset)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(
        self, kind: str, message_id: str, recipient: str, data: bytes, on_done: Callable[[bool, str], None]
    ) -> None:
        try:
            await self._deliver_with_retries(kind, message_id, recipient, data, on_done)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - recorded for the test plugin, the server keeps running
            self.errors.append(traceback.format_exc())
            smtp_logger.exception("%s report for message %s failed unexpectedly", kind, message_id)

    async def _send_once(self, recipient: str, data: bytes) -> None:
        host, port = self.target
        client = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            local_hostname=self.local_hostname,
            use_tls=False,
            start_tls=False,
            timeout=SEND_TIMEOUT,
        )
        async with client:
            # The empty sender is sent as MAIL FROM:<>, the null reverse-path of a DSN.
            # aiosmtplib 5 encodes the addresses as UTF-8 only when mail_options has SMTPUTF8.
            await client.sendmail("", [recipient], data, mail_options=mail_options(recipient, data))

    async def _deliver_with_retries(
        self, kind: str, message_id: str, recipient: str, data: bytes, on_done: Callable[[bool, str], None]
    ) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        host, port = self.target
        started = time.monotonic()
        retry_delay = FIRST_RETRY_DELAY
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._send_once(recipient, data)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and retried
                self.counters["delivery_failures"] += 1
                if not isinstance(exc, (aiosmtplib.SMTPException, OSError)):
                    # Not a refusal or a network error but a fault of the sink: record it for the test plugin.
                    self.errors.append(traceback.format_exc())
                    smtp_logger.exception("%s report for message %s to %s failed unexpectedly (attempt %d)",
                                          kind, message_id, recipient, attempt)
                elapsed = time.monotonic() - started
                if elapsed + retry_delay > self.retry_for:
                    self.counters[f"{kind}_abandoned"] += 1
                    smtp_logger.error(
                        "%s report for message %s to %s given up after %d attempts in %.1f s: %s",
                        kind, message_id, recipient, attempt, elapsed, exc,
                    )
                    on_done(False, f"given up after {attempt} attempts: {exc}")
                    return
                smtp_logger.warning(
                    "%s report for message %s to %s via %s:%d failed (attempt %d), retrying in %.2f s: %s",
                    kind, message_id, recipient, host, port, attempt, retry_delay, exc,
                )
                await asyncio.sleep(retry_delay)
                retry_delay = min(retry_delay * 2, MAX_RETRY_DELAY)
                continue
            self.counters[f"{kind}_sent"] += 1
            smtp_logger.info(
                "%s report for message %s sent to %s via %s:%d (attempt %d)",
                kind, message_id, recipient, host, port, attempt,
            )
            on_done(True, f"sent to {recipient} via {host}:{port}")
            return

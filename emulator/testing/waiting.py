"""Poll with a deadline: the one waiting primitive behind every ``wait_for_*`` helper."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
# First and largest pause between two polls; the pause doubles in between.
FIRST_INTERVAL = 0.005
MAX_INTERVAL = 0.1


class WaitTimeout(AssertionError):
    """A ``wait_for_*`` helper ran out of time; the message lists what did arrive."""


async def poll(
    fetch: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout: float,
) -> tuple[bool, T]:
    """Call ``fetch`` until ``done(result)`` or until ``timeout`` seconds have passed.

    Returns ``(True, result)`` on success and ``(False, last result)`` on
    timeout.  ``fetch`` always runs at least once, and once more at the
    deadline, so a result that arrives during the last pause still counts.
    """
    deadline = time.monotonic() + timeout
    interval = FIRST_INTERVAL
    while True:
        result = await fetch()
        if done(result):
            return True, result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, result
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 2, MAX_INTERVAL)

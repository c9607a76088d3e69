"""Stored-event rate over the last minutes, in fixed time buckets."""

from __future__ import annotations

import collections
from typing import Any

DEFAULT_BUCKET_SECONDS = 10
DEFAULT_BUCKETS = 60


class EventRate:
    """Counts of stored events per time bucket, by arrival time at the store.

    Args:
        bucket_seconds (int, optional): Width of one bucket. Defaults to 10.
        buckets (int, optional): Buckets kept, the current one included. Defaults to 60.
    """

    def __init__(self, *, bucket_seconds: int = DEFAULT_BUCKET_SECONDS, buckets: int = DEFAULT_BUCKETS) -> None:
        if bucket_seconds <= 0 or buckets <= 0:
            raise ValueError("bucket_seconds and buckets must be positive")
        self.bucket_seconds = bucket_seconds
        self.buckets = buckets
        # bucket index (seconds // bucket_seconds) -> events stored in it
        self._counts: collections.OrderedDict[int, int] = collections.OrderedDict()

    def add(self, now: float, count: int) -> None:
        """Record ``count`` events stored at ``now``."""
        index = int(now // self.bucket_seconds)
        self._counts[index] = self._counts.get(index, 0) + count
        oldest = index - self.buckets + 1
        while self._counts and next(iter(self._counts)) < oldest:
            self._counts.popitem(last=False)

    def clear(self) -> None:
        self._counts.clear()

    def series(self, now: float) -> list[int]:
        """Return the counts per bucket, oldest first, ending with the current bucket."""
        current = int(now // self.bucket_seconds)
        return [self._counts.get(index, 0) for index in range(current - self.buckets + 1, current + 1)]

    def snapshot(self, now: float) -> dict[str, Any]:
        """Return the series with the rate of the last complete bucket, in events per second."""
        counts = self.series(now)
        last_complete = counts[-2] if len(counts) > 1 else counts[-1]
        return {
            "bucket_seconds": self.bucket_seconds,
            "counts": counts,
            "per_second": last_complete / self.bucket_seconds,
            "peak_per_second": max(counts) / self.bucket_seconds,
        }

"""Background task that processes acknowledged batches one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import traceback

from emulator.ingest.processor import BatchRun, ProcessorConfig, record_system_error
from emulator.log import ingest_logger
from emulator.randomness import RandomSource
from emulator.store.aio import AsyncStore


class BatchWorker:
    """Queue of batch ids; on start it also picks up batches left pending by a previous run."""

    def __init__(
        self, store: AsyncStore, config: ProcessorConfig, ids: RandomSource, errors: list[str] | None = None
    ) -> None:
        self.store = store
        # Tracebacks of processing failures, shared with the app so tests can fail on them.
        self.errors = errors if errors is not None else []
        self.config = config
        self.ids = ids
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def submit(self, batch_id: str) -> None:
        self._queue.put_nowait(batch_id)

    async def start(self) -> None:
        pending = await self.store.call("pending_batch_ids")
        if pending:
            ingest_logger.info("resuming %d batch(es) acknowledged before the last stop", len(pending))
        for batch_id in pending:
            self.submit(batch_id)
        self._task = asyncio.create_task(self._run(), name="emulator-batch-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> None:
        """Wait until every submitted batch has been processed."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            batch_id = await self._queue.get()
            try:
                await self._process(batch_id)
            finally:
                self._queue.task_done()

    async def _process(self, batch_id: str) -> None:
        run = BatchRun(batch_id, self.config, self.ids)
        try:
            finished = False
            while not finished:
                # One chunk per store call, so other store calls run in between.
                finished, change = await self.store.run(run.step)
                if change is not None:
                    self.store.notify(change)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            ingest_logger.exception("batch %s: processing failed; recording a system error", batch_id)
            self.errors.append(f"batch {batch_id}: {exc!r}\n{traceback.format_exc()}")
            try:
                change = await self.store.run(record_system_error, batch_id, self.ids, f"internal error: {exc}")
            except Exception:
                ingest_logger.exception("batch %s: could not record the system error", batch_id)
                return
            self.store.notify(change)
        if run.skipped:
            ingest_logger.info("batch %s: no longer pending (reset or already processed), skipped", batch_id)

"""With --db FILE, an acknowledged batch is never lost."""

from __future__ import annotations

import time

from emulator.store.db import SyncStore
from tests.ingest_helpers import (
    gz,
    ingest,
    message_event,
    search,
    upload,
    wait_for_outcome,
)
from tests.process_helpers import ServeProcess


async def test_pending_batch_is_processed_after_restart(tmp_path, start_server, http):
    db = str(tmp_path / "events.sqlite")
    store = SyncStore(db)
    now = time.time()
    store.add_batch("11111111-2222-4333-8444-555555555555", gz([message_event("reception", "1")]), received_at=now, expires_at=now + 3600, key_fingerprint=None)
    store.close()
    server = await start_server(db=db)
    outcome = await wait_for_outcome(http, server.url, "11111111-2222-4333-8444-555555555555")
    assert outcome["type"] == "success"
    assert outcome["number_succeeded"] == 1


async def test_events_survive_restart(tmp_path, start_server, http):
    db = str(tmp_path / "events.sqlite")
    events = [message_event("reception", "1")]
    first = await start_server(db=db)
    await ingest(http, first.url, events)
    await first.stop()
    second = await start_server(db=db)
    _, page = await search(http, second.url)
    assert [event["event_id"] for event in page["results"]] == ["1"]
    outcome = await ingest(http, second.url, events)
    assert outcome["error_type"] == "duplicate_batch"


async def test_batch_survives_kill_after_acknowledgement(tmp_path, http):
    db = str(tmp_path / "events.sqlite")
    events = [message_event("reception", str(n), f"m{n}") for n in range(2000)]
    process = ServeProcess("--db", db)
    try:
        batch_id = await upload(http, process.url, gz(events))
        process.kill()  # SIGKILL: no chance to finish processing cleanly
    finally:
        process.close()
    restarted = ServeProcess("--db", db)
    try:
        outcome = await wait_for_outcome(http, restarted.url, batch_id, timeout=20)
        assert outcome["type"] == "success"
        assert outcome["number_succeeded"] + outcome["number_duplicates"] == 2000
        _, page = await search(http, restarted.url, per_page="1")
        assert page["total_count"] == 2000
    finally:
        restarted.close()

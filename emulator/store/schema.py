"""SQLite schema of the event store."""

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Raw uploads, written before the POST is answered so an acknowledged batch
-- survives a crash.  state: 'pending' until the processor has stored its outcome.
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    key_fingerprint TEXT,
    body BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_state ON batches(state);

-- Content hash of every processed, decompressible batch, for duplicate_batch.
CREATE TABLE IF NOT EXISTS batch_contents (
    content_hash TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS batch_failures (
    batch_id TEXT NOT NULL,
    line_number INTEGER NOT NULL,
    error TEXT NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_failures_batch ON batch_failures(batch_id, line_number);

-- Ingest outcome events (type success or error), one per batch.
CREATE TABLE IF NOT EXISTS ingest_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    batch_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    error_type TEXT,
    retryable INTEGER,
    subaccount_id INTEGER,
    ts REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ingest_events_ts ON ingest_events(ts, seq);

-- Message events.  'own' holds the event as ingested (normalised) for types
-- that are enriched later; 'body' is the public event after enrichment.
-- *_kw columns hold ' kw1 kw2 ' for keyword filters.
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    ts REAL NOT NULL,
    batch_id TEXT,
    message_id TEXT,
    transmission_id TEXT,
    subaccount_id INTEGER,
    rcpt_to TEXT,
    rcpt_hash TEXT,
    friendly_from TEXT,
    sending_ip TEXT,
    bounce_class TEXT,
    campaign_kw TEXT,
    ip_pool_kw TEXT,
    template_kw TEXT,
    subject_kw TEXT,
    reason_kw TEXT,
    recipient_domain_kw TEXT,
    sending_domain_kw TEXT,
    own TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts, seq);
-- Only events that may need re-enrichment are indexed by message, which keeps
-- inserts cheap; a 'messages' filter scans the time window instead.
CREATE INDEX IF NOT EXISTS events_enrichable ON events(message_id) WHERE own IS NOT NULL;

-- Attributes of each message taken from its injection or delivery event.
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    attributes TEXT NOT NULL
);
"""

# Tables emptied by a reset, in an order that respects nothing but clarity.
RESET_TABLES = (
    "batches", "batch_contents", "batch_failures", "ingest_events", "events", "messages",
)

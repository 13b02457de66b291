-- Runs and their attempts, in one SQLite file.
--
-- Times are integers: microseconds since 1970-01-01 UTC. Ids are UUIDv7 in their
-- hyphenated lowercase text form, which sorts in creation order like the UUIDs do.
-- Payloads are JSON text, stored as serialized by the application.
--
-- Every write runs in a `BEGIN IMMEDIATE` transaction, so each one holds the file's
-- write lock from its first read to its commit: no two writers, in this process or in
-- another, ever act on the same state.

CREATE TABLE runs (
    id              TEXT    NOT NULL,
    namespace       TEXT    NOT NULL,
    task            TEXT    NOT NULL,
    queue           TEXT    NOT NULL DEFAULT 'default',
    -- `scheduled` is never stored: it is a `queued` run whose first attempt is not due,
    -- derived when the run is read.
    status          TEXT    NOT NULL CHECK (status IN
        ('queued', 'running', 'retrying', 'succeeded', 'cancelled', 'dead_lettered')),
    payload         TEXT    NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    priority        INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    run_at          INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    last_error      TEXT,
    replay_of       TEXT,
    replay_reason   TEXT,
    -- While running: until when the worker's lease holds, and who holds it.
    lease_until     INTEGER,
    worker          TEXT,
    PRIMARY KEY (namespace, id)
);

-- The claim: due runs of a queue in (priority, run_at, id) order.
CREATE INDEX runs_claimable ON runs (namespace, queue, priority, run_at, id)
    WHERE status IN ('queued', 'retrying');

-- One run per idempotency key and namespace.
CREATE UNIQUE INDEX runs_idempotency_key ON runs (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Rescue of expired leases, and the running runs a per-key limit counts.
CREATE INDEX runs_running ON runs (namespace, lease_until)
    WHERE status = 'running';

-- `list` newest first with a task filter.
CREATE INDEX runs_by_task ON runs (namespace, task, id);

-- Attempts that ended without finishing their run well: failed, snoozed, cancelled,
-- lease_expired, interrupted. The last attempt of a running or succeeded run is described
-- by its row in `runs` (`attempt`, `started_at`, `finished_at`), so the common path
-- (claimed, then succeeded) writes one row twice and nothing else.
CREATE TABLE attempts (
    run_id      TEXT    NOT NULL,
    number      INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT    NOT NULL CHECK (outcome IN
        ('failed', 'snoozed', 'cancelled', 'lease_expired', 'interrupted')),
    error       TEXT,
    PRIMARY KEY (run_id, number)
);

-- Per-key start limits (`KeyLimit::starts`): when runs of a limited task started, by key.
CREATE TABLE limit_starts (
    namespace  TEXT    NOT NULL,
    task       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    started_at INTEGER NOT NULL
);

CREATE INDEX limit_starts_by_key ON limit_starts (namespace, task, key, started_at);

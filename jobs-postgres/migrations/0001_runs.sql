-- Runs and their attempts.
--
-- `PgStorage::migrate()` applies this file with `search_path` set to the configured schema
-- (default `jobs`), so the names below are unqualified and land in that schema, next to
-- this schema's own `_sqlx_migrations` table.
--
-- Index design is throughput: a change of `status` is never a HOT update (status is in
-- index predicates), so every such update inserts into each index whose predicate the new
-- row matches. The set below is the smallest that serves every statement:
--   * the primary key (namespace, id) also serves `list` newest-first without a task filter
--     (ids are UUIDv7, time-ordered), so there is no separate id index;
--   * `lease_until` is in no index, so a heartbeat (which only moves `lease_until`) can be
--     a HOT update; `fillfactor` leaves room on each page for it;
--   * finished runs leave the claim and rescue indexes, so those stay as small as the
--     number of waiting or running runs, however much history accumulates.

CREATE TABLE runs (
    id              uuid        NOT NULL,
    namespace       text        NOT NULL,
    task            text        NOT NULL,
    -- `scheduled` is never stored: it is a `queued` run whose first attempt is not due,
    -- derived when the run is read.
    status          text        NOT NULL
        CONSTRAINT runs_status_check CHECK (status IN
            ('queued', 'running', 'retrying', 'succeeded', 'cancelled', 'dead_lettered')),
    payload         jsonb       NOT NULL,
    attempt         integer     NOT NULL DEFAULT 0 CONSTRAINT runs_attempt_check CHECK (attempt >= 0),
    max_attempts    integer     NOT NULL CONSTRAINT runs_max_attempts_check CHECK (max_attempts >= 1),
    priority        smallint    NOT NULL DEFAULT 0,
    idempotency_key text,
    created_at      timestamptz NOT NULL,
    run_at          timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz,
    last_error      text,
    replay_of       uuid,
    replay_reason   text,
    -- While running: until when the worker's lease holds, and who holds it.
    lease_until     timestamptz,
    worker          text,
    CONSTRAINT runs_pkey PRIMARY KEY (namespace, id)
) WITH (fillfactor = 80);

-- The claim: due runs of a namespace in (priority, run_at, id) order.
CREATE INDEX runs_claimable ON runs (namespace, priority, run_at, id)
    WHERE status IN ('queued', 'retrying');

-- One run per idempotency key and namespace; the arbiter of `ON CONFLICT DO NOTHING`.
CREATE UNIQUE INDEX runs_idempotency_key ON runs (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Rescue of expired leases (and `list` of running runs). Not on `lease_until`, so that
-- heartbeats stay HOT; the running runs of a namespace are few.
CREATE INDEX runs_running ON runs (namespace, id)
    WHERE status = 'running';

-- `list` newest-first with a task filter.
CREATE INDEX runs_by_task ON runs (namespace, task, id);

-- Every attempt of every run. Opened by the claim, closed by the statement that records
-- its outcome (finish, release, rescue, cancel), never by a separate round trip. No
-- foreign key: rows are only written by statements that hold the run's row, and a
-- per-row trigger would cost every batched claim.
CREATE TABLE attempts (
    run_id      uuid        NOT NULL,
    number      integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text        NOT NULL DEFAULT 'running'
        CONSTRAINT attempts_outcome_check CHECK (outcome IN
            ('running', 'succeeded', 'failed', 'cancelled', 'lease_expired', 'interrupted')),
    error       text,
    CONSTRAINT attempts_pkey PRIMARY KEY (run_id, number)
) WITH (fillfactor = 90);

//! The SQL text of every statement, formatted once per storage with its schema.
//!
//! Only the validated schema name and the channel derived from it are formatted into the
//! text; every value (namespaces, task names, keys, payloads, errors, reasons) is a bind
//! parameter. `$1` is always the clock: NULL means the database's `now()`.

/// The time every statement uses: the storage's [`Clock`](jobs::Clock) when one was given
/// (bound as `$1`), else the database's.
const NOW: &str = "coalesce($1::timestamptz, now())";

/// The columns of a run as `jobs::Run` has them, with `scheduled` derived from a stored
/// `queued` run whose first attempt is not due.
const RUN_COLUMNS: &str = "r.id, r.namespace, r.task, r.queue, \
    CASE WHEN r.status = 'queued' AND r.attempt = 0 AND r.run_at > {now} \
         THEN 'scheduled' ELSE r.status END AS status, \
    r.payload, r.attempt, r.max_attempts, r.failures, r.snoozes, r.handbacks, r.priority, \
    r.idempotency_key, r.created_at, \
    r.run_at, r.started_at, r.finished_at, r.last_error, r.replay_of, r.replay_reason, r.tick";

/// Stores a batch of runs in one statement. Keys already taken are skipped (`ON CONFLICT
/// DO NOTHING` on the unique partial index) and read back by the caller; one NOTIFY per
/// namespace with a due run, in the same statement.
///
/// `$2` origin, `$3..$13` the columns as arrays.
const ENQUEUE: &str = "
WITH input AS (
    SELECT *
    FROM unnest($3::uuid[], $4::text[], $5::text[], $6::jsonb[], $7::int4[], $8::int2[],
                $9::text[], $10::timestamptz[], $11::int8[], $12::text[], $13::timestamptz[])
         WITH ORDINALITY AS t(id, namespace, task, payload, max_attempts, priority,
                              idempotency_key, at, delay_us, queue, tick, ord)
),
inserted AS (
    INSERT INTO {s}.runs AS r (id, namespace, task, queue, status, payload, attempt,
                               max_attempts, priority, idempotency_key, created_at, run_at,
                               tick)
    SELECT id, namespace, task, queue, 'queued', payload, 0, max_attempts, priority,
           idempotency_key,
           {now},
           CASE WHEN at IS NULL THEN {now} + delay_us * interval '1 microsecond'
                ELSE greatest(at, {now}) END,
           tick
    FROM input
    -- Keys in one order in every statement, so two batches sharing keys cannot deadlock;
    -- `ord` last, so of two equal keys in one batch the first is the one stored.
    ORDER BY namespace, idempotency_key, ord
    ON CONFLICT (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING {cols}
),
woke AS (
    SELECT pg_notify('{channel}', 'a:' || $2 || ':' || left(n.namespace, 1000))
    FROM (SELECT DISTINCT namespace FROM inserted WHERE run_at <= {now}) AS n
)
SELECT i.*, (SELECT count(*) FROM woke) AS woke FROM inserted AS i";

/// The runs holding idempotency keys that an enqueue found taken. `$2` namespaces, `$3`
/// keys.
const EXISTING_KEYS: &str = "
SELECT {cols}
FROM {s}.runs AS r
JOIN unnest($2::text[], $3::text[]) AS k(namespace, key)
  ON r.namespace = k.namespace AND r.idempotency_key = k.key";

/// Claims up to `$4` due runs in one statement: picks them on the claimable partial index
/// with `FOR UPDATE SKIP LOCKED` (the `= ANY(ARRAY(...))` form keeps the planner on the
/// index for large limits) and marks them running under a lease. The attempt each
/// starts is described by the run's own row until it ends (see `ATTEMPTS`), so the claim
/// writes nothing else.
///
/// `$2` namespace, `$3` tasks, `$4` limit, `$5` lease (µs), `$6` worker, `$7` queue.
const CLAIM: &str = "
WITH claimed AS (
    UPDATE {s}.runs AS r
    SET status = 'running', attempt = r.attempt + 1, started_at = {now},
        lease_until = {now} + $5 * interval '1 microsecond', worker = $6
    WHERE r.namespace = $2
      AND r.id = ANY(ARRAY(
          SELECT c.id
          FROM {s}.runs AS c
          WHERE c.namespace = $2
            AND c.queue = $7
            AND c.task = ANY($3::text[])
            AND c.status IN ('queued', 'retrying')
            AND c.run_at <= {now}
          ORDER BY c.priority, c.run_at, c.id
          LIMIT $4
          FOR UPDATE SKIP LOCKED))
      AND r.status IN ('queued', 'retrying')
    RETURNING {cols}
)
SELECT * FROM claimed ORDER BY priority, run_at, id";

/// Claims like [`CLAIM`] for one task with per-key limits, inside a transaction that
/// holds the task's advisory lock ([`LIMIT_LOCK`]), so no other claim of the task counts
/// the same room. Looks at the first `$11` due runs in claim order, ranks them within
/// their key, and takes those whose rank plus the key's running runs (`$9`, in flight)
/// and plus its starts within the period (`$12` per `$10` µs) stay within the limits;
/// the others wait, unclaimed, using no attempt. Records the starts (when there is a
/// start limit) and trims the older ones. A run whose key is blocked does not stop the
/// ones behind it; only past the `$11` window do runs wait for the window to move.
///
/// `$2` namespace, `$3` tasks, `$4` limit, `$5` lease (µs), `$6` worker, `$7` queue, `$8`
/// key field, `$9` in-flight limit, `$10` start period (µs), `$11` window, `$12` start
/// limit. NULL limits do not limit.
const CLAIM_LIMITED: &str = "
WITH running AS (
    SELECT coalesce(r.payload->>$8, '') AS key, count(*) AS n
    FROM {s}.runs AS r
    WHERE r.namespace = $2 AND r.status = 'running' AND r.task = ANY($3::text[])
    GROUP BY 1
),
expired AS (
    DELETE FROM {s}.limit_starts AS l
    WHERE l.namespace = $2 AND l.task = ANY($3::text[])
      AND l.started_at <= {now} - $10 * interval '1 microsecond'
),
recent AS (
    SELECT l.key, count(*) AS n
    FROM {s}.limit_starts AS l
    WHERE l.namespace = $2 AND l.task = ANY($3::text[])
      AND l.started_at > {now} - $10 * interval '1 microsecond'
    GROUP BY l.key
),
candidates AS (
    SELECT c.id, c.priority, c.run_at, coalesce(c.payload->>$8, '') AS key
    FROM {s}.runs AS c
    WHERE c.namespace = $2
      AND c.queue = $7
      AND c.task = ANY($3::text[])
      AND c.status IN ('queued', 'retrying')
      AND c.run_at <= {now}
    ORDER BY c.priority, c.run_at, c.id
    LIMIT $11
),
ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.key ORDER BY c.priority, c.run_at, c.id) AS rank
    FROM candidates AS c
),
allowed AS (
    SELECT k.id, k.key
    FROM ranked AS k
    LEFT JOIN running AS r ON r.key = k.key
    LEFT JOIN recent AS s ON s.key = k.key
    WHERE ($9::int8 IS NULL OR k.rank + coalesce(r.n, 0) <= $9)
      AND ($12::int8 IS NULL OR k.rank + coalesce(s.n, 0) <= $12)
    ORDER BY k.priority, k.run_at, k.id
    LIMIT $4
),
claimed AS (
    UPDATE {s}.runs AS r
    SET status = 'running', attempt = r.attempt + 1, started_at = {now},
        lease_until = {now} + $5 * interval '1 microsecond', worker = $6
    FROM allowed AS a
    WHERE r.namespace = $2 AND r.id = a.id AND r.status IN ('queued', 'retrying')
    RETURNING {cols}, a.key AS limit_key
),
started AS (
    INSERT INTO {s}.limit_starts (namespace, task, key, started_at)
    SELECT $2, c.task, c.limit_key, {now}
    FROM claimed AS c
    WHERE $12::int8 IS NOT NULL
)
SELECT * FROM claimed ORDER BY priority, run_at, id";

/// The advisory lock that serializes the claims of one limited task across processes.
/// `$1` namespace, `$2` task.
const LIMIT_LOCK: &str = "
SELECT pg_advisory_xact_lock(
    hashtextextended('jobs.limit:{s}:' || $1 || chr(31) || $2, 0))";

/// Extends the leases still held. Callers pass ids sorted, so that this statement and a
/// finish of the same worker lock rows in one order and cannot deadlock. Planned like
/// `FINISH`, for the same reasons.
///
/// `$2` namespace, `$3` ids, `$4` attempts, `$5` lease (µs).
const HEARTBEAT: &str = "
WITH batch AS (SELECT $3::uuid[] AS ids, $4::int4[] AS attempts OFFSET 0)
UPDATE {s}.runs AS r
SET lease_until = {now} + $5 * interval '1 microsecond'
FROM batch AS b, unnest(b.ids, b.attempts) AS u(id, attempt)
WHERE r.namespace = $2
  AND r.id = u.id AND r.attempt = CASE WHEN r.status = 'running' THEN u.attempt END
RETURNING r.id, r.attempt";

/// Records a batch of results, fenced by (id, attempt, running), in one statement: a
/// success only changes the run's row (which then describes its last attempt); a failure
/// also stores the attempt that failed and counts it in `failures`. A snooze (input status
/// `snoozed`) makes the run `retrying` after its delay, counts it in `snoozes` and stores
/// the attempt as snoozed, leaving `last_error` and the budget as they were. Callers pass
/// ids sorted (see `HEARTBEAT`).
///
/// Its plan must be fast from the first execution on a connection to the generic plan
/// PostgreSQL caches after a few, whatever the batch size and whatever the statistics say
/// (the table may have been analyzed while nothing was running). So the statement leaves
/// the planner one cheap way, one primary-key lookup per result:
///
/// * the batch is planned as a few rows (`OFFSET 0` keeps the arrays' lengths out of the
///   estimate), so a hash join over a scan of the whole table never looks cheaper;
/// * the fence is written as a join clause, `r.attempt = CASE WHEN r.status = 'running'
///   THEN u.attempt END`, not as `r.status = 'running'`: that restriction would bring the
///   `runs_running` partial index into reach, estimated at one row by such statistics,
///   and the planner then compared every running run with every result (a nested loop
///   with a join filter: 10 s instead of 1.6 s for 50,000 results with 1,000,000 finished
///   runs in the table);
/// * no `r.id = ANY($3)` beside the join, for the same reason.
///
/// `tests/postgres_storage.rs` checks both plans. Heartbeat and release have the same
/// shape.
///
/// `$2` namespace, `$3` ids, `$4` attempts, `$5` new statuses, `$6` errors, `$7` retry
/// delays (µs), `$8` origin.
const FINISH: &str = "
WITH batch AS (
    SELECT $3::uuid[] AS ids, $4::int4[] AS attempts, $5::text[] AS statuses,
           $6::text[] AS errors, $7::int8[] AS delays
    OFFSET 0
),
input AS (
    SELECT u.*
    FROM batch AS b,
         unnest(b.ids, b.attempts, b.statuses, b.errors, b.delays)
             AS u(id, attempt, status, error, delay_us)
),
done AS (
    UPDATE {s}.runs AS r
    SET status = CASE WHEN u.status = 'snoozed' THEN 'retrying' ELSE u.status END,
        finished_at = CASE WHEN u.status IN ('retrying', 'snoozed') THEN r.finished_at
                           ELSE {now} END,
        run_at = CASE WHEN u.status IN ('retrying', 'snoozed')
                      THEN {now} + u.delay_us * interval '1 microsecond' ELSE r.run_at END,
        last_error = CASE WHEN u.status IN ('succeeded', 'snoozed') THEN r.last_error
                          ELSE u.error END,
        failures = CASE WHEN u.status IN ('retrying', 'dead_lettered')
                        THEN least(r.failures::int8 + 1, 2147483647)::int4
                        ELSE r.failures END,
        snoozes = CASE WHEN u.status = 'snoozed'
                       THEN least(r.snoozes::int8 + 1, 2147483647)::int4
                       ELSE r.snoozes END,
        lease_until = NULL
    FROM input AS u
    WHERE r.namespace = $2
      AND r.id = u.id AND r.attempt = CASE WHEN r.status = 'running' THEN u.attempt END
    RETURNING r.id, r.attempt, r.status, r.run_at, r.started_at, u.error, u.status AS ended
),
stored AS (
    INSERT INTO {s}.attempts (run_id, number, started_at, finished_at, outcome, error)
    SELECT d.id, d.attempt, d.started_at, {now},
           CASE WHEN d.ended = 'snoozed' THEN 'snoozed' ELSE 'failed' END, d.error
    FROM done AS d
    WHERE d.status <> 'succeeded'
),
woke AS (
    SELECT pg_notify('{channel}', 'a:' || $8 || ':' || left($2, 1000))
    FROM (SELECT 1 FROM done WHERE status = 'retrying' AND run_at <= {now} LIMIT 1) AS x
)
SELECT d.id, d.attempt, (SELECT count(*) FROM woke) AS woke FROM done AS d";

/// Hands runs back: queued again, the attempt stored as interrupted and counted in
/// `handbacks`, not against the budget. The run keeps its `run_at`, so its place in line.
///
/// `$2` namespace, `$3` ids, `$4` attempts, `$5` error, `$6` origin.
const RELEASE: &str = "
WITH batch AS (SELECT $3::uuid[] AS ids, $4::int4[] AS attempts OFFSET 0),
released AS (
    UPDATE {s}.runs AS r
    SET status = 'queued', lease_until = NULL,
        handbacks = least(r.handbacks::int8 + 1, 2147483647)::int4
    FROM batch AS b, unnest(b.ids, b.attempts) AS u(id, attempt)
    WHERE r.namespace = $2
      AND r.id = u.id AND r.attempt = CASE WHEN r.status = 'running' THEN u.attempt END
    RETURNING r.id, r.attempt, r.started_at
),
closed AS (
    INSERT INTO {s}.attempts (run_id, number, started_at, finished_at, outcome, error)
    SELECT d.id, d.attempt, d.started_at, {now}, 'interrupted', $5
    FROM released AS d
),
woke AS (
    SELECT pg_notify('{channel}', 'a:' || $6 || ':' || left($2, 1000))
    FROM (SELECT 1 FROM released LIMIT 1) AS x
)
SELECT (SELECT count(*) FROM released) AS released, (SELECT count(*) FROM woke) AS woke";

/// Returns runs whose lease expired to the queue, or dead-letters them when their
/// budget is spent, storing the attempt as expired and counting it in `failures`. A
/// rescued run keeps its `run_at`, so its place in line (it owes no backoff). Rows another
/// rescuer holds are skipped.
///
/// `$2` namespace, `$3` error, `$4` origin.
const RESCUE: &str = "
WITH rescued AS (
    UPDATE {s}.runs AS r
    SET status = CASE WHEN r.failures + 1 >= r.max_attempts THEN 'dead_lettered'
                      ELSE 'retrying' END,
        finished_at = CASE WHEN r.failures + 1 >= r.max_attempts THEN {now}
                           ELSE r.finished_at END,
        failures = least(r.failures::int8 + 1, 2147483647)::int4,
        last_error = $3, lease_until = NULL
    WHERE r.namespace = $2
      AND r.id = ANY(ARRAY(
          SELECT e.id
          FROM {s}.runs AS e
          WHERE e.namespace = $2 AND e.status = 'running' AND e.lease_until < {now}
          FOR UPDATE SKIP LOCKED))
      AND r.status = 'running' AND r.lease_until < {now}
    RETURNING r.id, r.attempt, r.status, r.started_at
),
closed AS (
    INSERT INTO {s}.attempts (run_id, number, started_at, finished_at, outcome, error)
    SELECT d.id, d.attempt, d.started_at, {now}, 'lease_expired', $3
    FROM rescued AS d
),
woke AS (
    SELECT pg_notify('{channel}', 'a:' || $4 || ':' || left($2, 1000))
    FROM (SELECT 1 FROM rescued WHERE status = 'retrying' LIMIT 1) AS x
)
SELECT d.id, (SELECT count(*) FROM woke) AS woke FROM rescued AS d ORDER BY d.id";

/// One run. `$2` namespace, `$3` id.
const GET: &str = "SELECT {cols} FROM {s}.runs AS r WHERE r.namespace = $2 AND r.id = $3";

/// The attempts of a run; no row at all when the run does not exist, one row of NULLs
/// when it has none.
///
/// The `attempts` table holds the attempts that ended without finishing the run well
/// (failed, expired, interrupted, cancelled). The last attempt of a running or succeeded
/// run is described by the run's own row (`attempt`, `started_at`, `finished_at`), so the
/// common path, claimed then succeeded, writes no attempt row at all.
///
/// `$2` namespace, `$3` id.
const ATTEMPTS: &str = "
SELECT a.number, a.started_at, a.finished_at, a.outcome, a.error
FROM {s}.runs AS r
LEFT JOIN LATERAL (
    SELECT s.number, s.started_at, s.finished_at, s.outcome, s.error
    FROM {s}.attempts AS s
    WHERE s.run_id = r.id
    UNION ALL
    SELECT r.attempt, r.started_at,
           CASE WHEN r.status = 'succeeded' THEN r.finished_at END,
           CASE WHEN r.status = 'succeeded' THEN 'succeeded' ELSE 'running' END,
           NULL
    WHERE r.status IN ('running', 'succeeded')
) AS a ON true
WHERE r.namespace = $2 AND r.id = $3
ORDER BY a.number";

/// Cancels a run that has not finished and tells its worker. Also returns the status seen
/// before, to tell "not found" from "already finished".
///
/// A run cancelled while running gets its attempt stored as cancelled. Its last attempt
/// is running exactly when no row holds it yet: a failed, expired or interrupted attempt
/// was stored when it ended, in the statement that released the run's row lock. So the
/// insert skips a number already taken (`ON CONFLICT DO NOTHING`, which sees rows committed
/// after this statement's snapshot too, as when the run was claimed and failed meanwhile).
///
/// `$2` namespace, `$3` id, `$4` origin, `$5` the cancelled attempt's error.
const CANCEL: &str = "
WITH target AS (
    SELECT r.status FROM {s}.runs AS r WHERE r.namespace = $2 AND r.id = $3
),
cancelled AS (
    UPDATE {s}.runs AS r
    SET status = 'cancelled', finished_at = {now}, lease_until = NULL
    WHERE r.namespace = $2 AND r.id = $3 AND r.status IN ('queued', 'running', 'retrying')
    RETURNING {cols}
),
closed AS (
    INSERT INTO {s}.attempts (run_id, number, started_at, finished_at, outcome, error)
    SELECT c.id, c.attempt, c.started_at, {now}, 'cancelled', $5
    FROM cancelled AS c
    WHERE c.attempt > 0
    ON CONFLICT (run_id, number) DO NOTHING
),
told AS (
    SELECT pg_notify('{channel}', 'c:' || $4 || ':' || c.id::text || ':' || left($2, 1000))
    FROM cancelled AS c
)
SELECT c.*, t.status AS before, (SELECT count(*) FROM told) AS told
FROM target AS t LEFT JOIN cancelled AS c ON true";

/// Makes a new queued run from a finished one, with the budget `$7` (NULL: the
/// original's). Also returns the original's visible status, to tell "not found" from
/// "still active".
///
/// `$2` namespace, `$3` original id, `$4` new id, `$5` reason, `$6` origin, `$7` budget.
const REPLAY: &str = "
WITH original AS (
    SELECT r.*,
           CASE WHEN r.status = 'queued' AND r.attempt = 0 AND r.run_at > {now}
                THEN 'scheduled' ELSE r.status END AS visible
    FROM {s}.runs AS r WHERE r.namespace = $2 AND r.id = $3
),
replayed AS (
    INSERT INTO {s}.runs AS r (id, namespace, task, queue, status, payload, attempt,
                               max_attempts, priority, created_at, run_at, replay_of,
                               replay_reason, tick)
    SELECT $4, o.namespace, o.task, o.queue, 'queued', o.payload, 0,
           coalesce($7::int4, o.max_attempts),
           o.priority, {now}, {now}, o.id, $5, o.tick
    FROM original AS o
    WHERE o.status IN ('succeeded', 'cancelled', 'dead_lettered')
    RETURNING {cols}
),
woke AS (
    SELECT pg_notify('{channel}', 'a:' || $6 || ':' || left($2, 1000)) FROM replayed
)
SELECT n.*, o.visible AS before, (SELECT count(*) FROM woke) AS woke
FROM original AS o LEFT JOIN replayed AS n ON true";

/// What a dashboard shows, in one pass over the namespace's runs: the number of runs per
/// (task, visible status), split by the minute runs finished in when that minute is in
/// the window. The caller sums the minutes for the counts and the tasks for the
/// throughput. Reads every run of the namespace (an aggregate over the table: 0.35 s
/// for 1,000,000 runs on the 2-core reference machine), so it is for dashboards polling
/// every few seconds, not for hot paths; nothing on the workers' path pays for it.
///
/// `$2` namespace, `$3` window (µs, at most a day).
const STATS: &str = "
WITH clock AS (
    SELECT {now} AS now,
           least(date_trunc('minute', {now} - $3 * interval '1 microsecond'
                                        + interval '1 minute', 'UTC'),
                 date_trunc('minute', {now}, 'UTC')) AS since
)
SELECT r.task,
       CASE WHEN r.status = 'queued' AND r.attempt = 0 AND r.run_at > c.now
            THEN 'scheduled' ELSE r.status END AS status,
       CASE WHEN r.status IN ('succeeded', 'cancelled', 'dead_lettered')
                 AND r.finished_at >= c.since AND r.finished_at <= c.now
            THEN date_trunc('minute', r.finished_at, 'UTC') END AS minute,
       count(*) AS n,
       c.now AS at
FROM {s}.runs AS r, clock AS c
WHERE r.namespace = $2
GROUP BY 1, 2, 3, c.now
UNION ALL
SELECT NULL, NULL, NULL, 0, c.now FROM clock AS c";

/// Forgets the idempotency keys of up to `$4` finished runs enqueued before the key
/// window (`$3` µs): the runs stay, and an enqueue with the same key makes a new run.
/// Walks the keyed runs on the unique key index; rows another pruner holds are skipped.
const FORGET_KEYS: &str = "
UPDATE {s}.runs AS r
SET idempotency_key = NULL
WHERE r.namespace = $2
  AND r.id = ANY(ARRAY(
      SELECT k.id
      FROM {s}.runs AS k
      WHERE k.namespace = $2
        AND k.idempotency_key IS NOT NULL
        AND k.status IN ('succeeded', 'cancelled', 'dead_lettered')
        AND k.created_at < {now} - $3 * interval '1 microsecond'
      LIMIT $4
      FOR UPDATE SKIP LOCKED))
RETURNING r.id";

/// Deletes up to `$6` finished runs older than their status's retention (`$3`
/// succeeded, `$4` cancelled, `$5` dead-lettered, µs; NULL keeps them for ever) and
/// without a remembered key, with their attempts. No index serves it: the scan stops at
/// the `$6`th match, and when there is nothing to prune it reads the namespace's runs
/// once per pass (0.35 s per 1,000,000 runs here, every prune interval). Rows another
/// pruner holds are skipped.
const PRUNE: &str = "
WITH doomed AS (
    SELECT r.id
    FROM {s}.runs AS r
    WHERE r.namespace = $2
      AND r.idempotency_key IS NULL
      AND ((r.status = 'succeeded'
            AND r.finished_at < {now} - $3 * interval '1 microsecond')
        OR (r.status = 'cancelled'
            AND r.finished_at < {now} - $4 * interval '1 microsecond')
        OR (r.status = 'dead_lettered'
            AND r.finished_at < {now} - $5 * interval '1 microsecond'))
    LIMIT $6
    FOR UPDATE SKIP LOCKED
),
gone AS (
    DELETE FROM {s}.runs AS r
    USING doomed AS d
    WHERE r.namespace = $2 AND r.id = d.id
    RETURNING r.id
),
attempts_gone AS (
    DELETE FROM {s}.attempts AS a
    USING gone AS g
    WHERE a.run_id = g.id
)
SELECT count(*) AS runs FROM gone";

/// The parameter types of [`CLAIM`], for `PREPARE` (plan checks only).
pub(crate) const CLAIM_TYPES: &[&str] = &[
    "timestamptz",
    "text",
    "text[]",
    "int8",
    "int8",
    "text",
    "text",
];

/// The parameter types of [`FINISH`], for `PREPARE` (plan checks only).
pub(crate) const FINISH_TYPES: &[&str] = &[
    "timestamptz",
    "text",
    "uuid[]",
    "int4[]",
    "text[]",
    "text[]",
    "int8[]",
    "text",
];

/// Every statement of one storage, formatted for its schema.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) enqueue: String,
    pub(crate) existing_keys: String,
    pub(crate) claim: String,
    pub(crate) heartbeat: String,
    pub(crate) finish: String,
    pub(crate) release: String,
    pub(crate) rescue: String,
    pub(crate) get: String,
    pub(crate) attempts: String,
    pub(crate) cancel: String,
    pub(crate) replay: String,
    pub(crate) stats: String,
    pub(crate) claim_limited: String,
    pub(crate) limit_lock: String,
    pub(crate) forget_keys: String,
    pub(crate) prune: String,
    /// The start of a `list`; the caller appends filters, order and limit.
    pub(crate) list_head: String,
    /// The visible-status test for `scheduled`, to build `list` filters.
    pub(crate) scheduled: String,
}

impl Sql {
    /// Formats every statement for `schema` (already validated as a plain identifier) and
    /// its notification `channel` (derived from it).
    pub(crate) fn new(schema: &str, channel: &str) -> Sql {
        // Quoted, so a schema named like a keyword (`user`, `select`) works too; the
        // validated name holds no quote.
        let schema = format!("\"{schema}\"");
        let cols = RUN_COLUMNS.replace("{now}", NOW);
        let format = |template: &str| {
            template
                .replace("{cols}", &cols)
                .replace("{now}", NOW)
                .replace("{s}", &schema)
                .replace("{channel}", channel)
        };
        Sql {
            enqueue: format(ENQUEUE),
            existing_keys: format(EXISTING_KEYS),
            claim: format(CLAIM),
            heartbeat: format(HEARTBEAT),
            finish: format(FINISH),
            release: format(RELEASE),
            rescue: format(RESCUE),
            get: format(GET),
            attempts: format(ATTEMPTS),
            cancel: format(CANCEL),
            replay: format(REPLAY),
            stats: format(STATS),
            claim_limited: format(CLAIM_LIMITED),
            limit_lock: format(LIMIT_LOCK),
            forget_keys: format(FORGET_KEYS),
            prune: format(PRUNE),
            list_head: format("SELECT {cols} FROM {s}.runs AS r WHERE r.namespace = $2"),
            scheduled: format("(r.status = 'queued' AND r.attempt = 0 AND r.run_at > {now})"),
        }
    }
}

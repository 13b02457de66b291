//! The SQL text of every statement.
//!
//! Every value is a bind parameter. Batches (new runs, leases, results) are bound as one
//! JSON array and unpacked with `json_each`, so a batch is one statement. Times are
//! microseconds since the Unix epoch; `?1` is always now, read once by the caller.
//!
//! Plans (checked by the tests at the end): the claim walks `runs_claimable`; statements
//! on a batch of leases find each run by its primary key through an `IN (...)` list,
//! never by joining the batch to the table, where SQLite's planner would scan the
//! namespace's runs once per batch (`UPDATE ... FROM json_each(...)` does that).

/// The columns of a run, in the order `rows::run` reads them.
macro_rules! run_columns {
    () => {
        "id, namespace, task, queue, status, payload, attempt, max_attempts, failures, \
         snoozes, handbacks, priority, idempotency_key, created_at, run_at, started_at, \
         finished_at, last_error, replay_of, replay_reason, tick"
    };
}

/// `(id, attempt)` pairs of the JSON array `?3`, for the lease fence.
macro_rules! leases_in {
    () => {
        "(id, attempt) IN (SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]')
                           FROM json_each(?3) AS j)"
    };
}

/// Stores a batch of runs, in the batch's order. Keys already taken are skipped; the
/// caller reads their holders. `?1` now, `?2` the runs as `[id, namespace, task, queue,
/// payload text, max_attempts, priority, key, run_at, tick]` arrays.
pub(crate) const ENQUEUE: &str = "
INSERT INTO runs (id, namespace, task, queue, status, payload, attempt, max_attempts,
                  priority, idempotency_key, created_at, run_at, tick)
SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'),
       json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), 'queued',
       json_extract(j.value, '$[4]'), 0, json_extract(j.value, '$[5]'),
       json_extract(j.value, '$[6]'), json_extract(j.value, '$[7]'), ?1,
       json_extract(j.value, '$[8]'), json_extract(j.value, '$[9]')
FROM json_each(?2) AS j
WHERE true
ORDER BY j.key
ON CONFLICT (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id";

/// The run holding a key. `?1` namespace, `?2` key.
pub(crate) const KEY_HOLDER: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE namespace = ?1 AND idempotency_key = ?2"
);

/// Claims up to `?7` due runs of queue `?5`, tasks `?6` (JSON array), in (priority,
/// run_at, id) order. `?1` now, `?2` lease end, `?3` worker, `?4` namespace.
pub(crate) const CLAIM: &str = concat!(
    "UPDATE runs
     SET status = 'running', attempt = attempt + 1, started_at = ?1, lease_until = ?2,
         worker = ?3
     WHERE namespace = ?4 AND id IN (
         SELECT id FROM runs
         WHERE namespace = ?4 AND queue = ?5 AND status IN ('queued', 'retrying')
           AND task IN (SELECT value FROM json_each(?6)) AND run_at <= ?1
         ORDER BY priority, run_at, id
         LIMIT ?7)
     RETURNING ",
    run_columns!()
);

/// Claims the runs `?5` (JSON array of ids) a limited claim picked, if still waiting.
/// `?1` now, `?2` lease end, `?3` worker, `?4` namespace.
pub(crate) const CLAIM_PICKED: &str = concat!(
    "UPDATE runs
     SET status = 'running', attempt = attempt + 1, started_at = ?1, lease_until = ?2,
         worker = ?3
     WHERE namespace = ?4 AND id IN (SELECT value FROM json_each(?5))
       AND status IN ('queued', 'retrying')
     RETURNING ",
    run_columns!()
);

/// The payloads of the running runs of tasks `?2` (JSON array): what in-flight limits
/// count. `?1` namespace. On the index of running runs by name: left to itself, the
/// planner walks every run of the task (`runs_by_task`), finished ones included.
pub(crate) const LIMIT_RUNNING: &str = "
SELECT payload FROM runs INDEXED BY runs_running
WHERE namespace = ?1 AND status = 'running' AND task IN (SELECT value FROM json_each(?2))";

/// Forgets the starts of tasks `?2` at or before `?3`. `?1` namespace.
pub(crate) const LIMIT_EXPIRE_STARTS: &str = "
DELETE FROM limit_starts
WHERE namespace = ?1 AND task IN (SELECT value FROM json_each(?2)) AND started_at <= ?3";

/// The starts of tasks `?2` still within their period, by key. `?1` namespace.
pub(crate) const LIMIT_RECENT_STARTS: &str = "
SELECT key, count(*) AS n FROM limit_starts
WHERE namespace = ?1 AND task IN (SELECT value FROM json_each(?2))
GROUP BY key";

/// The first `?5` due runs of queue `?2`, tasks `?3`, in claim order: what a limited
/// claim picks from. `?1` namespace, `?4` now.
pub(crate) const LIMIT_CANDIDATES: &str = "
SELECT id, task, payload FROM runs
WHERE namespace = ?1 AND queue = ?2 AND status IN ('queued', 'retrying')
  AND task IN (SELECT value FROM json_each(?3)) AND run_at <= ?4
ORDER BY priority, run_at, id
LIMIT ?5";

/// Records starts `?3` (`[task, key]` arrays) at `?2`. `?1` namespace.
pub(crate) const LIMIT_RECORD_STARTS: &str = "
INSERT INTO limit_starts (namespace, task, key, started_at)
SELECT ?1, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ?2
FROM json_each(?3) AS j";

/// Extends the leases `?3` still held until `?1`. `?2` namespace.
pub(crate) const HEARTBEAT: &str = concat!(
    "UPDATE runs SET lease_until = ?1
     WHERE namespace = ?2 AND status = 'running' AND ",
    leases_in!(),
    " RETURNING id, attempt"
);

/// Records the successes `?3` still held. `?1` now, `?2` namespace.
pub(crate) const FINISH_SUCCEEDED: &str = concat!(
    "UPDATE runs SET status = 'succeeded', finished_at = ?1, lease_until = NULL
     WHERE namespace = ?2 AND status = 'running' AND ",
    leases_in!(),
    " RETURNING id, attempt"
);

/// Records one failure or snooze, if its lease still holds: `?5` is `retrying`,
/// `dead_lettered` (both counted in `failures`) or `snoozed` (stored as `retrying`,
/// counted in `snoozes`, `last_error` left as it was), `?6` the error or reason, `?7` the
/// delay (µs). Returns the attempt's start. `?1` now, `?2` namespace, `?3` id, `?4`
/// attempt.
pub(crate) const FINISH_FAILED: &str = "
UPDATE runs
SET status = CASE WHEN ?5 = 'snoozed' THEN 'retrying' ELSE ?5 END,
    finished_at = CASE WHEN ?5 = 'dead_lettered' THEN ?1 ELSE finished_at END,
    run_at = CASE WHEN ?5 = 'dead_lettered' THEN run_at ELSE ?1 + ?7 END,
    last_error = CASE WHEN ?5 = 'snoozed' THEN last_error ELSE ?6 END,
    failures = CASE WHEN ?5 = 'snoozed' THEN failures ELSE min(failures + 1, 2147483647) END,
    snoozes = CASE WHEN ?5 = 'snoozed' THEN min(snoozes + 1, 2147483647) ELSE snoozes END,
    lease_until = NULL
WHERE namespace = ?2 AND id = ?3 AND status = 'running' AND attempt = ?4
RETURNING started_at";

/// Stores attempts that ended otherwise than in success, finished at `?1`: `?2` holds
/// `[run id, number, started_at, outcome, error]` arrays.
pub(crate) const STORE_ATTEMPTS: &str = "
INSERT INTO attempts (run_id, number, started_at, finished_at, outcome, error)
SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'),
       json_extract(j.value, '$[2]'), ?1, json_extract(j.value, '$[3]'),
       json_extract(j.value, '$[4]')
FROM json_each(?2) AS j";

/// Hands the runs of leases `?3` back: queued again at their place in line (`run_at`
/// kept), counted in `handbacks`, not against the budget. `?1` now (unused here, kept so
/// `?1` is now in every statement), `?2` namespace.
pub(crate) const RELEASE: &str = concat!(
    "UPDATE runs
     SET status = 'queued', lease_until = NULL, handbacks = min(handbacks + 1, 2147483647)
     WHERE namespace = ?2 AND status = 'running' AND ",
    leases_in!(),
    " RETURNING id, attempt, started_at"
);

/// Retries, or dead-letters when their budget is spent, the runs whose lease ended
/// before `?1`, with error `?3`, counting the lost attempt in `failures`. A rescued run
/// keeps its `run_at`, so its place in line. `?2` namespace.
pub(crate) const RESCUE: &str = "
UPDATE runs
SET status = CASE WHEN failures + 1 >= max_attempts THEN 'dead_lettered' ELSE 'retrying' END,
    finished_at = CASE WHEN failures + 1 >= max_attempts THEN ?1 ELSE finished_at END,
    failures = min(failures + 1, 2147483647),
    last_error = ?3, lease_until = NULL
WHERE namespace = ?2 AND status = 'running' AND lease_until < ?1
RETURNING id, attempt, started_at, status";

/// One run. `?1` namespace, `?2` id.
pub(crate) const GET: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE namespace = ?1 AND id = ?2"
);

/// The start of `list`: the caller appends filters on `?2` task, `?3` cursor, `?4`
/// status and `?5` now, then `ORDER BY id DESC LIMIT ?6`. `?1` namespace.
pub(crate) const LIST_HEAD: &str =
    concat!("SELECT ", run_columns!(), " FROM runs WHERE namespace = ?1");

/// A stored `queued` run whose first attempt is not due at `?5`: `scheduled`.
pub(crate) const NOT_DUE_YET: &str = "(status = 'queued' AND attempt = 0 AND run_at > ?5)";

/// What a run's row says of its state. `?1` namespace, `?2` id.
pub(crate) const STATE: &str = "
SELECT status, attempt, run_at, started_at, finished_at FROM runs
WHERE namespace = ?1 AND id = ?2";

/// The stored attempts of run `?1`.
pub(crate) const ATTEMPTS: &str = "
SELECT number, started_at, finished_at, outcome, error FROM attempts
WHERE run_id = ?1 ORDER BY number";

/// Cancels a run. `?1` now, `?2` namespace, `?3` id.
pub(crate) const CANCEL: &str = concat!(
    "UPDATE runs SET status = 'cancelled', finished_at = ?1, lease_until = NULL
     WHERE namespace = ?2 AND id = ?3
     RETURNING ",
    run_columns!()
);

/// Stores the attempt a cancel ended, unless it ended before (and was stored then).
/// `?1` run id, `?2` number, `?3` its start, `?4` now, `?5` error.
pub(crate) const CANCEL_ATTEMPT: &str = "
INSERT INTO attempts (run_id, number, started_at, finished_at, outcome, error)
VALUES (?1, ?2, ?3, ?4, 'cancelled', ?5)
ON CONFLICT (run_id, number) DO NOTHING";

/// Makes `?1` a new queued run from run `?5`, replaying it for reason `?3`, with budget
/// `?6` (NULL: the original's). `?2` now, `?4` namespace.
pub(crate) const REPLAY: &str = concat!(
    "INSERT INTO runs (id, namespace, task, queue, status, payload, attempt, max_attempts,
                       priority, created_at, run_at, replay_of, replay_reason, tick)
     SELECT ?1, namespace, task, queue, 'queued', payload, 0, coalesce(?6, max_attempts),
            priority, ?2, ?2, id, ?3, tick
     FROM runs WHERE namespace = ?4 AND id = ?5
     RETURNING ",
    run_columns!()
);

/// Runs per (task, visible status), split by the minute they finished in when that is
/// between `?3` and `?2` (now). Reads every run of namespace `?1`.
pub(crate) const STATS: &str = "
SELECT task,
       CASE WHEN status = 'queued' AND attempt = 0 AND run_at > ?2
            THEN 'scheduled' ELSE status END AS status,
       CASE WHEN status IN ('succeeded', 'cancelled', 'dead_lettered')
                 AND finished_at >= ?3 AND finished_at <= ?2
            THEN finished_at - finished_at % 60000000 END AS minute,
       count(*) AS n
FROM runs WHERE namespace = ?1
GROUP BY 1, 2, 3";

/// Forgets the keys of up to `?3` finished runs enqueued before `?2`. `?1` namespace.
pub(crate) const FORGET_KEYS: &str = "
UPDATE runs SET idempotency_key = NULL
WHERE rowid IN (
    SELECT rowid FROM runs
    WHERE namespace = ?1 AND idempotency_key IS NOT NULL
      AND status IN ('succeeded', 'cancelled', 'dead_lettered') AND created_at < ?2
    LIMIT ?3)";

/// Deletes up to `?5` finished runs without a key that finished before their status's
/// cutoff (`?2` succeeded, `?3` cancelled, `?4` dead-lettered; NULL keeps them).
/// `?1` namespace.
pub(crate) const PRUNE: &str = "
DELETE FROM runs
WHERE rowid IN (
    SELECT rowid FROM runs
    WHERE namespace = ?1 AND idempotency_key IS NULL
      AND ((status = 'succeeded' AND finished_at < ?2)
        OR (status = 'cancelled' AND finished_at < ?3)
        OR (status = 'dead_lettered' AND finished_at < ?4))
    LIMIT ?5)
RETURNING id";

/// Deletes the attempts of runs `?1` (JSON array of ids).
pub(crate) const PRUNE_ATTEMPTS: &str =
    "DELETE FROM attempts WHERE run_id IN (SELECT value FROM json_each(?1))";

#[cfg(test)]
mod tests {
    use super::*;

    use jobs::ManualClock;

    use crate::SqliteStorage;

    /// `EXPLAIN QUERY PLAN` of `sql` on a fresh file, one line per step.
    async fn plan(storage: &SqliteStorage, sql: &str) -> String {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(storage.read_pool())
                .await
                .unwrap_or_else(|e| panic!("explain {sql}: {e}"));
        rows.into_iter()
            .map(|(_, _, _, detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn fresh() -> (SqliteStorage, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "jobs-sqlite-plans-{}",
            jobs::RunId::new().as_uuid().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let storage = SqliteStorage::builder()
            .clock(ManualClock::new())
            .open(dir.join("plans.db"))
            .await
            .unwrap_or_else(|e| panic!("open: {e}"));
        (storage, dir)
    }

    #[tokio::test]
    async fn statements_use_their_indexes() {
        let (storage, dir) = fresh().await;
        let claim = plan(&storage, CLAIM).await;
        assert!(claim.contains("USING INDEX runs_claimable"), "{claim}");
        assert!(!claim.contains("SCAN runs"), "{claim}");
        for (name, sql) in [
            ("heartbeat", HEARTBEAT),
            ("finish", FINISH_SUCCEEDED),
            ("finish a failure", FINISH_FAILED),
            ("release", RELEASE),
            ("claim picked runs", CLAIM_PICKED),
            ("get", GET),
            ("cancel", CANCEL),
        ] {
            let plan = plan(&storage, sql).await;
            let first = plan.lines().next().unwrap_or_default();
            assert!(
                first.starts_with("SEARCH runs USING")
                    && first.contains("sqlite_autoindex_runs_1 (namespace=? AND id=?)"),
                "{name} must find each run by its primary key:\n{plan}"
            );
        }
        let running = plan(&storage, LIMIT_RUNNING).await;
        assert!(running.contains("INDEX runs_running"), "{running}");
        let candidates = plan(&storage, LIMIT_CANDIDATES).await;
        assert!(candidates.contains("INDEX runs_claimable"), "{candidates}");
        let rescue = plan(&storage, RESCUE).await;
        assert!(rescue.contains("INDEX runs_running"), "{rescue}");
        let holder = plan(&storage, KEY_HOLDER).await;
        assert!(holder.contains("runs_idempotency_key"), "{holder}");
        storage.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}

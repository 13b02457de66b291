//! `impl Storage for SqliteStorage`.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction on the writer connection: it holds the
//! file's write lock from its first read to its commit, so it acts on exactly the state it
//! read, whichever process writes next. Batches (new runs, leases, successes) travel as
//! one JSON array bound to one statement and unpacked by `json_each`, so a batch costs one
//! statement, not one per run; a failure or snooze, which carries its own error and delay,
//! is one statement of its own in the batch's transaction (see `sql.rs` for why). Reads
//! use the reader pool; WAL lets them run beside a write and see what was committed
//! before they started.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobs::stats::{MAX_STATS_WINDOW, StatusCount, window_start};
use jobs::storage::{
    AttemptResult, CANCELLED, ClaimRequest, Enqueued, Finished, Heartbeat, INTERRUPTED,
    LEASE_EXPIRED, Lease, NewRun, Outcome, ReplayRequest, Schedule, Storage, StorageEvent,
    check_new_runs, check_text,
};
use jobs::{
    Attempt, AttemptOutcome, Error, KeyLimit, ListRuns, Page, Pruned, Retention, Run, RunId,
    RunStatus, Stats,
};
use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::broadcast;

use crate::SqliteStorage;
use crate::rows::{self, id_text, micros, stamp, time};
use crate::sql;

type Tx = Transaction<'static, Sqlite>;

/// How many new runs one insert statement stores.
const ENQUEUE_CHUNK: usize = 500;

/// How many due runs a claim with per-key limits looks at (as on PostgreSQL).
const LIMITED_WINDOW: i64 = 10_000;

fn failed(action: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::storage(action, e)
}

/// A JSON array as text, for `json_each(?)`.
fn array(items: Vec<Value>) -> String {
    Value::Array(items).to_string()
}

/// `(id, attempt)` pairs of leases, for the `(id, attempt) IN (...)` fence.
fn lease_array(leases: &[Lease]) -> String {
    array(
        leases
            .iter()
            .map(|lease| json!([id_text(lease.id), lease.attempt]))
            .collect(),
    )
}

/// The `(id, attempt)` pairs of rows that returned them.
fn returned_leases(rows: &[SqliteRow], action: &'static str) -> Result<HashSet<Lease>, Error> {
    rows.iter()
        .map(|row| {
            let id: &str = row.try_get("id").map_err(failed(action))?;
            let attempt: i64 = row.try_get("attempt").map_err(failed(action))?;
            Ok(Lease::new(
                rows::run_id(id)?,
                u32::try_from(attempt).unwrap_or(0),
            ))
        })
        .collect()
}

impl SqliteStorage {
    /// A write transaction holding the file's write lock.
    async fn write(&self, action: &'static str) -> Result<Tx, Error> {
        self.inner
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(failed(action))
    }

    /// Now, to the microsecond (the precision stored), as a time and as stored.
    fn now(&self) -> (DateTime<Utc>, i64) {
        let us = stamp(self.clock_now());
        (
            DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH),
            us,
        )
    }

    fn available(&self, namespace: &str) {
        self.emit(StorageEvent::RunsAvailable {
            namespace: namespace.to_owned(),
        });
    }

    /// Stores the runs (one statement) and reads back the runs holding keys that were
    /// taken, all in one transaction.
    async fn insert(&self, runs: &[NewRun]) -> Result<Vec<Enqueued>, Error> {
        let action = "enqueue runs";
        let (now, now_us) = self.now();
        let mut items = Vec::with_capacity(runs.len());
        let mut due = Vec::with_capacity(runs.len());
        for run in runs {
            let run_at = match run.schedule {
                Schedule::Now => now_us,
                Schedule::After(delay) => now_us.saturating_add(micros(delay)),
                Schedule::At(at) => stamp(at).max(now_us),
            };
            due.push(run_at);
            let payload =
                serde_json::to_string(&run.payload).map_err(|e| Error::storage(action, e))?;
            items.push(json!([
                id_text(run.id),
                run.namespace,
                run.task,
                run.queue,
                payload,
                run.max_attempts.max(1),
                run.priority,
                run.idempotency_key,
                run_at,
                run.tick.map(stamp),
            ]));
        }
        let mut tx = self.write(action).await?;
        let mut created = HashSet::with_capacity(runs.len());
        // In chunks, in order, so that one statement's text stays well under SQLite's
        // length limit however large the batch and its payloads.
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let chunk: Vec<Value> = items.by_ref().take(ENQUEUE_CHUNK).collect();
            let inserted = sqlx::query(sql::ENQUEUE)
                .bind(now_us)
                .bind(array(chunk))
                .fetch_all(&mut *tx)
                .await
                .map_err(failed(action))?;
            for row in &inserted {
                let id: &str = row.try_get("id").map_err(failed(action))?;
                created.insert(rows::run_id(id)?);
            }
        }
        let mut results = Vec::with_capacity(runs.len());
        let mut woken = HashSet::new();
        for (run, run_at) in runs.iter().zip(due) {
            if created.contains(&run.id) {
                let run_at = time(run_at)?;
                if run_at <= now {
                    woken.insert(run.namespace.as_str());
                }
                results.push(Enqueued::new(new_run(run, now, run_at), true));
                continue;
            }
            // Not stored: its key was taken, by an earlier run or one earlier in this
            // batch, and the write lock is ours, so the holder is there to read.
            let key = run
                .idempotency_key
                .as_deref()
                .ok_or_else(|| Error::storage(action, format!("run {} was not stored", run.id)))?;
            let holder = sqlx::query(sql::KEY_HOLDER)
            .bind(&run.namespace)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed(action))?
            .ok_or_else(|| {
                Error::storage(
                    action,
                    format!(
                        "run {} was not stored and no run holds its idempotency key {key:?} in namespace `{}`",
                        run.id, run.namespace
                    ),
                )
            })?;
            results.push(Enqueued::new(rows::run(&holder, now)?, false));
        }
        tx.commit().await.map_err(failed(action))?;
        for namespace in woken {
            self.available(namespace);
        }
        Ok(results)
    }

    /// A claim of runs of one task with per-key limits: the state is read and the runs
    /// picked in Rust, inside the transaction that holds the write lock, so no other claim
    /// counts the same room.
    async fn claim_limited(
        &self,
        request: &ClaimRequest,
        limit: &KeyLimit,
    ) -> Result<Vec<Run>, Error> {
        let action = "claim runs with per-key limits";
        let (now, now_us) = self.now();
        let tasks = array(request.tasks.iter().map(|t| json!(t)).collect());
        let mut tx = self.write(action).await?;

        let mut in_flight: HashMap<String, u32> = HashMap::new();
        let running = sqlx::query(sql::LIMIT_RUNNING)
            .bind(&request.namespace)
            .bind(&tasks)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        for row in &running {
            *in_flight.entry(key_of(limit, row)?).or_default() += 1;
        }

        let mut started: HashMap<String, u32> = HashMap::new();
        if let Some((_, per)) = limit.starts_max() {
            let since = now_us.saturating_sub(micros(per));
            sqlx::query(sql::LIMIT_EXPIRE_STARTS)
                .bind(&request.namespace)
                .bind(&tasks)
                .bind(since)
                .execute(&mut *tx)
                .await
                .map_err(failed(action))?;
            let recent = sqlx::query(sql::LIMIT_RECENT_STARTS)
                .bind(&request.namespace)
                .bind(&tasks)
                .fetch_all(&mut *tx)
                .await
                .map_err(failed(action))?;
            for row in &recent {
                let key: String = row.try_get("key").map_err(failed(action))?;
                let n: i64 = row.try_get("n").map_err(failed(action))?;
                started.insert(key, u32::try_from(n).unwrap_or(u32::MAX));
            }
        }

        let candidates = sqlx::query(sql::LIMIT_CANDIDATES)
            .bind(&request.namespace)
            .bind(&request.queue)
            .bind(&tasks)
            .bind(now_us)
            .bind(LIMITED_WINDOW)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        let mut picked = Vec::new();
        let mut starts = Vec::new();
        for row in &candidates {
            if picked.len() >= request.limit {
                break;
            }
            let key = key_of(limit, row)?;
            let running = in_flight.get(&key).copied().unwrap_or(0);
            if limit.in_flight_max().is_some_and(|max| running >= max) {
                continue;
            }
            if let Some((max, _)) = limit.starts_max() {
                let count = started.entry(key.clone()).or_default();
                if *count >= max {
                    continue;
                }
                *count += 1;
                let task: String = row.try_get("task").map_err(failed(action))?;
                starts.push(json!([task, key]));
            }
            *in_flight.entry(key).or_default() += 1;
            let id: String = row.try_get("id").map_err(failed(action))?;
            picked.push(json!(id));
        }
        if picked.is_empty() {
            tx.commit().await.map_err(failed(action))?;
            return Ok(Vec::new());
        }
        let claimed = sqlx::query(sql::CLAIM_PICKED)
            .bind(now_us)
            .bind(now_us.saturating_add(micros(request.lease)))
            .bind(&request.worker)
            .bind(&request.namespace)
            .bind(array(picked))
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        if !starts.is_empty() {
            sqlx::query(sql::LIMIT_RECORD_STARTS)
                .bind(&request.namespace)
                .bind(now_us)
                .bind(array(starts))
                .execute(&mut *tx)
                .await
                .map_err(failed(action))?;
        }
        tx.commit().await.map_err(failed(action))?;
        claimed_runs(&claimed, now)
    }

    /// Stores attempts that ended otherwise than in success: `(run id, number, started
    /// at, outcome, error)` each, finished now.
    async fn store_attempts(
        tx: &mut Tx,
        now_us: i64,
        attempts: Vec<Value>,
        action: &'static str,
    ) -> Result<(), Error> {
        if attempts.is_empty() {
            return Ok(());
        }
        sqlx::query(sql::STORE_ATTEMPTS)
            .bind(now_us)
            .bind(array(attempts))
            .execute(&mut **tx)
            .await
            .map_err(failed(action))?;
        Ok(())
    }
}

/// The key of the run in `row` (column `payload`) under `limit`.
fn key_of(limit: &KeyLimit, row: &SqliteRow) -> Result<String, Error> {
    let payload: &str = row
        .try_get("payload")
        .map_err(failed("read a run's payload"))?;
    let payload: Value =
        serde_json::from_str(payload).map_err(|e| Error::storage("read a run's payload", e))?;
    Ok(limit.key_of(&payload))
}

/// The run an enqueue just stored, as a read would return it.
fn new_run(run: &NewRun, now: DateTime<Utc>, run_at: DateTime<Utc>) -> Run {
    let mut stored = Run::new(
        run.id,
        run.namespace.clone(),
        run.task.clone(),
        run.payload.clone(),
        now,
    );
    stored.queue = run.queue.clone();
    stored.status = RunStatus::Queued.as_seen_at(0, run_at, now);
    stored.max_attempts = run.max_attempts.max(1);
    stored.priority = run.priority;
    stored.idempotency_key = run.idempotency_key.clone();
    stored.run_at = run_at;
    stored.tick = run.tick;
    stored
}

/// Claimed rows as runs, in claim order.
fn claimed_runs(rows: &[SqliteRow], now: DateTime<Utc>) -> Result<Vec<Run>, Error> {
    let mut runs = rows
        .iter()
        .map(|row| rows::run(row, now))
        .collect::<Result<Vec<_>, _>>()?;
    runs.sort_unstable_by_key(|run| (run.priority, run.run_at, run.id));
    Ok(runs)
}

/// A status, as stored, of a run read before a change.
fn stored_status(
    row: &SqliteRow,
    now: DateTime<Utc>,
    action: &'static str,
) -> Result<RunStatus, Error> {
    let status: RunStatus = row
        .try_get::<&str, _>("status")
        .map_err(failed(action))?
        .parse()?;
    let attempt: i64 = row.try_get("attempt").map_err(failed(action))?;
    let run_at = time(row.try_get("run_at").map_err(failed(action))?)?;
    Ok(status.as_seen_at(u32::try_from(attempt).unwrap_or(0), run_at, now))
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, Error> {
        check_new_runs(&runs)?;
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        self.insert(&runs).await
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<Run>, Error> {
        if request.limit == 0 || request.tasks.is_empty() {
            return Ok(Vec::new());
        }
        self.inner.watch.claims_from(&request.namespace);
        if let Some(limit) = &request.key_limit {
            return self.claim_limited(&request, limit).await;
        }
        let action = "claim runs";
        let (now, now_us) = self.now();
        let tasks = array(request.tasks.iter().map(|t| json!(t)).collect());
        let mut tx = self.write(action).await?;
        let rows = sqlx::query(sql::CLAIM)
            .bind(now_us)
            .bind(now_us.saturating_add(micros(request.lease)))
            .bind(&request.worker)
            .bind(&request.namespace)
            .bind(&request.queue)
            .bind(tasks)
            .bind(i64::try_from(request.limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        tx.commit().await.map_err(failed(action))?;
        claimed_runs(&rows, now)
    }

    async fn heartbeat(&self, request: Heartbeat) -> Result<Vec<Lease>, Error> {
        if request.leases.is_empty() {
            return Ok(Vec::new());
        }
        let action = "extend leases";
        let (_, now_us) = self.now();
        let mut tx = self.write(action).await?;
        let rows = sqlx::query(sql::HEARTBEAT)
            .bind(now_us.saturating_add(micros(request.lease)))
            .bind(&request.namespace)
            .bind(lease_array(&request.leases))
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        tx.commit().await.map_err(failed(action))?;
        let held = returned_leases(&rows, action)?;
        Ok(request
            .leases
            .into_iter()
            .filter(|lease| held.contains(lease))
            .collect())
    }

    async fn finish(&self, namespace: &str, outcomes: Vec<Outcome>) -> Result<Finished, Error> {
        if outcomes.is_empty() {
            return Ok(Finished::default());
        }
        let action = "record attempt results";
        let (_, now_us) = self.now();
        let successes: Vec<Lease> = outcomes
            .iter()
            .filter(|outcome| outcome.result == AttemptResult::Succeeded)
            .map(|outcome| outcome.lease)
            .collect();
        let mut tx = self.write(action).await?;
        // The common case, every success of the batch: one statement.
        let mut applied = if successes.is_empty() {
            HashSet::new()
        } else {
            let rows = sqlx::query(sql::FINISH_SUCCEEDED)
                .bind(now_us)
                .bind(namespace)
                .bind(lease_array(&successes))
                .fetch_all(&mut *tx)
                .await
                .map_err(failed(action))?;
            returned_leases(&rows, action)?
        };
        // Failures and snoozes, each with its own error and delay: one statement each
        // (prepared once), and the attempt stored.
        let mut attempts = Vec::new();
        let mut wakes = false;
        for outcome in &outcomes {
            let (status, kind, error, delay) = match &outcome.result {
                AttemptResult::Succeeded => continue,
                AttemptResult::Retry { error, delay } => {
                    ("retrying", AttemptOutcome::Failed, error, *delay)
                }
                AttemptResult::DeadLetter { error } => (
                    "dead_lettered",
                    AttemptOutcome::Failed,
                    error,
                    Duration::ZERO,
                ),
                // Not a stored status: the run becomes `retrying`, the attempt `snoozed`.
                AttemptResult::Snooze { reason, delay } => {
                    ("snoozed", AttemptOutcome::Snoozed, reason, *delay)
                }
            };
            let started_at: Option<Option<i64>> = sqlx::query_scalar(sql::FINISH_FAILED)
                .bind(now_us)
                .bind(namespace)
                .bind(id_text(outcome.lease.id))
                .bind(outcome.lease.attempt)
                .bind(status)
                .bind(error)
                .bind(micros(delay))
                .fetch_optional(&mut *tx)
                .await
                .map_err(failed(action))?;
            let Some(started_at) = started_at else {
                continue;
            };
            applied.insert(outcome.lease);
            wakes |= status != "dead_lettered" && delay.is_zero();
            attempts.push(json!([
                id_text(outcome.lease.id),
                outcome.lease.attempt,
                started_at.unwrap_or(now_us),
                kind.as_str(),
                error
            ]));
        }
        Self::store_attempts(&mut tx, now_us, attempts, action).await?;
        tx.commit().await.map_err(failed(action))?;
        if wakes {
            self.available(namespace);
        }
        let stale: Vec<Lease> = outcomes
            .iter()
            .map(|outcome| outcome.lease)
            .filter(|lease| !applied.contains(lease))
            .collect();
        Ok(Finished::new(outcomes.len() - stale.len(), stale))
    }

    async fn release(&self, namespace: &str, leases: Vec<Lease>) -> Result<usize, Error> {
        if leases.is_empty() {
            return Ok(0);
        }
        let action = "hand runs back";
        let (_, now_us) = self.now();
        let mut tx = self.write(action).await?;
        let rows = sqlx::query(sql::RELEASE)
            .bind(now_us)
            .bind(namespace)
            .bind(lease_array(&leases))
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        let attempts = ended_attempts(
            &rows,
            now_us,
            AttemptOutcome::Interrupted,
            INTERRUPTED,
            action,
        )?;
        Self::store_attempts(&mut tx, now_us, attempts, action).await?;
        tx.commit().await.map_err(failed(action))?;
        if !rows.is_empty() {
            self.available(namespace);
        }
        Ok(rows.len())
    }

    async fn rescue_expired(&self, namespace: &str) -> Result<Vec<RunId>, Error> {
        let action = "rescue runs whose lease expired";
        let (_, now_us) = self.now();
        let mut tx = self.write(action).await?;
        let rows = sqlx::query(sql::RESCUE)
            .bind(now_us)
            .bind(namespace)
            .bind(LEASE_EXPIRED)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        let attempts = ended_attempts(
            &rows,
            now_us,
            AttemptOutcome::LeaseExpired,
            LEASE_EXPIRED,
            action,
        )?;
        Self::store_attempts(&mut tx, now_us, attempts, action).await?;
        tx.commit().await.map_err(failed(action))?;
        let mut rescued = Vec::with_capacity(rows.len());
        let mut wakes = false;
        for row in &rows {
            let id: &str = row.try_get("id").map_err(failed(action))?;
            rescued.push(rows::run_id(id)?);
            let status: &str = row.try_get("status").map_err(failed(action))?;
            wakes |= status == "retrying";
        }
        rescued.sort_unstable();
        if wakes {
            self.available(namespace);
        }
        Ok(rescued)
    }

    async fn get(&self, namespace: &str, id: RunId) -> Result<Option<Run>, Error> {
        let (now, _) = self.now();
        let row = sqlx::query(sql::GET)
            .bind(namespace)
            .bind(id_text(id))
            .fetch_optional(&self.inner.reader)
            .await
            .map_err(failed("read a run"))?;
        row.as_ref().map(|row| rows::run(row, now)).transpose()
    }

    async fn list(&self, namespace: &str, filter: &ListRuns) -> Result<Page, Error> {
        if let Some(task) = filter.task_value() {
            check_text("task", task)?;
        }
        let (now, now_us) = self.now();
        let mut text = sql::LIST_HEAD.to_owned();
        if filter.task_value().is_some() {
            text.push_str(" AND task = ?2");
        }
        if filter.cursor_value().is_some() {
            text.push_str(" AND id < ?3");
        }
        match filter.status_value() {
            None => {}
            Some(RunStatus::Scheduled) => {
                text.push_str(" AND ");
                text.push_str(sql::NOT_DUE_YET);
            }
            Some(RunStatus::Queued) => {
                text.push_str(" AND status = 'queued' AND NOT ");
                text.push_str(sql::NOT_DUE_YET);
            }
            Some(_) => text.push_str(" AND status = ?4"),
        }
        text.push_str(" ORDER BY id DESC LIMIT ?6");
        let limit = usize::try_from(filter.limit_value()).unwrap_or(usize::MAX);
        let rows = sqlx::query(&text)
            .bind(namespace)
            .bind(filter.task_value())
            .bind(filter.cursor_value().map(|c| id_text(c.last_id())))
            .bind(filter.status_value().map(RunStatus::as_str))
            .bind(now_us)
            .bind(i64::from(filter.limit_value()) + 1)
            .fetch_all(&self.inner.reader)
            .await
            .map_err(failed("list runs"))?;
        let runs = rows
            .iter()
            .map(|row| rows::run(row, now))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(runs, limit))
    }

    async fn attempts(&self, namespace: &str, id: RunId) -> Result<Vec<Attempt>, Error> {
        let action = "read the attempts of a run";
        // One snapshot for both reads.
        let mut tx = self.inner.reader.begin().await.map_err(failed(action))?;
        let run = sqlx::query(sql::STATE)
            .bind(namespace)
            .bind(id_text(id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed(action))?
            .ok_or_else(|| Error::run_not_found(namespace, id))?;
        let stored = sqlx::query(sql::ATTEMPTS)
            .bind(id_text(id))
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        tx.commit().await.map_err(failed(action))?;
        let mut attempts = stored
            .iter()
            .map(rows::attempt)
            .collect::<Result<Vec<_>, _>>()?;
        // The last attempt of a running or succeeded run is described by its row.
        let status: &str = run.try_get("status").map_err(failed(action))?;
        let outcome = match status {
            "running" => Some(AttemptOutcome::Running),
            "succeeded" => Some(AttemptOutcome::Succeeded),
            _ => None,
        };
        if let Some(outcome) = outcome {
            let number: i64 = run.try_get("attempt").map_err(failed(action))?;
            let started_at: Option<i64> = run.try_get("started_at").map_err(failed(action))?;
            let finished_at: Option<i64> = run.try_get("finished_at").map_err(failed(action))?;
            if let Some(started_at) = started_at {
                let mut attempt = Attempt::new(
                    u32::try_from(number).unwrap_or(0),
                    time(started_at)?,
                    outcome,
                );
                if outcome == AttemptOutcome::Succeeded {
                    attempt.finished_at = finished_at.map(time).transpose()?;
                }
                attempts.push(attempt);
            }
        }
        attempts.sort_by_key(|attempt| attempt.number);
        Ok(attempts)
    }

    async fn cancel(&self, namespace: &str, id: RunId) -> Result<Run, Error> {
        let action = "cancel a run";
        let (now, now_us) = self.now();
        let mut tx = self.write(action).await?;
        let before = sqlx::query(sql::STATE)
            .bind(namespace)
            .bind(id_text(id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed(action))?
            .ok_or_else(|| Error::run_not_found(namespace, id))?;
        let status = stored_status(&before, now, action)?;
        if status.is_final() {
            return Err(Error::NotCancellable { id, status });
        }
        let row = sqlx::query(sql::CANCEL)
            .bind(now_us)
            .bind(namespace)
            .bind(id_text(id))
            .fetch_one(&mut *tx)
            .await
            .map_err(failed(action))?;
        // The attempt the run was in, unless it already ended (failed, expired, handed
        // back) and was stored then.
        let attempt: i64 = before.try_get("attempt").map_err(failed(action))?;
        let started_at: Option<i64> = before.try_get("started_at").map_err(failed(action))?;
        if let (true, Some(started_at)) = (attempt > 0, started_at) {
            sqlx::query(sql::CANCEL_ATTEMPT)
                .bind(id_text(id))
                .bind(attempt)
                .bind(started_at)
                .bind(now_us)
                .bind(CANCELLED)
                .execute(&mut *tx)
                .await
                .map_err(failed(action))?;
        }
        tx.commit().await.map_err(failed(action))?;
        self.emit(StorageEvent::Cancelled {
            namespace: namespace.to_owned(),
            id,
        });
        rows::run(&row, now)
    }

    async fn replay(&self, namespace: &str, request: ReplayRequest) -> Result<Run, Error> {
        let ReplayRequest {
            id,
            new_id,
            reason,
            max_attempts,
            ..
        } = request;
        check_text("reason", &reason)?;
        let action = "replay a run";
        let (now, now_us) = self.now();
        let mut tx = self.write(action).await?;
        let before = sqlx::query(sql::STATE)
            .bind(namespace)
            .bind(id_text(id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed(action))?
            .ok_or_else(|| Error::run_not_found(namespace, id))?;
        let status = stored_status(&before, now, action)?;
        if !status.is_final() {
            return Err(Error::NotReplayable { id, status });
        }
        let row = sqlx::query(sql::REPLAY)
            .bind(id_text(new_id))
            .bind(now_us)
            .bind(reason)
            .bind(namespace)
            .bind(id_text(id))
            .bind(max_attempts.map(|n| i64::from(n.max(1))))
            .fetch_one(&mut *tx)
            .await
            .map_err(failed(action))?;
        tx.commit().await.map_err(failed(action))?;
        self.available(namespace);
        rows::run(&row, now)
    }

    fn subscribe(&self) -> broadcast::Receiver<StorageEvent> {
        let receiver = self.inner.events.subscribe();
        crate::watch::start(&self.inner);
        receiver
    }

    async fn stats(&self, namespace: &str, window: Duration) -> Result<Stats, Error> {
        let action = "read the stats of a namespace";
        let window = window.min(MAX_STATS_WINDOW);
        let (now, now_us) = self.now();
        let since = stamp(window_start(now, window));
        let rows = sqlx::query(sql::STATS)
            .bind(namespace)
            .bind(now_us)
            .bind(since)
            .fetch_all(&self.inner.reader)
            .await
            .map_err(failed(action))?;
        let mut counts = Vec::with_capacity(rows.len());
        let mut finished = Vec::new();
        for row in &rows {
            let task: String = row.try_get("task").map_err(failed(action))?;
            let status: RunStatus = row
                .try_get::<&str, _>("status")
                .map_err(failed(action))?
                .parse()?;
            let n = u64::try_from(row.try_get::<i64, _>("n").map_err(failed(action))?).unwrap_or(0);
            if let Some(minute) = row
                .try_get::<Option<i64>, _>("minute")
                .map_err(failed(action))?
            {
                finished.push((time(minute)?, status, n));
            }
            counts.push(StatusCount::new(task, status, n));
        }
        Ok(Stats::from_counts(now, window, counts, finished))
    }

    async fn now(&self) -> Result<DateTime<Utc>, Error> {
        Ok(self.clock_now())
    }

    async fn prune(
        &self,
        namespace: &str,
        retention: &Retention,
        limit: usize,
    ) -> Result<Pruned, Error> {
        let action = "prune finished runs";
        let (_, now_us) = self.now();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cutoff = |age: Option<Duration>| age.map(|age| now_us.saturating_sub(micros(age)));
        let mut tx = self.write(action).await?;
        let forgotten = sqlx::query(sql::FORGET_KEYS)
            .bind(namespace)
            .bind(now_us.saturating_sub(micros(retention.key_window_for())))
            .bind(limit)
            .execute(&mut *tx)
            .await
            .map_err(failed(action))?
            .rows_affected();
        let deleted = sqlx::query(sql::PRUNE)
            .bind(namespace)
            .bind(cutoff(retention.succeeded_for()))
            .bind(cutoff(retention.cancelled_for()))
            .bind(cutoff(retention.dead_lettered_for()))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed(action))?;
        if !deleted.is_empty() {
            let mut ids = Vec::with_capacity(deleted.len());
            for row in &deleted {
                ids.push(json!(
                    row.try_get::<String, _>("id").map_err(failed(action))?
                ));
            }
            sqlx::query(sql::PRUNE_ATTEMPTS)
                .bind(array(ids))
                .execute(&mut *tx)
                .await
                .map_err(failed(action))?;
        }
        tx.commit().await.map_err(failed(action))?;
        Ok(Pruned::new(
            deleted.len(),
            usize::try_from(forgotten).unwrap_or(usize::MAX),
        ))
    }
}

/// The attempts that rows returning `(id, attempt, started_at)` ended, as
/// [`SqliteStorage::store_attempts`] takes them.
fn ended_attempts(
    rows: &[SqliteRow],
    now_us: i64,
    outcome: AttemptOutcome,
    error: &str,
    action: &'static str,
) -> Result<Vec<Value>, Error> {
    rows.iter()
        .map(|row| {
            let id: &str = row.try_get("id").map_err(failed(action))?;
            let attempt: i64 = row.try_get("attempt").map_err(failed(action))?;
            let started_at: Option<i64> = row.try_get("started_at").map_err(failed(action))?;
            Ok(json!([
                id,
                attempt,
                started_at.unwrap_or(now_us),
                outcome.as_str(),
                error
            ]))
        })
        .collect()
}

//! `impl Storage for PgStorage`: one statement per operation, each checking the state it
//! expects (see `sql.rs` for the statements).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobs::stats::MAX_STATS_WINDOW;
use jobs::storage::{
    AttemptResult, ClaimRequest, Enqueued, Finished, Heartbeat, Lease, NewRun, Outcome,
    ReplayRequest, Schedule, Storage, StorageEvent, check_new_runs, check_text,
};
use jobs::{
    Attempt, Error, KeyLimit, ListRuns, Page, Pruned, Retention, Run, RunId, RunStatus, Stats,
};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::types::Json;
use sqlx::{Arguments, Encode, PgConnection, Postgres, Row, Type};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::PgStorage;
use crate::rows::{self, clean_text, int4, micros};

use jobs::storage::{CANCELLED as CANCELLED_ATTEMPT, INTERRUPTED, LEASE_EXPIRED};

/// How often an enqueue reads back runs holding its keys before giving up (a key can only
/// stay unreadable under REPEATABLE READ or if its run is deleted meanwhile).
const KEY_ROUNDS: usize = 5;

type Now = Option<DateTime<Utc>>;

fn failed(action: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| Error::storage(action, e)
}

/// Adds one bind parameter.
fn add<'q, T>(args: &mut PgArguments, value: T) -> Result<(), Error>
where
    T: Encode<'q, Postgres> + Type<Postgres> + 'q,
{
    args.add(value)
        .map_err(|e| Error::storage("encode a statement parameter", e))
}

fn count(row: &PgRow, column: &str) -> Result<i64, Error> {
    row.try_get::<i64, _>(column)
        .map_err(|e| Error::storage("read a statement's result", e))
}

/// The parameters of the claim statement.
/// How many due runs a limited claim looks at (see `sql::CLAIM_LIMITED`).
const LIMITED_WINDOW: i64 = 10_000;

impl PgStorage {
    /// A claim of one task with per-key limits: in a transaction holding the task's
    /// advisory lock.
    async fn claim_limited(
        &self,
        request: &ClaimRequest,
        limit: &KeyLimit,
    ) -> Result<Vec<Run>, Error> {
        let fail = failed("claim runs with per-key limits");
        let mut tx = self.inner.pool.begin().await.map_err(fail)?;
        for task in &request.tasks {
            sqlx::query(&self.inner.sql.limit_lock)
                .bind(&request.namespace)
                .bind(task)
                .execute(&mut *tx)
                .await
                .map_err(failed("lock a limited task"))?;
        }
        let mut args = claim_args(self.now(), request)?;
        add(&mut args, limit.field())?;
        add(&mut args, limit.in_flight_max().map(i64::from))?;
        add(&mut args, limit.starts_max().map(|(_, per)| micros(per)))?;
        add(&mut args, LIMITED_WINDOW)?;
        add(&mut args, limit.starts_max().map(|(max, _)| i64::from(max)))?;
        let rows = sqlx::query_with(&self.inner.sql.claim_limited, args)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed("claim runs with per-key limits"))?;
        tx.commit()
            .await
            .map_err(failed("claim runs with per-key limits"))?;
        rows.iter().map(rows::run).collect()
    }
}

pub(crate) fn claim_args(now: Now, request: &ClaimRequest) -> Result<PgArguments, Error> {
    let mut args = PgArguments::default();
    add(&mut args, now)?;
    add(&mut args, request.namespace.as_str())?;
    add(&mut args, &request.tasks)?;
    add(&mut args, i64::try_from(request.limit).unwrap_or(i64::MAX))?;
    add(&mut args, micros(request.lease))?;
    add(&mut args, request.worker.as_str())?;
    add(&mut args, request.queue.as_str())?;
    Ok(args)
}

/// The parameters of the finish statement.
pub(crate) fn finish_args(
    now: Now,
    namespace: &str,
    outcomes: &[Outcome],
    origin: &str,
) -> Result<PgArguments, Error> {
    // Sorted by id, like `lease_arrays`.
    let mut sorted: Vec<&Outcome> = outcomes.iter().collect();
    sorted.sort_unstable_by_key(|outcome| (outcome.lease.id, outcome.lease.attempt));
    let mut ids = Vec::with_capacity(outcomes.len());
    let mut attempts = Vec::with_capacity(outcomes.len());
    let mut statuses = Vec::with_capacity(outcomes.len());
    let mut errors = Vec::with_capacity(outcomes.len());
    let mut delays = Vec::with_capacity(outcomes.len());
    for outcome in sorted {
        ids.push(outcome.lease.id.as_uuid());
        attempts.push(int4(outcome.lease.attempt));
        let (status, error, delay) = match &outcome.result {
            AttemptResult::Succeeded => ("succeeded", None, 0),
            AttemptResult::Retry { error, delay } => {
                ("retrying", Some(clean_text(error.clone())), micros(*delay))
            }
            AttemptResult::DeadLetter { error } => {
                ("dead_lettered", Some(clean_text(error.clone())), 0)
            }
            // Not a stored status: the statement makes it `retrying` and stores the
            // attempt as snoozed.
            AttemptResult::Snooze { reason, delay } => {
                ("snoozed", Some(clean_text(reason.clone())), micros(*delay))
            }
        };
        statuses.push(status);
        errors.push(error);
        delays.push(delay);
    }
    let mut args = PgArguments::default();
    add(&mut args, now)?;
    add(&mut args, namespace)?;
    add(&mut args, ids)?;
    add(&mut args, attempts)?;
    add(&mut args, statuses)?;
    add(&mut args, errors)?;
    add(&mut args, delays)?;
    add(&mut args, origin)?;
    Ok(args)
}

/// Ids and attempt numbers of leases, as two arrays sorted by id: statements that lock
/// the rows of one worker's runs (heartbeat, finish, release) then lock them in one order
/// whatever plan PostgreSQL picks (every index it can use is in id order), so they never
/// deadlock each other.
fn lease_arrays(leases: &[Lease]) -> (Vec<Uuid>, Vec<i32>) {
    let mut pairs: Vec<(Uuid, i32)> = leases
        .iter()
        .map(|lease| (lease.id.as_uuid(), int4(lease.attempt)))
        .collect();
    pairs.sort_unstable();
    pairs.into_iter().unzip()
}

impl PgStorage {
    /// Stores `runs` on `conn` and reads back the runs holding keys that were taken.
    /// `origin` tags the NOTIFY: this storage's own for enqueues it announces in process
    /// itself, [`crate::events::NO_ORIGIN`] inside an application's transaction.
    pub(crate) async fn enqueue_on(
        &self,
        conn: &mut PgConnection,
        runs: Vec<NewRun>,
        origin: &str,
    ) -> Result<Vec<Enqueued>, Error> {
        check_new_runs(&runs)?;
        let mut results: Vec<Option<Enqueued>> = vec![None; runs.len()];
        let mut pending: Vec<usize> = (0..runs.len()).collect();
        for _ in 0..KEY_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let mut inserted = self.insert(conn, &runs, &pending, origin).await?;
            pending.retain(|&i| match inserted.remove(&runs[i].id.as_uuid()) {
                Some(run) => {
                    results[i] = Some(Enqueued::new(run, true));
                    false
                }
                None => true,
            });
            if pending.is_empty() {
                break;
            }
            // Keys that were taken, by an earlier run or by one earlier in this batch: the
            // conflicting insert has committed (ON CONFLICT waited for it) or is ours, so
            // a new statement sees it.
            let mut existing = self.runs_holding_keys(conn, &runs, &pending).await?;
            pending.retain(|&i| {
                let new = &runs[i];
                let found = new
                    .idempotency_key
                    .as_ref()
                    .and_then(|key| existing.get(&(new.namespace.clone(), key.clone())));
                match found {
                    Some(run) => {
                        results[i] = Some(Enqueued::new(run.clone(), false));
                        false
                    }
                    None => true,
                }
            });
            existing.clear();
        }
        if let Some(&i) = pending.first() {
            return Err(Error::storage(
                "enqueue runs",
                format!(
                    "run {} was not stored and no run holds its idempotency key {:?} in namespace `{}`; retry the enqueue",
                    runs[i].id, runs[i].idempotency_key, runs[i].namespace
                ),
            ));
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// One INSERT of the runs at `indexes`; returns the runs it created, by id.
    async fn insert(
        &self,
        conn: &mut PgConnection,
        runs: &[NewRun],
        indexes: &[usize],
        origin: &str,
    ) -> Result<HashMap<Uuid, Run>, Error> {
        let n = indexes.len();
        let mut ids = Vec::with_capacity(n);
        let mut namespaces = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        let mut queues = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut max_attempts = Vec::with_capacity(n);
        let mut priorities = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(n);
        let mut ats = Vec::with_capacity(n);
        let mut delays = Vec::with_capacity(n);
        let mut ticks = Vec::with_capacity(n);
        for &i in indexes {
            let run = &runs[i];
            ids.push(run.id.as_uuid());
            namespaces.push(run.namespace.as_str());
            tasks.push(run.task.as_str());
            queues.push(run.queue.as_str());
            payloads.push(Json(&run.payload));
            max_attempts.push(int4(run.max_attempts.max(1)));
            priorities.push(run.priority);
            keys.push(run.idempotency_key.as_deref());
            let (at, delay) = match run.schedule {
                Schedule::Now => (None, 0),
                Schedule::After(delay) => (None, micros(delay)),
                // A time in the past means now; clamping keeps it inside PostgreSQL's range.
                Schedule::At(at) => (Some(at.max(DateTime::UNIX_EPOCH)), 0),
            };
            ats.push(at);
            delays.push(delay);
            ticks.push(run.tick.map(|tick| tick.max(DateTime::UNIX_EPOCH)));
        }
        let rows = sqlx::query(&self.inner.sql.enqueue)
            .bind(self.now())
            .bind(origin)
            .bind(ids)
            .bind(namespaces)
            .bind(tasks)
            .bind(payloads)
            .bind(max_attempts)
            .bind(priorities)
            .bind(keys)
            .bind(ats)
            .bind(delays)
            .bind(queues)
            .bind(ticks)
            .fetch_all(&mut *conn)
            .await
            .map_err(failed("enqueue runs"))?;
        let mut created = HashMap::with_capacity(rows.len());
        let mut woken = HashSet::new();
        for row in &rows {
            let run = rows::run(row)?;
            if run.status != RunStatus::Scheduled {
                woken.insert(run.namespace.clone());
            }
            created.insert(run.id.as_uuid(), run);
        }
        if origin != crate::events::NO_ORIGIN {
            for namespace in woken {
                self.inner.events.available(&namespace);
            }
        }
        Ok(created)
    }

    /// The runs holding the keys of the runs at `indexes`, by (namespace, key).
    async fn runs_holding_keys(
        &self,
        conn: &mut PgConnection,
        runs: &[NewRun],
        indexes: &[usize],
    ) -> Result<HashMap<(String, String), Run>, Error> {
        let (namespaces, keys): (Vec<&str>, Vec<&str>) = indexes
            .iter()
            .filter_map(|&i| {
                let run = &runs[i];
                run.idempotency_key
                    .as_deref()
                    .map(|key| (run.namespace.as_str(), key))
            })
            .unzip();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(&self.inner.sql.existing_keys)
            .bind(self.now())
            .bind(namespaces)
            .bind(keys)
            .fetch_all(&mut *conn)
            .await
            .map_err(failed("read the runs holding idempotency keys"))?;
        let mut existing = HashMap::with_capacity(rows.len());
        for row in &rows {
            let run = rows::run(row)?;
            if let Some(key) = run.idempotency_key.clone() {
                existing.insert((run.namespace.clone(), key), run);
            }
        }
        Ok(existing)
    }

    fn origin(&self) -> &str {
        &self.inner.events.origin
    }
}

#[async_trait]
impl Storage for PgStorage {
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, Error> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self
            .inner
            .pool
            .acquire()
            .await
            .map_err(failed("enqueue runs"))?;
        let origin = self.origin().to_owned();
        self.enqueue_on(&mut conn, runs, &origin).await
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<Run>, Error> {
        if request.limit == 0 || request.tasks.is_empty() {
            return Ok(Vec::new());
        }
        self.inner.events.claims_from(&request.namespace);
        if let Some(limit) = &request.key_limit {
            return self.claim_limited(&request, limit).await;
        }
        let args = claim_args(self.now(), &request)?;
        let rows = sqlx::query_with(&self.inner.sql.claim, args)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("claim runs"))?;
        rows.iter().map(rows::run).collect()
    }

    async fn heartbeat(&self, request: Heartbeat) -> Result<Vec<Lease>, Error> {
        if request.leases.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, attempts) = lease_arrays(&request.leases);
        let rows = sqlx::query(&self.inner.sql.heartbeat)
            .bind(self.now())
            .bind(&request.namespace)
            .bind(ids)
            .bind(attempts)
            .bind(micros(request.lease))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("extend leases"))?;
        let held = held_leases(&rows, "extend leases")?;
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
        let args = finish_args(self.now(), namespace, &outcomes, self.origin())?;
        let rows = sqlx::query_with(&self.inner.sql.finish, args)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("record attempt results"))?;
        let applied = held_leases(&rows, "record attempt results")?;
        if let Some(row) = rows.first() {
            if count(row, "woke")? > 0 {
                self.inner.events.available(namespace);
            }
        }
        let stale: Vec<Lease> = outcomes
            .iter()
            .map(|outcome| outcome.lease)
            .filter(|lease| !applied.contains(lease))
            .collect();
        Ok(Finished::new(rows.len(), stale))
    }

    async fn release(&self, namespace: &str, leases: Vec<Lease>) -> Result<usize, Error> {
        if leases.is_empty() {
            return Ok(0);
        }
        let (ids, attempts) = lease_arrays(&leases);
        let row = sqlx::query(&self.inner.sql.release)
            .bind(self.now())
            .bind(namespace)
            .bind(ids)
            .bind(attempts)
            .bind(INTERRUPTED)
            .bind(self.origin())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(failed("hand runs back"))?;
        let released = count(&row, "released")?;
        if count(&row, "woke")? > 0 {
            self.inner.events.available(namespace);
        }
        Ok(usize::try_from(released).unwrap_or(0))
    }

    async fn rescue_expired(&self, namespace: &str) -> Result<Vec<RunId>, Error> {
        let rows = sqlx::query(&self.inner.sql.rescue)
            .bind(self.now())
            .bind(namespace)
            .bind(LEASE_EXPIRED)
            .bind(self.origin())
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("rescue runs whose lease expired"))?;
        let mut rescued = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Uuid = row
                .try_get("id")
                .map_err(failed("rescue runs whose lease expired"))?;
            rescued.push(RunId::from_uuid(id));
        }
        if let Some(row) = rows.first() {
            if count(row, "woke")? > 0 {
                self.inner.events.available(namespace);
            }
        }
        Ok(rescued)
    }

    async fn get(&self, namespace: &str, id: RunId) -> Result<Option<Run>, Error> {
        let row = sqlx::query(&self.inner.sql.get)
            .bind(self.now())
            .bind(namespace)
            .bind(id.as_uuid())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(failed("read a run"))?;
        row.as_ref().map(rows::run).transpose()
    }

    async fn list(&self, namespace: &str, filter: &ListRuns) -> Result<Page, Error> {
        if let Some(task) = filter.task_value() {
            check_text("task", task)?;
        }
        let sql = &self.inner.sql;
        let mut text = sql.list_head.clone();
        let mut args = PgArguments::default();
        add(&mut args, self.now())?;
        add(&mut args, namespace)?;
        let mut next = 3;
        // Writing to a String cannot fail.
        if let Some(task) = filter.task_value() {
            let _ = write!(text, " AND r.task = ${next}");
            add(&mut args, task)?;
            next += 1;
        }
        if let Some(cursor) = filter.cursor_value() {
            let _ = write!(text, " AND r.id < ${next}");
            add(&mut args, cursor.last_id().as_uuid())?;
            next += 1;
        }
        match filter.status_value() {
            None => {}
            Some(RunStatus::Scheduled) => {
                let _ = write!(text, " AND {}", sql.scheduled);
            }
            Some(RunStatus::Queued) => {
                let _ = write!(text, " AND r.status = 'queued' AND NOT {}", sql.scheduled);
            }
            Some(status) => {
                let _ = write!(text, " AND r.status = ${next}");
                add(&mut args, status.as_str())?;
                next += 1;
            }
        }
        let limit = usize::try_from(filter.limit_value()).unwrap_or(usize::MAX);
        let _ = write!(text, " ORDER BY r.id DESC LIMIT ${next}");
        add(&mut args, i64::from(filter.limit_value()) + 1)?;
        let rows = sqlx::query_with(&text, args)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("list runs"))?;
        let runs = rows.iter().map(rows::run).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(runs, limit))
    }

    async fn attempts(&self, namespace: &str, id: RunId) -> Result<Vec<Attempt>, Error> {
        let rows = sqlx::query(&self.inner.sql.attempts)
            .bind(self.now())
            .bind(namespace)
            .bind(id.as_uuid())
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("read the attempts of a run"))?;
        if rows.is_empty() {
            return Err(Error::run_not_found(namespace, id));
        }
        let mut attempts = Vec::with_capacity(rows.len());
        for row in &rows {
            attempts.extend(rows::attempt(row)?);
        }
        Ok(attempts)
    }

    async fn cancel(&self, namespace: &str, id: RunId) -> Result<Run, Error> {
        // Looks again only if the run finished between the statement's snapshot and its
        // update, so the error can name its final status.
        for _ in 0..3 {
            let row = sqlx::query(&self.inner.sql.cancel)
                .bind(self.now())
                .bind(namespace)
                .bind(id.as_uuid())
                .bind(self.origin())
                .bind(CANCELLED_ATTEMPT)
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(failed("cancel a run"))?;
            let Some(row) = row else {
                return Err(Error::run_not_found(namespace, id));
            };
            if has_run(&row, "cancel a run")? {
                let run = rows::run(&row)?;
                self.inner.events.emit(StorageEvent::Cancelled {
                    namespace: namespace.to_owned(),
                    id,
                });
                return Ok(run);
            }
            let status = status_before(&row, "cancel a run")?;
            if status.is_final() {
                return Err(Error::NotCancellable { id, status });
            }
        }
        Err(Error::storage(
            "cancel a run",
            format!("run {id} kept changing while it was being cancelled; try again"),
        ))
    }

    async fn now(&self) -> Result<DateTime<Utc>, Error> {
        if let Some(now) = self.now() {
            return Ok(now);
        }
        sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.inner.pool)
            .await
            .map_err(failed("read the database's clock"))
    }

    async fn prune(
        &self,
        namespace: &str,
        retention: &Retention,
        limit: usize,
    ) -> Result<Pruned, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let forgotten = sqlx::query(&self.inner.sql.forget_keys)
            .bind(self.now())
            .bind(namespace)
            .bind(micros(retention.key_window_for()))
            .bind(limit)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("forget expired idempotency keys"))?
            .len();
        let age = |age: Option<Duration>| age.map(micros);
        let deleted: i64 = sqlx::query_scalar(&self.inner.sql.prune)
            .bind(self.now())
            .bind(namespace)
            .bind(age(retention.succeeded_for()))
            .bind(age(retention.cancelled_for()))
            .bind(age(retention.dead_lettered_for()))
            .bind(limit)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(failed("prune finished runs"))?;
        Ok(Pruned::new(
            usize::try_from(deleted).unwrap_or(0),
            forgotten,
        ))
    }

    async fn stats(&self, namespace: &str, window: Duration) -> Result<Stats, Error> {
        let window = window.min(MAX_STATS_WINDOW);
        let rows = sqlx::query(&self.inner.sql.stats)
            .bind(self.now())
            .bind(namespace)
            .bind(micros(window))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(failed("read the stats of a namespace"))?;
        rows::stats(&rows, window)
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
        let row = sqlx::query(&self.inner.sql.replay)
            .bind(self.now())
            .bind(namespace)
            .bind(id.as_uuid())
            .bind(new_id.as_uuid())
            .bind(reason)
            .bind(self.origin())
            .bind(max_attempts.map(|n| int4(n.max(1))))
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(failed("replay a run"))?;
        let Some(row) = row else {
            return Err(Error::run_not_found(namespace, id));
        };
        if has_run(&row, "replay a run")? {
            let run = rows::run(&row)?;
            self.inner.events.available(namespace);
            return Ok(run);
        }
        let status = status_before(&row, "replay a run")?;
        Err(Error::NotReplayable { id, status })
    }

    fn subscribe(&self) -> broadcast::Receiver<StorageEvent> {
        let receiver = self.inner.events.sender.subscribe();
        self.start_listener();
        receiver
    }
}

/// The (id, attempt) pairs a fenced statement returned.
fn held_leases(rows: &[PgRow], action: &'static str) -> Result<HashSet<Lease>, Error> {
    rows.iter()
        .map(|row| {
            let id: Uuid = row.try_get("id").map_err(failed(action))?;
            let attempt: i32 = row.try_get("attempt").map_err(failed(action))?;
            Ok(Lease::new(
                RunId::from_uuid(id),
                u32::try_from(attempt).unwrap_or(0),
            ))
        })
        .collect()
}

/// Whether a cancel or replay row carries the changed run (its LEFT JOIN matched).
fn has_run(row: &PgRow, action: &'static str) -> Result<bool, Error> {
    Ok(row
        .try_get::<Option<Uuid>, _>("id")
        .map_err(failed(action))?
        .is_some())
}

fn status_before(row: &PgRow, action: &'static str) -> Result<RunStatus, Error> {
    let before: String = row.try_get("before").map_err(failed(action))?;
    before
        .parse()
        .map_err(|e: Error| Error::storage(action, e.to_string()))
}

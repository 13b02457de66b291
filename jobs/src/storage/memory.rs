//! `MemoryStorage`: every promise of the storage interface, in one process's memory.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::check::{check_new_runs, check_text};
use super::{
    AttemptResult, CANCELLED, ClaimRequest, Enqueued, Finished, Heartbeat, INTERRUPTED,
    LEASE_EXPIRED, Lease, NewRun, Outcome, ReplayRequest, Storage, StorageEvent,
};
use crate::model::clock::{Clock, SystemClock, add};
use crate::model::error::Error;
use crate::model::limits::KeyLimit;
use crate::model::list::{ListRuns, Page};
use crate::model::retention::{Pruned, Retention};
use crate::model::run::{Attempt, AttemptOutcome, Run, RunId, RunStatus};
use crate::model::stats::Stats;

/// Runs kept in memory: for tests, demos and apps that can lose their queue on restart.
///
/// Clones share the same runs. Nothing survives the process.
///
/// # Examples
///
/// ```
/// use jobs::{Jobs, ManualClock, MemoryStorage};
///
/// let clock = ManualClock::new();
/// let jobs = Jobs::builder().storage(MemoryStorage::with_clock(clock.clone())).build().unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryStorage {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<StorageEvent>,
}

#[derive(Default)]
struct State {
    namespaces: HashMap<String, Space>,
}

/// One namespace: its runs, keys and claimable queues.
#[derive(Default)]
struct Space {
    runs: BTreeMap<RunId, Row>,
    keys: HashMap<String, RunId>,
    /// Claimable runs by queue, then by task.
    queues: HashMap<String, HashMap<String, TaskQueue>>,
    running: BTreeSet<RunId>,
    /// When runs of a task with a start limit were claimed, by (task, key): the log the
    /// limit counts, trimmed to its period.
    starts: HashMap<(String, String), VecDeque<DateTime<Utc>>>,
}

struct Row {
    run: Run,
    attempts: Vec<Attempt>,
    lease_until: Option<DateTime<Utc>>,
}

/// The claimable runs of one task: due ones in claim order, future ones by due time.
#[derive(Default)]
struct TaskQueue {
    due: BTreeSet<(i16, DateTime<Utc>, RunId)>,
    waiting: BTreeSet<(DateTime<Utc>, i16, RunId)>,
}

impl TaskQueue {
    fn push(&mut self, run: &Run, now: DateTime<Utc>) {
        if run.run_at <= now {
            self.due.insert((run.priority, run.run_at, run.id));
        } else {
            self.waiting.insert((run.run_at, run.priority, run.id));
        }
    }

    fn remove(&mut self, run: &Run) {
        self.due.remove(&(run.priority, run.run_at, run.id));
        self.waiting.remove(&(run.run_at, run.priority, run.id));
    }

    /// Moves runs that became due into the due set.
    fn promote(&mut self, now: DateTime<Utc>) {
        while let Some(&(at, priority, id)) = self.waiting.first() {
            if at > now {
                break;
            }
            self.waiting.pop_first();
            self.due.insert((priority, at, id));
        }
    }
}

impl MemoryStorage {
    /// An empty storage on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }

    /// An empty storage reading time from `clock` (a [`ManualClock`](crate::ManualClock)
    /// in tests).
    pub fn with_clock(clock: impl Clock) -> Self {
        let (events, _) = broadcast::channel(1024);
        MemoryStorage {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                clock: Arc::new(clock),
                events,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change behind: every
        // change below is computed first and applied without fallible steps.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    fn emit(&self, event: StorageEvent) {
        // No subscriber is fine: nobody is waiting.
        let _ = self.shared.events.send(event);
    }

    fn available(&self, namespace: &str) {
        self.emit(StorageEvent::RunsAvailable {
            namespace: namespace.to_owned(),
        });
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStorage").finish_non_exhaustive()
    }
}

/// The status a reader sees: a queued run whose first attempt is not due is scheduled.
fn visible(run: &Run, now: DateTime<Utc>) -> Run {
    let mut run = run.clone();
    run.status = visible_status(&run, now);
    run
}

fn visible_status(run: &Run, now: DateTime<Utc>) -> RunStatus {
    run.status.as_seen_at(run.attempt, run.run_at, now)
}

/// Whether `at` is more than `age` before `now`; never for `None` (kept for ever) or an
/// age too large to subtract.
fn older_than(at: DateTime<Utc>, age: Option<Duration>, now: DateTime<Utc>) -> bool {
    age.and_then(|age| chrono::TimeDelta::from_std(age).ok())
        .and_then(|age| now.checked_sub_signed(age))
        .is_some_and(|cutoff| at < cutoff)
}

/// Whether `retention` no longer keeps finished run `run`.
fn expired_run(run: &Run, retention: &Retention, now: DateTime<Utc>) -> bool {
    let age = match run.status {
        RunStatus::Succeeded => retention.succeeded_for(),
        RunStatus::Cancelled => retention.cancelled_for(),
        RunStatus::DeadLettered => retention.dead_lettered_for(),
        _ => return false,
    };
    run.finished_at
        .is_some_and(|finished| older_than(finished, age, now))
}

impl Space {
    fn row(&self, namespace: &str, id: RunId) -> Result<&Row, Error> {
        self.runs
            .get(&id)
            .ok_or_else(|| Error::run_not_found(namespace, id))
    }

    /// The row of `lease` if the lease still holds.
    fn held(&mut self, lease: &Lease) -> Option<&mut Row> {
        self.runs
            .get_mut(&lease.id)
            .filter(|row| row.run.status == RunStatus::Running && row.run.attempt == lease.attempt)
    }

    /// Takes the first `limit` due runs of `tasks` in `queue` out of their task queues, in
    /// claim order.
    fn pick(
        &mut self,
        queue: &str,
        tasks: &[String],
        limit: usize,
        now: DateTime<Utc>,
    ) -> Vec<RunId> {
        let Some(by_task) = self.queues.get_mut(queue) else {
            return Vec::new();
        };
        if let [task] = tasks {
            // The common case: pop straight from the one queue, already in claim order.
            let Some(queue) = by_task.get_mut(task) else {
                return Vec::new();
            };
            queue.promote(now);
            let mut picked = Vec::with_capacity(limit.min(queue.due.len()));
            while picked.len() < limit {
                let Some((_, _, id)) = queue.due.pop_first() else {
                    break;
                };
                picked.push(id);
            }
            return picked;
        }
        // Several tasks: merge their heads by claim key, naming each task by its index
        // rather than cloning its name per run.
        let mut keys: Vec<(i16, DateTime<Utc>, RunId, usize)> = Vec::new();
        for (index, task) in tasks.iter().enumerate() {
            if let Some(queue) = by_task.get_mut(task) {
                queue.promote(now);
                let due = queue.due.iter().take(limit);
                keys.extend(due.map(|&(priority, at, id)| (priority, at, id, index)));
            }
        }
        keys.sort_unstable();
        keys.truncate(limit);
        let mut picked = Vec::with_capacity(keys.len());
        for (priority, at, id, index) in keys {
            if let Some(queue) = tasks.get(index).and_then(|task| by_task.get_mut(task)) {
                queue.due.remove(&(priority, at, id));
            }
            picked.push(id);
        }
        picked
    }

    /// Like [`pick`](Self::pick), for tasks with per-key limits: skips (and leaves
    /// waiting) the runs whose key has as many runs running, or started within the
    /// period, as the limit allows; records the starts it allows.
    fn pick_limited(
        &mut self,
        queue: &str,
        tasks: &[String],
        limit: &KeyLimit,
        max: usize,
        now: DateTime<Utc>,
    ) -> Vec<RunId> {
        let mut picked = Vec::new();
        for task in tasks {
            let mut in_flight: HashMap<String, u32> = HashMap::new();
            for id in &self.running {
                if let Some(row) = self.runs.get(id).filter(|row| row.run.task == *task) {
                    *in_flight.entry(limit.key_of(&row.run.payload)).or_default() += 1;
                }
            }
            let Some(by_task) = self.queues.get_mut(queue).and_then(|q| q.get_mut(task)) else {
                continue;
            };
            by_task.promote(now);
            let mut taken = Vec::new();
            for &(priority, at, id) in &by_task.due {
                if picked.len() + taken.len() >= max {
                    break;
                }
                let Some(row) = self.runs.get(&id) else {
                    continue;
                };
                let key = limit.key_of(&row.run.payload);
                let running = in_flight.get(&key).copied().unwrap_or(0);
                if limit.in_flight_max().is_some_and(|max| running >= max) {
                    continue;
                }
                if let Some((max, per)) = limit.starts_max() {
                    let log = self.starts.entry((task.clone(), key.clone())).or_default();
                    let since = chrono::TimeDelta::from_std(per)
                        .ok()
                        .and_then(|per| now.checked_sub_signed(per));
                    while log.front().is_some_and(|t| since.is_some_and(|s| *t <= s)) {
                        log.pop_front();
                    }
                    if log.len() >= max as usize {
                        continue;
                    }
                    log.push_back(now);
                }
                *in_flight.entry(key).or_default() += 1;
                taken.push((priority, at, id));
            }
            for entry in &taken {
                by_task.due.remove(entry);
            }
            picked.extend(taken.into_iter().map(|(_, _, id)| id));
        }
        picked
    }

    /// Starts the next attempt of a picked run under a lease; returns the run as claimed.
    fn start_attempt(
        &mut self,
        id: RunId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Option<Run> {
        let row = self.runs.get_mut(&id)?;
        row.run.status = RunStatus::Running;
        row.run.attempt = row.run.attempt.saturating_add(1);
        row.run.started_at = Some(now);
        row.lease_until = Some(lease_until);
        // Most runs make one attempt: room for exactly one keeps a drained queue's memory
        // (and the page faults of growing it) at a quarter of the default growth.
        row.attempts.reserve_exact(1);
        row.attempts.push(Attempt {
            number: row.run.attempt,
            started_at: now,
            finished_at: None,
            outcome: AttemptOutcome::Running,
            error: None,
        });
        let run = row.run.clone();
        self.running.insert(id);
        Some(run)
    }

    fn queue(&mut self, run: &Run, now: DateTime<Utc>) {
        self.queues
            .entry(run.queue.clone())
            .or_default()
            .entry(run.task.clone())
            .or_default()
            .push(run, now);
    }
}

/// Closes the open attempt of a row.
fn close_attempt(
    row: &mut Row,
    now: DateTime<Utc>,
    outcome: AttemptOutcome,
    error: Option<String>,
) {
    let number = row.run.attempt;
    if let Some(attempt) = row.attempts.iter_mut().rev().find(|a| a.number == number) {
        if attempt.finished_at.is_none() {
            attempt.finished_at = Some(now);
            attempt.outcome = outcome;
            attempt.error = error;
        }
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, Error> {
        check_new_runs(&runs)?;
        let now = self.now();
        let mut namespaces = Vec::new();
        let mut out = Vec::with_capacity(runs.len());
        {
            let mut state = self.lock();
            for new in runs {
                let space = state.namespaces.entry(new.namespace.clone()).or_default();
                if let Some(key) = &new.idempotency_key {
                    if let Some(existing) = space.keys.get(key).and_then(|id| space.runs.get(id)) {
                        out.push(Enqueued::new(visible(&existing.run, now), false));
                        continue;
                    }
                }
                let run = Run {
                    id: new.id,
                    namespace: new.namespace,
                    task: new.task,
                    queue: new.queue,
                    status: RunStatus::Queued,
                    payload: new.payload,
                    attempt: 0,
                    max_attempts: new.max_attempts.max(1),
                    failures: 0,
                    snoozes: 0,
                    handbacks: 0,
                    priority: new.priority,
                    idempotency_key: new.idempotency_key,
                    created_at: now,
                    run_at: new.schedule.resolve(now),
                    started_at: None,
                    finished_at: None,
                    last_error: None,
                    replay_of: None,
                    replay_reason: None,
                    tick: new.tick,
                };
                if let Some(key) = &run.idempotency_key {
                    space.keys.insert(key.clone(), run.id);
                }
                space.queue(&run, now);
                out.push(Enqueued::new(visible(&run, now), true));
                if !namespaces.contains(&run.namespace) {
                    namespaces.push(run.namespace.clone());
                }
                space.runs.insert(
                    run.id,
                    Row {
                        run,
                        attempts: Vec::new(),
                        lease_until: None,
                    },
                );
            }
        }
        for namespace in namespaces {
            self.available(&namespace);
        }
        Ok(out)
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<Run>, Error> {
        let now = self.now();
        let mut state = self.lock();
        let Some(space) = state.namespaces.get_mut(&request.namespace) else {
            return Ok(Vec::new());
        };
        let picked = match &request.key_limit {
            None => space.pick(&request.queue, &request.tasks, request.limit, now),
            Some(limit) => {
                space.pick_limited(&request.queue, &request.tasks, limit, request.limit, now)
            }
        };
        let lease_until = add(now, request.lease);
        let mut claimed = Vec::with_capacity(picked.len());
        for id in picked {
            if let Some(run) = space.start_attempt(id, now, lease_until) {
                claimed.push(run);
            }
        }
        Ok(claimed)
    }

    async fn heartbeat(&self, request: Heartbeat) -> Result<Vec<Lease>, Error> {
        let now = self.now();
        let until = add(now, request.lease);
        let mut state = self.lock();
        let Some(space) = state.namespaces.get_mut(&request.namespace) else {
            return Ok(Vec::new());
        };
        let mut held = Vec::with_capacity(request.leases.len());
        for lease in request.leases {
            if let Some(row) = space.held(&lease) {
                row.lease_until = Some(until);
                held.push(lease);
            }
        }
        Ok(held)
    }

    async fn finish(&self, namespace: &str, outcomes: Vec<Outcome>) -> Result<Finished, Error> {
        let now = self.now();
        let mut report = Finished::default();
        let mut requeued = false;
        {
            let mut state = self.lock();
            let Some(space) = state.namespaces.get_mut(namespace) else {
                report.stale = outcomes.into_iter().map(|o| o.lease).collect();
                return Ok(report);
            };
            for outcome in outcomes {
                let Some(row) = space.held(&outcome.lease) else {
                    report.stale.push(outcome.lease);
                    continue;
                };
                row.lease_until = None;
                match outcome.result {
                    AttemptResult::Succeeded => {
                        close_attempt(row, now, AttemptOutcome::Succeeded, None);
                        row.run.status = RunStatus::Succeeded;
                        row.run.finished_at = Some(now);
                    }
                    AttemptResult::Retry { error, delay } => {
                        close_attempt(row, now, AttemptOutcome::Failed, Some(error.clone()));
                        row.run.failures = row.run.failures.saturating_add(1);
                        row.run.status = RunStatus::Retrying;
                        row.run.run_at = add(now, delay);
                        row.run.last_error = Some(error);
                        let run = row.run.clone();
                        space.queue(&run, now);
                        requeued = true;
                    }
                    AttemptResult::DeadLetter { error } => {
                        close_attempt(row, now, AttemptOutcome::Failed, Some(error.clone()));
                        row.run.failures = row.run.failures.saturating_add(1);
                        row.run.status = RunStatus::DeadLettered;
                        row.run.finished_at = Some(now);
                        row.run.last_error = Some(error);
                    }
                    AttemptResult::Snooze { reason, delay } => {
                        close_attempt(row, now, AttemptOutcome::Snoozed, Some(reason));
                        row.run.status = RunStatus::Retrying;
                        row.run.run_at = add(now, delay);
                        row.run.snoozes = row.run.snoozes.saturating_add(1);
                        let run = row.run.clone();
                        space.queue(&run, now);
                        requeued = true;
                    }
                }
                space.running.remove(&outcome.lease.id);
                report.applied += 1;
            }
        }
        if requeued {
            self.available(namespace);
        }
        Ok(report)
    }

    async fn release(&self, namespace: &str, leases: Vec<Lease>) -> Result<usize, Error> {
        let now = self.now();
        let mut released = 0;
        {
            let mut state = self.lock();
            let Some(space) = state.namespaces.get_mut(namespace) else {
                return Ok(0);
            };
            for lease in leases {
                let Some(row) = space.held(&lease) else {
                    continue;
                };
                close_attempt(
                    row,
                    now,
                    AttemptOutcome::Interrupted,
                    Some(INTERRUPTED.to_owned()),
                );
                row.lease_until = None;
                // The interrupted attempt does not use up the run's budget, and the run
                // keeps its due time, so its place in line.
                row.run.status = RunStatus::Queued;
                row.run.handbacks = row.run.handbacks.saturating_add(1);
                let run = row.run.clone();
                space.queue(&run, now);
                space.running.remove(&lease.id);
                released += 1;
            }
        }
        if released > 0 {
            self.available(namespace);
        }
        Ok(released)
    }

    async fn rescue_expired(&self, namespace: &str) -> Result<Vec<RunId>, Error> {
        let now = self.now();
        let mut rescued = Vec::new();
        {
            let mut state = self.lock();
            let Some(space) = state.namespaces.get_mut(namespace) else {
                return Ok(rescued);
            };
            let expired: Vec<RunId> = space
                .running
                .iter()
                .copied()
                .filter(|id| {
                    space
                        .runs
                        .get(id)
                        .and_then(|row| row.lease_until)
                        .is_some_and(|until| until < now)
                })
                .collect();
            for id in expired {
                let Some(row) = space.runs.get_mut(&id) else {
                    continue;
                };
                close_attempt(
                    row,
                    now,
                    AttemptOutcome::LeaseExpired,
                    Some(LEASE_EXPIRED.to_owned()),
                );
                row.lease_until = None;
                row.run.last_error = Some(LEASE_EXPIRED.to_owned());
                // A lost attempt counts against the budget (a handler that kills its
                // worker must not loop for ever), but it owes no backoff and keeps the
                // run's due time, so its place in line.
                row.run.failures = row.run.failures.saturating_add(1);
                if row.run.failures >= row.run.max_attempts {
                    row.run.status = RunStatus::DeadLettered;
                    row.run.finished_at = Some(now);
                } else {
                    row.run.status = RunStatus::Retrying;
                    let run = row.run.clone();
                    space.queue(&run, now);
                }
                space.running.remove(&id);
                rescued.push(id);
            }
        }
        if !rescued.is_empty() {
            self.available(namespace);
        }
        Ok(rescued)
    }

    async fn get(&self, namespace: &str, id: RunId) -> Result<Option<Run>, Error> {
        let now = self.now();
        let state = self.lock();
        Ok(state
            .namespaces
            .get(namespace)
            .and_then(|space| space.runs.get(&id))
            .map(|row| visible(&row.run, now)))
    }

    async fn list(&self, namespace: &str, filter: &ListRuns) -> Result<Page, Error> {
        if let Some(task) = filter.task_value() {
            check_text("task", task)?;
        }
        let now = self.now();
        let state = self.lock();
        let Some(space) = state.namespaces.get(namespace) else {
            return Ok(Page::empty());
        };
        let limit = filter.limit_value() as usize;
        let upper = filter
            .cursor_value()
            .map_or(std::ops::Bound::Unbounded, |c| {
                std::ops::Bound::Excluded(c.last_id())
            });
        let runs: Vec<Run> = space
            .runs
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, row)| &row.run)
            .filter(|run| filter.task_value().is_none_or(|task| run.task == task))
            .filter(|run| {
                filter
                    .status_value()
                    .is_none_or(|status| visible_status(run, now) == status)
            })
            .take(limit + 1)
            .map(|run| visible(run, now))
            .collect();
        Ok(Page::from_overfetch(runs, limit))
    }

    async fn attempts(&self, namespace: &str, id: RunId) -> Result<Vec<Attempt>, Error> {
        let state = self.lock();
        let space = state
            .namespaces
            .get(namespace)
            .ok_or_else(|| Error::run_not_found(namespace, id))?;
        Ok(space.row(namespace, id)?.attempts.clone())
    }

    async fn cancel(&self, namespace: &str, id: RunId) -> Result<Run, Error> {
        let now = self.now();
        let run = {
            let mut state = self.lock();
            let space = state
                .namespaces
                .get_mut(namespace)
                .ok_or_else(|| Error::run_not_found(namespace, id))?;
            let status = space.row(namespace, id)?.run.status;
            if status.is_final() {
                return Err(Error::NotCancellable { id, status });
            }
            let Some(row) = space.runs.get_mut(&id) else {
                return Err(Error::run_not_found(namespace, id));
            };
            if status == RunStatus::Running {
                close_attempt(
                    row,
                    now,
                    AttemptOutcome::Cancelled,
                    Some(CANCELLED.to_owned()),
                );
            }
            let before = row.run.clone();
            row.run.status = RunStatus::Cancelled;
            row.run.finished_at = Some(now);
            row.lease_until = None;
            let run = row.run.clone();
            if let Some(queue) = space
                .queues
                .get_mut(&run.queue)
                .and_then(|by_task| by_task.get_mut(&run.task))
            {
                queue.remove(&before);
            }
            space.running.remove(&id);
            run
        };
        self.emit(StorageEvent::Cancelled {
            namespace: namespace.to_owned(),
            id,
        });
        Ok(run)
    }

    async fn replay(&self, namespace: &str, request: ReplayRequest) -> Result<Run, Error> {
        let ReplayRequest {
            id,
            new_id,
            reason,
            max_attempts,
        } = request;
        check_text("reason", &reason)?;
        let now = self.now();
        let run = {
            let mut state = self.lock();
            let space = state
                .namespaces
                .get_mut(namespace)
                .ok_or_else(|| Error::run_not_found(namespace, id))?;
            let original = &space.row(namespace, id)?.run;
            if !original.status.is_final() {
                return Err(Error::NotReplayable {
                    id,
                    status: visible_status(original, now),
                });
            }
            let run = Run {
                id: new_id,
                namespace: namespace.to_owned(),
                task: original.task.clone(),
                queue: original.queue.clone(),
                status: RunStatus::Queued,
                payload: original.payload.clone(),
                attempt: 0,
                max_attempts: max_attempts.unwrap_or(original.max_attempts).max(1),
                failures: 0,
                snoozes: 0,
                handbacks: 0,
                priority: original.priority,
                idempotency_key: None,
                created_at: now,
                run_at: now,
                started_at: None,
                finished_at: None,
                last_error: None,
                replay_of: Some(id),
                replay_reason: Some(reason),
                tick: original.tick,
            };
            space.queue(&run, now);
            space.runs.insert(
                run.id,
                Row {
                    run: run.clone(),
                    attempts: Vec::new(),
                    lease_until: None,
                },
            );
            run
        };
        self.available(namespace);
        Ok(run)
    }

    fn subscribe(&self) -> broadcast::Receiver<StorageEvent> {
        self.shared.events.subscribe()
    }

    async fn now(&self) -> Result<DateTime<Utc>, Error> {
        Ok(MemoryStorage::now(self))
    }

    async fn prune(
        &self,
        namespace: &str,
        retention: &Retention,
        limit: usize,
    ) -> Result<Pruned, Error> {
        let now = self.now();
        let mut state = self.lock();
        let Some(space) = state.namespaces.get_mut(namespace) else {
            return Ok(Pruned::default());
        };
        let window = Some(retention.key_window_for());
        let expired: Vec<(String, RunId)> = space
            .keys
            .iter()
            .filter(|(_, id)| {
                space.runs.get(id).is_some_and(|row| {
                    row.run.status.is_final() && older_than(row.run.created_at, window, now)
                })
            })
            .take(limit)
            .map(|(key, id)| (key.clone(), *id))
            .collect();
        for (key, id) in &expired {
            space.keys.remove(key);
            if let Some(row) = space.runs.get_mut(id) {
                row.run.idempotency_key = None;
            }
        }
        let doomed: Vec<RunId> = space
            .runs
            .values()
            .filter(|row| {
                row.run.idempotency_key.is_none() && expired_run(&row.run, retention, now)
            })
            .take(limit)
            .map(|row| row.run.id)
            .collect();
        for id in &doomed {
            space.runs.remove(id);
        }
        Ok(Pruned::new(doomed.len(), expired.len()))
    }

    async fn stats(&self, namespace: &str, window: Duration) -> Result<Stats, Error> {
        let now = self.now();
        let state = self.lock();
        let runs = state
            .namespaces
            .get(namespace)
            .into_iter()
            .flat_map(|space| space.runs.values())
            .map(|row| {
                let run = &row.run;
                (run.task.as_str(), visible_status(run, now), run.finished_at)
            });
        Ok(Stats::from_runs(now, window, runs))
    }
}

//! The plain data the storage methods take and return: new runs and their schedules,
//! claims, leases, heartbeats, results, replays, events, and the texts recorded on
//! attempts that did not finish their run.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::limits::KeyLimit;
use crate::model::run::{DEFAULT_QUEUE, Run, RunId};

/// The error recorded on an attempt whose lease ran out (and on its run, when rescued).
pub const LEASE_EXPIRED: &str =
    "lease expired: the worker stopped renewing it (it crashed, was killed or stalled)";

/// The error recorded on an attempt whose worker handed the run back on shutdown.
pub const INTERRUPTED: &str =
    "the worker shut down before the attempt finished and handed the run back";

/// The error recorded on an attempt that was running when its run was cancelled.
pub const CANCELLED: &str = "the run was cancelled while this attempt ran";

/// A run to store.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewRun {
    /// Its id, made by the runtime.
    pub id: RunId,
    /// Its namespace.
    pub namespace: String,
    /// Its task's name.
    pub task: String,
    /// The queue it waits in: its task's.
    pub queue: String,
    /// The payload as JSON.
    pub payload: serde_json::Value,
    /// Attempts it may make, the first included.
    pub max_attempts: u32,
    /// Lower runs first.
    pub priority: i16,
    /// At most one run per key and namespace.
    pub idempotency_key: Option<String>,
    /// When its first attempt is due.
    pub schedule: Schedule,
    /// The cron tick it is for, when a periodic schedule enqueues it; stored as is.
    pub tick: Option<DateTime<Utc>>,
}

impl NewRun {
    /// A run of `task` due now in the default queue, with a fresh id, priority 0 and no
    /// key.
    pub fn new(
        namespace: impl Into<String>,
        task: impl Into<String>,
        payload: serde_json::Value,
        max_attempts: u32,
    ) -> Self {
        NewRun {
            id: RunId::new(),
            namespace: namespace.into(),
            task: task.into(),
            queue: DEFAULT_QUEUE.to_owned(),
            payload,
            max_attempts,
            priority: 0,
            idempotency_key: None,
            schedule: Schedule::Now,
            tick: None,
        }
    }
}

/// When a new run's first attempt is due, resolved by the storage's clock.
///
/// Deliberately exhaustive, for the same reason as [`AttemptResult`]; storages may also
/// call [`Schedule::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// As soon as a worker is free.
    Now,
    /// This long after the storage stores it.
    After(Duration),
    /// At this time; a time in the past means now.
    At(DateTime<Utc>),
}

impl Schedule {
    /// The due time, given the storage's `now`.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Now => now,
            Schedule::After(delay) => crate::model::clock::add(now, delay),
            Schedule::At(at) => at.max(now),
        }
    }
}

/// What enqueueing returned: the run, and whether this call created it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Enqueued {
    /// The run: new, or the one that already held the idempotency key.
    pub run: Run,
    /// `false` when the idempotency key was taken and `run` is the earlier run.
    pub created: bool,
}

impl Enqueued {
    /// A result (for storage implementations).
    pub fn new(run: Run, created: bool) -> Self {
        Enqueued { run, created }
    }

    /// The run's id.
    pub fn id(&self) -> RunId {
        self.run.id
    }
}

/// What [`Storage::replay`](super::Storage::replay) makes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReplayRequest {
    /// The finished run to replay.
    pub id: RunId,
    /// The new run's id, made by the runtime.
    pub new_id: RunId,
    /// Why, stored on the new run.
    pub reason: String,
    /// The new run's attempt budget: its task's as compiled now, when the caller knows
    /// the task; `None` keeps the original's.
    pub max_attempts: Option<u32>,
}

impl ReplayRequest {
    /// A replay of `id` as `new_id`, keeping the original's budget.
    pub fn new(id: RunId, new_id: RunId, reason: impl Into<String>) -> Self {
        ReplayRequest {
            id,
            new_id,
            reason: reason.into(),
            max_attempts: None,
        }
    }

    /// Gives the new run this budget instead of the original's.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }
}

/// What a worker asks for when it has free slots.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// The namespace to claim from.
    pub namespace: String,
    /// Only runs waiting in this queue (default: [`DEFAULT_QUEUE`]).
    pub queue: String,
    /// Only runs of these tasks (the ones of the queue the worker can run).
    pub tasks: Vec<String>,
    /// At most this many runs (the worker's free slots).
    pub limit: usize,
    /// How long the lease lasts unless extended by a heartbeat.
    pub lease: Duration,
    /// Who claims, for operators reading the runs.
    pub worker: String,
    /// Per-key limits of the (single) task claimed: runs over them are not claimed.
    pub key_limit: Option<KeyLimit>,
}

impl ClaimRequest {
    /// A request (for tests and other runtimes).
    pub fn new(
        namespace: impl Into<String>,
        tasks: Vec<String>,
        limit: usize,
        lease: Duration,
        worker: impl Into<String>,
    ) -> Self {
        ClaimRequest {
            namespace: namespace.into(),
            queue: DEFAULT_QUEUE.to_owned(),
            tasks,
            limit,
            lease,
            worker: worker.into(),
            key_limit: None,
        }
    }

    /// Holds the claim to `limit` (for a request of one task).
    pub fn key_limit(mut self, limit: KeyLimit) -> Self {
        self.key_limit = Some(limit);
        self
    }

    /// Claims from `queue` instead of the default one.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
}

/// A worker's hold on one attempt of one run: the fence for everything it writes.
/// `#[non_exhaustive]`: build it with [`Lease::new`] or [`Lease::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Lease {
    /// The run.
    pub id: RunId,
    /// The attempt the worker is running.
    pub attempt: u32,
}

impl Lease {
    /// The lease of attempt `attempt` of run `id`.
    pub fn new(id: RunId, attempt: u32) -> Self {
        Lease { id, attempt }
    }

    /// The lease of `run`'s current attempt.
    pub fn of(run: &Run) -> Self {
        Lease {
            id: run.id,
            attempt: run.attempt,
        }
    }
}

/// A worker's periodic proof of life.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Heartbeat {
    /// The namespace.
    pub namespace: String,
    /// The leases to extend.
    pub leases: Vec<Lease>,
    /// The new lease length, from now.
    pub lease: Duration,
}

impl Heartbeat {
    /// A heartbeat (for tests and other runtimes).
    pub fn new(namespace: impl Into<String>, leases: Vec<Lease>, lease: Duration) -> Self {
        Heartbeat {
            namespace: namespace.into(),
            leases,
            lease,
        }
    }
}

/// The result of one attempt, as the runtime decided it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The lease the attempt ran under.
    pub lease: Lease,
    /// What happened.
    pub result: AttemptResult,
}

impl Outcome {
    /// An outcome (for tests and other runtimes).
    pub fn new(lease: Lease, result: AttemptResult) -> Self {
        Outcome { lease, result }
    }
}

/// What the runtime decided after an attempt.
///
/// Deliberately exhaustive: a storage must apply every kind of result, so a new kind is a
/// breaking change for backends by design, which their `match` then points out.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    /// The run succeeded.
    Succeeded,
    /// The attempt failed; try again after `delay`. The run's `failures` grows by one.
    Retry {
        /// The attempt's error.
        error: String,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// The attempt failed and no attempt follows. The run's `failures` grows by one.
    DeadLetter {
        /// The attempt's error.
        error: String,
    },
    /// Not a failure: the handler asked to run again after `delay`. The attempt is
    /// stored as `snoozed` with `reason`, the run waits as `retrying` and its `snoozes`
    /// count grows by one; its budget and `failures` are untouched.
    Snooze {
        /// Why (stored with the attempt; the run's `last_error` is left as it was).
        reason: String,
        /// The wait before the next attempt.
        delay: Duration,
    },
}

/// What [`Storage::finish`](super::Storage::finish) did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Finished {
    /// Results recorded.
    pub applied: usize,
    /// Results dropped because their lease no longer held.
    pub stale: Vec<Lease>,
}

impl Finished {
    /// A report (for storage implementations).
    pub fn new(applied: usize, stale: Vec<Lease>) -> Self {
        Finished { applied, stale }
    }
}

/// Something workers may want to react to at once.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StorageEvent {
    /// Runs became due in this namespace (enqueued, replayed, handed back, rescued).
    RunsAvailable {
        /// The namespace.
        namespace: String,
    },
    /// This run was cancelled; the worker running it should stop.
    Cancelled {
        /// The namespace.
        namespace: String,
        /// The run.
        id: RunId,
    },
}

//! Runs as users see them: ids, statuses, the run record and its attempts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The queue of a task that names none.
pub const DEFAULT_QUEUE: &str = "default";

/// The id of a run. Opaque; prints as `run_` followed by 32 hex digits and parses back.
///
/// Ids are time-ordered (UUID v7), so newer runs have larger ids.
///
/// # Examples
///
/// ```
/// use jobs::RunId;
///
/// let id = RunId::new();
/// let text = id.to_string();
/// assert!(text.starts_with("run_"));
/// assert_eq!(text.parse::<RunId>().unwrap(), id);
/// assert!("run_123".parse::<RunId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(Uuid);

impl RunId {
    pub(crate) const PREFIX: &'static str = "run_";

    /// A fresh id, larger than every id made before it in this process.
    pub fn new() -> Self {
        RunId(Uuid::now_v7())
    }

    /// The id as a UUID, for storages that keep it in a `uuid` column.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Wraps a UUID read back from storage.
    pub fn from_uuid(uuid: Uuid) -> Self {
        RunId(uuid)
    }
}

impl Default for RunId {
    fn default() -> Self {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 36];
        buf[..4].copy_from_slice(Self::PREFIX.as_bytes());
        self.0.simple().encode_lower(&mut buf[4..]);
        // Both halves are ASCII, so this never fails.
        f.pad(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a run is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunStatus {
    /// Waiting for its first attempt, which is not due yet (a delay or `run_at`).
    Scheduled,
    /// Due, waiting for a worker.
    Queued,
    /// An attempt is in progress under a worker's lease.
    Running,
    /// An attempt failed; the next one is waiting for its backoff to pass.
    Retrying,
    /// An attempt succeeded. Final.
    Succeeded,
    /// Cancelled before it could finish. Final.
    Cancelled,
    /// Failed permanently or spent its attempts. Final; can be replayed.
    DeadLettered,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Scheduled,
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Retrying,
        RunStatus::Succeeded,
        RunStatus::Cancelled,
        RunStatus::DeadLettered,
    ];

    /// The name used in JSON, in list filters and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Scheduled => "scheduled",
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Retrying => "retrying",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Cancelled => "cancelled",
            RunStatus::DeadLettered => "dead_lettered",
        }
    }

    /// Whether the run is done: succeeded, cancelled or dead-lettered.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Cancelled | RunStatus::DeadLettered
        )
    }

    /// The status a reader sees at `now` of a run stored with this status, `attempt`
    /// attempts started and its next attempt due at `run_at`: a queued run whose first
    /// attempt is not due yet is [`Scheduled`](RunStatus::Scheduled) (for storage
    /// implementations, which store it as queued).
    pub fn as_seen_at(self, attempt: u32, run_at: DateTime<Utc>, now: DateTime<Utc>) -> RunStatus {
        if self == RunStatus::Queued && attempt == 0 && run_at > now {
            RunStatus::Scheduled
        } else {
            self
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One run of a task, as stored. Plain data with public fields; serializes to JSON.
///
/// `#[non_exhaustive]`, so fields can be added without breaking anyone: storages build it
/// with [`Run::new`] and then set the fields they store.
///
/// **The attempt budget.** `max_attempts` is how many attempts may *fail* (fail, time
/// out, panic, or be lost with their worker's lease) before the run is dead-lettered; it
/// never changes once stored. Attempts that snoozed ([`TaskError::snooze`]) or were
/// handed back at a worker's shutdown are counted apart (`snoozes`, `handbacks`) and use
/// none of it, so `attempt = failures + snoozes + handbacks` (plus the attempt running
/// now, if any). Backoff follows `failures` alone.
///
/// [`TaskError::snooze`]: crate::TaskError::snooze
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Run {
    /// The run's id.
    pub id: RunId,
    /// The namespace it belongs to; runs never cross namespaces.
    pub namespace: String,
    /// The task's name, e.g. `notify-user`.
    pub task: String,
    /// The queue it waits in (its task's, when it was enqueued).
    #[serde(default = "default_queue")]
    pub queue: String,
    /// Where the run is in its lifecycle.
    pub status: RunStatus,
    /// The payload as JSON.
    pub payload: serde_json::Value,
    /// Attempts started so far (0 before the first), whatever became of them.
    pub attempt: u32,
    /// Attempts that may fail before the run is dead-lettered (the task's `attempts` when
    /// it was enqueued). Fixed once stored.
    pub max_attempts: u32,
    /// Attempts that failed, timed out, panicked or lost their lease: what backoff and
    /// the budget count.
    #[serde(default)]
    pub failures: u32,
    /// Attempts that snoozed.
    #[serde(default)]
    pub snoozes: u32,
    /// Attempts handed back unfinished by a worker that shut down.
    #[serde(default)]
    pub handbacks: u32,
    /// Lower runs first among due runs.
    pub priority: i16,
    /// The idempotency key it was enqueued with, if any.
    pub idempotency_key: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When its next attempt is due (for a finished run: when its last one was due). A
    /// run whose attempt was lost (rescued or handed back) keeps the due time it had, so
    /// it keeps its place in line.
    pub run_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final status.
    pub finished_at: Option<DateTime<Utc>>,
    /// The error of its latest failed attempt.
    pub last_error: Option<String>,
    /// The run this one replays.
    pub replay_of: Option<RunId>,
    /// Why it was replayed.
    pub replay_reason: Option<String>,
    /// The cron tick this run is for, when a periodic schedule enqueued it (its replays
    /// keep it): what [`Context::tick`](crate::Context::tick) reads.
    #[serde(default)]
    pub tick: Option<DateTime<Utc>>,
}

impl Run {
    /// A run of `task` as just enqueued (for storage implementations, which then set the
    /// fields they store): `queued` in the default queue, due at `created_at`, no attempt
    /// yet, a budget of one attempt, priority 0, no key, nothing else set.
    pub fn new(
        id: RunId,
        namespace: impl Into<String>,
        task: impl Into<String>,
        payload: serde_json::Value,
        created_at: DateTime<Utc>,
    ) -> Run {
        Run {
            id,
            namespace: namespace.into(),
            task: task.into(),
            queue: default_queue(),
            status: RunStatus::Queued,
            payload,
            attempt: 0,
            max_attempts: 1,
            failures: 0,
            snoozes: 0,
            handbacks: 0,
            priority: 0,
            idempotency_key: None,
            created_at,
            run_at: created_at,
            started_at: None,
            finished_at: None,
            last_error: None,
            replay_of: None,
            replay_reason: None,
            tick: None,
        }
    }

    /// Whether an attempt failing now would be the run's last: its budget would be spent.
    pub fn is_last_attempt(&self) -> bool {
        self.failures.saturating_add(1) >= self.max_attempts
    }
}

fn default_queue() -> String {
    DEFAULT_QUEUE.to_owned()
}

/// One attempt of a run. Plain data; `#[non_exhaustive]`, so storages build it with
/// [`Attempt::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// When the worker claimed the run for this attempt.
    pub started_at: DateTime<Utc>,
    /// When its outcome was recorded; `None` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The error text, for every outcome but `running` and `succeeded`.
    pub error: Option<String>,
}

impl Attempt {
    /// Attempt `number` of a run, started at `started_at`, with `outcome` (for storage
    /// implementations); `finished_at` and `error` start empty.
    pub fn new(number: u32, started_at: DateTime<Utc>, outcome: AttemptOutcome) -> Attempt {
        Attempt {
            number,
            started_at,
            finished_at: None,
            outcome,
            error: None,
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// Still in progress.
    Running,
    /// The handler returned `Ok`.
    Succeeded,
    /// The handler failed, panicked or timed out, or the payload did not decode.
    Failed,
    /// The run was cancelled while this attempt ran; its result was discarded.
    Cancelled,
    /// The worker's lease ran out (the worker died or stalled); the run was rescued.
    LeaseExpired,
    /// The worker shut down before the attempt finished and handed the run back.
    Interrupted,
    /// The handler asked to run again later ([`TaskError::snooze`](crate::TaskError::snooze));
    /// not a failure, and not counted against the run's attempts.
    Snoozed,
}

impl AttemptOutcome {
    /// The name used in JSON and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::LeaseExpired => "lease_expired",
            AttemptOutcome::Interrupted => "interrupted",
            AttemptOutcome::Snoozed => "snoozed",
        }
    }
}

impl AttemptOutcome {
    /// Every outcome.
    pub const ALL: [AttemptOutcome; 7] = [
        AttemptOutcome::Running,
        AttemptOutcome::Succeeded,
        AttemptOutcome::Failed,
        AttemptOutcome::Cancelled,
        AttemptOutcome::LeaseExpired,
        AttemptOutcome::Interrupted,
        AttemptOutcome::Snoozed,
    ];
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_queued_run_not_yet_due_for_its_first_attempt_is_seen_as_scheduled() {
        let now = Utc::now();
        let later = now + chrono::TimeDelta::minutes(5);
        assert_eq!(
            RunStatus::Queued.as_seen_at(0, later, now),
            RunStatus::Scheduled
        );
        assert_eq!(RunStatus::Queued.as_seen_at(0, now, now), RunStatus::Queued);
        assert_eq!(
            RunStatus::Queued.as_seen_at(1, later, now),
            RunStatus::Queued
        );
        assert_eq!(
            RunStatus::Retrying.as_seen_at(0, later, now),
            RunStatus::Retrying
        );
    }

    #[test]
    fn run_ids_round_trip_and_sort_by_creation() {
        let a = RunId::new();
        let b = RunId::new();
        assert!(a < b, "ids are time-ordered");
        let text = a.to_string();
        assert_eq!(text.len(), 36);
        assert!(text.starts_with("run_"));
        assert_eq!(text.parse::<RunId>().unwrap(), a);
        assert_eq!(format!("{a:?}"), text);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<RunId>(&json).unwrap(), a);
    }

    #[test]
    fn a_run_serializes_with_every_documented_field() {
        let now = chrono::Utc::now();
        let run = Run {
            id: RunId::new(),
            namespace: "app".into(),
            task: "notify-user".into(),
            queue: "default".into(),
            status: RunStatus::DeadLettered,
            payload: serde_json::json!({ "user_id": "u1" }),
            attempt: 5,
            max_attempts: 5,
            failures: 4,
            snoozes: 1,
            handbacks: 0,
            priority: 0,
            idempotency_key: Some("welcome:u1".into()),
            created_at: now,
            run_at: now,
            started_at: Some(now),
            finished_at: Some(now),
            last_error: Some("webhook delivery failed: 500".into()),
            replay_of: None,
            replay_reason: None,
            tick: None,
        };
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["status"], "dead_lettered");
        assert_eq!(json["id"], run.id.to_string());
        for field in [
            "id",
            "namespace",
            "task",
            "status",
            "payload",
            "attempt",
            "max_attempts",
            "failures",
            "snoozes",
            "handbacks",
            "priority",
            "idempotency_key",
            "created_at",
            "run_at",
            "started_at",
            "finished_at",
            "last_error",
            "replay_of",
            "replay_reason",
            "tick",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        let back: Run = serde_json::from_value(json).unwrap();
        assert_eq!(back, run);
    }
}

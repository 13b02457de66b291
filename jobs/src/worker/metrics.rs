//! What workers measure, through the [`metrics`] facade: the recorder the application
//! installs (Prometheus, StatsD, OpenTelemetry...) receives it; without one, recording is
//! a check of a global and nothing else. The names are the constants below; labels are
//! the task's name and the outcome, both static strings, so recording allocates nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::storage::AttemptResult;

/// Attempts that ended, by `task` and `outcome` (`succeeded`, `retried`, `dead_lettered`,
/// `snoozed`).
pub const ATTEMPTS: &str = "jobs_attempts_total";
/// How long attempts ran, in seconds, by `task`.
pub const ATTEMPT_DURATION: &str = "jobs_attempt_duration_seconds";
/// How long runs waited from due (enqueued, or the retry's time) to their attempt's
/// start, in seconds, by `task`: the queue's delay, not the one asked for.
pub const QUEUE_WAIT: &str = "jobs_queue_wait_seconds";
/// Runs whose lease expired and that a worker returned to the queue or dead-lettered.
pub const RESCUED: &str = "jobs_runs_rescued_total";
/// Results dropped because their run was cancelled or rescued meanwhile.
pub const STALE: &str = "jobs_results_stale_total";
/// Finished runs deleted by workers' pruning (see [`Retention`](crate::Retention)).
pub const PRUNED: &str = "jobs_runs_pruned_total";
/// Results a worker gave up writing after the storage refused them for a whole lease:
/// their leases lapse, and the runs are rescued and run again.
pub const RESULTS_ABANDONED: &str = "jobs_results_abandoned_total";

/// Describes every metric once, for recorders that publish descriptions.
pub(crate) fn describe() {
    metrics::describe_counter!(
        ATTEMPTS,
        "Attempts that ended, by task and outcome (succeeded, retried, dead_lettered, snoozed)."
    );
    metrics::describe_histogram!(
        ATTEMPT_DURATION,
        metrics::Unit::Seconds,
        "How long attempts ran, by task."
    );
    metrics::describe_histogram!(
        QUEUE_WAIT,
        metrics::Unit::Seconds,
        "How long runs waited from due to the start of their attempt, by task."
    );
    metrics::describe_counter!(
        RESCUED,
        "Runs whose lease expired, returned to the queue or dead-lettered by a worker."
    );
    metrics::describe_counter!(PRUNED, "Finished runs deleted by pruning.");
    metrics::describe_counter!(
        STALE,
        "Results dropped because their run was cancelled or rescued meanwhile."
    );
    metrics::describe_counter!(
        RESULTS_ABANDONED,
        "Results given up after the storage refused them for a whole lease; their runs are rescued and run again."
    );
}

/// An attempt of `task` started at `started` for a run due at `due` (both by the
/// storage's clock).
pub(crate) fn attempt_started(task: &'static str, due: DateTime<Utc>, started: DateTime<Utc>) {
    let wait = (started - due).to_std().unwrap_or(Duration::ZERO);
    metrics::histogram!(QUEUE_WAIT, "task" => task).record(wait.as_secs_f64());
}

/// An attempt of `task` ended with `result` after running `took`.
pub(crate) fn attempt_ended(task: &'static str, result: &AttemptResult, took: Duration) {
    let outcome = match result {
        AttemptResult::Succeeded => "succeeded",
        AttemptResult::Retry { .. } => "retried",
        AttemptResult::DeadLetter { .. } => "dead_lettered",
        AttemptResult::Snooze { .. } => "snoozed",
    };
    metrics::counter!(ATTEMPTS, "task" => task, "outcome" => outcome).increment(1);
    metrics::histogram!(ATTEMPT_DURATION, "task" => task).record(took.as_secs_f64());
}

/// `count` runs rescued.
pub(crate) fn rescued(count: usize) {
    metrics::counter!(RESCUED).increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// `count` finished runs pruned.
pub(crate) fn pruned(count: usize) {
    metrics::counter!(PRUNED).increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// `count` results found stale.
pub(crate) fn stale(count: usize) {
    metrics::counter!(STALE).increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// `count` results given up.
pub(crate) fn results_abandoned(count: usize) {
    metrics::counter!(RESULTS_ABANDONED).increment(u64::try_from(count).unwrap_or(u64::MAX));
}

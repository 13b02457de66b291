//! How long finished runs and idempotency keys are kept.

use std::time::Duration;

/// How long finished runs are kept, per final status, and how long idempotency keys are
/// remembered. Workers prune with it (see [`WorkerBuilder::retention`](crate::WorkerBuilder::retention)).
///
/// Defaults: succeeded and cancelled runs for 7 days, dead-lettered runs for 30 days
/// (someone may still want to read or replay them), keys for 24 hours.
///
/// **How long a key is remembered.** From the enqueue until both the run has finished
/// and [`key_window`](Self::key_window) has passed since the enqueue; the next prune
/// pass after that forgets it (the run's `idempotency_key` becomes empty), and an enqueue
/// with the same key then makes a new run. A run that has not finished keeps its key
/// however old it is, and a run is never pruned while its key is remembered, so a key
/// lives at least the window whatever the retention of its run.
///
/// ```
/// use std::time::Duration;
/// use jobs::Retention;
///
/// let day = Duration::from_secs(24 * 3600);
/// let retention = Retention::default()
///     .succeeded(Some(day))              // succeeded runs: a day
///     .dead_lettered(None)               // dead letters: for ever
///     .key_window(7 * day);              // keys: a week
/// assert_eq!(retention.succeeded_for(), Some(day));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    succeeded: Option<Duration>,
    cancelled: Option<Duration>,
    dead_lettered: Option<Duration>,
    key_window: Duration,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for Retention {
    fn default() -> Self {
        Retention {
            succeeded: Some(7 * DAY),
            cancelled: Some(7 * DAY),
            dead_lettered: Some(30 * DAY),
            key_window: DAY,
        }
    }
}

impl Retention {
    /// Keeps every run and every key for ever: nothing is pruned.
    pub fn keep_forever() -> Self {
        Retention {
            succeeded: None,
            cancelled: None,
            dead_lettered: None,
            key_window: Duration::MAX,
        }
    }

    /// How long a succeeded run is kept after it finished; `None`: for ever.
    pub fn succeeded(mut self, age: Option<Duration>) -> Self {
        self.succeeded = age;
        self
    }

    /// How long a cancelled run is kept after it was cancelled; `None`: for ever.
    pub fn cancelled(mut self, age: Option<Duration>) -> Self {
        self.cancelled = age;
        self
    }

    /// How long a dead-lettered run is kept after it was dead-lettered; `None`: for ever.
    pub fn dead_lettered(mut self, age: Option<Duration>) -> Self {
        self.dead_lettered = age;
        self
    }

    /// How long after its enqueue an idempotency key is remembered at least (see the
    /// type's docs). Default 24 hours.
    pub fn key_window(mut self, window: Duration) -> Self {
        self.key_window = window;
        self
    }

    /// See [`succeeded`](Self::succeeded).
    pub fn succeeded_for(&self) -> Option<Duration> {
        self.succeeded
    }

    /// See [`cancelled`](Self::cancelled).
    pub fn cancelled_for(&self) -> Option<Duration> {
        self.cancelled
    }

    /// See [`dead_lettered`](Self::dead_lettered).
    pub fn dead_lettered_for(&self) -> Option<Duration> {
        self.dead_lettered
    }

    /// See [`key_window`](Self::key_window).
    pub fn key_window_for(&self) -> Duration {
        self.key_window
    }
}

/// What one prune batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// Finished runs deleted, with their attempts.
    pub runs: usize,
    /// Idempotency keys forgotten.
    pub keys: usize,
}

impl Pruned {
    /// A result (for storage implementations).
    pub fn new(runs: usize, keys: usize) -> Self {
        Pruned { runs, keys }
    }
}

//! What a running attempt knows about itself.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::error::TaskError;
use super::handle::Jobs;
use crate::model::run::{Run, RunId};

/// The attempt a handler is running: its run, its attempt number, whether it was told to
/// stop (and why), and a handle to enqueue follow-up runs.
///
/// Put a `ctx: jobs::Context` argument anywhere in a task fn's arguments to get it; it is
/// not part of the payload.
///
/// # Examples
///
/// ```rust,standalone_crate
/// use jobs::{CancelReason, TaskError};
///
/// #[jobs::task]
/// async fn import_file(ctx: jobs::Context, path: String) -> Result<(), TaskError> {
///     for chunk in 0..10 {
///         match ctx.cancel_reason() {
///             // The worker is shutting down: stop; the run is handed back and resumes
///             // on another worker without using an attempt.
///             Some(CancelReason::Shutdown) => return Err(TaskError::retryable("stopped by a shutdown")),
///             // The run was cancelled (or is another worker's now): the result is dropped.
///             Some(_) => return Ok(()),
///             None => {}
///         }
///         let _ = (chunk, &path);
///     }
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    run_id: RunId,
    task: String,
    attempt: u32,
    max_attempts: u32,
    failures: u32,
    snoozes: u32,
    tick: Option<DateTime<Utc>>,
    cancel: Cancel,
    jobs: Jobs,
}

/// Why an attempt was told to stop ([`Context::cancel_reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// The run was cancelled (through [`Runs::cancel`](crate::Runs::cancel), the HTTP API,
    /// the CLI): it is `cancelled` already, and whatever the attempt returns is dropped.
    Cancelled,
    /// The worker learned at its heartbeat that it no longer holds the run: it was
    /// cancelled, or its lease ran out and another worker rescued it. Whatever the attempt
    /// returns is dropped.
    LeaseLost,
    /// The worker is shutting down. The attempt has until the worker's
    /// [`shutdown_timeout`](crate::WorkerBuilder::shutdown_timeout) to finish or return;
    /// then it is aborted. A success is recorded; a retryable error (the handler stopped
    /// early) hands the run back, using none of its budget; past the deadline the run is
    /// handed back too.
    Shutdown,
}

/// The cancellation of one attempt: a token and the reason it was cancelled for. Shared
/// by the attempt's [`Context`] (and its clones) and the worker running it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cancel {
    token: CancellationToken,
    reason: Arc<Mutex<Option<CancelReason>>>,
}

impl Cancel {
    pub(crate) fn new() -> Self {
        Cancel::default()
    }

    /// Cancels for `reason`. The most telling reason stays: cancelled over lease lost
    /// (which may be the same cancel, learned at a heartbeat) over shutdown.
    pub(crate) fn cancel(&self, reason: CancelReason) {
        fn rank(reason: CancelReason) -> u8 {
            match reason {
                CancelReason::Shutdown => 1,
                CancelReason::LeaseLost => 2,
                CancelReason::Cancelled => 3,
            }
        }
        {
            let mut current = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
            if current.is_none_or(|current| rank(current) < rank(reason)) {
                *current = Some(reason);
            }
        }
        self.token.cancel();
    }

    pub(crate) fn reason(&self) -> Option<CancelReason> {
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

impl Context {
    /// The context of the attempt `run` (as claimed) has just started.
    pub(crate) fn new(run: &Run, cancel: Cancel, jobs: Jobs) -> Self {
        Context {
            run_id: run.id,
            task: run.task.clone(),
            attempt: run.attempt,
            max_attempts: run.max_attempts,
            failures: run.failures,
            snoozes: run.snoozes,
            tick: run.tick,
            cancel,
            jobs,
        }
    }

    /// A context for calling a task fn directly, e.g. in a unit test: a fresh run id,
    /// attempt 1 of 1, never cancelled unless [`Context::cancel`] is called.
    pub fn for_test(jobs: &Jobs, task: &str) -> Self {
        Context {
            run_id: RunId::new(),
            task: task.to_owned(),
            attempt: 1,
            max_attempts: 1,
            failures: 0,
            snoozes: 0,
            tick: None,
            cancel: Cancel::new(),
            jobs: jobs.clone(),
        }
    }

    /// The run this attempt belongs to.
    pub fn run_id(&self) -> RunId {
        self.run_id
    }

    /// The task's name.
    pub fn task(&self) -> &str {
        &self.task
    }

    /// This attempt's number, 1 for the first, counting every attempt the run started
    /// (snoozed and handed-back ones too).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The run's budget: attempts that may fail before it is dead-lettered (snoozes and
    /// hand-backs use none of it).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Attempts of this run that failed before this one (or lost their lease).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Times this run snoozed before this attempt.
    pub fn snoozes(&self) -> u32 {
        self.snoozes
    }

    /// The cron tick this run is for, when a [`Periodic`](crate::Periodic) schedule
    /// enqueued it (or it replays such a run): the time the work is about, even when the
    /// attempt starts late or is a retry. `None` for every other run.
    pub fn tick(&self) -> Option<DateTime<Utc>> {
        self.tick
    }

    /// Whether this attempt failing would dead-letter the run: its budget would be spent.
    pub fn is_last_attempt(&self) -> bool {
        self.failures.saturating_add(1) >= self.max_attempts
    }

    /// Whether the attempt was told to stop: the run was cancelled, this worker lost its
    /// lease, or the worker is shutting down ([`cancel_reason`](Self::cancel_reason) says
    /// which). Stop soon.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the attempt is told to stop (see [`is_cancelled`](Self::is_cancelled));
    /// use in `tokio::select!` around slow work.
    pub async fn cancelled(&self) {
        self.cancel.token.cancelled().await
    }

    /// Why the attempt was told to stop, once it was: the run was cancelled or is another
    /// worker's now (its result will be dropped), or the worker is shutting down (return
    /// soon: a success is kept, an error hands the run back without using its budget).
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.cancel.reason()
    }

    /// Cancels this context as if its run were cancelled (for tests that call a task fn
    /// directly).
    pub fn cancel(&self) {
        self.cancel.cancel(CancelReason::Cancelled)
    }

    /// The attempt's cancellation, shared with the worker.
    pub(crate) fn cancel_handle(&self) -> Cancel {
        self.cancel.clone()
    }

    /// The `Jobs` this attempt runs under.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The application state of type `T` given to
    /// [`JobsBuilder::state`](crate::JobsBuilder::state).
    ///
    /// # Errors
    ///
    /// None was given: a permanent [`TaskError`] saying which type is missing, so `?` in a
    /// handler dead-letters the run with that message.
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<&T, TaskError> {
        self.jobs.state::<T>().ok_or_else(|| {
            TaskError::permanent(format!(
                "no state of type `{}`: give it to `Jobs::builder().state(..)`",
                std::any::type_name::<T>()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_telling_reason_stays() {
        let cancel = Cancel::new();
        assert_eq!((cancel.is_cancelled(), cancel.reason()), (false, None));
        cancel.cancel(CancelReason::Shutdown);
        assert_eq!(cancel.reason(), Some(CancelReason::Shutdown));
        cancel.cancel(CancelReason::LeaseLost);
        assert_eq!(cancel.reason(), Some(CancelReason::LeaseLost));
        cancel.cancel(CancelReason::Cancelled);
        cancel.cancel(CancelReason::Shutdown);
        assert_eq!(cancel.reason(), Some(CancelReason::Cancelled));
        assert!(cancel.is_cancelled());
    }
}

//! What a running attempt knows about itself.

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::client::Jobs;
use crate::enqueue::Enqueue;
use crate::run::{Run, RunId};
use crate::task::{Task, TaskError};

/// The attempt a handler is running: its run, its attempt number, whether it was
/// cancelled, and a handle to enqueue follow-up runs.
///
/// Put a `ctx: jobs::Context` argument anywhere in a task fn's arguments to get it; it is
/// not part of the payload.
///
/// # Examples
///
/// ```rust,standalone_crate
/// #[jobs::task]
/// async fn import_file(ctx: jobs::Context, path: String) -> Result<(), jobs::TaskError> {
///     for chunk in 0..10 {
///         if ctx.is_cancelled() {
///             return Ok(()); // the run was cancelled; stop early
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
    cancel: CancellationToken,
    jobs: Jobs,
}

impl Context {
    /// The context of the attempt `run` (as claimed) has just started.
    pub(crate) fn new(run: &Run, cancel: CancellationToken, jobs: Jobs) -> Self {
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
            cancel: CancellationToken::new(),
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

    /// Whether the run was cancelled (or this worker lost its lease): stop soon, the
    /// attempt's result will be discarded.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the run is cancelled; use in `tokio::select!` around slow work.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Cancels this context (for tests that call a task fn directly).
    pub fn cancel(&self) {
        self.cancel.cancel()
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

    /// Enqueues a follow-up run, exactly like [`Jobs::enqueue`].
    pub fn enqueue<T: Task>(&self, payload: T) -> Enqueue<'_, T> {
        self.jobs.enqueue(payload)
    }
}

//! The enqueue builders: options, then `.await`.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::error::Error;
use crate::model::run::RunId;
use crate::storage::{Enqueued, NewRun, Schedule};
use crate::task::context::Context;
use crate::task::definition::Task;
use crate::task::handle::Jobs;

impl Jobs {
    /// Enqueues one run of task `T`. Await the returned builder, after setting options.
    ///
    /// # Errors
    ///
    /// A payload that does not serialize or is larger than the limit; a storage failure.
    pub fn enqueue<T: Task>(&self, payload: T) -> Enqueue<'_, T> {
        Enqueue::new(self, payload)
    }

    /// Enqueues many runs of task `T` in one storage call.
    pub fn enqueue_many<T: Task>(
        &self,
        payloads: impl IntoIterator<Item = T>,
    ) -> EnqueueMany<'_, T> {
        EnqueueMany::new(self, payloads.into_iter().collect())
    }
}

impl Context {
    /// Enqueues a follow-up run, exactly like [`Jobs::enqueue`].
    pub fn enqueue<T: Task>(&self, payload: T) -> Enqueue<'_, T> {
        self.jobs().enqueue(payload)
    }
}

/// One run to enqueue. Set options, then `.await` it.
///
/// # Examples
///
/// ```rust,standalone_crate
/// # #[jobs::task(retry(attempts = 3))]
/// # async fn send_reminder(user_id: String) {}
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), jobs::Error> {
/// # let jobs = jobs::Jobs::builder().storage(jobs::MemoryStorage::new()).build()?;
/// use std::time::Duration;
///
/// let run = jobs
///     .enqueue(SendReminder { user_id: "user_123".into() })
///     .delay(Duration::from_secs(3600))
///     .await?;
/// assert_eq!(run.run.status, jobs::RunStatus::Scheduled);
/// # Ok(())
/// # }
/// ```
#[must_use = "an enqueue does nothing until it is awaited"]
pub struct Enqueue<'a, T> {
    jobs: &'a Jobs,
    payload: T,
    options: Options,
}

/// Many runs of one task, enqueued in one storage call. Set options, then `.await` it.
#[must_use = "an enqueue does nothing until it is awaited"]
pub struct EnqueueMany<'a, T> {
    jobs: &'a Jobs,
    payloads: Vec<T>,
    options: Options,
}

#[derive(Clone, Copy)]
struct Options {
    schedule: Schedule,
    priority: i16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            schedule: Schedule::Now,
            priority: 0,
        }
    }
}

impl<'a, T: Task> Enqueue<'a, T> {
    pub(crate) fn new(jobs: &'a Jobs, payload: T) -> Self {
        Enqueue {
            jobs,
            payload,
            options: Options::default(),
        }
    }

    /// At most one run per key in the namespace: a later enqueue with the same key
    /// returns the first run, with `created: false`.
    pub fn idempotency_key(self, key: impl Into<String>) -> EnqueueWithKey<'a, T> {
        EnqueueWithKey {
            inner: self,
            key: key.into(),
        }
    }

    /// Run no earlier than `delay` from now (the storage's now).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.options.schedule = Schedule::After(delay);
        self
    }

    /// Run no earlier than `at`; a time in the past means now.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.options.schedule = Schedule::At(at);
        self
    }

    /// Lower runs first among due runs of the namespace. Default 0.
    pub fn priority(mut self, priority: i16) -> Self {
        self.options.priority = priority;
        self
    }

    /// The run this enqueue would store, without storing it: for storages that can
    /// enqueue inside the application's own transaction.
    ///
    /// # Errors
    ///
    /// A payload that does not serialize or is over the limit.
    pub fn into_new_run(self) -> Result<NewRun, Error> {
        new_run(self.jobs, &self.payload, self.options, None)
    }

    async fn send(self, key: Option<String>) -> Result<Enqueued, Error> {
        let run = new_run(self.jobs, &self.payload, self.options, key)?;
        let mut stored = self.jobs.storage().enqueue(vec![run]).await?;
        stored
            .pop()
            .ok_or_else(|| Error::storage("enqueue a run", "the storage returned no run"))
    }
}

/// An enqueue with an idempotency key; the same options, then `.await` it.
#[must_use = "an enqueue does nothing until it is awaited"]
pub struct EnqueueWithKey<'a, T> {
    inner: Enqueue<'a, T>,
    key: String,
}

impl<'a, T: Task> EnqueueWithKey<'a, T> {
    /// See [`Enqueue::delay`].
    pub fn delay(mut self, delay: Duration) -> Self {
        self.inner = self.inner.delay(delay);
        self
    }

    /// See [`Enqueue::run_at`].
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.inner = self.inner.run_at(at);
        self
    }

    /// See [`Enqueue::priority`].
    pub fn priority(mut self, priority: i16) -> Self {
        self.inner = self.inner.priority(priority);
        self
    }

    /// See [`Enqueue::into_new_run`].
    ///
    /// # Errors
    ///
    /// A payload that does not serialize or is over the limit.
    pub fn into_new_run(self) -> Result<NewRun, Error> {
        let inner = self.inner;
        new_run(inner.jobs, &inner.payload, inner.options, Some(self.key))
    }
}

impl<'a, T: Task> IntoFuture for Enqueue<'a, T> {
    type Output = Result<Enqueued, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send(None))
    }
}

impl<'a, T: Task> IntoFuture for EnqueueWithKey<'a, T> {
    type Output = Result<Enqueued, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.inner.send(Some(self.key)))
    }
}

impl<'a, T: Task> EnqueueMany<'a, T> {
    pub(crate) fn new(jobs: &'a Jobs, payloads: Vec<T>) -> Self {
        EnqueueMany {
            jobs,
            payloads,
            options: Options::default(),
        }
    }

    /// Every run waits `delay` from now.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.options.schedule = Schedule::After(delay);
        self
    }

    /// Every run is due at `at`.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.options.schedule = Schedule::At(at);
        self
    }

    /// Every run gets this priority.
    pub fn priority(mut self, priority: i16) -> Self {
        self.options.priority = priority;
        self
    }

    /// The runs this enqueue would store, without storing them: see
    /// [`Enqueue::into_new_run`].
    ///
    /// # Errors
    ///
    /// A payload that does not serialize or is over the limit.
    pub fn into_new_runs(self) -> Result<Vec<NewRun>, Error> {
        self.payloads
            .iter()
            .map(|payload| new_run(self.jobs, payload, self.options, None))
            .collect()
    }

    async fn send(self) -> Result<Vec<Enqueued>, Error> {
        if self.payloads.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = self.jobs;
        let runs = self.into_new_runs()?;
        jobs.storage().enqueue(runs).await
    }
}

impl<'a, T: Task> IntoFuture for EnqueueMany<'a, T> {
    type Output = Result<Vec<Enqueued>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

fn new_run<T: Task>(
    jobs: &Jobs,
    payload: &T,
    options: Options,
    idempotency_key: Option<String>,
) -> Result<NewRun, Error> {
    let payload = serde_json::to_value(payload).map_err(|e| Error::Payload {
        task: T::NAME.to_owned(),
        reason: e.to_string(),
    })?;
    check_size(jobs, T::NAME, &payload)?;
    Ok(NewRun {
        id: RunId::new(),
        namespace: jobs.namespace().to_owned(),
        task: T::NAME.to_owned(),
        queue: T::QUEUE.to_owned(),
        payload,
        max_attempts: T::RETRY.attempts.max(1),
        priority: options.priority,
        idempotency_key,
        schedule: options.schedule,
        tick: None,
    })
}

/// Rejects payloads larger than the configured limit, naming it.
pub(crate) fn check_size(
    jobs: &Jobs,
    task: &str,
    payload: &serde_json::Value,
) -> Result<(), Error> {
    let limit = jobs.max_payload_bytes();
    let mut counter = ByteCounter { bytes: 0 };
    serde_json::to_writer(&mut counter, payload).map_err(|e| Error::Payload {
        task: task.to_owned(),
        reason: e.to_string(),
    })?;
    if counter.bytes > limit {
        return Err(Error::PayloadTooLarge {
            task: task.to_owned(),
            size: counter.bytes,
            limit,
        });
    }
    Ok(())
}

struct ByteCounter {
    bytes: usize,
}

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes = self.bytes.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

//! Enqueue by task name with a JSON payload: for HTTP APIs, command lines and other
//! callers that do not have the payload type at hand.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::enqueue::check_size;
use crate::model::error::Error;
use crate::model::run::RunId;
use crate::storage::{Enqueued, NewRun, Schedule};
use crate::task::handle::Jobs;

impl Jobs {
    /// A run of the task named `task` with a JSON payload, checked against the task's
    /// payload type: for HTTP APIs and tools that name tasks at run time. See
    /// [`EnqueueJson`].
    pub fn enqueue_json(&self, task: &str, payload: serde_json::Value) -> EnqueueJson<'_> {
        EnqueueJson::new(self, task, payload)
    }
}

/// One run of a task named at run time, with a JSON payload. Set options, then `.await`.
///
/// The payload is checked against the task's payload type before anything is stored,
/// exactly as the worker will decode it: a payload that does not fit is
/// [`Error::PayloadMismatch`], naming the field; a name no task of this binary has is
/// [`Error::UnknownTask`]. Prefer [`Jobs::enqueue`] wherever the payload type is at hand.
///
/// # Examples
///
/// ```rust,standalone_crate
/// # #[jobs::task]
/// # async fn send_welcome(user_id: String) {}
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), jobs::Error> {
/// # let jobs = jobs::Jobs::builder().storage(jobs::MemoryStorage::new()).build()?;
/// use serde_json::json;
///
/// let run = jobs.enqueue_json("send-welcome", json!({ "user_id": "user_123" })).await?;
/// assert_eq!(run.run.task, "send-welcome");
///
/// let wrong = jobs.enqueue_json("send-welcome", json!({ "user_id": 42 })).await;
/// assert!(matches!(wrong, Err(jobs::Error::PayloadMismatch { .. })));
/// # Ok(())
/// # }
/// ```
#[must_use = "an enqueue does nothing until it is awaited"]
pub struct EnqueueJson<'a> {
    jobs: &'a Jobs,
    task: String,
    payload: serde_json::Value,
    key: Option<String>,
    schedule: Schedule,
    priority: i16,
}

impl<'a> EnqueueJson<'a> {
    pub(crate) fn new(jobs: &'a Jobs, task: &str, payload: serde_json::Value) -> Self {
        EnqueueJson {
            jobs,
            task: task.to_owned(),
            payload,
            key: None,
            schedule: Schedule::Now,
            priority: 0,
        }
    }

    /// See [`Enqueue::idempotency_key`](crate::Enqueue::idempotency_key).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// See [`Enqueue::delay`](crate::Enqueue::delay).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.schedule = Schedule::After(delay);
        self
    }

    /// See [`Enqueue::run_at`](crate::Enqueue::run_at).
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.schedule = Schedule::At(at);
        self
    }

    /// See [`Enqueue::priority`](crate::Enqueue::priority).
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// The run this enqueue would store, checked, without storing it.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTask`], [`Error::PayloadMismatch`], [`Error::PayloadTooLarge`].
    pub fn into_new_run(self) -> Result<NewRun, Error> {
        let Some(registration) = self.jobs.registry().get(&self.task) else {
            return Err(Error::UnknownTask {
                task: self.task.chars().take(200).collect(),
                known: self.jobs.task_names(),
            });
        };
        let task = registration.name();
        (registration.check_payload)(&self.payload).map_err(|mismatch| Error::PayloadMismatch {
            task: task.to_owned(),
            field: mismatch.field,
            reason: mismatch.message,
        })?;
        check_size(self.jobs, task, &self.payload)?;
        Ok(NewRun {
            id: RunId::new(),
            namespace: self.jobs.namespace().to_owned(),
            task: task.to_owned(),
            queue: registration.queue().to_owned(),
            payload: self.payload,
            max_attempts: (registration.retry)().attempts.max(1),
            priority: self.priority,
            idempotency_key: self.key,
            schedule: self.schedule,
            tick: None,
        })
    }
}

impl<'a> IntoFuture for EnqueueJson<'a> {
    type Output = Result<Enqueued, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let jobs = self.jobs;
            let run = self.into_new_run()?;
            let mut stored = jobs.storage().enqueue(vec![run]).await?;
            stored
                .pop()
                .ok_or_else(|| Error::storage("enqueue a run", "the storage returned no run"))
        })
    }
}

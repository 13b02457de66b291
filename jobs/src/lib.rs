//! Typed background jobs for Rust.
//!
//! A task is an `async fn` with `#[jobs::task]`. The attribute turns the function's
//! arguments into a payload struct, registers the task, and makes enqueueing that struct
//! type-checked: a payload that does not fit its handler does not compile. Runs live in a
//! pluggable [`Storage`]: [`MemoryStorage`] for tests and demos, PostgreSQL for production.
//!
//! Every run follows one lifecycle: enqueue, then attempts, until it has succeeded, been
//! cancelled or been dead-lettered; failed attempts are retried per the task's policy and
//! any finished run can be replayed.
//!
//! ```rust,standalone_crate
//! use jobs::{Jobs, MemoryStorage, RunStatus};
//!
//! #[jobs::task(retry(attempts = 5, backoff = "exponential", initial_delay = "5s", max_delay = "300s"))]
//! async fn notify_user(user_id: String, template: String) -> Result<(), jobs::TaskError> {
//!     println!("sending {template} to {user_id}");
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), jobs::Error> {
//! let jobs = Jobs::builder().name("background").namespace("app").storage(MemoryStorage::new()).build()?;
//!
//! let first = jobs
//!     .enqueue(NotifyUser { user_id: "user_123".into(), template: "welcome".into() })
//!     .idempotency_key("welcome:user_123")
//!     .await?;
//! let again = jobs
//!     .enqueue(NotifyUser { user_id: "user_123".into(), template: "welcome".into() })
//!     .idempotency_key("welcome:user_123")
//!     .await?;
//! assert_eq!(first.id(), again.id());
//! assert!(!again.created);
//!
//! jobs.drain().await?; // or: let worker = jobs.worker().concurrency(16).start();
//! let run = jobs.runs().get(&first.id()).await?.expect("the run exists");
//! assert_eq!(run.status, RunStatus::Succeeded);
//! # Ok(())
//! # }
//! ```

// The layers, bottom up; each depends only on the ones before it (docs/ARCHITECTURE.md).
mod client;
mod model;
pub mod storage;
mod task;
#[cfg(feature = "testing")]
pub mod testing;
mod worker;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::client::builder::{IntoStorage, JobsBuilder};
pub use crate::client::enqueue::{Enqueue, EnqueueMany};
pub use crate::client::enqueue_json::EnqueueJson;
pub use crate::client::runs::{ReplayReport, Runs};
pub use crate::model::clock::{Clock, ManualClock, SystemClock};
pub use crate::model::error::Error;
pub use crate::model::limits::KeyLimit;
pub use crate::model::list::{Cursor, ListRuns, Page};
pub use crate::model::retention::{Pruned, Retention};
pub use crate::model::retry::{Backoff, RetryPolicy};
pub use crate::model::run::{Attempt, AttemptOutcome, DEFAULT_QUEUE, Run, RunId, RunStatus};
pub use crate::model::stats;
pub use crate::model::stats::Stats;
pub use crate::storage::{Enqueued, MemoryStorage, Storage};
pub use crate::task::context::{CancelReason, Context};
pub use crate::task::definition::Task;
pub use crate::task::error::{MAX_SNOOZES, TaskError};
pub use crate::task::handle::Jobs;
pub use crate::task::periodic::Periodic;
pub use crate::worker::{DrainReport, ShutdownReport, WorkerBuilder, WorkerHandle, metrics};

/// Turns an `async fn` into a task. See the crate docs and `docs/ARCHITECTURE.md`.
///
/// ```text
/// #[jobs::task(
///     name = "notify-user",            // default: the fn name in kebab-case
///     payload = NotifyUser,            // default: the fn name in CamelCase
///     queue = "webhooks",              // default: "default"
///     retry(attempts = 5, backoff = "exponential", initial_delay = "5s", max_delay = "300s"),
///     timeout = "30s",                 // per attempt; default: none
/// )]
/// ```
///
/// Retry forms: `backoff = "exponential"` (`initial_delay`, `max_delay`), `"fixed"`
/// (`initial_delay`) and `"custom"` (`delays = ["10s", "30s", ...]`, the last repeating).
/// Without `retry(...)` a task gets [`RetryPolicy::DEFAULT`].
///
/// `#[cfg(...)]` on an argument works as on any fn; its payload field follows it.
#[doc(inline)]
pub use jobs_macros::task;

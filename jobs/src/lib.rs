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

mod client;
mod clock;
mod context;
mod enqueue;
mod enqueue_json;
mod error;
mod limits;
mod list;
mod periodic;
mod registry;
mod retention;
mod retry;
mod run;
mod runs;
pub mod stats;
mod task;
mod worker;

pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::client::{IntoStorage, Jobs, JobsBuilder};
pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::context::{CancelReason, Context};
pub use crate::enqueue::{Enqueue, EnqueueMany};
pub use crate::enqueue_json::EnqueueJson;
pub use crate::error::Error;
pub use crate::limits::KeyLimit;
pub use crate::list::{Cursor, ListRuns, Page};
pub use crate::periodic::Periodic;
pub use crate::retention::{Pruned, Retention};
pub use crate::retry::{Backoff, RetryPolicy};
pub use crate::run::{Attempt, AttemptOutcome, Run, RunId, RunStatus};
pub use crate::runs::{ReplayReport, Runs};
pub use crate::stats::Stats;
pub use crate::storage::{Enqueued, MemoryStorage, Storage};
pub use crate::task::{DEFAULT_QUEUE, MAX_SNOOZES, Task, TaskError};
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

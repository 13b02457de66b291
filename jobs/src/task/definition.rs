//! What a task is to the runtime: a payload type with a name, a policy and a handler.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::Context;
use super::error::TaskError;
use crate::model::retry::RetryPolicy;
use crate::model::run::DEFAULT_QUEUE;

/// A task: the payload struct that `#[jobs::task]` generates from an `async fn`.
///
/// You rarely implement this by hand; the attribute does it, registers the task and keeps
/// the original function callable. Enqueueing takes any `T: Task`, so a payload that does
/// not fit its handler does not compile.
///
/// # Examples
///
/// ```rust,standalone_crate
/// #[jobs::task(retry(attempts = 5, backoff = "exponential", initial_delay = "5s", max_delay = "300s"))]
/// async fn notify_user(user_id: String, template: String) -> Result<(), jobs::TaskError> {
///     Ok(())
/// }
///
/// use jobs::Task;
/// assert_eq!(NotifyUser::NAME, "notify-user");
/// assert_eq!(NotifyUser::RETRY.attempts, 5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a jobs task",
    label = "not a task",
    note = "a task payload is the struct that `#[jobs::task]` generates from an `async fn`"
)]
pub trait Task: Serialize + DeserializeOwned + Send + 'static {
    /// The task's name, stored with every run (kebab-case of the fn by default).
    const NAME: &'static str;
    /// How often a failed run is tried again and how long it waits.
    const RETRY: RetryPolicy;
    /// The longest one attempt may take; `None` lets it run as long as it needs.
    const TIMEOUT: Option<Duration>;
    /// The queue its runs wait in; a worker gives each queue it serves slots of its own.
    const QUEUE: &'static str = DEFAULT_QUEUE;

    /// Runs one attempt.
    fn run(self, ctx: Context) -> impl Future<Output = Result<(), TaskError>> + Send;
}

//! How a handler fails: [`TaskError`], and what a task fn may return.

use std::fmt;
use std::time::Duration;

/// Why an attempt failed, and whether trying again could help.
///
/// Any `std::error::Error + Send + Sync` converts into a retryable `TaskError`, so a
/// handler can use `?` on whatever it calls. Use [`TaskError::permanent`] when retrying is
/// pointless (bad input, a deleted account): the run is dead-lettered at once.
///
/// [`TaskError::snooze`] is the third kind: not a failure but "ask again later", for a
/// provider that says when (HTTP 429 with `Retry-After`).
///
/// `TaskError` deliberately does not implement `std::error::Error` itself, which is what
/// lets it accept every error type through `From`.
pub struct TaskError {
    message: String,
    permanent: bool,
    snooze: Option<Duration>,
}

/// How many times one run may snooze (see [`TaskError::snooze`]); a snooze beyond that
/// is a failed attempt, retried per the task's policy.
pub const MAX_SNOOZES: u32 = 25;

impl TaskError {
    /// A failure worth retrying per the task's policy.
    pub fn retryable(message: impl fmt::Display) -> Self {
        TaskError {
            message: message.to_string(),
            permanent: false,
            snooze: None,
        }
    }

    /// A failure that no retry can fix: the run is dead-lettered now.
    pub fn permanent(message: impl fmt::Display) -> Self {
        TaskError {
            message: message.to_string(),
            permanent: true,
            snooze: None,
        }
    }

    /// Not a failure: run this again after `delay`, as when a provider answers 429 with
    /// `Retry-After`. The attempt is recorded as `snoozed` with `reason` and counted in
    /// the run's `snoozes`, not against its budget, and the next failure's backoff is
    /// what it would have been without the snooze. A run may snooze [`MAX_SNOOZES`]
    /// times; a snooze beyond that counts as a failed attempt, so a provider that always
    /// says "later" cannot keep a run alive forever.
    ///
    /// ```rust,standalone_crate
    /// use std::time::Duration;
    /// use jobs::TaskError;
    ///
    /// #[jobs::task(retry(attempts = 5))]
    /// async fn sync_contacts(account_id: String) -> Result<(), TaskError> {
    ///     let retry_after: Option<u64> = Some(30); // from the provider's 429 answer
    ///     if let Some(seconds) = retry_after {
    ///         return Err(TaskError::snooze(Duration::from_secs(seconds), "429 Too Many Requests"));
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn snooze(delay: Duration, reason: impl fmt::Display) -> Self {
        TaskError {
            message: reason.to_string(),
            permanent: false,
            snooze: Some(delay),
        }
    }

    /// The error text that is stored with the attempt.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the run is dead-lettered without further attempts.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The delay of a snooze; `None` for a failure.
    pub fn snooze_delay(&self) -> Option<Duration> {
        self.snooze
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("message", &self.message)
            .field("permanent", &self.permanent)
            .field("snooze", &self.snooze)
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        // Keep the whole chain: "request failed: connection refused".
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        TaskError::retryable(message)
    }
}

/// What a task function may return: `()` or `Result<(), E>` with `E: Into<TaskError>`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a task fn must return `()` or `Result<(), E>` where `E` converts into `jobs::TaskError`",
    label = "returns `{Self}`",
    note = "any `std::error::Error + Send + Sync + 'static` converts, and so does `jobs::TaskError` itself"
)]
pub trait IntoTaskResult {
    fn into_task_result(self) -> Result<(), TaskError>;
}

impl IntoTaskResult for () {
    fn into_task_result(self) -> Result<(), TaskError> {
        Ok(())
    }
}

impl<E: Into<TaskError>> IntoTaskResult for Result<(), E> {
    fn into_task_result(self) -> Result<(), TaskError> {
        self.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn errors_convert_with_their_chain() {
        let e: TaskError = Outer(std::io::Error::other("inner")).into();
        assert_eq!(e.message(), "outer: inner");
        assert!(!e.is_permanent());
        assert!(TaskError::permanent("gone").is_permanent());
    }

    #[test]
    fn unit_and_results_are_task_results() {
        assert!(().into_task_result().is_ok());
        let failed: Result<(), std::io::Error> = Err(std::io::Error::other("x"));
        assert_eq!(
            failed
                .into_task_result()
                .map_err(|e| e.message().to_owned()),
            Err("x".to_owned())
        );
    }
}

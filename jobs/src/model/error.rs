//! The errors the runtime and storages return.

use super::run::{RunId, RunStatus};

/// What went wrong, with the run or task it concerns and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No run with this id exists in this namespace.
    #[error("run {id} not found in namespace `{namespace}`")]
    RunNotFound {
        /// The id looked up.
        id: RunId,
        /// The namespace searched.
        namespace: String,
    },
    /// Only a run that has not finished can be cancelled.
    #[error("run {id} is {status} and can no longer be cancelled")]
    NotCancellable {
        /// The run.
        id: RunId,
        /// Its (final) status.
        status: RunStatus,
    },
    /// Only a finished run can be replayed.
    #[error(
        "run {id} is {status}; only a finished run (succeeded, cancelled or dead_lettered) can be replayed"
    )]
    NotReplayable {
        /// The run.
        id: RunId,
        /// Its (active) status.
        status: RunStatus,
    },
    /// Text that is not a run id.
    #[error("invalid run id `{input}`: {reason}")]
    InvalidRunId {
        /// The text given (cut to 80 characters).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Text that is not a list cursor.
    #[error("invalid cursor `{input}`: pass back the `next_cursor` of a previous page")]
    InvalidCursor {
        /// The text given (cut to 80 characters).
        input: String,
    },
    /// Text that is not a run status.
    #[error(
        "unknown run status `{input}`; expected one of scheduled, queued, running, retrying, succeeded, cancelled, dead_lettered"
    )]
    UnknownStatus {
        /// The text given (cut to 80 characters).
        input: String,
    },
    /// Text that is not an attempt outcome.
    #[error(
        "unknown attempt outcome `{input}`; expected one of running, succeeded, failed, cancelled, lease_expired, interrupted, snoozed"
    )]
    UnknownOutcome {
        /// The text given (cut to 80 characters).
        input: String,
    },
    /// A payload that cannot be stored.
    #[error("payload of task `{task}` could not be serialized: {reason}")]
    Payload {
        /// The task.
        task: String,
        /// What serde said.
        reason: String,
    },
    /// No task of this name is linked into this binary (enqueue by name).
    #[error("no task named `{task}` in this binary; known tasks: {}", known_list(.known))]
    UnknownTask {
        /// The name given (cut to 200 characters).
        task: String,
        /// The tasks this binary has, sorted.
        known: Vec<String>,
    },
    /// A JSON payload that does not fit its task's payload type (enqueue by name).
    #[error("task `{task}`: {reason}")]
    PayloadMismatch {
        /// The task.
        task: String,
        /// The path of the field that does not fit (`user_id`, `items[2].url`), when
        /// the mismatch is in a field rather than the payload's shape.
        field: Option<String>,
        /// What does not fit, naming the type, the field and what was expected.
        reason: String,
    },
    /// A payload larger than the storage accepts.
    #[error("payload of task `{task}` is {size} bytes; the limit is {limit} bytes")]
    PayloadTooLarge {
        /// The task.
        task: String,
        /// The payload's size as JSON.
        size: usize,
        /// The largest payload accepted.
        limit: usize,
    },
    /// Two tasks linked into one binary share a name.
    #[error(
        "task name `{name}` is defined twice: {first} and {second}; give one of them `name = \"...\"`"
    )]
    DuplicateTask {
        /// The shared name.
        name: String,
        /// Where the first is defined.
        first: String,
        /// Where the second is defined.
        second: String,
    },
    /// A value no storage can keep: text with a NUL character, a time outside the years
    /// 0 to 9999. Refused before anything is stored; the caller's mistake, not worth
    /// retrying.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// What was given: `payload.order_id`, `idempotency_key`, `task`, `run_at`,
        /// `reason`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The builder was missing something or given a bad value.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The storage failed (connection lost, query failed...). Usually worth retrying.
    ///
    /// The message includes the storage's own error, so printing this error alone tells
    /// the whole story; it is not repeated as a `source()`.
    #[error("storage error while trying to {action}: {cause}")]
    Storage {
        /// What was being done.
        action: String,
        /// The storage's error.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    }
}

impl Error {
    /// Run `id` is not in `namespace` (for storage implementations).
    pub fn run_not_found(namespace: &str, id: RunId) -> Self {
        Error::RunNotFound {
            id,
            namespace: namespace.to_owned(),
        }
    }

    /// `field` cannot be stored: `reason` (for storage implementations and the runtime).
    pub fn invalid_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A storage failure while doing `action` (for storage implementations).
    pub fn storage(
        action: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Storage {
            action: action.into(),
            cause: source.into(),
        }
    }
}

//! The application's API on a [`Jobs`](crate::Jobs) handle: building it, enqueueing
//! runs (typed, or by task name with JSON), and reading and managing them.
//!
//! Depends on the task layer below (the handle, tasks, the registry); the workers above
//! depend on it.

pub(crate) mod builder;
pub(crate) mod enqueue;
pub(crate) mod enqueue_json;
pub(crate) mod runs;

//! Tasks and what they run with: the [`Task`](crate::Task) trait and
//! [`TaskError`](crate::TaskError), the [`Context`](crate::Context) an attempt gets, the
//! registry of the tasks linked into the binary, periodic schedules, and the state a
//! [`Jobs`](crate::Jobs) handle shares (which a `Context` carries).
//!
//! Within the layer, each file depends only on the ones listed before it:
//! `periodic` -> `handle` -> `error` -> `context` -> `definition` -> `registry`.

pub(crate) mod context;
pub(crate) mod definition;
pub(crate) mod error;
pub(crate) mod handle;
pub(crate) mod periodic;
pub(crate) mod registry;

//! `Jobs`, the handle an application keeps: what its clones share.
//!
//! The struct is defined here, below [`Context`](crate::Context) (which carries one), with
//! the accessors to what it holds. Its API is added by the layers above, each where its
//! subject lives: [`Jobs::builder`] and the enqueue and runs methods in `client/`,
//! [`Jobs::worker`] and [`Jobs::drain`] in `worker/`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use super::periodic::Periodic;
use crate::model::limits::KeyLimit;
use crate::storage::Storage;

/// The entry point: enqueue runs, read and manage them, and start workers.
///
/// Cheap to clone; clones share one storage. Build it once at start-up with
/// [`Jobs::builder`].
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

/// What the clones of a [`Jobs`] share; built by `JobsBuilder::build`.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) max_payload_bytes: usize,
    pub(crate) state: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    pub(crate) periodic: Vec<Periodic>,
    pub(crate) limits: HashMap<&'static str, KeyLimit>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("name", &self.inner.name)
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

impl Jobs {
    /// The handle over `inner` (for the builder).
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Jobs {
            inner: Arc::new(inner),
        }
    }

    /// This instance's name (used in worker ids and logs).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The namespace every run of this instance belongs to.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// The largest payload accepted, in bytes of JSON.
    pub fn max_payload_bytes(&self) -> usize {
        self.inner.max_payload_bytes
    }

    /// The application state of type `T` given to
    /// [`JobsBuilder::state`](crate::JobsBuilder::state), if any.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner
            .state
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }

    /// The per-key limits of task `task`, if
    /// [`JobsBuilder::limit`](crate::JobsBuilder::limit) set any.
    pub fn limit_of(&self, task: &str) -> Option<&KeyLimit> {
        self.inner.limits.get(task)
    }

    /// The periodic schedules registered with
    /// [`JobsBuilder::periodic`](crate::JobsBuilder::periodic).
    pub fn periodic_schedules(&self) -> &[Periodic] {
        &self.inner.periodic
    }
}

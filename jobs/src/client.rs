//! `Jobs`: the handle an application keeps to enqueue, read and work runs.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::enqueue::{Enqueue, EnqueueMany};
use crate::enqueue_json::EnqueueJson;
use crate::error::Error;
use crate::limits::KeyLimit;
use crate::periodic::Periodic;
use crate::registry::Registry;
use crate::runs::Runs;
use crate::storage::Storage;
use crate::task::Task;
use crate::worker::WorkerBuilder;

/// The entry point: enqueue runs, read and manage them, and start workers.
///
/// Cheap to clone; clones share one storage. Build it once at start-up with
/// [`Jobs::builder`].
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    namespace: String,
    storage: Arc<dyn Storage>,
    registry: Registry,
    max_payload_bytes: usize,
    state: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    periodic: Vec<Periodic>,
    limits: HashMap<&'static str, KeyLimit>,
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
    /// Starts building a `Jobs`.
    ///
    /// # Examples
    ///
    /// ```
    /// use jobs::{Jobs, MemoryStorage};
    ///
    /// let jobs = Jobs::builder()
    ///     .name("background")
    ///     .namespace("app")
    ///     .storage(MemoryStorage::new())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(jobs.namespace(), "app");
    /// ```
    pub fn builder() -> JobsBuilder {
        JobsBuilder::default()
    }

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

    /// A run of the task named `task` with a JSON payload, checked against the task's
    /// payload type: for HTTP APIs and tools that name tasks at run time. See
    /// [`EnqueueJson`].
    pub fn enqueue_json(&self, task: &str, payload: serde_json::Value) -> EnqueueJson<'_> {
        EnqueueJson::new(self, task, payload)
    }

    /// Reads and manages runs: get, list, attempts, cancel, replay.
    pub fn runs(&self) -> Runs<'_> {
        Runs::new(self)
    }

    /// Configures a worker that runs this namespace's runs of every registered task.
    pub fn worker(&self) -> WorkerBuilder {
        WorkerBuilder::new(self.clone())
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

    /// The names of every task linked into this binary, sorted.
    pub fn task_names(&self) -> Vec<String> {
        self.inner.registry.names()
    }

    /// The application state of type `T` given to [`JobsBuilder::state`], if any.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner
            .state
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }

    /// The per-key limits of task `task`, if [`JobsBuilder::limit`] set any.
    pub fn limit_of(&self, task: &str) -> Option<&KeyLimit> {
        self.inner.limits.get(task)
    }

    /// What to claim for `queue`: its tasks without limits together, and each limited
    /// task on its own with its limits.
    pub(crate) fn claim_groups(&self, queue: &str) -> Vec<(Vec<String>, Option<KeyLimit>)> {
        let (limited, free): (Vec<String>, Vec<String>) = self
            .registry()
            .names_in(queue)
            .into_iter()
            .partition(|task| self.limit_of(task).is_some());
        let mut groups = Vec::new();
        if !free.is_empty() {
            groups.push((free, None));
        }
        for task in limited {
            let limit = self.limit_of(&task).cloned();
            groups.push((vec![task], limit));
        }
        groups
    }

    /// The periodic schedules registered with [`JobsBuilder::periodic`].
    pub fn periodic_schedules(&self) -> &[Periodic] {
        &self.inner.periodic
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }
}

/// Builds a [`Jobs`]. Only the storage is required.
#[derive(Default)]
pub struct JobsBuilder {
    name: Option<String>,
    namespace: Option<String>,
    storage: Option<Arc<dyn Storage>>,
    max_payload_bytes: Option<usize>,
    state: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    periodic: Vec<Periodic>,
    limits: HashMap<&'static str, KeyLimit>,
}

impl JobsBuilder {
    /// Default namespace.
    pub const DEFAULT_NAMESPACE: &'static str = "default";
    /// Default payload limit: 1 MiB of JSON.
    pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1 << 20;

    /// A name for this instance, shown in worker ids and logs. Default `jobs`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The namespace: runs of different namespaces never see each other, even in one
    /// storage. Default `default`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Where runs live: a storage, or an `Arc<dyn Storage>` already shared.
    pub fn storage(mut self, storage: impl IntoStorage) -> Self {
        self.storage = Some(storage.into_storage());
        self
    }

    /// Where runs live, when the storage is already shared. The same as
    /// [`storage`](Self::storage) with an `Arc<dyn Storage>`.
    pub fn shared_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Application state that handlers reach with [`Context::state`](crate::Context::state)
    /// (an HTTP client, a database pool, a mailer). One value per type; a later call with
    /// the same type replaces the earlier value.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// #[derive(Clone)]
    /// struct Mailer { from: String }
    ///
    /// #[jobs::task]
    /// async fn send_welcome(ctx: jobs::Context, to: String) -> Result<(), jobs::TaskError> {
    ///     let mailer = ctx.state::<Mailer>()?;
    ///     println!("mail from {} to {to}", mailer.from);
    ///     Ok(())
    /// }
    ///
    /// let jobs = jobs::Jobs::builder()
    ///     .storage(jobs::MemoryStorage::new())
    ///     .state(Mailer { from: "hello@example.com".into() })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(jobs.state::<Mailer>().map(|m| m.from.as_str()), Some("hello@example.com"));
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The largest payload accepted at enqueue, in bytes of JSON. Default 1 MiB.
    pub fn max_payload_bytes(mut self, limit: usize) -> Self {
        self.max_payload_bytes = Some(limit);
        self
    }

    /// Builds the handle.
    ///
    /// # Errors
    ///
    /// No storage was given; the namespace is empty or longer than 100 characters; two
    /// tasks linked into the binary share a name.
    pub fn build(self) -> Result<Jobs, Error> {
        let storage = self.storage.ok_or_else(|| {
            Error::Config(
                "no storage: call `.storage(MemoryStorage::new())` or a PostgreSQL storage".into(),
            )
        })?;
        let namespace = self
            .namespace
            .unwrap_or_else(|| Self::DEFAULT_NAMESPACE.to_owned());
        if namespace.is_empty() || namespace.chars().count() > 100 {
            return Err(Error::Config(format!(
                "namespace `{namespace}` must be 1 to 100 characters"
            )));
        }
        let mut names: Vec<&str> = self.periodic.iter().map(Periodic::name).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(Error::Config(format!(
                "two periodic schedules are named `{}`; names must differ",
                pair[0]
            )));
        }
        Ok(Jobs {
            inner: Arc::new(Inner {
                name: self.name.unwrap_or_else(|| "jobs".to_owned()),
                namespace,
                storage,
                registry: Registry::collect()?,
                max_payload_bytes: self
                    .max_payload_bytes
                    .unwrap_or(Self::DEFAULT_MAX_PAYLOAD_BYTES),
                state: self.state,
                periodic: self.periodic,
                limits: self.limits,
            }),
        })
    }

    /// Limits the runs of task `T` per key of its payload (see [`KeyLimit`]): at most so
    /// many in flight, or started per period, for each value of a field.
    ///
    /// ```rust,standalone_crate
    /// use std::time::Duration;
    /// use jobs::{Jobs, KeyLimit, MemoryStorage};
    ///
    /// #[jobs::task(queue = "webhooks")]
    /// async fn deliver_webhook(endpoint_id: String, body: String) {}
    ///
    /// # fn main() -> Result<(), jobs::Error> {
    /// let jobs = Jobs::builder()
    ///     .storage(MemoryStorage::new())
    ///     .limit::<DeliverWebhook>(KeyLimit::by("endpoint_id").in_flight(2).starts(10, Duration::from_secs(60)))
    ///     .build()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn limit<T: Task>(mut self, limit: KeyLimit) -> Self {
        self.limits.insert(T::NAME, limit);
        self
    }

    /// Runs a task on a cron schedule (see [`Periodic`]). The workers of this `Jobs`
    /// enqueue each tick's run ahead of time; every process may register the same
    /// schedules, and each tick still makes one run.
    pub fn periodic(mut self, schedule: Periodic) -> Self {
        self.periodic.push(schedule);
        self
    }
}

/// What [`JobsBuilder::storage`] accepts: any [`Storage`], or an `Arc<dyn Storage>` that
/// is already shared with other `Jobs`.
pub trait IntoStorage {
    /// The storage, ready to share.
    fn into_storage(self) -> Arc<dyn Storage>;
}

impl<S: Storage> IntoStorage for S {
    fn into_storage(self) -> Arc<dyn Storage> {
        Arc::new(self)
    }
}

impl IntoStorage for Arc<dyn Storage> {
    fn into_storage(self) -> Arc<dyn Storage> {
        self
    }
}

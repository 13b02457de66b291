//! `JobsBuilder`: how an application makes its [`Jobs`], and the typed constructor of
//! the periodic schedules it takes.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::model::error::Error;
use crate::model::limits::KeyLimit;
use crate::storage::Storage;
use crate::task::definition::Task;
use crate::task::handle::{Inner, Jobs};
use crate::task::periodic::Periodic;
use crate::task::registry::Registry;

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
        if namespace.is_empty() || namespace.chars().count() > 100 || namespace.contains('\0') {
            return Err(Error::Config(format!(
                "namespace {namespace:?} must be 1 to 100 characters, none of them NUL"
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
        // Every task linked into the binary, checked once per process: two with one name
        // are an error here, before anything runs.
        Registry::global()?;
        Ok(Jobs::from_inner(Inner {
            name: self.name.unwrap_or_else(|| "jobs".to_owned()),
            namespace,
            storage,
            max_payload_bytes: self
                .max_payload_bytes
                .unwrap_or(Self::DEFAULT_MAX_PAYLOAD_BYTES),
            state: self.state,
            periodic: self.periodic,
            limits: self.limits,
        }))
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

impl Periodic {
    /// Runs `payload` on every tick of cron `pattern`. `name` tells schedules apart (it
    /// is part of each tick's idempotency key): keep it stable across deploys.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a pattern that does not parse (naming it and why) or an
    /// empty name; [`Error::Payload`] for a payload that does not serialize.
    pub fn new<T: Task>(name: impl Into<String>, pattern: &str, payload: T) -> Result<Self, Error> {
        let payload = serde_json::to_value(&payload).map_err(|e| Error::Payload {
            task: T::NAME.to_owned(),
            reason: e.to_string(),
        })?;
        Periodic::from_parts(
            name.into(),
            pattern,
            T::NAME,
            T::QUEUE,
            T::RETRY.attempts,
            payload,
        )
    }
}

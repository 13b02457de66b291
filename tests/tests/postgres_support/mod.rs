//! What the PostgreSQL tests share: the database URL, a fresh schema per test, and a
//! storage that drops its schema when the last handle to it goes.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jobs::storage::{
    ClaimRequest, Enqueued, Finished, Heartbeat, Lease, NewRun, Outcome, StorageEvent,
};
use jobs::{Attempt, Error, Jobs, ListRuns, ManualClock, Page, Run, RunId, Storage};
use jobs_postgres::PgStorage;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::broadcast;

/// `DATABASE_URL`, or the local test database.
pub(crate) fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/jobs_test".to_owned())
}

/// A schema name no other test uses: `jt_<tag>_<random hex>`.
pub(crate) fn schema_name(tag: &str) -> String {
    let random = RunId::new().as_uuid().simple().to_string();
    format!("jt_{tag}_{}", &random[16..])
}

/// A pool of `max` connections to the test database.
pub(crate) async fn pool(max: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&database_url())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", database_url()))
}

/// A migrated storage in a fresh schema on a pool of `max` connections.
pub(crate) async fn storage(schema: &str, clock: Option<ManualClock>, max: u32) -> PgStorage {
    let mut builder = PgStorage::builder().schema(schema);
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    let storage = builder
        .from_pool(pool(max).await)
        .unwrap_or_else(|e| panic!("storage: {e}"));
    storage
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate {schema}: {e}"));
    storage
}

/// A `Jobs` over `storage`, in `namespace`.
pub(crate) fn jobs_over(storage: &PgStorage, namespace: &str) -> Jobs {
    Jobs::builder()
        .namespace(namespace)
        .storage(storage.clone())
        .build()
        .unwrap_or_else(|e| panic!("jobs over {namespace}: {e}"))
}

/// Drops `schema` and everything in it.
pub(crate) async fn drop_schema(schema: &str) {
    match PgConnection::connect(&database_url()).await {
        Ok(mut conn) => {
            let dropped = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&mut conn)
                .await;
            if let Err(error) = dropped {
                eprintln!("could not drop schema {schema}: {error}");
            }
            let _ = conn.close().await;
        }
        Err(error) => eprintln!("could not connect to drop schema {schema}: {error}"),
    }
}

/// The conformance suite's factory: a fresh schema, a pool of 5, the manual clock.
pub(crate) async fn conformance_storage(clock: ManualClock) -> Arc<dyn Storage> {
    let schema = schema_name("conf");
    let storage = storage(&schema, Some(clock), 5).await;
    Arc::new(Scoped {
        storage,
        schema: schema.clone(),
    })
}

/// Drops its schema when dropped: at the end of a test, passed or failed.
pub(crate) struct SchemaGuard(pub(crate) String);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        drop_schema_blocking(&self.0);
    }
}

/// Drops `schema` from synchronous code, e.g. a `Drop`, which may run inside the test's
/// runtime and cannot block on it: a thread with a runtime of its own can.
pub(crate) fn drop_schema_blocking(schema: &str) {
    let schema = schema.to_owned();
    let dropper = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(drop_schema(&schema)),
            Err(error) => eprintln!("no runtime to drop schema {schema}: {error}"),
        }
    });
    let _ = dropper.join();
}

/// A storage that drops its schema when the last handle to it is dropped (at the end of a
/// conformance case, which has no teardown of its own).
pub(crate) struct Scoped {
    pub(crate) storage: PgStorage,
    pub(crate) schema: String,
}

impl Drop for Scoped {
    fn drop(&mut self) {
        drop_schema_blocking(&self.schema);
    }
}

#[async_trait]
impl Storage for Scoped {
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, Error> {
        self.storage.enqueue(runs).await
    }
    async fn claim(&self, request: ClaimRequest) -> Result<Vec<Run>, Error> {
        self.storage.claim(request).await
    }
    async fn heartbeat(&self, request: Heartbeat) -> Result<Vec<Lease>, Error> {
        self.storage.heartbeat(request).await
    }
    async fn finish(&self, namespace: &str, outcomes: Vec<Outcome>) -> Result<Finished, Error> {
        self.storage.finish(namespace, outcomes).await
    }
    async fn release(&self, namespace: &str, leases: Vec<Lease>) -> Result<usize, Error> {
        self.storage.release(namespace, leases).await
    }
    async fn rescue_expired(&self, namespace: &str) -> Result<Vec<RunId>, Error> {
        self.storage.rescue_expired(namespace).await
    }
    async fn get(&self, namespace: &str, id: RunId) -> Result<Option<Run>, Error> {
        self.storage.get(namespace, id).await
    }
    async fn list(&self, namespace: &str, filter: &ListRuns) -> Result<Page, Error> {
        self.storage.list(namespace, filter).await
    }
    async fn attempts(&self, namespace: &str, id: RunId) -> Result<Vec<Attempt>, Error> {
        self.storage.attempts(namespace, id).await
    }
    async fn cancel(&self, namespace: &str, id: RunId) -> Result<Run, Error> {
        self.storage.cancel(namespace, id).await
    }
    async fn replay(
        &self,
        namespace: &str,
        request: jobs::storage::ReplayRequest,
    ) -> Result<Run, Error> {
        self.storage.replay(namespace, request).await
    }
    fn subscribe(&self) -> broadcast::Receiver<StorageEvent> {
        self.storage.subscribe()
    }

    async fn now(&self) -> Result<chrono::DateTime<chrono::Utc>, jobs::Error> {
        self.storage.now().await
    }

    async fn prune(
        &self,
        namespace: &str,
        retention: &jobs::Retention,
        limit: usize,
    ) -> Result<jobs::Pruned, jobs::Error> {
        self.storage.prune(namespace, retention, limit).await
    }

    async fn stats(
        &self,
        namespace: &str,
        window: std::time::Duration,
    ) -> Result<jobs::Stats, jobs::Error> {
        self.storage.stats(namespace, window).await
    }
}

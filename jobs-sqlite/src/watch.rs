//! Wakeups across processes: a task that notices other connections' commits to the file
//! and wakes this process's idle workers.
//!
//! SQLite has no NOTIFY. `PRAGMA data_version` on a connection changes exactly when
//! another connection has committed a change to the file since the last time it was
//! asked (a write that changed nothing does not count, so idle workers' empty claims do
//! not wake each other). Once a worker subscribes, a task asks it on a connection of its
//! own every [`watch_interval`](crate::SqliteStorageBuilder::watch_interval) and, on a
//! change, tells the namespaces this process claims from that runs may be available. A
//! run enqueued by another process is then picked up within about one interval instead of
//! at the worker's next poll. The change may be this process's own write or one that
//! made nothing due: a spurious wakeup costs one empty claim.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, Weak};
use std::time::Duration;

use jobs::storage::StorageEvent;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::Inner;

/// What a storage shares with its watch task.
#[derive(Debug)]
pub(crate) struct Watch {
    /// Whether the task was started (once per storage, at the first subscription).
    started: AtomicBool,
    /// Set when the storage is closed: the task ends.
    stopped: AtomicBool,
    /// The namespaces this process claims from: the ones to wake.
    namespaces: Mutex<HashSet<String>>,
    /// How often the task looks; `None` never starts it.
    interval: Option<Duration>,
}

impl Watch {
    pub(crate) fn new(interval: Option<Duration>) -> Watch {
        Watch {
            started: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            namespaces: Mutex::new(HashSet::new()),
            interval,
        }
    }

    /// Notes that this process claims from `namespace`.
    pub(crate) fn claims_from(&self, namespace: &str) {
        let mut namespaces = self
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !namespaces.contains(namespace) {
            namespaces.insert(namespace.to_owned());
        }
    }

    /// Ends the task (the storage was closed).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    fn namespaces(&self) -> Vec<String> {
        self.namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Starts the watch task of the storage `inner` once, if it has an interval and a tokio
/// runtime is at hand. The task ends when the storage is closed or dropped.
pub(crate) fn start(inner: &std::sync::Arc<Inner>) {
    let Some(interval) = inner.watch.interval else {
        return;
    };
    if inner.watch.started.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        inner.watch.started.store(false, Ordering::Release);
        tracing::warn!("subscribed outside a tokio runtime: no watch task, workers will poll");
        return;
    };
    let options = inner.options.clone();
    runtime.spawn(run(std::sync::Arc::downgrade(inner), options, interval));
}

async fn run(inner: Weak<Inner>, options: SqliteConnectOptions, interval: Duration) {
    let mut connection: Option<SqliteConnection> = None;
    let mut last: Option<i64> = None;
    loop {
        tokio::time::sleep(interval).await;
        let Some(storage) = inner.upgrade() else {
            break;
        };
        if storage.watch.stopped.load(Ordering::Acquire) {
            break;
        }
        if connection.is_none() {
            match options.connect().await {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    tracing::debug!(%error, "the SQLite watch connection failed; retrying");
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        match sqlx::query_scalar::<_, i64>("PRAGMA data_version")
            .fetch_one(&mut *conn)
            .await
        {
            Ok(version) => {
                if last.is_some_and(|last| last != version) {
                    for namespace in storage.watch.namespaces() {
                        // No receiver is fine: no worker is idle.
                        let _ = storage
                            .events
                            .send(StorageEvent::RunsAvailable { namespace });
                    }
                }
                last = Some(version);
            }
            Err(error) => {
                tracing::debug!(%error, "reading the SQLite file's data version failed");
                // A new connection has its own numbering: start over.
                connection = None;
                last = None;
            }
        }
    }
    if let Some(connection) = connection {
        let _ = connection.close().await;
    }
}

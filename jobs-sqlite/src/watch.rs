//! Wakeups across processes: a thread that notices other connections' commits to the file
//! and wakes this process's idle workers.
//!
//! SQLite has no NOTIFY. `PRAGMA data_version` on a connection changes exactly when
//! another connection has committed a change to the file since the last time it was
//! asked (a write that changed nothing does not count, so idle workers' empty claims do
//! not wake each other). Once a worker subscribes, the watch asks it on a connection of
//! its own every [`watch_interval`](crate::SqliteStorageBuilder::watch_interval) and, on
//! a change, tells the namespaces this process claims from that runs may be available. A
//! run enqueued by another process is then picked up within about one interval instead of
//! at the worker's next poll. The change may be this process's own write or one that
//! made nothing due: a spurious wakeup costs one empty claim.
//!
//! The watch runs on a thread of its own, with a current-thread tokio runtime of its own
//! on which it opens its connection: it must outlive whichever runtime subscribed first (a
//! test's, a sub-command's, one built for a single job), since every later subscriber of
//! the storage, on any runtime, is woken through it. The thread ends when the storage is
//! closed or dropped.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jobs::storage::StorageEvent;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{broadcast, watch};

use crate::Inner;

/// What a storage shares with its watch thread.
#[derive(Debug)]
pub(crate) struct Watch {
    /// Whether the thread was started (once per storage, at the first subscription).
    started: AtomicBool,
    /// Set to `true` when the storage is closed, and dropped with the storage: either
    /// ends the thread at once.
    stop: watch::Sender<bool>,
    /// The namespaces this process claims from: the ones to wake.
    namespaces: Arc<Mutex<HashSet<String>>>,
    /// How often the thread looks; `None` never starts it.
    interval: Option<Duration>,
}

impl Watch {
    pub(crate) fn new(interval: Option<Duration>) -> Watch {
        Watch {
            started: AtomicBool::new(false),
            stop: watch::Sender::new(false),
            namespaces: Arc::new(Mutex::new(HashSet::new())),
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

    /// Ends the thread (the storage was closed).
    pub(crate) fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// Starts the watch thread of the storage `inner` once, if it has an interval, whatever
/// runtime (if any) the caller is on. The thread ends when the storage is closed or
/// dropped. If it cannot be spawned, workers poll, and the next subscriber tries again.
pub(crate) fn start(inner: &Inner) {
    let Some(interval) = inner.watch.interval else {
        return;
    };
    if inner.watch.started.swap(true, Ordering::AcqRel) {
        return;
    }
    let watcher = Watcher {
        path: inner.path.clone(),
        options: inner.options.clone(),
        interval,
        sender: inner.events.clone(),
        namespaces: inner.watch.namespaces.clone(),
        stop: inner.watch.stop.subscribe(),
    };
    if let Err(error) = watcher.spawn() {
        inner.watch.started.store(false, Ordering::Release);
        tracing::warn!(file = %inner.path.display(), %error, "could not spawn the SQLite watch thread: no wakeups from other processes, workers will poll");
    }
}

/// The name of every watch thread (as a debugger or `top -H` shows it).
const THREAD_NAME: &str = "jobs-sqlite-watch";

/// What the watch thread needs; nothing that keeps the storage alive.
struct Watcher {
    /// The file, for the logs.
    path: PathBuf,
    /// The file's connection options, for the thread's own connection.
    options: SqliteConnectOptions,
    interval: Duration,
    /// The storage's events: a wakeup for each namespace when the file changed.
    sender: broadcast::Sender<StorageEvent>,
    namespaces: Arc<Mutex<HashSet<String>>>,
    /// [`Watch::stop`]: `true`, or closed once the storage is dropped.
    stop: watch::Receiver<bool>,
}

impl Watcher {
    /// Starts the watch on a thread of its own, which ends once the storage is closed or
    /// dropped. The thread logs to the caller's tracing subscriber, even one set only for
    /// the caller's thread.
    ///
    /// # Errors
    ///
    /// The thread could not be spawned; nothing was started.
    fn spawn(self) -> std::io::Result<()> {
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || self.run_on_a_runtime_of_its_own());
            })
            .map(drop)
    }

    /// The body of the watch thread: builds its runtime (here, not in the caller, which
    /// may be inside a runtime where dropping another one would panic) and watches on it.
    /// Without a runtime it logs why and returns: workers poll.
    fn run_on_a_runtime_of_its_own(mut self) {
        // The timer only: sqlx runs each SQLite connection on a thread of its own, so the
        // connection needs no IO driver.
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::warn!(file = %self.path.display(), %error, "could not build the runtime of the SQLite watch thread: no wakeups from other processes, workers will poll");
                return;
            }
        };
        runtime.block_on(self.run());
        // The runtime first, with whatever sqlx left on it; then `self`, whose sender of the
        // storage's events is the last one once the storage is gone: a subscriber sees the
        // channel close only when this thread is done.
        drop(runtime);
        drop(self);
    }

    /// Whether the storage was closed or dropped.
    fn stopped(&mut self) -> bool {
        *self.stop.borrow_and_update() || self.stop.has_changed().is_err()
    }

    /// Looks at the file's data version every interval until the storage is closed or
    /// dropped, opening its connection again after any failure. Never panics.
    async fn run(&mut self) {
        let mut connection: Option<SqliteConnection> = None;
        let mut last: Option<i64> = None;
        while !self.stopped() {
            // Wakes at once when the storage is closed (a change) or dropped (an error).
            if tokio::time::timeout(self.interval, self.stop.changed())
                .await
                .is_ok()
            {
                continue;
            }
            if connection.is_none() {
                match self.options.connect().await {
                    Ok(opened) => connection = Some(opened),
                    Err(error) => {
                        tracing::debug!(file = %self.path.display(), %error, "the SQLite watch connection failed; retrying");
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
                        self.wake_all();
                    }
                    last = Some(version);
                }
                Err(error) => {
                    tracing::debug!(file = %self.path.display(), %error, "reading the SQLite file's data version failed");
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

    /// Tells every namespace this process claims from that runs may be available.
    fn wake_all(&self) {
        let namespaces: Vec<String> = self
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        for namespace in namespaces {
            // No receiver is fine: no worker is idle.
            let _ = self.sender.send(StorageEvent::RunsAvailable { namespace });
        }
    }
}

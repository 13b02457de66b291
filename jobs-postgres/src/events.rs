//! Wakeups: NOTIFY payloads, and the LISTEN thread that turns them into
//! [`StorageEvent`]s.
//!
//! Every statement that makes runs due (enqueue, retry now, release, rescue, replay) or
//! cancels one sends `pg_notify` on the schema's channel in the same statement, so the
//! notification is delivered when (and only if) its transaction commits. Payloads:
//!
//! - `a:<origin>:<namespace>`: runs became available in `namespace`;
//! - `c:<origin>:<run uuid>:<namespace>`: that run was cancelled.
//!
//! `origin` names the `PgStorage` that sent it: that storage has already told its own
//! subscribers in process, so its listener skips its own notifications. The namespace is
//! last, so it may contain `:`.
//!
//! The listener runs on a thread of its own, with a current-thread tokio runtime of its
//! own: it must outlive whichever runtime subscribed first (a test's, a sub-command's, one
//! built for a single job), since every later subscriber of the storage, on any runtime,
//! is woken through it. The thread ends when the storage is dropped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jobs::RunId;
use jobs::storage::StorageEvent;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The channel of a schema: `jobs.<schema>`, cut to PostgreSQL's 63-byte identifier limit
/// (schemas that share their first 58 characters share a channel; they only see each
/// other's wakeups, which are harmless).
pub(crate) fn channel(schema: &str) -> String {
    let mut channel = format!("jobs.{schema}");
    channel.truncate(63);
    channel
}

/// The origin of notifications no local subscriber has seen yet (enqueues inside an
/// application's transaction): every listener forwards them.
pub(crate) const NO_ORIGIN: &str = "-";

/// What one storage shares with its listener thread.
#[derive(Debug)]
pub(crate) struct Events {
    pub(crate) sender: broadcast::Sender<StorageEvent>,
    /// Namespaces this process claims from: woken after the listener (re)connects, since
    /// notifications sent while it was away are lost.
    pub(crate) namespaces: Arc<Mutex<HashSet<String>>>,
    /// This storage's origin tag in payloads.
    pub(crate) origin: String,
    /// Whether the listener thread was started (by the first subscriber).
    pub(crate) started: std::sync::atomic::AtomicBool,
    /// Cancelled when the storage is dropped, to end the listener thread.
    pub(crate) stop: CancellationToken,
}

impl Events {
    pub(crate) fn new() -> Events {
        let (sender, _) = broadcast::channel(1024);
        Events {
            sender,
            namespaces: Arc::new(Mutex::new(HashSet::new())),
            origin: Uuid::now_v7().simple().to_string()[16..].to_owned(),
            started: std::sync::atomic::AtomicBool::new(false),
            stop: CancellationToken::new(),
        }
    }

    /// Tells subscribers in this process.
    pub(crate) fn emit(&self, event: StorageEvent) {
        // No subscriber is fine: nobody is waiting.
        let _ = self.sender.send(event);
    }

    pub(crate) fn available(&self, namespace: &str) {
        self.emit(StorageEvent::RunsAvailable {
            namespace: namespace.to_owned(),
        });
    }

    /// Remembers a namespace this process claims from.
    pub(crate) fn claims_from(&self, namespace: &str) {
        let mut namespaces = self
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !namespaces.contains(namespace) {
            namespaces.insert(namespace.to_owned());
        }
    }
}

/// Decodes a payload; `None` for anything else on the channel.
pub(crate) fn parse(payload: &str) -> Option<(String, StorageEvent)> {
    let (kind, rest) = payload.split_once(':')?;
    let (origin, rest) = rest.split_once(':')?;
    let event = match kind {
        "a" => StorageEvent::RunsAvailable {
            namespace: rest.to_owned(),
        },
        "c" => {
            let (id, namespace) = rest.split_once(':')?;
            let id = Uuid::try_parse(id).ok()?;
            StorageEvent::Cancelled {
                namespace: namespace.to_owned(),
                id: RunId::from_uuid(id),
            }
        }
        _ => return None,
    };
    Some((origin.to_owned(), event))
}

/// The name of every listener thread (as a debugger or `top -H` shows it).
const THREAD_NAME: &str = "jobs-pg-listen";

/// What the listener thread needs; nothing that keeps the storage alive.
pub(crate) struct Listen {
    pub(crate) options: PgConnectOptions,
    pub(crate) channel: String,
    pub(crate) origin: String,
    pub(crate) sender: broadcast::Sender<StorageEvent>,
    pub(crate) namespaces: Arc<Mutex<HashSet<String>>>,
    pub(crate) stop: CancellationToken,
}

impl Listen {
    /// Starts the listener on a thread of its own, which ends once the storage is dropped
    /// (`stop`). The thread logs to the caller's tracing subscriber, even one set only for
    /// the caller's thread.
    ///
    /// # Errors
    ///
    /// The thread could not be spawned; nothing was started.
    pub(crate) fn spawn(self) -> std::io::Result<()> {
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || self.run_on_a_runtime_of_its_own());
            })
            .map(drop)
    }

    /// The body of the listener thread: builds its runtime (here, not in the caller,
    /// which may be inside a runtime where dropping another one would panic) and LISTENs
    /// on it. Without a runtime it logs why and returns: workers poll.
    fn run_on_a_runtime_of_its_own(self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::warn!(channel = %self.channel, %error, "could not build the runtime of the LISTEN thread: no job wakeups, workers will poll");
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

    /// LISTENs until the storage is dropped, reconnecting after any failure. Never panics;
    /// while it is disconnected, workers fall back to polling.
    async fn run(&self) {
        // A pool of one connection of its own, so the listener never holds a connection
        // of the application's pool, and a dead connection is replaced on the next acquire.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(self.options.clone());
        let mut failures = 0u32;
        'connect: loop {
            let connected = tokio::select! {
                _ = self.stop.cancelled() => break 'connect,
                connected = self.connect(&pool) => connected,
            };
            let mut listener = match connected {
                Ok(listener) => listener,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(failures);
                    tracing::warn!(channel = %self.channel, %error, retry_in = ?wait, "could not LISTEN for job wakeups; workers poll meanwhile");
                    tokio::select! {
                        _ = self.stop.cancelled() => break 'connect,
                        _ = tokio::time::sleep(wait) => continue 'connect,
                    }
                }
            };
            if failures > 0 {
                tracing::info!(channel = %self.channel, "listening for job wakeups again");
            } else {
                tracing::debug!(channel = %self.channel, "listening for job wakeups");
            }
            failures = 0;
            // Whatever was sent while not listening is lost: wake every local worker once.
            self.wake_all();
            loop {
                let received = tokio::select! {
                    _ = self.stop.cancelled() => break 'connect,
                    received = listener.try_recv() => received,
                };
                match received {
                    Ok(Some(notification)) => self.forward(notification.payload()),
                    Ok(None) => {
                        // sqlx reconnected (and re-LISTENed) on its own; notifications sent
                        // meanwhile are lost.
                        tracing::warn!(channel = %self.channel, "the LISTEN connection was lost and re-established");
                        self.wake_all();
                    }
                    Err(error) => {
                        tracing::warn!(channel = %self.channel, %error, "the LISTEN connection failed; reconnecting");
                        break;
                    }
                }
            }
            drop(listener);
            failures = failures.saturating_add(1);
            tokio::select! {
                _ = self.stop.cancelled() => break 'connect,
                _ = tokio::time::sleep(backoff(failures)) => {}
            }
        }
        pool.close().await;
    }

    async fn connect(&self, pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(&self.channel).await?;
        Ok(listener)
    }

    fn forward(&self, payload: &str) {
        let Some((origin, event)) = parse(payload) else {
            tracing::debug!(channel = %self.channel, payload, "ignored a notification");
            return;
        };
        if origin == self.origin {
            return; // sent by this storage, which told its subscribers already
        }
        let _ = self.sender.send(event);
    }

    fn wake_all(&self) {
        let namespaces: Vec<String> = self
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        for namespace in namespaces {
            let _ = self.sender.send(StorageEvent::RunsAvailable { namespace });
        }
    }
}

/// 100 ms, 200 ms, ... up to 5 s.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_millis(100 << exp).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let id = RunId::new();
        let payload = format!("c:abc:{}:name:space", id.as_uuid());
        assert_eq!(
            parse(&payload),
            Some((
                "abc".to_owned(),
                StorageEvent::Cancelled {
                    namespace: "name:space".into(),
                    id
                }
            ))
        );
        assert_eq!(
            parse("a:-:app"),
            Some((
                "-".to_owned(),
                StorageEvent::RunsAvailable {
                    namespace: "app".into()
                }
            ))
        );
        for bad in ["", "a", "a:x", "c:x:not-a-uuid:ns", "z:x:ns"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn channels_fit_an_identifier() {
        assert_eq!(channel("jobs"), "jobs.jobs");
        assert_eq!(channel(&"s".repeat(63)).len(), 63);
    }
}

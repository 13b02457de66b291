//! SQLite storage for [`jobs`]: runs survive restarts in one file, with no server to run.
//!
//! [`SqliteStorage`] implements [`jobs::Storage`] on [sqlx]'s SQLite driver (SQLite is
//! compiled in). It is for applications that run on one machine: a web app and its
//! workers in one process, or a few processes sharing a file on a local disk. Runs, their
//! attempts and their history are in the file; a process killed in the middle of an
//! attempt loses nothing: the run is attempted again once its lease runs out.
//!
//! ```no_run
//! use jobs::Jobs;
//! use jobs_sqlite::SqliteStorage;
//!
//! #[jobs::task(retry(attempts = 5, backoff = "exponential", initial_delay = "5s", max_delay = "300s"))]
//! async fn notify_user(user_id: String, template: String) -> Result<(), jobs::TaskError> {
//!     println!("sending {template} to {user_id}");
//!     Ok(())
//! }
//!
//! # async fn run() -> Result<(), jobs::Error> {
//! // Creates the file if it is missing and brings its schema up to date.
//! let storage = SqliteStorage::open("jobs.db").await?;
//!
//! let jobs = Jobs::builder().name("background").namespace("app").storage(storage).build()?;
//! jobs.enqueue(NotifyUser { user_id: "user_123".into(), template: "welcome".into() })
//!     .idempotency_key("welcome:user_123")
//!     .await?;
//!
//! let worker = jobs.worker().concurrency(16).start();
//! // ... until the process is asked to stop:
//! worker.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # How it writes
//!
//! The file is in WAL mode: reads (getting and listing runs, stats) never wait for
//! writes, and writes never wait for reads. Every write (enqueue, claim, heartbeat,
//! finish, cancel, ...) is one `BEGIN IMMEDIATE` transaction: it takes the file's write
//! lock before it reads anything, so it acts on the state it read, whoever else writes.
//! In one process, writes go through one connection, one at a time, and a batch of
//! results or new runs is one statement; reads use a small pool of their own. By default
//! every commit is flushed to disk (`synchronous = FULL`): a run whose enqueue returned
//! survives a power cut too. [`SqliteStorageBuilder::fsync_every_commit`] trades that
//! for speed.
//!
//! # Several processes on one file
//!
//! They work correctly: writes are serialized by SQLite's file lock (a writer waits up to
//! [`busy_timeout`](SqliteStorageBuilder::busy_timeout) for it), and a run is claimed by
//! exactly one worker. There is no NOTIFY between processes: idle workers look for other
//! processes' writes every 50 ms ([`SqliteStorageBuilder::watch_interval`]), so a run
//! enqueued in another process starts within about that; a worker learns of a
//! cancellation made in another process at its next heartbeat. The file must be on a local
//! disk: SQLite's locks are not reliable on network file systems. Many machines, or many
//! busy processes, are what PostgreSQL (`jobs-postgres`) is for.
//!
//! That watch is started by the first subscriber (the first worker to start): one
//! connection of its own, on a thread of its own (`jobs-sqlite-watch`) with a small
//! current-thread tokio runtime of its own. It depends on no caller's runtime: every worker
//! of the storage, on any runtime, is woken through it, even after the runtime that started
//! it has ended (a test's, a sub-command's, one built for a single job), and subscribing
//! outside any runtime starts it too. It ends when the storage is closed or the last handle
//! to it is dropped. If the thread cannot be started, that is logged and workers poll.
//!
//! # Schema
//!
//! The tables `runs`, `attempts` and `limit_starts` are created by the migrations
//! embedded in this crate (`migrations/`), applied by [`SqliteStorage::open`] in one
//! transaction; the file's `user_version` records which are applied. The file belongs to
//! the storage: keep the application's own tables in another file.

mod migrate;
mod rows;
mod sql;
mod storage;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs::storage::StorageEvent;
use jobs::{Clock, Error};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::broadcast;

/// Runs stored in one SQLite file. Cheap to clone; clones share the connections and the
/// wakeups.
///
/// Make one with [`SqliteStorage::open`], [`SqliteStorage::connect`] or
/// [`SqliteStorage::builder`], and hand it to [`jobs::JobsBuilder::storage`].
#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// One connection: every write, one transaction at a time.
    writer: SqlitePool,
    /// Reads: get, list, attempts, stats.
    reader: SqlitePool,
    clock: Option<Arc<dyn Clock>>,
    events: broadcast::Sender<StorageEvent>,
    /// What the watch thread (other processes' writes) needs.
    watch: watch::Watch,
    /// The file's connection options, for the watch thread's own connection.
    options: SqliteConnectOptions,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.inner.path)
            .field("manual_clock", &self.inner.clock.is_some())
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens the file at `path` with the default options, creating it if it is missing
    /// and applying the schema's migrations.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] naming the file when it cannot be opened or created (a missing
    /// directory, no permission, not a SQLite file) or its schema cannot be brought up to
    /// date; [`Error::Config`] when the file was written by a newer `jobs-sqlite`.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStorage, Error> {
        SqliteStorage::builder().open(path).await
    }

    /// Opens the file a `sqlite:` URL names: `sqlite://jobs.db` (relative to the current
    /// directory), `sqlite:///var/lib/app/jobs.db` (absolute) or `sqlite:jobs.db`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that is not of that form; otherwise as
    /// [`open`](Self::open).
    pub async fn connect(url: &str) -> Result<SqliteStorage, Error> {
        SqliteStorage::builder().connect(url).await
    }

    /// Options: clock, readers, lock wait, flushing.
    pub fn builder() -> SqliteStorageBuilder {
        SqliteStorageBuilder::default()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The pool the storage reads with: for tests and tools that look at the tables
    /// directly. Never write through it.
    pub fn read_pool(&self) -> &SqlitePool {
        &self.inner.reader
    }

    /// Closes every connection (waiting for statements in progress). Dropping the last
    /// handle closes them too, without waiting.
    pub async fn close(&self) {
        self.inner.watch.stop();
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }

    /// The time statements use: the manual clock's, else the system's.
    fn clock_now(&self) -> DateTime<Utc> {
        match &self.inner.clock {
            Some(clock) => clock.now(),
            None => Utc::now(),
        }
    }

    fn emit(&self, event: StorageEvent) {
        // No receiver is fine: no worker is idle.
        let _ = self.inner.events.send(event);
    }
}

/// Options for a [`SqliteStorage`].
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), jobs::Error> {
/// use std::time::Duration;
/// use jobs_sqlite::SqliteStorage;
///
/// let storage = SqliteStorage::builder()
///     .busy_timeout(Duration::from_secs(10))
///     .open("/var/lib/app/jobs.db")
///     .await?;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct SqliteStorageBuilder {
    clock: Option<Arc<dyn Clock>>,
    readers: u32,
    busy_timeout: Duration,
    fsync_every_commit: bool,
    watch_interval: Option<Duration>,
}

impl Default for SqliteStorageBuilder {
    fn default() -> Self {
        SqliteStorageBuilder {
            clock: None,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            fsync_every_commit: true,
            watch_interval: Some(Duration::from_millis(50)),
        }
    }
}

impl std::fmt::Debug for SqliteStorageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorageBuilder")
            .field("manual_clock", &self.clock.is_some())
            .field("readers", &self.readers)
            .field("busy_timeout", &self.busy_timeout)
            .field("fsync_every_commit", &self.fsync_every_commit)
            .field("watch_interval", &self.watch_interval)
            .finish()
    }
}

impl SqliteStorageBuilder {
    /// Reads time from `clock` instead of the system's: for tests with a
    /// [`jobs::ManualClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// How many connections read (get, list, attempts, stats) at once. Default 4.
    pub fn readers(mut self, readers: u32) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// How long a write waits for the file's write lock while another process holds it,
    /// before failing with "database is locked". Default 5 s.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Whether every commit waits for the disk (`synchronous = FULL`, the default).
    /// `false` (`NORMAL`) flushes at checkpoints only: several times faster on slow disks,
    /// still safe when the process crashes or is killed, but a power cut or an operating
    /// system crash may undo the last transactions (never corrupt the file).
    pub fn fsync_every_commit(mut self, every_commit: bool) -> Self {
        self.fsync_every_commit = every_commit;
        self
    }

    /// How often idle workers look for writes by other processes to the file (a run
    /// enqueued, retried or handed back there), through `PRAGMA data_version` on a
    /// connection of their own. Default 50 ms; `None` leaves them to their poll
    /// (`WorkerBuilder::poll_interval`). Writes in this process wake its workers at once
    /// either way.
    pub fn watch_interval(mut self, interval: Option<Duration>) -> Self {
        self.watch_interval = interval.filter(|interval| !interval.is_zero());
        self
    }

    /// Opens `sqlite:` URL's file; see [`SqliteStorage::connect`].
    ///
    /// # Errors
    ///
    /// As [`SqliteStorage::connect`].
    pub async fn connect(self, url: &str) -> Result<SqliteStorage, Error> {
        let path = path_of_url(url)?;
        self.open(path).await
    }

    /// Opens the file at `path`, creating it if it is missing and applying the schema's
    /// migrations.
    ///
    /// # Errors
    ///
    /// As [`SqliteStorage::open`].
    pub async fn open(self, path: impl AsRef<Path>) -> Result<SqliteStorage, Error> {
        let path = path.as_ref().to_path_buf();
        let synchronous = if self.fsync_every_commit {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        };
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(self.busy_timeout)
            .foreign_keys(false);
        let action = format!("open the SQLite file {}", path.display());
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(Error::storage(
                    action,
                    format!(
                        "the directory {} does not exist; create it first",
                        dir.display()
                    ),
                ));
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(3600))
            .idle_timeout(None)
            .max_lifetime(None)
            // A file connection does not go stale like a network one: no ping per write.
            .test_before_acquire(false)
            .connect_with(options.clone().create_if_missing(true))
            .await
            .map_err(|e| Error::storage(action.clone(), e))?;
        migrate::apply(&writer, &path).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(self.readers)
            .acquire_timeout(Duration::from_secs(60))
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::storage(action, e))?;
        let (events, _) = broadcast::channel(1024);
        Ok(SqliteStorage {
            inner: Arc::new(Inner {
                path,
                writer,
                reader,
                clock: self.clock,
                events,
                watch: watch::Watch::new(self.watch_interval),
                options,
            }),
        })
    }
}

/// The path a `sqlite:` URL names.
fn path_of_url(url: &str) -> Result<PathBuf, Error> {
    let bad = |why: &str| {
        Error::Config(format!(
            "invalid SQLite URL `{}`: {why}; expected sqlite://jobs.db (relative), \
             sqlite:///var/lib/app/jobs.db (absolute) or sqlite:jobs.db",
            url.chars().take(200).collect::<String>()
        ))
    };
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| bad("it does not start with sqlite:"))?;
    if rest.contains('?') {
        return Err(bad(
            "options (`?...`) are set through SqliteStorage::builder()",
        ));
    }
    if rest.is_empty() {
        return Err(bad("it names no file"));
    }
    if rest == ":memory:" || rest.starts_with(":memory:") {
        return Err(bad(
            "an in-memory database does not survive a restart; use jobs::MemoryStorage",
        ));
    }
    Ok(PathBuf::from(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files() {
        for (url, path) in [
            ("sqlite://jobs.db", "jobs.db"),
            ("sqlite:jobs.db", "jobs.db"),
            ("sqlite:///var/lib/app/jobs.db", "/var/lib/app/jobs.db"),
            ("sqlite://data/jobs.db", "data/jobs.db"),
        ] {
            assert_eq!(path_of_url(url).ok(), Some(PathBuf::from(path)), "{url}");
        }
        for url in [
            "postgres://root@localhost/test",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://jobs.db?mode=ro",
            "jobs.db",
        ] {
            match path_of_url(url) {
                Err(Error::Config(message)) => {
                    assert!(message.contains("invalid SQLite URL"), "{message}");
                }
                other => panic!("{url} should be refused, got {other:?}"),
            }
        }
    }
}

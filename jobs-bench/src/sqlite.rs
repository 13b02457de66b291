//! SQLite plumbing: a fresh file per measurement in a directory of its own, the cheap
//! "anything left?" queries, the history fill, and the file's commit rate.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jobs::RunId;
use jobs_sqlite::SqliteStorage;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

use crate::pg::NAMESPACE;
use crate::{Error, Options};

/// The name of the database file inside a measurement's directory.
const FILE: &str = "jobs.db";

/// A fresh file (`<base>/jobs-bench-<random>/jobs.db`) and a storage on it;
/// [`SqliteEnv::remove`] closes the storage and deletes the directory (the file and its
/// `-wal` and `-shm` companions).
pub(crate) struct SqliteEnv {
    dir: PathBuf,
    fsync: bool,
    pub(crate) storage: SqliteStorage,
}

impl SqliteEnv {
    /// Opens a new file under `--sqlite-dir` with `fsync_every_commit(fsync)` and
    /// `--sqlite-watch`, the other options at their defaults.
    pub(crate) async fn fresh(options: &Options, fsync: bool) -> Result<SqliteEnv, Error> {
        let base = &options.sqlite_dir;
        let random = RunId::new().as_uuid().simple().to_string();
        std::fs::create_dir_all(base)
            .map_err(|e| format!("create the directory {}: {e}", base.display()))?;
        let dir = base.join(format!("jobs-bench-{}", &random[20..]));
        std::fs::create_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let opened = storage(&dir.join(FILE), fsync, options.sqlite_watch).await;
        match opened {
            Ok(storage) => Ok(SqliteEnv {
                dir,
                fsync,
                storage,
            }),
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(error.into())
            }
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        self.storage.path()
    }

    /// What a child process needs to open the same file the same way: `--sqlite PATH
    /// --fsync yes|no --watch-ms MS`.
    pub(crate) fn child_args(&self, watch: Duration) -> Vec<String> {
        vec![
            "--sqlite".to_owned(),
            self.path().display().to_string(),
            "--fsync".to_owned(),
            if self.fsync { "yes" } else { "no" }.to_owned(),
            "--watch-ms".to_owned(),
            watch.as_millis().to_string(),
        ]
    }

    /// Closes every connection and deletes the directory with everything in it.
    pub(crate) async fn remove(self) -> Result<(), Error> {
        self.storage.close().await;
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| format!("remove {}: {e}", self.dir.display()))?;
        Ok(())
    }

    /// A connection of the benchmark's own to the file, with the storage's journal mode
    /// and flushing (for the history fill and the commit-rate probe; never the worker's).
    async fn connect(&self) -> Result<SqliteConnection, Error> {
        let options = SqliteConnectOptions::new()
            .filename(self.storage.path())
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if self.fsync {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(5));
        Ok(SqliteConnection::connect_with(&options).await?)
    }

    /// Whether any run of the namespace is waiting, on the claimable partial index (named:
    /// left to itself, SQLite's planner walks `runs_by_task`, i.e. every finished run too).
    pub(crate) async fn any_waiting(&self) -> Result<bool, Error> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM runs INDEXED BY runs_claimable
                            WHERE namespace = ?1 AND status IN ('queued', 'retrying'))",
        )
        .bind(NAMESPACE)
        .fetch_one(self.storage.read_pool())
        .await?)
    }

    /// How many runs of the namespace are running (on the running partial index).
    pub(crate) async fn running(&self) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM runs WHERE namespace = ?1 AND status = 'running'",
        )
        .bind(NAMESPACE)
        .fetch_one(self.storage.read_pool())
        .await?)
    }

    /// Whether every run of the namespace has finished: none waiting, none running.
    pub(crate) async fn all_finished(&self) -> Result<bool, Error> {
        Ok(!self.any_waiting().await? && self.running().await? == 0)
    }

    /// Runs of the namespace that succeeded (after a measurement, to check it).
    pub(crate) async fn succeeded(&self) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM runs WHERE namespace = ?1 AND status = 'succeeded'",
        )
        .bind(NAMESPACE)
        .fetch_one(self.storage.read_pool())
        .await?)
    }

    /// The file's size with its write-ahead log, in bytes.
    pub(crate) fn bytes(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(self.dir.join(format!("{FILE}{suffix}"))).ok())
            .map(|meta| meta.len())
            .sum()
    }

    /// Fills the file with `count` succeeded runs of `task`, older than anything enqueued
    /// afterwards (ids are UUIDv7-shaped with timestamps in the past day), in one
    /// transaction of a connection of its own. Every tenth failed once before: it
    /// succeeded at attempt 2 and has a failed attempt row. The succeeded attempts live on
    /// the runs' rows, as the storage keeps them. The same shape as the PostgreSQL fill.
    pub(crate) async fn insert_history(&self, count: usize, task: &str) -> Result<(), Error> {
        let mut conn = self.connect().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let now_us = chrono::Utc::now().timestamp_micros();
        sqlx::query(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?3),
                  h AS (SELECT n, ?4 / 1000 - 86400000 + n AS ms FROM g)
             INSERT INTO runs (id, namespace, task, queue, status, payload, attempt,
                               max_attempts, priority, created_at, run_at, started_at,
                               finished_at, worker)
             SELECT printf('%08x-%04x-7000-8000-%012x', ms >> 16, ms & 65535, n),
                    ?1, ?2, 'default', 'succeeded', json_object('n', n),
                    CASE WHEN n % 10 = 0 THEN 2 ELSE 1 END, 3, 0,
                    ms * 1000, ms * 1000, ms * 1000, ms * 1000 + 1000, 'history'
             FROM h",
        )
        .bind(NAMESPACE)
        .bind(task)
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .bind(now_us)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO attempts (run_id, number, started_at, finished_at, outcome, error)
             SELECT id, 1, started_at - 1000000, started_at - 900000, 'failed', 'history'
             FROM runs
             WHERE namespace = ?1 AND status = 'succeeded' AND attempt = 2",
        )
        .bind(NAMESPACE)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.close().await?;
        Ok(())
    }

    /// Single-row INSERTs, one `BEGIN IMMEDIATE` transaction each, on one connection of
    /// its own for `secs` seconds: commits per second of this file with this flushing
    /// (SQLite has one writer at a time, so one connection is its ceiling).
    pub(crate) async fn commit_rate(&self, secs: f64) -> Result<f64, Error> {
        let mut conn = self.connect().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS commit_probe (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
        )
        .execute(&mut conn)
        .await?;
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let mut n: i64 = 0;
        while Instant::now() < deadline {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("INSERT INTO commit_probe (v) VALUES (?1)")
                .bind(n)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n += 1;
        }
        let elapsed = start.elapsed();
        conn.close().await?;
        Ok(n as f64 / elapsed.as_secs_f64().max(1e-9))
    }
}

/// A storage on the file at `path` (created and migrated if new) with
/// `fsync_every_commit(fsync)` and `watch_interval(Some(watch))`, the other options at
/// their defaults: what the benchmark and its child processes open.
pub(crate) async fn storage(
    path: &Path,
    fsync: bool,
    watch: Duration,
) -> Result<SqliteStorage, jobs::Error> {
    SqliteStorage::builder()
        .fsync_every_commit(fsync)
        .watch_interval(Some(watch))
        .open(path)
        .await
}

/// The file system `dir` is on (type and mount point, from `/proc/mounts`), for the
/// progress log and the table: on `tmpfs` a flush costs nothing and the figures say
/// nothing about a disk.
pub(crate) fn file_system(dir: &Path) -> String {
    let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "unknown file system".to_owned();
    };
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let point = fields.next()?;
            let kind = fields.next()?;
            path.starts_with(point)
                .then(|| (point.len(), format!("{kind} on {point} ({device})")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown file system".to_owned(), |(_, fs)| fs)
}

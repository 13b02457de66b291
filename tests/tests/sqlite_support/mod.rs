//! What the SQLite tests share: a fresh database file per test, under cargo's scratch
//! directory for integration tests (`target/tmp`); and for the multi-process tests, worker
//! processes (`jobs-sqlite-worker`) to start, kill and stop, the log their handlers append
//! to, and direct reads of the file.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::path::{Path, PathBuf};

use jobs::storage::NewRun;
use jobs::{ManualClock, RunId, Storage};
use jobs_sqlite::SqliteStorage;
use sqlx::SqlitePool;

/// A path no other test uses: `target/tmp/jobs-sqlite/<tag>-<random hex>.db`.
pub(crate) fn fresh_path(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jobs-sqlite");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let random = RunId::new().as_uuid().simple().to_string();
    dir.join(format!("{tag}-{}.db", &random[16..]))
}

/// A storage on a fresh file, reading time from `clock` when one is given.
pub(crate) async fn storage(tag: &str, clock: Option<ManualClock>) -> SqliteStorage {
    let path = fresh_path(tag);
    let mut builder = SqliteStorage::builder();
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    builder
        .open(&path)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Worker processes on a SQLite file (`jobs-sqlite-worker`), for `sqlite_processes.rs`.
// ---------------------------------------------------------------------------------------

/// The namespace `jobs-sqlite-worker` works in (its default).
pub(crate) const NAMESPACE: &str = "sqlite";
/// `jobs-sqlite-worker`'s task.
pub(crate) const TASK: &str = "sqlite-step";

/// A log file next to `db` (`<db>.log`) for the workers' handlers to append to.
pub(crate) fn log_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".log");
    PathBuf::from(name)
}

/// Enqueues one `sqlite-step` run with payload `{ "n": n }` for each `n` of `ns`, in one
/// batch, each of `max_attempts`; returns their ids in order.
pub(crate) async fn enqueue(
    storage: &dyn Storage,
    ns: std::ops::Range<u32>,
    max_attempts: u32,
) -> Vec<RunId> {
    let batch: Vec<NewRun> = ns
        .map(|n| NewRun::new(NAMESPACE, TASK, serde_json::json!({ "n": n }), max_attempts))
        .collect();
    storage
        .enqueue(batch)
        .await
        .unwrap_or_else(|e| panic!("enqueue: {e}"))
        .iter()
        .map(|enqueued| enqueued.id())
        .collect()
}

/// One line of the workers' log: one handler that ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Execution {
    pub(crate) run_id: RunId,
    pub(crate) n: u32,
    pub(crate) attempt: u32,
    pub(crate) pid: u32,
}

/// Every execution the workers logged in `log`, in the order they were written (none if
/// the file does not exist yet). Fails the test on a line that is not whole.
pub(crate) fn executions(log: &Path) -> Vec<Execution> {
    let text = match std::fs::read_to_string(log) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("read {}: {e}", log.display()),
    };
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends with a partial line",
        log.display()
    );
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let parsed = match fields.as_slice() {
                [id, n, attempt, pid] => (|| {
                    Some(Execution {
                        run_id: id.parse().ok()?,
                        n: n.parse().ok()?,
                        attempt: attempt.parse().ok()?,
                        pid: pid.parse().ok()?,
                    })
                })(),
                _ => None,
            };
            parsed.unwrap_or_else(|| panic!("malformed line in {}: {line:?}", log.display()))
        })
        .collect()
}

/// Deletes the database file `db`, its `-wal` and `-shm` files and its log: for a test
/// that passed (a failed one leaves them to look at).
pub(crate) fn remove_files(db: &Path) {
    let mut paths = vec![db.to_path_buf(), log_path(db)];
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        paths.push(PathBuf::from(name));
    }
    for path in paths {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                eprintln!("could not remove {}: {e}", path.display());
            }
            _ => {}
        }
    }
}

/// A `count(*)`-like query's single number, read through `pool`.
pub(crate) async fn scalar(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// What `PRAGMA integrity_check` says of the file `pool` reads: `["ok"]` when it is sound.
pub(crate) async fn integrity_check(pool: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("PRAGMA integrity_check: {e}"))
}

/// The `runs.worker` LIKE pattern of the worker process `pid` (ids are `name:pid:hex`).
pub(crate) fn worker_pattern(pid: u32) -> String {
    format!("jobs-sqlite-worker:{pid}:%")
}

/// The lines of a worker's stderr that are neither empty nor contain one of `expected`:
/// its warnings and errors that should not have happened.
pub(crate) fn unexpected<'a>(stderr: &'a str, expected: &[&str]) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| !expected.iter().any(|phrase| line.contains(phrase)))
        .collect()
}

#[path = "../process_support/mod.rs"]
mod process;

#[allow(unused_imports)] // each test crate uses its own part
pub(crate) use process::{Deadline, Exit, Report, WorkerProcess};

impl WorkerProcess {
    /// Starts a `jobs-sqlite-worker` on the SQLite file `file`, appending its executions to
    /// `log`, with the binary's extra `args` (`--flag value` pairs separated by spaces, as
    /// on a command line).
    pub(crate) fn spawn(name: &str, file: &Path, log: &Path, args: &str) -> WorkerProcess {
        let mut all = vec![
            "--file".into(),
            file.as_os_str().to_owned(),
            "--log".into(),
            log.as_os_str().to_owned(),
        ];
        all.extend(args.split_whitespace().map(Into::into));
        WorkerProcess::start(env!("CARGO_BIN_EXE_jobs-sqlite-worker"), name, all)
    }
}

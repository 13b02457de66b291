//! What the SQLite tests share: a fresh database file per test, under cargo's scratch
//! directory for integration tests (`target/tmp`); and for the multi-process tests, worker
//! processes (`jobs-sqlite-worker`) to start, kill and stop, the log their handlers append
//! to, and direct reads of the file.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// Fails the test once `timeout` has passed, naming what it waited for.
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
    what: String,
}

impl Deadline {
    pub(crate) fn new(timeout: Duration, what: impl Into<String>) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
            what: what.into(),
        }
    }

    /// Sleeps a little, or fails the test if the deadline has passed.
    pub(crate) async fn tick(&self) {
        assert!(
            Instant::now() < self.at,
            "timed out after {:?} waiting for {}",
            self.timeout,
            self.what
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a worker process printed when it stopped (its `ShutdownReport`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) completed: usize,
    pub(crate) stale: usize,
    pub(crate) handed_back: usize,
    pub(crate) unwritten: usize,
    pub(crate) shutdown_ms: u64,
}

impl Report {
    /// Parses the `pid=P stopped (...): completed=N ...` line of a worker's output.
    pub(crate) fn parse(stdout: &str) -> Option<Report> {
        let line = stdout.lines().find(|line| line.contains(" stopped ("))?;
        let field = |name: &str| -> Option<u64> {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{name}=")))
                .and_then(|value| value.parse().ok())
        };
        let count = |name: &str| field(name).and_then(|n| usize::try_from(n).ok());
        Some(Report {
            completed: count("completed")?,
            stale: count("stale")?,
            handed_back: count("handed_back")?,
            unwritten: count("unwritten")?,
            shutdown_ms: field("shutdown_ms")?,
        })
    }
}

/// How a worker process ended.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Its report, if it printed one (not after SIGKILL).
    pub(crate) report: Option<Report>,
}

/// A `jobs-sqlite-worker` process. Killed (SIGKILL) when dropped if still running, so no
/// process outlives a failed test. Its stdout and stderr are collected by threads, so a
/// chatty child never blocks on a full pipe.
pub(crate) struct WorkerProcess {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut text = sink.lock().unwrap_or_else(PoisonError::into_inner);
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

fn read(text: &Arc<Mutex<String>>) -> String {
    text.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

impl WorkerProcess {
    /// Starts a worker on the SQLite file `file`, appending its executions to `log`, with
    /// the binary's extra `args` (`--flag value` pairs separated by spaces, as on a
    /// command line).
    pub(crate) fn spawn(name: &str, file: &Path, log: &Path, args: &str) -> WorkerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jobs-sqlite-worker"))
            .arg("--file")
            .arg(file)
            .arg("--log")
            .arg(log)
            .args(args.split_whitespace())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start worker {name}: {e}"));
        let stdin = child.stdin.take();
        let stdout = collect(child.stdout.take().unwrap_or_else(|| panic!("no stdout")));
        let stderr = collect(child.stderr.take().unwrap_or_else(|| panic!("no stderr")));
        WorkerProcess {
            name: name.to_owned(),
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its name in messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// What it printed on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        read(&self.stderr)
    }

    /// What it printed so far, stdout then stderr.
    pub(crate) fn output(&self) -> String {
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    /// Waits until it printed its `ready` line (its worker runs); returns its worker id.
    pub(crate) async fn ready(&mut self, timeout: Duration) -> String {
        let deadline = Deadline::new(timeout, format!("worker {} to start", self.name));
        loop {
            let stdout = read(&self.stdout);
            if let Some(line) = stdout.lines().find(|l| l.starts_with("ready pid=")) {
                return line
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix("worker="))
                    .unwrap_or_else(|| panic!("no worker id in {line:?}"))
                    .to_owned();
            }
            self.assert_alive();
            deadline.tick().await;
        }
    }

    /// Kills it with SIGKILL: no shutdown, no last write.
    pub(crate) fn kill(&mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("kill worker {}: {e}", self.name));
    }

    /// Closes its stdin, which asks it to shut down gracefully.
    pub(crate) fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Fails the test if it has exited.
    pub(crate) fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "worker {} exited early with {status}:\n{}",
                self.name,
                self.output()
            );
        }
    }

    /// Waits for it to exit, at most `timeout`, and returns how it ended.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> Exit {
        let deadline = Deadline::new(timeout, format!("worker {} to exit", self.name));
        let status = loop {
            if let Some(status) = self
                .child
                .try_wait()
                .unwrap_or_else(|e| panic!("wait for worker {}: {e}", self.name))
            {
                break status;
            }
            deadline.tick().await;
        };
        // The reader threads finish once the pipes close; give them a moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stdout = read(&self.stdout);
        Exit {
            status,
            report: Report::parse(&stdout),
            stdout,
            stderr: read(&self.stderr),
        }
    }

    /// Asks it to stop (stdin closed), waits at most `timeout`, checks it exited 0 with a
    /// report, and returns how it ended.
    pub(crate) async fn stop(&mut self, timeout: Duration) -> (Report, Exit) {
        self.close_stdin();
        let exit = self.wait_exit(timeout).await;
        println!("worker {}: {}", self.name, exit.stdout.trim());
        assert!(
            exit.status.success(),
            "worker {} exited with {}:\n{}{}",
            self.name,
            exit.status,
            exit.stdout,
            exit.stderr
        );
        let report = exit.report.unwrap_or_else(|| {
            panic!(
                "worker {} printed no report:\n{}{}",
                self.name, exit.stdout, exit.stderr
            )
        });
        (report, exit)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

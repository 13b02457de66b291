//! The benchmark's child processes, and the parent's handle on them.
//!
//! `jobs-bench worker TARGET --concurrency C`: connects, prints `ready`, starts a worker on
//! the line `go`, and on `stop` (or end of input) shuts it down and prints
//! `{"completed":N,...}`.
//!
//! `jobs-bench enqueue TARGET --count N --gap-us MIN,MAX`: connects, prints `ready`, and
//! on `go` enqueues N pings spaced MIN..MAX µs apart, then prints `done`.
//!
//! `TARGET` is `--url U --schema S` (a PostgreSQL schema) or `--sqlite PATH --fsync yes|no
//! --watch-ms MS` (a SQLite file, opened with those settings).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use jobs::{Jobs, Storage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::pg::{self, NAMESPACE};
use crate::tasks::{Ping, unix_ns};
use crate::{DEFAULT_SQLITE_WATCH, Error, default_url};

/// The arguments both child modes share.
struct Args {
    url: String,
    schema: String,
    sqlite: Option<PathBuf>,
    fsync: bool,
    watch: Duration,
    concurrency: usize,
    count: usize,
    gap_us: (u64, u64),
}

fn args(raw: Vec<String>) -> Result<Args, Error> {
    let mut parsed = Args {
        url: default_url(),
        schema: String::new(),
        sqlite: None,
        fsync: true,
        watch: DEFAULT_SQLITE_WATCH,
        concurrency: 1000,
        count: 0,
        gap_us: (5_000, 10_000),
    };
    let mut raw = raw.into_iter();
    while let Some(flag) = raw.next() {
        let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => parsed.url = value,
            "--schema" => parsed.schema = value,
            "--sqlite" => parsed.sqlite = Some(PathBuf::from(value)),
            "--fsync" => {
                parsed.fsync = match value.as_str() {
                    "yes" => true,
                    "no" => false,
                    other => return Err(format!("--fsync {other}: expected yes or no").into()),
                };
            }
            "--watch-ms" => parsed.watch = Duration::from_millis(value.parse()?),
            "--concurrency" => parsed.concurrency = value.parse()?,
            "--count" => parsed.count = value.parse()?,
            "--gap-us" => {
                let (min, max) = value
                    .split_once(',')
                    .ok_or_else(|| format!("--gap-us {value}: expected MIN,MAX"))?;
                parsed.gap_us = (min.parse()?, max.parse()?);
            }
            other => return Err(format!("unknown child option {other}").into()),
        }
    }
    if parsed.schema.is_empty() == parsed.sqlite.is_none() {
        return Err("a child needs either --schema or --sqlite".into());
    }
    Ok(parsed)
}

/// The storage a child works on, and how to let go of it.
enum Opened {
    Postgres(jobs_postgres::PgStorage),
    Sqlite(jobs_sqlite::SqliteStorage),
}

impl Opened {
    async fn open(args: &Args) -> Result<Opened, Error> {
        Ok(match &args.sqlite {
            Some(path) => {
                Opened::Sqlite(crate::sqlite::storage(path, args.fsync, args.watch).await?)
            }
            None => Opened::Postgres(pg::storage(&args.url, &args.schema).await?),
        })
    }

    fn shared(&self) -> Arc<dyn Storage> {
        match self {
            Opened::Postgres(storage) => Arc::new(storage.clone()),
            Opened::Sqlite(storage) => Arc::new(storage.clone()),
        }
    }

    /// Closes the connections, waiting for statements in progress.
    async fn close(self) {
        match self {
            Opened::Postgres(storage) => storage.pool().close().await,
            Opened::Sqlite(storage) => storage.close().await,
        }
    }
}

/// The next line of stdin, trimmed; `None` at end of input.
async fn next_line(
    lines: &mut Lines<BufReader<tokio::io::Stdin>>,
) -> Result<Option<String>, Error> {
    Ok(lines.next_line().await?.map(|l| l.trim().to_owned()))
}

/// Builds the `Jobs` every process of a measurement uses.
pub(crate) fn jobs_on(storage: Arc<dyn Storage>) -> Result<Jobs, Error> {
    Ok(Jobs::builder()
        .name("jobs-bench")
        .namespace(NAMESPACE)
        .shared_storage(storage)
        .build()?)
}

/// `jobs-bench worker`: one worker process of the multi-process processing case.
pub(crate) async fn worker(raw: Vec<String>) -> Result<(), Error> {
    let args = args(raw)?;
    let storage = Opened::open(&args).await?;
    let jobs = jobs_on(storage.shared())?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    println!("ready");
    match next_line(&mut lines).await?.as_deref() {
        Some("go") => {}
        _ => return Ok(()),
    }
    let worker = jobs.worker().concurrency(args.concurrency).start();
    while let Some(line) = next_line(&mut lines).await? {
        if line == "stop" {
            break;
        }
    }
    let report = worker.shutdown().await;
    drop(jobs);
    storage.close().await;
    println!(
        "{}",
        serde_json::json!({
            "completed": report.completed,
            "stale": report.stale,
            "handed_back": report.handed_back,
            "unwritten": report.unwritten,
        })
    );
    Ok(())
}

/// A small xorshift generator: spacing of pings, no dependency needed.
pub(crate) struct Gaps {
    state: u64,
    min_us: u64,
    max_us: u64,
}

impl Gaps {
    pub(crate) fn new(min_us: u64, max_us: u64) -> Gaps {
        Gaps {
            state: unix_ns() | 1,
            min_us,
            max_us: max_us.max(min_us),
        }
    }

    pub(crate) fn next(&mut self) -> Duration {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let span = self.max_us - self.min_us + 1;
        Duration::from_micros(self.min_us + self.state % span)
    }
}

/// Enqueues `count` pings one at a time, spaced by `gaps`, each stamped with the wall
/// time taken just before its enqueue.
pub(crate) async fn send_pings(jobs: &Jobs, count: usize, gaps: &mut Gaps) -> Result<(), Error> {
    for seq in 0..count {
        tokio::time::sleep(gaps.next()).await;
        let sent_ns = unix_ns();
        jobs.enqueue(Ping {
            seq: seq as u64,
            sent_ns,
        })
        .await?;
    }
    Ok(())
}

/// `jobs-bench enqueue`: the remote enqueuer of the cross-process latency case.
pub(crate) async fn enqueue(raw: Vec<String>) -> Result<(), Error> {
    let args = args(raw)?;
    let storage = Opened::open(&args).await?;
    let jobs = jobs_on(storage.shared())?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    println!("ready");
    match next_line(&mut lines).await?.as_deref() {
        Some("go") => {}
        _ => return Ok(()),
    }
    let mut gaps = Gaps::new(args.gap_us.0, args.gap_us.1);
    send_pings(&jobs, args.count, &mut gaps).await?;
    drop(jobs);
    storage.close().await;
    println!("done");
    Ok(())
}

/// A child process of this binary, driven through its stdin and stdout.
pub(crate) struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Proc {
    /// Starts `jobs-bench <mode> <args...>` and waits for its `ready`.
    pub(crate) async fn start(mode: &str, args: &[String]) -> Result<Proc, Error> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg(mode)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin for the child")?;
        let stdout = child.stdout.take().ok_or("no stdout for the child")?;
        let mut proc = Proc {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
        };
        let line = proc.line(Duration::from_secs(60)).await?;
        if line != "ready" {
            return Err(format!("{mode} child said {line:?} instead of ready").into());
        }
        Ok(proc)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub(crate) async fn say(&mut self, line: &str) -> Result<(), Error> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// The child's next line of output, within `limit`.
    pub(crate) async fn line(&mut self, limit: Duration) -> Result<String, Error> {
        match tokio::time::timeout(limit, self.stdout.next_line()).await {
            Err(_) => Err(format!("a child said nothing for {limit:?}").into()),
            Ok(Ok(Some(line))) => Ok(line),
            Ok(Ok(None)) => Err("a child ended without answering".into()),
            Ok(Err(error)) => Err(error.into()),
        }
    }

    /// Waits for the child to exit; an error unless it exited successfully.
    pub(crate) async fn finish(mut self) -> Result<(), Error> {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .map_err(|_| "a child did not exit within 60 s")??;
        if status.success() {
            Ok(())
        } else {
            Err(format!("a child exited with {status}").into())
        }
    }
}

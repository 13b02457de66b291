//! A worker process on a SQLite file, for the multi-process SQLite tests
//! (`tests/sqlite_processes.rs`): the tests run several of them on one file at once, and
//! kill one in the middle of its attempts to restart another in its place.
//!
//! ```text
//! jobs-sqlite-worker --file PATH --log PATH [--namespace NS] [--concurrency N]
//!     [--lease-ms MS] [--heartbeat-ms MS] [--rescue-ms MS] [--poll-ms MS]
//!     [--shutdown-ms MS] [--busy-timeout-ms MS] [--sleep-ms MS] [--idle-secs N]
//! ```
//!
//! Opens the file (creating and migrating it if it is missing) and runs the task
//! `sqlite-step` (payload `{ "n": u32 }`) in namespace `NS` (default `sqlite`). The
//! handler sleeps `--sleep-ms` (default 0), then appends one line
//! `RUN_ID N ATTEMPT PID` to the `--log` file and succeeds. The file is opened with
//! `O_APPEND` and each line is one `write`, so the lines of several processes never mix;
//! a line means "this attempt's handler ran to its end", and an attempt whose line could
//! not be written fails (a retryable error). The handler ignores cancellation, so an
//! attempt that lost its lease still runs to its end and its result must be fenced off.
//! Timings left out keep the worker's defaults.
//!
//! The worker's warnings and errors (a failed claim, heartbeat, rescue or result write, a
//! rescue of expired leases) go to stderr, one line each, so the tests can check that no
//! "database is locked" ever surfaced.
//!
//! Prints `ready pid=P worker=ID` once the worker runs, and on exit (stdin closed or a
//! `stop` line, SIGINT, SIGTERM, or `--idle-secs` without waiting or running runs) shuts
//! down gracefully and prints
//! `pid=P stopped (REASON): completed=N stale=N handed_back=N unwritten=N shutdown_ms=N`.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jobs::{Context, Jobs, TaskError};
use jobs_tests::worker_cli;

/// The `--log` file, opened for appending.
static LOG: OnceLock<File> = OnceLock::new();

/// `--sleep-ms`: how long each attempt sleeps before it records itself.
static SLEEP_MS: AtomicU64 = AtomicU64::new(0);

/// Sleeps, then records that this attempt's handler ran to its end.
#[jobs::task(
    name = "sqlite-step",
    retry(attempts = 10, backoff = "fixed", initial_delay = "200ms")
)]
async fn sqlite_step(ctx: Context, n: u32) -> Result<(), TaskError> {
    let Some(mut log) = LOG.get() else {
        return Err(TaskError::permanent("the worker has no log file"));
    };
    let sleep = SLEEP_MS.load(Ordering::Relaxed);
    if sleep > 0 {
        tokio::time::sleep(Duration::from_millis(sleep)).await;
    }
    let line = format!(
        "{} {n} {} {}\n",
        ctx.run_id(),
        ctx.attempt(),
        std::process::id()
    );
    // One write, so the line lands whole at the end of the file whoever else appends.
    match log.write(line.as_bytes()) {
        Ok(written) if written == line.len() => Ok(()),
        Ok(written) => Err(TaskError::permanent(format!(
            "only {written} of {} bytes of the execution's line were written",
            line.len()
        ))),
        Err(error) => Err(TaskError::retryable(format!(
            "could not record the execution: {error}"
        ))),
    }
}

/// The name its messages and its worker go by (the tests match `runs.worker` on it).
const NAME: &str = "jobs-sqlite-worker";

struct Args {
    file: PathBuf,
    log: PathBuf,
    namespace: String,
    concurrency: usize,
    timings: worker_cli::Timings,
    busy_timeout: Option<Duration>,
    idle: Option<Duration>,
}

fn args() -> Result<Args, String> {
    let mut file = None;
    let mut log = None;
    let mut parsed = Args {
        file: PathBuf::new(),
        log: PathBuf::new(),
        namespace: "sqlite".to_owned(),
        concurrency: 8,
        timings: worker_cli::Timings::default(),
        busy_timeout: None,
        idle: None,
    };
    worker_cli::parse_flags(|flag, value| {
        let millis =
            |v: &str| worker_cli::number::<u64>(flag, v).map(|ms| Some(Duration::from_millis(ms)));
        match flag {
            "--file" => file = Some(PathBuf::from(value)),
            "--log" => log = Some(PathBuf::from(value)),
            "--namespace" => parsed.namespace = value,
            "--concurrency" => parsed.concurrency = worker_cli::number(flag, &value)?,
            _ if parsed.timings.take(flag, &value)? => {}
            "--busy-timeout-ms" => parsed.busy_timeout = millis(&value)?,
            "--sleep-ms" => SLEEP_MS.store(worker_cli::number(flag, &value)?, Ordering::Relaxed),
            "--idle-secs" => {
                parsed.idle = Some(Duration::from_secs(worker_cli::number(flag, &value)?));
            }
            other => return worker_cli::unknown(other),
        }
        Ok(())
    })?;
    parsed.file = file.ok_or("pass --file")?;
    parsed.log = log.ok_or("pass --log")?;
    Ok(parsed)
}

fn main() -> ExitCode {
    worker_cli::main(NAME, args, run)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .with_ansi(false)
        .init();
    let log = File::options()
        .create(true)
        .append(true)
        .open(&args.log)
        .map_err(|e| format!("open {}: {e}", args.log.display()))?;
    let _ = LOG.set(log);
    let storage = worker_cli::open_sqlite(&args.file, args.busy_timeout).await?;
    let pool = storage.read_pool().clone();
    let jobs = Jobs::builder()
        .name(NAME)
        .namespace(&args.namespace)
        .storage(storage.clone())
        .build()?;
    let builder = args
        .timings
        .apply(jobs.worker().concurrency(args.concurrency));
    let worker = builder.start();
    println!("ready pid={} worker={}", std::process::id(), worker.id());
    let _ = std::io::stdout().flush();

    let idle = worker_cli::idle_sqlite(&pool, &args.namespace, args.idle, NAME);
    let stopped = worker_cli::serve(worker, idle).await;
    // Every result is written: close the file's connections before saying so.
    storage.close().await;
    println!(
        "{} shutdown_ms={}",
        stopped.summary(),
        stopped.shutdown.as_millis()
    );
    let _ = std::io::stdout().flush();
    Ok(())
}

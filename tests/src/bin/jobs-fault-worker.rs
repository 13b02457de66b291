//! A worker process for the fault suite (`tests/faults_*.rs`): the tests kill, pause,
//! terminate it and restart its database under it.
//!
//! ```text
//! jobs-fault-worker --schema NAME [--url URL] [--namespace NS] [--concurrency N]
//!     [--lease-ms MS] [--heartbeat-ms MS] [--rescue-ms MS] [--poll-ms MS]
//!     [--shutdown-ms MS] [--sleep-ms MS] [--max-connections N] [--idle-secs N]
//! ```
//!
//! The URL is `--url`, else `DATABASE_URL`; one of them is required (neither `jobs` nor
//! `jobs-postgres` reads the environment). Timings left out keep the worker's defaults.
//!
//! Runs the task `fault-step` (payload `{ "n": u32, "sleep_ms": u64?, "fail_attempt":
//! u32? }`): it sleeps `sleep_ms` (else `--sleep-ms`, default 0), then inserts one row
//! into `<schema>.executions (run_id, n, attempt, pid, outcome)` and returns. Only if that
//! insert succeeds does the attempt succeed (a failed insert is a retryable error), so a
//! row means "the handler ran to its end" and a succeeded run has at least one row. When
//! `fail_attempt` equals the attempt's number, the attempt records `failed` and returns a
//! permanent error instead (dead-letter now), so the tests can tell which attempt's
//! result stood. The handler ignores cancellation on purpose: a stalled worker that lost
//! its lease still finishes and reports, and fencing alone must reject its result.
//!
//! Prints `ready pid=P worker=ID` once the worker runs, and on exit (stdin closed or a
//! `stop` line, SIGINT, SIGTERM, or `--idle-secs` without waiting or running runs) shuts
//! down gracefully and prints
//! `pid=P stopped (REASON): completed=N stale=N handed_back=N unwritten=N shutdown_ms=N`.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jobs::{Context, Jobs, TaskError};
use jobs_tests::worker_cli;
use sqlx::PgPool;

/// The pool and schema the task writes to.
static TARGET: OnceLock<(PgPool, String)> = OnceLock::new();

/// `--sleep-ms`: the handler's sleep when the payload names none.
static DEFAULT_SLEEP_MS: AtomicU64 = AtomicU64::new(0);

/// Sleeps, records the execution, and succeeds (or fails permanently on `fail_attempt`).
#[jobs::task(
    name = "fault-step",
    retry(attempts = 10, backoff = "fixed", initial_delay = "200ms")
)]
async fn fault_step(
    ctx: Context,
    n: u32,
    sleep_ms: Option<u64>,
    fail_attempt: Option<u32>,
) -> Result<(), TaskError> {
    let Some((pool, schema)) = TARGET.get() else {
        return Err(TaskError::permanent("the worker has no database"));
    };
    let sleep = sleep_ms.unwrap_or_else(|| DEFAULT_SLEEP_MS.load(Ordering::Relaxed));
    if sleep > 0 {
        tokio::time::sleep(Duration::from_millis(sleep)).await;
    }
    let fails = fail_attempt == Some(ctx.attempt());
    let pid = std::process::id();
    sqlx::query(&format!(
        "INSERT INTO {schema}.executions (run_id, n, attempt, pid, outcome) VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(ctx.run_id().as_uuid())
    .bind(i64::from(n))
    .bind(i64::from(ctx.attempt()))
    .bind(i64::from(pid))
    .bind(if fails { "failed" } else { "succeeded" })
    .execute(pool)
    .await
    .map_err(|e| TaskError::retryable(format!("could not record the execution: {e}")))?;
    if fails {
        return Err(TaskError::permanent(format!(
            "attempt {} (pid {pid}) failed on purpose",
            ctx.attempt()
        )));
    }
    Ok(())
}

/// The name its messages and its worker go by (the tests match `runs.worker` on it).
const NAME: &str = "jobs-fault-worker";

struct Args {
    url: String,
    schema: String,
    namespace: String,
    concurrency: usize,
    max_connections: u32,
    timings: worker_cli::Timings,
    idle: Option<Duration>,
}

fn args() -> Result<Args, String> {
    let mut url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let mut schema = None;
    let mut parsed = Args {
        url: String::new(),
        schema: String::new(),
        namespace: "faults".to_owned(),
        concurrency: 8,
        max_connections: 8,
        timings: worker_cli::Timings::default(),
        idle: None,
    };
    worker_cli::parse_flags(|flag, value| {
        match flag {
            "--url" => url = Some(value),
            "--schema" => schema = Some(value),
            "--namespace" => parsed.namespace = value,
            "--concurrency" => parsed.concurrency = worker_cli::number(flag, &value)?,
            "--max-connections" => parsed.max_connections = worker_cli::number(flag, &value)?,
            _ if parsed.timings.take(flag, &value)? => {}
            "--sleep-ms" => {
                DEFAULT_SLEEP_MS.store(worker_cli::number(flag, &value)?, Ordering::Relaxed);
            }
            "--idle-secs" => {
                parsed.idle = Some(Duration::from_secs(worker_cli::number(flag, &value)?));
            }
            other => return worker_cli::unknown(other),
        }
        Ok(())
    })?;
    parsed.url = url.ok_or("pass --url or set DATABASE_URL")?;
    parsed.schema = schema.ok_or("pass --schema")?;
    Ok(parsed)
}

fn main() -> ExitCode {
    worker_cli::main(NAME, args, run)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (storage, pool) =
        worker_cli::connect(&args.url, &args.schema, args.max_connections).await?;
    let _ = TARGET.set((pool.clone(), args.schema.clone()));
    let jobs = Jobs::builder()
        .name(NAME)
        .namespace(&args.namespace)
        .storage(storage)
        .build()?;
    let builder = args
        .timings
        .apply(jobs.worker().concurrency(args.concurrency));
    let worker = builder.start();
    println!("ready pid={} worker={}", std::process::id(), worker.id());
    let _ = std::io::stdout().flush();

    let idle = worker_cli::idle(&pool, &args.schema, &args.namespace, args.idle, NAME);
    let stopped = worker_cli::serve(worker, idle).await;
    println!(
        "{} shutdown_ms={}",
        stopped.summary(),
        stopped.shutdown.as_millis()
    );
    let _ = std::io::stdout().flush();
    Ok(())
}

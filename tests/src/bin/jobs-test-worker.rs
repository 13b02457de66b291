//! A worker process for the multi-process PostgreSQL test (`tests/postgres_processes.rs`).
//!
//! ```text
//! DATABASE_URL=postgres://... jobs-test-worker --schema NAME [--idle-secs N] [--concurrency N]
//! ```
//!
//! Runs the task `record-execution`, which inserts its run id into `<schema>.executions`,
//! on a worker of 16 slots (by default) until told to stop (stdin closed or a `stop` line,
//! SIGINT, SIGTERM) or until no run has been waiting or running for `--idle-secs`
//! seconds, then shuts the worker down gracefully and prints its report.

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use jobs::{Context, Jobs, TaskError};
use jobs_tests::worker_cli;
use sqlx::PgPool;

/// The namespace it works in.
const NAMESPACE: &str = "processes";

/// The pool and schema the task writes to.
static TARGET: OnceLock<(PgPool, String)> = OnceLock::new();

/// Records that this run was executed, by this process.
#[jobs::task(
    name = "record-execution",
    retry(attempts = 5, backoff = "fixed", initial_delay = "1s")
)]
async fn record_execution(ctx: Context, n: u32) -> Result<(), TaskError> {
    let Some((pool, schema)) = TARGET.get() else {
        return Err(TaskError::permanent("the worker has no database"));
    };
    sqlx::query(&format!(
        "INSERT INTO {schema}.executions (run_id, n, pid) VALUES ($1, $2, $3)"
    ))
    .bind(ctx.run_id().as_uuid())
    .bind(i64::from(n))
    .bind(i64::from(std::process::id()))
    .execute(pool)
    .await?;
    Ok(())
}

/// The name its messages and its worker go by.
const NAME: &str = "jobs-test-worker";

struct Args {
    url: String,
    schema: String,
    idle: Duration,
    concurrency: usize,
}

fn args() -> Result<Args, String> {
    let mut url = std::env::var("DATABASE_URL").ok();
    let mut schema = std::env::var("JOBS_SCHEMA").ok();
    let mut idle = Duration::from_secs(5);
    let mut concurrency = 16;
    worker_cli::parse_flags(|flag, value| {
        match flag {
            "--url" => url = Some(value),
            "--schema" => schema = Some(value),
            "--idle-secs" => idle = Duration::from_secs(worker_cli::number(flag, &value)?),
            "--concurrency" => concurrency = worker_cli::number(flag, &value)?,
            other => return worker_cli::unknown(other),
        }
        Ok(())
    })?;
    Ok(Args {
        url: url.ok_or("set DATABASE_URL or pass --url")?,
        schema: schema.ok_or("pass --schema or set JOBS_SCHEMA")?,
        idle,
        concurrency,
    })
}

fn main() -> ExitCode {
    worker_cli::main(NAME, args, run)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (storage, pool) = worker_cli::connect(&args.url, &args.schema, 16).await?;
    let _ = TARGET.set((pool.clone(), args.schema.clone()));
    let jobs = Jobs::builder()
        .name(NAME)
        .namespace(NAMESPACE)
        .storage(storage)
        .build()?;
    let worker = jobs
        .worker()
        .concurrency(args.concurrency)
        .poll_interval(Duration::from_millis(200))
        .start();
    let idle = worker_cli::idle(&pool, &args.schema, NAMESPACE, Some(args.idle), NAME);
    let stopped = worker_cli::serve(worker, idle).await;
    println!("{}", stopped.summary());
    Ok(())
}

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
use jobs_postgres::PgStorage;
use sqlx::PgPool;
use tokio::io::AsyncBufReadExt;

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
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value()?),
            "--schema" => schema = Some(value()?),
            "--idle-secs" => {
                let secs = value()?;
                idle = Duration::from_secs(
                    secs.parse()
                        .map_err(|e| format!("--idle-secs {secs}: {e}"))?,
                );
            }
            "--concurrency" => {
                let n = value()?;
                concurrency = n.parse().map_err(|e| format!("--concurrency {n}: {e}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        url: url.ok_or("set DATABASE_URL or pass --url")?,
        schema: schema.ok_or("pass --schema or set JOBS_SCHEMA")?,
        idle,
        concurrency,
    })
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("jobs-test-worker: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("jobs-test-worker: no tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // Not a plain drop: tokio's stdin reads on a blocking thread that nothing can cancel,
    // and dropping the runtime would wait for that read, so a worker stopped by a signal
    // (or by going idle) would hang until its stdin closed.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jobs-test-worker: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let storage = PgStorage::builder()
        .schema(&args.schema)
        .max_connections(16)
        .connect(&args.url)
        .await?;
    let pool = storage.pool().clone();
    let _ = TARGET.set((pool.clone(), args.schema.clone()));
    let jobs = Jobs::builder()
        .name("jobs-test-worker")
        .namespace("processes")
        .storage(storage)
        .build()?;
    let worker = jobs
        .worker()
        .concurrency(args.concurrency)
        .poll_interval(Duration::from_millis(200))
        .start();
    let reason = tokio::select! {
        reason = told_to_stop() => reason,
        () = idle(&pool, &args.schema, args.idle) => "nothing left to do",
    };
    let report = worker.shutdown().await;
    println!(
        "pid={} stopped ({reason}): completed={} stale={} handed_back={} unwritten={}",
        std::process::id(),
        report.completed,
        report.stale,
        report.handed_back,
        report.unwritten
    );
    Ok(())
}

/// Completes when stdin closes or says `stop`, or on SIGINT or SIGTERM.
async fn told_to_stop() -> &'static str {
    let stdin = async {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) if line.trim() == "stop" => return "told to stop",
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return "stdin closed",
            }
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        reason = stdin => reason,
        _ = tokio::signal::ctrl_c() => "interrupted",
        () = terminate => "terminated",
    }
}

/// Completes once no run of the namespace has been waiting or running for `idle`.
async fn idle(pool: &PgPool, schema: &str, idle: Duration) {
    let sql = format!(
        "SELECT count(*) FROM {schema}.runs
         WHERE namespace = 'processes' AND status IN ('queued', 'running', 'retrying')"
    );
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        match sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await {
            Ok(0) if since.elapsed() >= idle => return,
            Ok(0) => {}
            Ok(_) => since = tokio::time::Instant::now(),
            Err(error) => eprintln!("jobs-test-worker: counting runs failed: {error}"),
        }
    }
}

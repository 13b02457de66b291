//! What the worker binaries (`jobs-test-worker`, `jobs-fault-worker` on PostgreSQL,
//! `jobs-sqlite-worker` on a SQLite file) share: reading `--flag value` arguments, the
//! runtime around their work, opening their storage, being told to stop, going idle, and
//! the shutdown line they print.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use jobs::{ShutdownReport, WorkerBuilder, WorkerHandle};
use jobs_postgres::PgStorage;
use jobs_sqlite::SqliteStorage;
use sqlx::{PgPool, SqlitePool};
use tokio::io::AsyncBufReadExt;

/// A binary's whole `main`: parses its arguments with `args` (an error exits 2), runs
/// `run` on a multi-thread tokio runtime, and exits 0, or 1 saying why it failed. Every
/// message starts with `name`.
pub fn main<A, F>(
    name: &str,
    args: impl FnOnce() -> Result<A, String>,
    run: impl FnOnce(A) -> F,
) -> ExitCode
where
    F: Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    let args = match args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: no tokio runtime: {error}");
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
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Calls `apply` with each `--flag value` pair of the command line, in order. A flag
/// without a value, or an error from `apply` (an unknown flag, a bad value), ends it.
pub fn parse_flags(
    mut apply: impl FnMut(&str, String) -> Result<(), String>,
) -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        apply(&flag, value)?;
    }
    Ok(())
}

/// `value` parsed as the number `flag` takes.
pub fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| format!("{flag} {value}: {e}"))
}

/// The error for a flag the binary does not take.
pub fn unknown(flag: &str) -> Result<(), String> {
    Err(format!("unknown argument {flag}"))
}

/// A storage of `max_connections` on `url`, in `schema`, and its pool.
///
/// # Errors
///
/// The database cannot be reached.
pub async fn connect(
    url: &str,
    schema: &str,
    max_connections: u32,
) -> Result<(PgStorage, PgPool), jobs::Error> {
    let storage = PgStorage::builder()
        .schema(schema)
        .max_connections(max_connections)
        .connect(url)
        .await?;
    let pool = storage.pool().clone();
    Ok((storage, pool))
}

/// A storage on the SQLite file at `path` (created and migrated if it is missing), whose
/// writes wait up to `busy_timeout` for the file's write lock (the storage's default when
/// `None`).
///
/// # Errors
///
/// The file cannot be opened, created or migrated.
pub async fn open_sqlite(
    path: &Path,
    busy_timeout: Option<Duration>,
) -> Result<SqliteStorage, jobs::Error> {
    let mut builder = SqliteStorage::builder();
    if let Some(timeout) = busy_timeout {
        builder = builder.busy_timeout(timeout);
    }
    builder.open(path).await
}

/// The worker timings a binary takes as `--lease-ms`, `--heartbeat-ms`, `--rescue-ms`,
/// `--poll-ms` and `--shutdown-ms`; those left out keep the worker's defaults.
#[derive(Debug, Default)]
pub struct Timings {
    lease: Option<Duration>,
    heartbeat: Option<Duration>,
    rescue: Option<Duration>,
    poll: Option<Duration>,
    shutdown: Option<Duration>,
}

impl Timings {
    /// Takes `flag` and its `value` if `flag` is one of the timings: `Ok(true)` when taken,
    /// `Ok(false)` for another flag, an error for a value that is not a number.
    pub fn take(&mut self, flag: &str, value: &str) -> Result<bool, String> {
        let slot = match flag {
            "--lease-ms" => &mut self.lease,
            "--heartbeat-ms" => &mut self.heartbeat,
            "--rescue-ms" => &mut self.rescue,
            "--poll-ms" => &mut self.poll,
            "--shutdown-ms" => &mut self.shutdown,
            _ => return Ok(false),
        };
        *slot = Some(Duration::from_millis(number(flag, value)?));
        Ok(true)
    }

    /// `builder` with the timings given.
    pub fn apply(&self, mut builder: WorkerBuilder) -> WorkerBuilder {
        if let Some(lease) = self.lease {
            builder = builder.lease(lease);
        }
        if let Some(every) = self.heartbeat {
            builder = builder.heartbeat_interval(every);
        }
        if let Some(every) = self.rescue {
            builder = builder.rescue_interval(every);
        }
        if let Some(every) = self.poll {
            builder = builder.poll_interval(every);
        }
        if let Some(timeout) = self.shutdown {
            builder = builder.shutdown_timeout(timeout);
        }
        builder
    }
}

/// Why a worker stopped, what its shutdown reported, and how long the shutdown took.
#[derive(Debug)]
pub struct Stopped {
    /// Why: `told to stop`, `stdin closed`, `interrupted`, `terminated` or `nothing left
    /// to do`.
    pub reason: &'static str,
    /// The worker's shutdown report.
    pub report: ShutdownReport,
    /// From the shutdown's start to its end.
    pub shutdown: Duration,
}

impl Stopped {
    /// `pid=P stopped (REASON): completed=N stale=N handed_back=N unwritten=N`.
    pub fn summary(&self) -> String {
        format!(
            "pid={} stopped ({}): completed={} stale={} handed_back={} unwritten={}",
            std::process::id(),
            self.reason,
            self.report.completed,
            self.report.stale,
            self.report.handed_back,
            self.report.unwritten
        )
    }
}

/// Lets `worker` work until it is told to stop or `idle` completes, then shuts it down
/// gracefully.
pub async fn serve(worker: WorkerHandle, idle: impl Future<Output = ()>) -> Stopped {
    let reason = tokio::select! {
        reason = told_to_stop() => reason,
        () = idle => "nothing left to do",
    };
    let stopping = tokio::time::Instant::now();
    let report = worker.shutdown().await;
    Stopped {
        reason,
        report,
        shutdown: stopping.elapsed(),
    }
}

/// Completes when stdin closes or says `stop`, or on SIGINT or SIGTERM.
pub async fn told_to_stop() -> &'static str {
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

/// Completes once no run of `namespace` has been waiting or running for `idle` (never if
/// `idle` is `None`). `name` starts its messages.
pub async fn idle(
    pool: &PgPool,
    schema: &str,
    namespace: &str,
    idle: Option<Duration>,
    name: &str,
) {
    let sql = format!(
        "SELECT count(*) FROM {schema}.runs
         WHERE namespace = $1 AND status IN ('queued', 'running', 'retrying')"
    );
    idle_when(idle, name, || {
        sqlx::query_scalar::<_, i64>(&sql)
            .bind(namespace)
            .fetch_one(pool)
    })
    .await;
}

/// [`idle`] on a SQLite file, read through `pool` (the storage's
/// [`read_pool`](SqliteStorage::read_pool)).
pub async fn idle_sqlite(pool: &SqlitePool, namespace: &str, idle: Option<Duration>, name: &str) {
    idle_when(idle, name, || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM runs
             WHERE namespace = ?1 AND status IN ('queued', 'running', 'retrying')",
        )
        .bind(namespace)
        .fetch_one(pool)
    })
    .await;
}

/// Completes once `count` (of the runs waiting or running) has said 0 for `idle`, asking
/// it every 250 ms (never if `idle` is `None`). A failed count is printed and ignored.
async fn idle_when<F, E>(idle: Option<Duration>, name: &str, mut count: impl FnMut() -> F)
where
    F: Future<Output = Result<i64, E>>,
    E: std::fmt::Display,
{
    let Some(idle) = idle else {
        return std::future::pending().await;
    };
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        match count().await {
            Ok(0) if since.elapsed() >= idle => return,
            Ok(0) => {}
            Ok(_) => since = tokio::time::Instant::now(),
            Err(error) => eprintln!("{name}: counting runs failed: {error}"),
        }
    }
}

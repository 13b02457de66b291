//! What the fault tests (`faults_*.rs`) share: worker processes (`jobs-fault-worker`) to
//! kill, pause and terminate; their shutdown reports; the side table their handler writes;
//! and a throwaway PostgreSQL cluster to stop and start. A test crate that uses it also
//! declares `mod postgres_support;`.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use jobs::storage::NewRun;
use jobs::{RunId, Storage};
use jobs_postgres::PgStorage;
use sqlx::PgPool;

use crate::postgres_support::{SchemaGuard, schema_name, storage};

/// The namespace the worker binary works in (its default).
pub(crate) const NAMESPACE: &str = "faults";
/// The worker binary's task.
pub(crate) const TASK: &str = "fault-step";

/// Creates the table the handler records its executions in.
pub(crate) async fn create_side_table(pool: &PgPool, schema: &str) {
    sqlx::query(&format!(
        "CREATE TABLE {schema}.executions (
             run_id uuid NOT NULL, n bigint NOT NULL, attempt bigint NOT NULL,
             pid bigint NOT NULL, outcome text NOT NULL,
             at timestamptz NOT NULL DEFAULT clock_timestamp())"
    ))
    .execute(pool)
    .await
    .unwrap_or_else(|e| panic!("create {schema}.executions: {e}"));
}

/// A fresh schema `jt_<tag>_<random hex>` on the shared test database, migrated, with the
/// side table: the guard that drops it, its name, a storage of 4 connections on it and
/// that storage's pool.
pub(crate) async fn shared_schema(tag: &str) -> (SchemaGuard, String, PgStorage, PgPool) {
    let schema = schema_name(tag);
    let guard = SchemaGuard(schema.clone());
    let storage = storage(&schema, None, 4).await;
    let pool = storage.pool().clone();
    create_side_table(&pool, &schema).await;
    (guard, schema, storage, pool)
}

/// Enqueues one `fault-step` run per payload, in batches of 1,000; returns their ids in
/// order.
pub(crate) async fn enqueue(
    storage: &dyn Storage,
    payloads: Vec<serde_json::Value>,
    max_attempts: u32,
) -> Vec<RunId> {
    let mut ids = Vec::with_capacity(payloads.len());
    let mut payloads = payloads.into_iter().peekable();
    while payloads.peek().is_some() {
        let batch: Vec<NewRun> = payloads
            .by_ref()
            .take(1000)
            .map(|payload| NewRun::new(NAMESPACE, TASK, payload, max_attempts))
            .collect();
        let enqueued = storage
            .enqueue(batch)
            .await
            .unwrap_or_else(|e| panic!("enqueue: {e}"));
        ids.extend(enqueued.iter().map(|e| e.id()));
    }
    ids
}

/// One row of the side table: one handler that ran to its end.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Execution {
    pub(crate) run_id: uuid::Uuid,
    pub(crate) n: i64,
    pub(crate) attempt: i64,
    pub(crate) pid: i64,
    pub(crate) outcome: String,
    pub(crate) at: chrono::DateTime<chrono::Utc>,
}

/// Every execution recorded, oldest first.
pub(crate) async fn executions(pool: &PgPool, schema: &str) -> Vec<Execution> {
    sqlx::query_as(&format!(
        "SELECT run_id, n, attempt, pid, outcome, at FROM {schema}.executions ORDER BY at"
    ))
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("read {schema}.executions: {e}"))
}

/// A `count(*)`-like query's single number.
pub(crate) async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A `count(*)`-like query's single number, or `None` while the database is away.
pub(crate) async fn try_scalar(pool: &PgPool, sql: &str) -> Option<i64> {
    sqlx::query_scalar(sql).fetch_one(pool).await.ok()
}

/// The `runs.worker` pattern of the worker process `pid` (ids are `name:pid:hex`).
pub(crate) fn worker_pattern(pid: u32) -> String {
    format!("jobs-fault-worker:{pid}:%")
}

#[path = "../process_support/mod.rs"]
mod process;

#[allow(unused_imports)] // each test crate uses its own part
pub(crate) use process::{Deadline, Exit, Report, WorkerProcess};

impl WorkerProcess {
    /// Starts a `jobs-fault-worker` on `url`, schema `schema`, with the binary's extra
    /// `args` (`--flag value` pairs separated by spaces, as on a command line).
    pub(crate) fn spawn(name: &str, url: &str, schema: &str, args: &str) -> WorkerProcess {
        let mut all = vec!["--url", url, "--schema", schema];
        all.extend(args.split_whitespace());
        WorkerProcess::start(env!("CARGO_BIN_EXE_jobs-fault-worker"), name, all)
    }
}

/// A throwaway PostgreSQL cluster (`initdb` in a temporary folder, on a free port of
/// 127.0.0.1, its socket in that folder), so a test may stop and start it without
/// disturbing tests that use the shared database. Run as the `postgres` system user when
/// the test runs as root (PostgreSQL refuses to run as root). Stopped and deleted when
/// dropped.
pub(crate) struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// Creates and starts the cluster. Panics, saying why, when PostgreSQL's server
    /// binaries are missing (set `PG_BIN` to their folder to pick them).
    pub(crate) fn start() -> Cluster {
        let bin = server_binaries();
        let as_postgres = running_as_root();
        let random = RunId::new().as_uuid().simple().to_string();
        let dir = std::env::temp_dir().join(format!("jobs-faults-pg-{}", &random[16..]));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let mut cluster = Cluster {
            dir,
            bin,
            port: 0,
            as_postgres,
        };
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .status()
                .unwrap_or_else(|e| panic!("chown: {e}"));
            assert!(
                status.success(),
                "chown {} to postgres failed",
                cluster.dir.display()
            );
        }
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
        );
        // A free port may be taken between finding it and binding it: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            match cluster.try_start() {
                Ok(()) => return cluster,
                Err(error) => last = error,
            }
        }
        panic!("the throwaway cluster did not start: {last}");
    }

    /// Its URL: user `postgres`, database `postgres`, trusted.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A storage on it in `schema`, of `max_connections` (each waited for at most 5 s),
    /// migrated, with the side table; and its pool.
    pub(crate) async fn storage(&self, schema: &str, max_connections: u32) -> (PgStorage, PgPool) {
        let storage = PgStorage::builder()
            .schema(schema)
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&self.url())
            .await
            .unwrap_or_else(|e| panic!("connect to the throwaway cluster: {e}"));
        storage
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate {schema}: {e}"));
        let pool = storage.pool().clone();
        create_side_table(&pool, schema).await;
        (storage, pool)
    }

    /// Stops it the way an operator restarting it would (`pg_ctl stop -m fast`: sessions
    /// are terminated, a checkpoint is written).
    pub(crate) fn stop(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", &data, "-m", "fast", "-w", "-t", "60", "stop"],
        );
    }

    /// Starts it again on the same port.
    pub(crate) fn start_again(&self) {
        if let Err(error) = self.try_start() {
            panic!("the throwaway cluster did not start again: {error}");
        }
    }

    fn try_start(&self) -> Result<(), String> {
        let data = self.data();
        let log = self.dir.join("server.log").display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c full_page_writes=off -c max_connections=100",
            self.port,
            self.dir.display()
        );
        let output = self
            .command("pg_ctl")
            .args(["-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options])
            .arg("start")
            .output()
            .map_err(|e| format!("pg_ctl start: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            let server_log = std::fs::read_to_string(&log).unwrap_or_default();
            Err(format!(
                "pg_ctl start: {}{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                server_log
            ))
        }
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.current_dir(&self.dir).stdin(Stdio::null());
        command
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.dir.join("data").join("postmaster.pid").exists() {
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args(["-D", &data, "-m", "immediate", "-w", "-t", "30", "stop"])
                .output();
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("could not remove {}: {error}", self.dir.display());
        }
    }
}

/// The folder of `initdb` and `pg_ctl`: `PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`, else `pg_config --bindir`.
fn server_binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    let from_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|dir| dir.join("initdb").exists());
    from_config.unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries (initdb, pg_ctl): install the server package or set PG_BIN"
        )
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("find a free port: {e}"))
}

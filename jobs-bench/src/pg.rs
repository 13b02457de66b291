//! PostgreSQL plumbing: a fresh schema per measurement, the cheap "anything left?"
//! queries, the history fill, and the machine's commit rate.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jobs::RunId;
use jobs_postgres::PgStorage;
use sqlx::{Connection, PgConnection};

use crate::Error;

/// The namespace every benchmark uses.
pub(crate) const NAMESPACE: &str = "bench";

/// SQL run on every fresh schema right after the migrations (`--pg-setup`), with `{s}`
/// standing for the quoted schema name: for experiments with the schema (drop an index,
/// change a storage parameter) without touching `jobs-postgres`.
pub(crate) static SETUP: OnceLock<String> = OnceLock::new();

/// `url` with `application_name=jobs-bench`, so the benchmark's backends can be told
/// apart in `pg_stat_activity` (and profiled).
pub(crate) fn tagged(url: &str) -> String {
    if url.contains("application_name=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&application_name=jobs-bench")
    } else {
        format!("{url}?application_name=jobs-bench")
    }
}

/// A fresh, migrated schema and a storage on it; [`Env::drop_schema`] removes it.
pub(crate) struct Env {
    pub(crate) url: String,
    pub(crate) schema: String,
    pub(crate) storage: PgStorage,
    /// A connection of its own, for the benchmark's queries (never the worker's pool).
    pub(crate) conn: PgConnection,
}

impl Env {
    pub(crate) async fn fresh(url: &str, tag: &str) -> Result<Env, Error> {
        let random = RunId::new().as_uuid().simple().to_string();
        let schema = format!("jb_{tag}_{}", &random[20..]);
        let storage = storage(url, &schema).await?;
        storage.migrate().await?;
        let mut conn = PgConnection::connect(&tagged(url)).await?;
        if let Some(setup) = SETUP.get() {
            let sql = setup.replace("{s}", &format!("\"{schema}\""));
            sqlx::raw_sql(&sql).execute(&mut conn).await?;
        }
        Ok(Env {
            url: url.to_owned(),
            schema,
            storage,
            conn,
        })
    }

    /// Drops the schema and everything in it, and closes the pool.
    pub(crate) async fn drop_schema(mut self) -> Result<(), Error> {
        self.storage.pool().close().await;
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ))
        .execute(&mut self.conn)
        .await?;
        self.conn.close().await?;
        Ok(())
    }

    /// `VACUUM (ANALYZE)` of both tables: fresh statistics for the planner (as autovacuum
    /// would give after a bulk insert), and no autovacuum of them during the measurement.
    pub(crate) async fn vacuum_analyze(&mut self) -> Result<(), Error> {
        let s = &self.schema;
        sqlx::query(&format!("VACUUM (ANALYZE) \"{s}\".runs, \"{s}\".attempts"))
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    /// Whether any run of the namespace is waiting (on the claimable partial index).
    pub(crate) async fn any_waiting(&mut self) -> Result<bool, Error> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM \"{}\".runs WHERE namespace = $1 AND status IN ('queued', 'retrying'))",
            self.schema
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(NAMESPACE)
            .fetch_one(&mut self.conn)
            .await?)
    }

    /// How many runs of the namespace are running (on the running partial index).
    pub(crate) async fn running(&mut self) -> Result<i64, Error> {
        let sql = format!(
            "SELECT count(*) FROM \"{}\".runs WHERE namespace = $1 AND status = 'running'",
            self.schema
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(NAMESPACE)
            .fetch_one(&mut self.conn)
            .await?)
    }

    /// Whether every run of the namespace has finished: none waiting, none running.
    pub(crate) async fn all_finished(&mut self) -> Result<bool, Error> {
        Ok(!self.any_waiting().await? && self.running().await? == 0)
    }

    /// Runs of the namespace that succeeded (after a measurement, to check it).
    pub(crate) async fn succeeded(&mut self) -> Result<i64, Error> {
        let sql = format!(
            "SELECT count(*) FROM \"{}\".runs WHERE namespace = $1 AND status = 'succeeded'",
            self.schema
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(NAMESPACE)
            .fetch_one(&mut self.conn)
            .await?)
    }

    /// Fills the tables with `count` succeeded runs of `task`, older than anything enqueued
    /// afterwards (ids are UUIDv7-shaped with timestamps in the past day). Every tenth
    /// failed once before: it succeeded at attempt 2 and has a failed attempt row. The
    /// succeeded attempts live on the runs' rows, as the storage keeps them.
    pub(crate) async fn insert_history(&mut self, count: usize, task: &str) -> Result<(), Error> {
        let s = &self.schema;
        let runs = format!(
            "INSERT INTO \"{s}\".runs (id, namespace, task, status, payload, attempt, max_attempts,
                                      priority, created_at, run_at, started_at, finished_at, worker)
             SELECT (lpad(to_hex(h.ms), 12, '0') || '7000' || '8' || lpad(to_hex(h.g), 15, '0'))::uuid,
                    $1, $2, 'succeeded', jsonb_build_object('n', h.g),
                    CASE WHEN h.g % 10 = 0 THEN 2 ELSE 1 END, 3, 0,
                    h.at, h.at, h.at, h.at + interval '1 millisecond', 'history'
             FROM (SELECT g, base.ms + g AS ms, to_timestamp((base.ms + g) / 1000.0) AS at
                   FROM (SELECT (extract(epoch FROM now()) * 1000)::int8 - 86400000 AS ms) AS base,
                        generate_series(1, $3::int8) AS g) AS h"
        );
        sqlx::query(&runs)
            .bind(NAMESPACE)
            .bind(task)
            .bind(i64::try_from(count).unwrap_or(i64::MAX))
            .execute(&mut self.conn)
            .await?;
        let failed = format!(
            "INSERT INTO \"{s}\".attempts (run_id, number, started_at, finished_at, outcome, error)
             SELECT id, 1, started_at - interval '1 second', started_at - interval '900 milliseconds',
                    'failed', 'history'
             FROM \"{s}\".runs
             WHERE namespace = $1 AND status = 'succeeded' AND attempt = 2"
        );
        sqlx::query(&failed)
            .bind(NAMESPACE)
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }
}

/// A storage on a pool of its own (the default size) in `schema`.
pub(crate) async fn storage(url: &str, schema: &str) -> Result<PgStorage, Error> {
    Ok(PgStorage::builder()
        .schema(schema)
        .connect(&tagged(url))
        .await?)
}

/// Single-row INSERTs, one transaction each, on `clients` connections for `secs`
/// seconds: commits per second (the machine's fsync-bound commit rate).
pub(crate) async fn commit_rate(env: &mut Env, clients: usize, secs: f64) -> Result<f64, Error> {
    let table = format!("\"{}\".commit_probe", env.schema);
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (id bigserial PRIMARY KEY, v int8 NOT NULL)"
    ))
    .execute(&mut env.conn)
    .await?;
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(PgConnection::connect(&tagged(&env.url)).await?);
    }
    let insert = format!("INSERT INTO {table} (v) VALUES ($1)");
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::with_capacity(clients);
    for mut conn in conns {
        let insert = insert.clone();
        tasks.push(tokio::spawn(async move {
            let mut n: i64 = 0;
            while Instant::now() < deadline {
                sqlx::query(&insert).bind(n).execute(&mut conn).await?;
                n += 1;
            }
            let done = Instant::now();
            conn.close().await?;
            Ok::<(i64, Instant), sqlx::Error>((n, done))
        }));
    }
    let mut total = 0;
    let mut end = start;
    for task in tasks {
        let (n, done) = task.await??;
        total += n;
        end = end.max(done);
    }
    Ok(total as f64 / end.duration_since(start).as_secs_f64().max(1e-9))
}

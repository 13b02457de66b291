//! Connections dropped under a running worker: every connection of the worker's storage is
//! terminated several times mid-run, and still every run ends succeeded, none lost.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod postgres_support;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jobs::{AttemptOutcome, Jobs, RunId};
use jobs_postgres::PgStorage;
use postgres_support::{SchemaGuard, database_url, schema_name};
use sqlx::Connection;

static EXECUTIONS: Mutex<Option<HashMap<RunId, u32>>> = Mutex::new(None);

#[jobs::task(retry(attempts = 5, backoff = "fixed", initial_delay = "100ms"))]
async fn survive_drops(ctx: jobs::Context, n: u32) {
    let _ = n;
    tokio::time::sleep(Duration::from_millis(2)).await;
    *EXECUTIONS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(ctx.run_id())
        .or_default() += 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_connections_dropped_mid_run() {
    let schema = schema_name("drop");
    let _guard = SchemaGuard(schema.clone());
    let app = format!("jobs_{schema}");
    let separator = if database_url().contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{}{separator}application_name={app}", database_url());
    let storage = PgStorage::builder()
        .schema(&schema)
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap();
    storage.migrate().await.unwrap();
    let jobs = Jobs::builder()
        .namespace("drop")
        .storage(storage.clone())
        .build()
        .unwrap();
    let total = 600;
    jobs.enqueue_many((0..total).map(|n| SurviveDrops { n }))
        .await
        .unwrap();
    let worker = jobs
        .worker()
        .concurrency(8)
        .lease(Duration::from_secs(3))
        .rescue_interval(Duration::from_millis(500))
        .poll_interval(Duration::from_millis(50))
        .start();

    // Kill every connection of the worker's storage (its pool and its listener), three
    // times, while it works.
    let mut admin = sqlx::PgConnection::connect(&database_url()).await.unwrap();
    let mut killed = 0i64;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let count: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&app)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        killed += count;
    }
    assert!(killed > 0, "the test killed no connection");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let count_sql = format!("SELECT count(*) FROM {schema}.runs WHERE status <> 'succeeded'");
    loop {
        let left: i64 = sqlx::query_scalar(&count_sql)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} runs not succeeded after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = worker.shutdown().await;
    let executions = EXECUTIONS.lock().unwrap().clone().unwrap_or_default();
    let twice = executions.values().filter(|n| **n > 1).count();
    println!(
        "killed {killed} connections; {} runs executed, {twice} more than once; {report:?}",
        executions.len()
    );
    assert_eq!(executions.len(), total as usize, "every run executed");
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(&format!("SELECT id FROM {schema}.runs"))
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert_eq!(ids.len(), total as usize);
    let mut lost = 0;
    for id in ids {
        let attempts = jobs.runs().attempts(&RunId::from_uuid(id)).await.unwrap();
        if attempts.last().map(|a| a.outcome) != Some(AttemptOutcome::Succeeded) {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "every run's last attempt is recorded as succeeded");
}

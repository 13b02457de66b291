//! Three worker processes (`jobs-test-worker`) share one PostgreSQL queue of 3,000 runs:
//! every run succeeds and is executed exactly once, and all three shut down cleanly.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod postgres_support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jobs::Storage;
use jobs::storage::NewRun;
use postgres_support::{SchemaGuard, database_url, schema_name, storage};

const RUNS: usize = 3000;
const PROCESSES: usize = 3;

/// Kills the children if the test fails half-way, so no process outlives it.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_execute_every_run_exactly_once() {
    let schema = schema_name("procs");
    let _guard = SchemaGuard(schema.clone());
    let storage = storage(&schema, None, 4).await;
    let pool = storage.pool().clone();
    sqlx::query(&format!(
        "CREATE TABLE {schema}.executions (run_id uuid NOT NULL, n bigint NOT NULL, pid bigint NOT NULL)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let runs: Vec<NewRun> = (0..RUNS)
        .map(|n| {
            NewRun::new(
                "processes",
                "record-execution",
                serde_json::json!({ "n": n }),
                5,
            )
        })
        .collect();
    let enqueued = storage.enqueue(runs).await.unwrap();
    assert_eq!(enqueued.len(), RUNS);

    let started = Instant::now();
    let mut workers = Workers(
        (0..PROCESSES)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_jobs-test-worker"))
                    .env("DATABASE_URL", database_url())
                    .args(["--schema", &schema, "--idle-secs", "30"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );

    let succeeded_sql = format!(
        "SELECT count(*) FROM {schema}.runs WHERE namespace = 'processes' AND status = 'succeeded'"
    );
    let deadline = started + Duration::from_secs(120);
    loop {
        let succeeded: i64 = sqlx::query_scalar(&succeeded_sql)
            .fetch_one(&pool)
            .await
            .unwrap();
        if succeeded == RUNS as i64 {
            break;
        }
        for child in &mut workers.0 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("a worker exited early with {status} after {succeeded} runs");
            }
        }
        assert!(
            Instant::now() < deadline,
            "only {succeeded} of {RUNS} runs succeeded within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{RUNS} runs on {PROCESSES} processes: {:?}",
        started.elapsed()
    );

    // Closing stdin asks each worker to shut down gracefully.
    for child in &mut workers.0 {
        drop(child.stdin.take());
    }
    let stop_deadline = Instant::now() + Duration::from_secs(30);
    for child in &mut workers.0 {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < stop_deadline,
                "a worker did not stop within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut report = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            stdout.read_to_string(&mut report).unwrap();
        }
        println!("{}", report.trim());
        assert!(status.success(), "worker exited with {status}: {report}");
        assert!(report.contains("handed_back=0"), "{report}");
        assert!(report.contains("unwritten=0"), "{report}");
    }

    let (rows, distinct): (i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*), count(DISTINCT run_id) FROM {schema}.executions"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (rows, distinct),
        (RUNS as i64, RUNS as i64),
        "each run executed exactly once"
    );
    let unexecuted: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {schema}.runs r
         WHERE NOT EXISTS (SELECT 1 FROM {schema}.executions e WHERE e.run_id = r.id)"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unexecuted, 0);
    let active: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {schema}.runs WHERE status <> 'succeeded' OR attempt <> 1"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(active, 0, "nothing left queued or running, nothing retried");
    let per_process: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT pid, count(*) FROM {schema}.executions GROUP BY pid ORDER BY pid"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    println!("executions per process: {per_process:?}");
    drop(workers);
}

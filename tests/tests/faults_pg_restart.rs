//! Fault: PostgreSQL restarts (`pg_ctl stop -m fast`, a pause, `pg_ctl start`) while three
//! worker processes work through 5,000 runs. The workers reconnect by themselves; every run
//! ends succeeded; none is lost or left `running`. Runs executed twice are counted and
//! reported: at-least-once allows them, but only for attempts in flight at the fault.
//!
//! The test starts its own throwaway cluster (`initdb` in a temporary folder, on a free
//! port), so stopping it never disturbs the tests running beside it on the shared database.
//!
//! An execution is a row in the side table, inserted by the handler as its last step; the
//! attempt succeeds only if that insert did, so a run that succeeded was executed at least
//! once, and a run with two rows was executed twice.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod fault_support;
mod postgres_support;

use std::time::{Duration, Instant};

use fault_support::{Cluster, Deadline, WorkerProcess, enqueue, try_scalar as try_count};

const RUNS: usize = 5000;
const PROCESSES: usize = 3;
const CONCURRENCY: usize = 8;
/// The database is stopped once this many runs have succeeded.
const STOP_AFTER: i64 = 1000;
const DOWN_FOR: Duration = Duration::from_millis(1500);
const SCHEMA: &str = "faults";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_survive_a_postgres_restart() {
    let started = Instant::now();
    let cluster = Cluster::start();
    let url = cluster.url();
    let (storage, pool) = cluster.storage(SCHEMA, 4).await;
    let payloads = (0..RUNS)
        .map(|n| serde_json::json!({ "n": n, "sleep_ms": 10 }))
        .collect();
    let ids = enqueue(&storage, payloads, 10).await;
    assert_eq!(ids.len(), RUNS);

    let mut workers: Vec<WorkerProcess> = (0..PROCESSES)
        .map(|i| {
            WorkerProcess::spawn(
                &format!("w{i}"),
                &url,
                SCHEMA,
                &format!(
                    "--concurrency {CONCURRENCY} --max-connections 6 --lease-ms 5000 \
                     --heartbeat-ms 1000 --rescue-ms 1000 --poll-ms 200 --shutdown-ms 10000"
                ),
            )
        })
        .collect();

    let succeeded_sql = format!("SELECT count(*) FROM {SCHEMA}.runs WHERE status = 'succeeded'");
    let running_sql = format!("SELECT count(*) FROM {SCHEMA}.runs WHERE status = 'running'");
    let deadline = Deadline::new(
        Duration::from_secs(60),
        format!("{STOP_AFTER} runs to succeed before the restart"),
    );
    while try_count(&pool, &succeeded_sql).await.unwrap_or(0) < STOP_AFTER {
        for worker in &mut workers {
            worker.assert_alive();
        }
        deadline.tick().await;
    }
    let before_stop = try_count(&pool, &succeeded_sql).await.unwrap_or(0);
    let in_flight = try_count(&pool, &running_sql).await.unwrap_or(0);
    let stopping = Instant::now();
    cluster.stop();
    let stopped_after = stopping.elapsed();
    tokio::time::sleep(DOWN_FOR).await;
    cluster.start_again();
    let down_for = stopping.elapsed();
    println!(
        "PostgreSQL stopped with {before_stop} runs succeeded and {in_flight} running \
         (stop took {stopped_after:?}); back after {down_for:?}"
    );

    let deadline = Deadline::new(
        Duration::from_secs(60),
        "every run to succeed after the restart",
    );
    let mut succeeded = 0;
    while succeeded < RUNS as i64 {
        for worker in &mut workers {
            worker.assert_alive();
        }
        deadline.tick().await;
        succeeded = try_count(&pool, &succeeded_sql).await.unwrap_or(succeeded);
    }
    let recovered_after = stopping.elapsed();
    // Their wakeups came back too: each worker's storage LISTENs again, on a connection
    // opened after the restart (every session of the server is).
    let listening_sql = "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN %'";
    let deadline = Deadline::new(
        Duration::from_secs(20),
        "every worker to LISTEN again after the restart",
    );
    let mut listening = 0;
    while listening < PROCESSES as i64 {
        deadline.tick().await;
        listening = try_count(&pool, listening_sql).await.unwrap_or(0);
    }
    let mut reports = Vec::new();
    for worker in &mut workers {
        reports.push(worker.stop(Duration::from_secs(30)).await);
    }

    let lost = try_count(
        &pool,
        &format!("SELECT count(*) FROM {SCHEMA}.runs WHERE status <> 'succeeded'"),
    )
    .await
    .unwrap();
    let stuck = try_count(&pool, &running_sql).await.unwrap();
    let (rows, executed): (i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*), count(DISTINCT run_id) FROM {SCHEMA}.executions"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    let twice: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM (SELECT run_id FROM {SCHEMA}.executions
                               GROUP BY run_id HAVING count(*) > 1) AS t"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    let unexecuted = try_count(
        &pool,
        &format!(
            "SELECT count(*) FROM {SCHEMA}.runs r WHERE NOT EXISTS
               (SELECT 1 FROM {SCHEMA}.executions e WHERE e.run_id = r.id)"
        ),
    )
    .await
    .unwrap();
    let retried = try_count(
        &pool,
        &format!("SELECT count(*) FROM {SCHEMA}.runs WHERE attempt > 1"),
    )
    .await
    .unwrap();
    let outcomes: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT outcome, count(*) FROM {SCHEMA}.attempts GROUP BY outcome ORDER BY outcome"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    println!(
        "PostgreSQL restart: {RUNS} runs on {PROCESSES} workers; completed {succeeded}, \
         executed {executed} ({rows} executions), executed twice {twice}, lost {lost}, \
         stuck running {stuck}; {listening} workers listening again; {retried} runs needed more than one attempt; attempts by \
         outcome {outcomes:?}; all done {recovered_after:?} after the stop, {:?} in all",
        started.elapsed()
    );
    println!("worker reports: {reports:?}");
    assert_eq!(stuck, 0, "no run stuck in running");
    assert_eq!(lost, 0, "no run lost: every run succeeded");
    assert_eq!(unexecuted, 0, "every run executed");
    assert_eq!(executed, RUNS as i64);
    // At-least-once: a second execution only for attempts in flight when the database went
    // away, which the workers' slots bound.
    assert!(
        twice <= (PROCESSES * CONCURRENCY) as i64,
        "{twice} runs executed twice, more than the {} attempts that can be in flight",
        PROCESSES * CONCURRENCY
    );
    for report in &reports {
        assert_eq!(report.unwritten, 0, "{report:?}");
        assert_eq!(report.handed_back, 0, "{report:?}");
    }
    drop(workers);
    drop(storage);
    drop(pool);
    drop(cluster);
}

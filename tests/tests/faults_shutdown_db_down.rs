//! Fault: a worker process gets SIGTERM while PostgreSQL is down (a deploy during a
//! database outage). It cannot hand its runs back, so what must hold is: it still stops
//! within (about) its shutdown deadline, its report does not claim hand-backs that did not
//! happen, and no run is lost: once the database is back, the runs it held are rescued
//! after their lease and a second worker finishes everything.
//!
//! This test found a bug: the hand-back was retried with no overall deadline (each try
//! waiting for the pool's acquire timeout), so a worker with a 1 s deadline took ~54 s to
//! stop, and it reported runs as handed back that were not. Shutdown now bounds the
//! writing phase and reports what it could not write as `unwritten`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod fault_support;
mod postgres_support;

use std::time::{Duration, Instant};

use fault_support::{Cluster, Deadline, WorkerProcess, enqueue, scalar as count};

const SCHEMA: &str = "faults";
const RUNS: i64 = 8;
const SHUTDOWN_MS: u64 = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_postgres_is_down() {
    let started = Instant::now();
    let cluster = Cluster::start();
    let url = cluster.url();
    let (storage, pool) = cluster.storage(SCHEMA, 2).await;
    // Every handler outlasts the shutdown deadline.
    let payloads = (0..RUNS)
        .map(|n| serde_json::json!({ "n": n, "sleep_ms": 4000 }))
        .collect();
    enqueue(&storage, payloads, 5).await;

    let mut first = WorkerProcess::spawn(
        "terminated",
        &url,
        SCHEMA,
        &format!(
            "--concurrency 4 --shutdown-ms {SHUTDOWN_MS} --lease-ms 3000 --heartbeat-ms 500 --poll-ms 100"
        ),
    );
    let running_sql = format!("SELECT count(*) FROM {SCHEMA}.runs WHERE status = 'running'");
    let deadline = Deadline::new(Duration::from_secs(30), "the worker to hold 4 runs");
    while count(&pool, &running_sql).await < 4 {
        first.assert_alive();
        deadline.tick().await;
    }
    cluster.stop();
    first.signal("TERM");
    let signalled = Instant::now();
    let exit = first.wait_exit(Duration::from_secs(75)).await;
    let exited_after = signalled.elapsed();
    println!("worker terminated: {}", exit.stdout.trim());
    cluster.start_again();

    let report = exit.report.unwrap_or_else(|| panic!("no report: {exit:?}"));
    let interrupted = count(
        &pool,
        &format!("SELECT count(*) FROM {SCHEMA}.attempts WHERE outcome = 'interrupted'"),
    )
    .await;
    let still_running = count(&pool, &running_sql).await;

    // Nothing lost: a second worker rescues the runs after their lease and finishes all.
    let mut second = WorkerProcess::spawn(
        "second",
        &url,
        SCHEMA,
        "--concurrency 8 --rescue-ms 250 --poll-ms 100",
    );
    let succeeded_sql = format!("SELECT count(*) FROM {SCHEMA}.runs WHERE status = 'succeeded'");
    let deadline = Deadline::new(Duration::from_secs(40), "every run to succeed");
    while count(&pool, &succeeded_sql).await < RUNS {
        second.assert_alive();
        deadline.tick().await;
    }
    second.stop(Duration::from_secs(20)).await;
    println!(
        "SIGTERM with PostgreSQL down: exited {} after {exited_after:?} (deadline {SHUTDOWN_MS} ms); \
         report {report:?}; interrupted attempts recorded {interrupted}; still running after \
         the restart {still_running}; all {RUNS} runs succeeded afterwards; {:?} in all",
        exit.status,
        started.elapsed()
    );

    let mut wrong = Vec::new();
    if !exit.status.success() {
        wrong.push(format!("exited with {}", exit.status));
    }
    if exited_after > Duration::from_millis(SHUTDOWN_MS + 5000) {
        wrong.push(format!(
            "took {exited_after:?} to stop, with a shutdown deadline of {SHUTDOWN_MS} ms"
        ));
    }
    if report.handed_back as i64 != interrupted {
        wrong.push(format!(
            "reported handed_back={} but {interrupted} runs were handed back \
             ({still_running} were still running when the database came back)",
            report.handed_back
        ));
    }
    if report.unwritten as i64 != still_running {
        wrong.push(format!(
            "reported unwritten={} but {still_running} runs it held were still running",
            report.unwritten
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("; "));
}

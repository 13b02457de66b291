//! Fault: a worker process under load gets SIGTERM. It stops claiming, lets the attempts it
//! holds finish up to its shutdown deadline (2 s), hands back the ones that cannot (their
//! handlers take 6 s), exits 0 within the deadline, and leaves no run `running`: the
//! handed-back runs are `queued` again, and a second worker then finishes them.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod fault_support;
mod postgres_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fault_support::{
    Deadline, NAMESPACE, WorkerProcess, enqueue, executions, scalar, shared_schema, worker_pattern,
};
use jobs::{AttemptOutcome, RunStatus, Storage};
use postgres_support::database_url;

/// Handler durations, repeated: three end well within the deadline, one never does.
const DURATIONS_MS: [u64; 4] = [150, 400, 900, 6000];
const LONG_MS: u64 = 6000;
const RUNS: usize = 32;
const SHUTDOWN_MS: u64 = 2000;
const MAX_ATTEMPTS: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_worker_finishes_or_hands_back_within_its_deadline() {
    let started = Instant::now();
    let (_guard, schema, storage, pool) = shared_schema("fterm").await;
    let payloads = (0..RUNS)
        .map(|n| serde_json::json!({ "n": n, "sleep_ms": DURATIONS_MS[n % DURATIONS_MS.len()] }))
        .collect();
    let ids = enqueue(&storage, payloads, MAX_ATTEMPTS).await;

    let mut first = WorkerProcess::spawn(
        "terminated",
        &database_url(),
        &schema,
        &format!("--concurrency 6 --shutdown-ms {SHUTDOWN_MS} --lease-ms 20000 --poll-ms 100"),
    );
    // Under load: a long attempt held, short ones done, more runs waiting.
    let long_running_sql = format!(
        "SELECT count(*) FROM {schema}.runs WHERE status = 'running' AND worker LIKE '{}'
           AND (payload->>'sleep_ms')::int8 = {LONG_MS}",
        worker_pattern(first.pid())
    );
    let succeeded_sql = format!("SELECT count(*) FROM {schema}.runs WHERE status = 'succeeded'");
    let deadline = Deadline::new(Duration::from_secs(30), "the first worker to be under load");
    while scalar(&pool, &long_running_sql).await < 1 || scalar(&pool, &succeeded_sql).await < 3 {
        first.assert_alive();
        deadline.tick().await;
    }
    first.signal("TERM");
    let signalled = Instant::now();
    let signalled_db: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let waiting_at_signal = scalar(
        &pool,
        &format!("SELECT count(*) FROM {schema}.runs WHERE status = 'queued' AND attempt = 0"),
    )
    .await;
    assert!(waiting_at_signal > 0, "runs were waiting at the signal");

    let exit = first.wait_exit(Duration::from_secs(15)).await;
    let exited_after = signalled.elapsed();
    println!("worker terminated: {}", exit.stdout.trim());
    assert!(
        exit.status.success(),
        "exits 0 after SIGTERM: {}\n{}{}",
        exit.status,
        exit.stdout,
        exit.stderr
    );
    let report = exit.report.unwrap_or_else(|| panic!("no report: {exit:?}"));
    assert!(exit.stdout.contains("(terminated)"), "{}", exit.stdout);
    // The deadline bounds the wait for handlers; handing back and the last writes are
    // one statement each.
    assert!(
        report.shutdown_ms < SHUTDOWN_MS + 1000,
        "shut down in {} ms, deadline {SHUTDOWN_MS} ms",
        report.shutdown_ms
    );
    assert!(
        exited_after < Duration::from_millis(SHUTDOWN_MS + 3000),
        "exited {exited_after:?} after SIGTERM"
    );
    assert!(
        report.handed_back >= 1,
        "a 6 s attempt was handed back: {report:?}"
    );
    assert_eq!(report.unwritten, 0, "{report:?}");

    // Nothing running, no attempt left open, nothing claimed after the signal.
    let count = |sql: String| {
        let pool = pool.clone();
        async move { scalar(&pool, &sql).await }
    };
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM {schema}.runs WHERE status = 'running'"
        ))
        .await,
        0,
        "no run stays running"
    );
    // Attempts that ended otherwise than in success are rows of `attempts`; the last
    // attempt of every run is also described by the run's own `started_at`.
    let late: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*)
         FROM (SELECT started_at FROM {schema}.runs
               UNION ALL SELECT started_at FROM {schema}.attempts) AS s
         WHERE s.started_at > $1 + interval '250 milliseconds'"
    ))
    .bind(signalled_db)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(late, 0, "no attempt started after the signal");
    let succeeded_first = count(succeeded_sql.clone()).await;
    assert_eq!(
        usize::try_from(succeeded_first).unwrap(),
        report.completed,
        "{report:?}"
    );
    let never_started = count(format!(
        "SELECT count(*) FROM {schema}.runs WHERE status = 'queued' AND attempt = 0"
    ))
    .await;
    assert!(
        never_started > 0,
        "it stopped claiming: runs left untouched"
    );

    // The handed-back runs: queued, attempt closed as interrupted and counted as a
    // hand-back, the budget untouched.
    let handed_back: Vec<(uuid::Uuid, String, i32, i32, i32, i32, i64)> = sqlx::query_as(&format!(
        "SELECT r.id, r.status, r.attempt, r.max_attempts, r.handbacks, r.failures,
                    (r.payload->>'sleep_ms')::int8
             FROM {schema}.runs r JOIN {schema}.attempts a ON a.run_id = r.id
             WHERE a.outcome = 'interrupted'"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(handed_back.len(), report.handed_back, "{handed_back:?}");
    for (id, status, attempt, max_attempts, handbacks, failures, sleep_ms) in &handed_back {
        assert_eq!(status, "queued", "run {id}");
        assert_eq!(*attempt, 1, "run {id}");
        assert_eq!(*max_attempts, MAX_ATTEMPTS as i32, "run {id}");
        assert_eq!((*handbacks, *failures), (1, 0), "run {id}");
        assert_eq!(*sleep_ms, LONG_MS as i64, "only attempts past the deadline");
    }
    let finished_by_first = report.completed;

    // A second worker finishes everything.
    let mut second = WorkerProcess::spawn(
        "second",
        &database_url(),
        &schema,
        "--concurrency 10 --poll-ms 100",
    );
    let deadline = Deadline::new(Duration::from_secs(45), "every run to succeed");
    while count(succeeded_sql.clone()).await < RUNS as i64 {
        second.assert_alive();
        deadline.tick().await;
    }
    let second_report = second.stop(Duration::from_secs(20)).await;
    assert_eq!(second_report.completed + finished_by_first, RUNS);

    let executed = executions(&pool, &schema).await;
    let mut per_run: HashMap<uuid::Uuid, usize> = HashMap::new();
    for execution in &executed {
        *per_run.entry(execution.run_id).or_default() += 1;
    }
    let handed: Vec<uuid::Uuid> = handed_back.iter().map(|h| h.0).collect();
    for id in &ids {
        let run = storage.get(NAMESPACE, *id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        // No handler reaches its end near the deadline (they end by 0.9 s or after 6 s),
        // so an aborted one never recorded anything: one execution per run.
        assert_eq!(per_run.get(&id.as_uuid()), Some(&1), "run {id}");
        let attempts = storage.attempts(NAMESPACE, *id).await.unwrap();
        if handed.contains(&id.as_uuid()) {
            let outcomes: Vec<AttemptOutcome> = attempts.iter().map(|a| a.outcome).collect();
            assert_eq!(
                outcomes,
                [AttemptOutcome::Interrupted, AttemptOutcome::Succeeded],
                "run {id}"
            );
            assert_eq!(run.attempt, 2);
        } else {
            assert_eq!(attempts.len(), 1, "run {id}: {attempts:?}");
        }
    }
    let twice = per_run.values().filter(|n| **n > 1).count();
    let lost = RUNS - per_run.len();
    println!(
        "SIGTERM: {RUNS} runs; exited 0 {exited_after:?} after the signal (shutdown {} ms, \
         deadline {SHUTDOWN_MS} ms): completed={} handed_back={} left waiting={never_started}; \
         second worker completed {}; executed twice {twice}, lost {lost}; {:?} in all",
        report.shutdown_ms,
        report.completed,
        report.handed_back,
        second_report.completed,
        started.elapsed()
    );
}

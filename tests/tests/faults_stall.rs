//! Fault: a worker process is paused (SIGSTOP) past its lease while it runs an attempt;
//! another worker rescues the run and starts a newer attempt; then the first is resumed
//! (SIGCONT) and reports its stale result while the newer attempt still runs. Fencing by
//! (run id, attempt number) rejects the stale result, which the stale worker's shutdown
//! report counts as `stale`, and the newer attempt's result stands.
//!
//! The two results differ on purpose: the stale attempt (1) ends in a *permanent* error,
//! which would dead-letter the run if it were applied; the newer attempt (2) succeeds.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod fault_support;
mod postgres_support;

use std::time::{Duration, Instant};

use fault_support::{
    Deadline, NAMESPACE, WorkerProcess, enqueue, executions, scalar, shared_schema, worker_pattern,
};
use jobs::{AttemptOutcome, RunStatus, Storage};
use postgres_support::database_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_workers_late_result_is_fenced_out() {
    let started = Instant::now();
    let (_guard, schema, storage, pool) = shared_schema("fstall").await;
    // Attempt 1 fails permanently, any later attempt succeeds; each sleeps 2.5 s.
    let payload = serde_json::json!({ "n": 0, "sleep_ms": 2500, "fail_attempt": 1 });
    let id = enqueue(&storage, vec![payload], 5).await[0];

    let mut stalled = WorkerProcess::spawn(
        "stalled",
        &database_url(),
        &schema,
        "--concurrency 1 --lease-ms 2000 --heartbeat-ms 500 --rescue-ms 60000 --poll-ms 100",
    );
    // Whether worker `pid` runs attempt `attempt` of the run.
    let holding = |pid: u32, attempt: u32| {
        format!(
            "SELECT count(*) FROM {schema}.runs
             WHERE status = 'running' AND worker LIKE '{}' AND attempt = {attempt}",
            worker_pattern(pid)
        )
    };
    let first_sql = holding(stalled.pid(), 1);
    let deadline = Deadline::new(Duration::from_secs(30), "the first worker to claim the run");
    while scalar(&pool, &first_sql).await < 1 {
        stalled.assert_alive();
        deadline.tick().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stalled.signal("STOP");
    let stopped_at = started.elapsed();

    // The second worker rescues every 200 ms and keeps a long lease of its own.
    let mut rescuer = WorkerProcess::spawn(
        "rescuer",
        &database_url(),
        &schema,
        "--concurrency 1 --lease-ms 20000 --rescue-ms 200 --poll-ms 100",
    );
    let second_sql = holding(rescuer.pid(), 2);
    let deadline = Deadline::new(
        Duration::from_secs(30),
        "the second worker to take the run as attempt 2",
    );
    while scalar(&pool, &second_sql).await < 1 {
        rescuer.assert_alive();
        deadline.tick().await;
    }
    let taken_at = started.elapsed();

    // Resume the first worker while attempt 2 runs (for 2.5 s): its handler, 2 s or more
    // into its own 2.5 s sleep, soon ends, records its execution and reports its result
    // (its heartbeat meanwhile learns the lease is gone; the handler ignores that).
    stalled.signal("CONT");
    let stale_sql = format!("SELECT count(*) FROM {schema}.executions WHERE attempt = 1");
    let deadline = Deadline::new(
        Duration::from_secs(20),
        "the resumed worker to finish its stale attempt",
    );
    while scalar(&pool, &stale_sql).await < 1 {
        stalled.assert_alive();
        deadline.tick().await;
    }
    // Its shutdown writes every pending result before it reports.
    let stale_report = stalled.stop(Duration::from_secs(20)).await;

    let done_sql = format!(
        "SELECT count(*) FROM {schema}.runs WHERE status NOT IN ('queued', 'running', 'retrying')"
    );
    let deadline = Deadline::new(Duration::from_secs(30), "the run to finish");
    while scalar(&pool, &done_sql).await < 1 {
        rescuer.assert_alive();
        deadline.tick().await;
    }
    let newer_report = rescuer.stop(Duration::from_secs(20)).await;

    assert_eq!(
        stale_report.stale, 1,
        "the stale result was refused: {stale_report:?}"
    );
    assert_eq!(stale_report.completed, 0, "{stale_report:?}");
    assert_eq!(newer_report.completed, 1, "{newer_report:?}");
    assert_eq!(newer_report.stale, 0, "{newer_report:?}");

    let run = storage.get(NAMESPACE, id).await.unwrap().unwrap();
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "the newer attempt's result stands: {run:?}"
    );
    assert_eq!(run.attempt, 2, "{run:?}");
    assert!(
        !run.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("on purpose"),
        "the stale error was not recorded: {run:?}"
    );
    let attempts = storage.attempts(NAMESPACE, id).await.unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(
        attempts[0].outcome,
        AttemptOutcome::LeaseExpired,
        "{attempts:?}"
    );
    assert_eq!(
        attempts[1].outcome,
        AttemptOutcome::Succeeded,
        "{attempts:?}"
    );
    assert!(
        attempts.iter().all(|a| !a
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("on purpose")),
        "{attempts:?}"
    );

    // Both handlers ran to their end; the stale one's while attempt 2 was still running.
    let executed = executions(&pool, &schema).await;
    assert_eq!(executed.len(), 2, "{executed:?}");
    let (stale, newer) = (&executed[0], &executed[1]);
    assert_eq!(
        (stale.attempt, stale.pid, stale.outcome.as_str()),
        (1, i64::from(stalled.pid()), "failed"),
        "{executed:?}"
    );
    assert_eq!(
        (newer.attempt, newer.pid, newer.outcome.as_str()),
        (2, i64::from(rescuer.pid()), "succeeded"),
        "{executed:?}"
    );
    let second_finished = attempts[1].finished_at.unwrap();
    assert!(
        stale.at > attempts[1].started_at && stale.at < second_finished,
        "the stale attempt ended while the newer one ran ({} .. {second_finished}): {executed:?}",
        attempts[1].started_at
    );
    println!(
        "SIGSTOP: 1 run; paused at {stopped_at:?}, taken over as attempt 2 at {taken_at:?}; \
         stale result (attempt 1, permanent error) refused, attempt 2 succeeded; \
         stale={} completed={}; {:?} in all",
        stale_report.stale,
        newer_report.completed,
        started.elapsed()
    );
}

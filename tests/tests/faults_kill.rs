//! Fault: a worker process is killed (SIGKILL) in the middle of its attempts. Every run it
//! held is attempted again once its lease has expired, by another worker; its history shows
//! the lost attempt (`lease_expired`), its attempt count includes it, and no run is lost.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod fault_support;
mod postgres_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fault_support::{
    Deadline, NAMESPACE, WorkerProcess, enqueue, executions, scalar, shared_schema, worker_pattern,
};
use jobs::{AttemptOutcome, RunId, RunStatus, Storage};
use postgres_support::database_url;

/// Runs enqueued; the killed worker holds `HELD` of them.
const RUNS: usize = 8;
const HELD: usize = 4;
/// Each attempt sleeps this long, so the kill lands mid-attempt.
const SLEEP_MS: u64 = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_runs_are_attempted_again_after_their_lease() {
    let started = Instant::now();
    let (_guard, schema, storage, pool) = shared_schema("fkill").await;
    let payloads = (0..RUNS)
        .map(|n| serde_json::json!({ "n": n, "sleep_ms": SLEEP_MS }))
        .collect();
    let ids = enqueue(&storage, payloads, 5).await;

    // The victim: a 2 s lease renewed every 0.5 s, so only its death lets the lease lapse.
    let mut victim = WorkerProcess::spawn(
        "victim",
        &database_url(),
        &schema,
        &format!(
            "--concurrency {HELD} --lease-ms 2000 --heartbeat-ms 500 --rescue-ms 60000 --poll-ms 100"
        ),
    );
    let running_sql = format!(
        "SELECT count(*) FROM {schema}.runs WHERE status = 'running' AND worker LIKE '{}'",
        worker_pattern(victim.pid())
    );
    let deadline = Deadline::new(Duration::from_secs(30), "the victim to hold 4 runs");
    while scalar(&pool, &running_sql).await < HELD as i64 {
        victim.assert_alive();
        deadline.tick().await;
    }
    // Mid-attempt: past a heartbeat or two, well before the 2 s handlers end.
    tokio::time::sleep(Duration::from_millis(700)).await;
    victim.signal("KILL");
    let killed = victim.wait_exit(Duration::from_secs(10)).await;
    assert!(!killed.status.success(), "SIGKILL: {}", killed.status);
    assert!(killed.report.is_none(), "a killed worker reports nothing");
    // A statement the victim sent just before dying may still be finishing on the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held: Vec<(uuid::Uuid, DateTime<Utc>)> = sqlx::query_as(&format!(
        "SELECT id, lease_until FROM {schema}.runs WHERE status = 'running' AND worker LIKE '{}'",
        worker_pattern(victim.pid())
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(held.len(), HELD, "the victim died holding its runs");
    let held: HashMap<RunId, DateTime<Utc>> = held
        .into_iter()
        .map(|(id, until)| (RunId::from_uuid(id), until))
        .collect();
    let killed_at = started.elapsed();

    // The survivor rescues often; its own lease is long, so only the victim's runs lapse.
    let mut survivor = WorkerProcess::spawn(
        "survivor",
        &database_url(),
        &schema,
        "--concurrency 8 --lease-ms 20000 --rescue-ms 250 --poll-ms 100",
    );
    let done_sql = format!("SELECT count(*) FROM {schema}.runs WHERE status = 'succeeded'");
    let deadline = Deadline::new(Duration::from_secs(40), "every run to succeed");
    while scalar(&pool, &done_sql).await < RUNS as i64 {
        survivor.assert_alive();
        deadline.tick().await;
    }
    let report = survivor.stop(Duration::from_secs(20)).await;
    assert_eq!(report.completed, RUNS, "{report:?}");
    assert_eq!((report.stale, report.handed_back), (0, 0), "{report:?}");

    let executed = executions(&pool, &schema).await;
    for id in &ids {
        let run = storage.get(NAMESPACE, *id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        let attempts = storage.attempts(NAMESPACE, *id).await.unwrap();
        let mine: Vec<_> = executed
            .iter()
            .filter(|e| e.run_id == id.as_uuid())
            .collect();
        assert_eq!(mine.len(), 1, "run {id} executed once to its end: {mine:?}");
        assert_eq!(i64::from(survivor.pid()), mine[0].pid, "by the survivor");
        if let Some(lease_until) = held.get(id) {
            assert_eq!(run.attempt, 2, "the lost attempt counts: {run:?}");
            assert_eq!(attempts.len(), 2, "{attempts:?}");
            assert_eq!(attempts[0].outcome, AttemptOutcome::LeaseExpired);
            assert!(
                attempts[0]
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("lease expired")),
                "{attempts:?}"
            );
            assert!(
                attempts[0].finished_at.is_some_and(|at| at >= *lease_until),
                "rescued only once its lease ran out ({lease_until}): {attempts:?}"
            );
            assert!(
                attempts[1].started_at >= *lease_until,
                "attempted again only after the lease ({lease_until}): {attempts:?}"
            );
            assert_eq!(attempts[1].outcome, AttemptOutcome::Succeeded);
            assert_eq!(mine[0].attempt, 2);
        } else {
            assert_eq!(run.attempt, 1, "{run:?}");
            assert_eq!(attempts.len(), 1, "{attempts:?}");
            assert_eq!(attempts[0].outcome, AttemptOutcome::Succeeded);
        }
    }
    let lost = scalar(
        &pool,
        &format!("SELECT count(*) FROM {schema}.runs WHERE status <> 'succeeded'"),
    )
    .await;
    let twice = executed.len().saturating_sub(ids.len());
    println!(
        "SIGKILL: {RUNS} runs, victim killed holding {HELD} at {killed_at:?}; \
         {} executions, {HELD} attempted again after their lease, {twice} executed twice, \
         {lost} lost; {:?} in all",
        executed.len(),
        started.elapsed()
    );
}

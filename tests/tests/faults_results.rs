//! Fault: a storage that cannot record results for a minute. The worker must not wedge:
//! after a bounded time it stops renewing the leases of the results it cannot write (they
//! lapse and the runs are rescued and run again), reports it, and keeps claiming and
//! running other work; once the storage records again, every run succeeds.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs::testing::{Call, FaultyStorage};
use jobs::{AttemptOutcome, Context, Jobs, ListRuns, MemoryStorage, RunId, RunStatus};
use tokio::time::Instant;

/// How many times each run's handler ran.
static EXECUTIONS: Mutex<Option<HashMap<RunId, usize>>> = Mutex::new(None);

#[jobs::task(retry(attempts = 50, backoff = "fixed", initial_delay = "100ms"))]
async fn record_result(ctx: Context, n: u32) {
    let _ = n;
    *EXECUTIONS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(ctx.run_id())
        .or_default() += 1;
}

fn executions(id: RunId) -> usize {
    EXECUTIONS
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|all| all.get(&id).copied())
        .unwrap_or(0)
}

async fn enqueue(jobs: &Jobs, count: u32) -> Vec<RunId> {
    let payloads = (0..count).map(|n| RecordResult { n });
    let enqueued = jobs.enqueue_many(payloads).await.unwrap();
    enqueued.iter().map(|e| e.id()).collect()
}

/// Waits until every run of `ids` has `status`, by `deadline`.
async fn wait_all(jobs: &Jobs, ids: &[RunId], status: RunStatus, deadline: Instant, what: &str) {
    loop {
        let mut pending = Vec::new();
        for id in ids {
            let run = jobs.runs().get(id).await.unwrap().unwrap();
            if run.status != status {
                pending.push((run.id, run.status));
            }
        }
        if pending.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {pending:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_that_cannot_be_written_for_a_minute_do_not_wedge_the_worker() {
    const OUTAGE: Duration = Duration::from_secs(60);
    const LEASE: Duration = Duration::from_secs(1);
    let storage = Arc::new(FaultyStorage::new(MemoryStorage::new()));
    let jobs = Jobs::builder()
        .namespace("unwritable")
        .shared_storage(storage.clone())
        .build()
        .unwrap();
    let began = Instant::now();
    storage.fail(Call::Finish, OUTAGE);
    let worker = jobs
        .worker()
        .concurrency(4)
        .lease(LEASE)
        .rescue_interval(Duration::from_millis(200))
        .poll_interval(Duration::from_millis(50))
        .start();
    let before = enqueue(&jobs, 10).await;

    // Half-way through the outage, runs enqueued now still get run: the worker has not
    // stopped claiming behind the results it cannot write.
    tokio::time::sleep(OUTAGE / 2).await;
    let during = enqueue(&jobs, 3).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while during.iter().any(|id| executions(*id) == 0) {
        assert!(
            Instant::now() < deadline,
            "runs enqueued during the outage were not run during it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        began.elapsed() < OUTAGE,
        "the check ran into the end of the outage"
    );

    // Once results can be written again, everything succeeds within a lease and a margin.
    let all: Vec<RunId> = before.iter().chain(&during).copied().collect();
    let settled = began + OUTAGE + LEASE + Duration::from_secs(10);
    wait_all(
        &jobs,
        &all,
        RunStatus::Succeeded,
        settled,
        "after the outage",
    )
    .await;
    let after = enqueue(&jobs, 3).await;
    let quick = Instant::now() + Duration::from_secs(5);
    wait_all(&jobs, &after, RunStatus::Succeeded, quick, "enqueued after").await;

    let report = worker.shutdown().await;
    assert_eq!(report.unwritten, 0, "{report:?}");
    let running = jobs
        .runs()
        .list(ListRuns::new().status(RunStatus::Running))
        .await
        .unwrap();
    assert!(running.runs.is_empty(), "nothing is stuck running");
    // The leases of unwritable results were let go: those runs were rescued and ran again.
    let mut lapsed = 0;
    for id in &all {
        let attempts = jobs.runs().attempts(id).await.unwrap();
        lapsed += attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::LeaseExpired)
            .count();
        assert!(executions(*id) >= 1);
    }
    assert!(lapsed > 0, "no lease was let go");
    assert!(storage.calls(Call::Finish) > 1);
}

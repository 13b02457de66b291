//! A real worker over the storage while calls fail ([`FaultyStorage`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::ok;
use crate::storage::Storage;
use crate::testing::tasks::{NoteExecution, seen};
use crate::testing::{Call, FaultyStorage, Harness};
use crate::{AttemptOutcome, Jobs, ListRuns, ManualClock, RunId, RunStatus};

/// A worker whose results the storage refuses (here for 2 s, with a 300 ms lease) does not
/// wedge: it gives those results up after one lease length and stops renewing their
/// leases, so the leases lapse and the runs are rescued and run again; it keeps claiming
/// other work meanwhile (runs enqueued during the outage run during it); once results are
/// written again, every run succeeds within the outage, a lease and a margin, nothing
/// stays `running`, and the worker shuts down with nothing unwritten.
pub async fn refused_results_are_given_up_after_a_lease_and_run_again(h: Harness) {
    const OUTAGE: Duration = Duration::from_secs(2);
    const LEASE: Duration = Duration::from_millis(300);
    let token = format!("refused-{}", RunId::new());
    let faulty = Arc::new(FaultyStorage::shared(h.storage.clone()));
    let shared: Arc<dyn Storage> = faulty.clone();
    let jobs = match Jobs::builder()
        .name("conformance")
        .namespace("conformance")
        .shared_storage(shared)
        .build()
    {
        Ok(jobs) => jobs,
        Err(error) => panic!("could not build Jobs over the faulty storage: {error}"),
    };
    // Leases lapse by the storage's clock: keep it in step with real time.
    let _ticking = Ticking::start(h.clock.clone());

    let began = Instant::now();
    faulty.fail(Call::Finish, OUTAGE);
    let worker = jobs
        .worker()
        .concurrency(4)
        .lease(LEASE)
        .rescue_interval(Duration::from_millis(50))
        .poll_interval(Duration::from_millis(20))
        .start();
    // More runs than the worker may hold (running and unwritten) at once.
    let before = enqueue(&jobs, &token, 10).await;

    // A quarter into the outage, runs enqueued now still get run before it ends: the
    // worker has not stopped claiming behind the results it cannot write.
    tokio::time::sleep_until(began + OUTAGE / 4).await;
    let during = enqueue(&jobs, &token, 3).await;
    loop {
        let notes = seen(&token);
        let waiting: Vec<&RunId> = during
            .iter()
            .filter(|id| !notes.contains(&id.to_string()))
            .collect();
        if waiting.is_empty() {
            break;
        }
        assert!(
            Instant::now() < began + OUTAGE,
            "runs enqueued during the outage were not run during it: {waiting:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Once results can be written again, everything succeeds within a lease and a margin.
    let all: Vec<RunId> = before.iter().chain(&during).copied().collect();
    let settled = began + OUTAGE + LEASE + Duration::from_millis(1500);
    wait_all(
        &jobs,
        &all,
        RunStatus::Succeeded,
        settled,
        "after the outage",
    )
    .await;
    let after = enqueue(&jobs, &token, 3).await;
    let quick = Instant::now() + Duration::from_secs(1);
    wait_all(&jobs, &after, RunStatus::Succeeded, quick, "enqueued after").await;

    let report = worker.shutdown().await;
    assert_eq!(report.unwritten, 0, "{report:?}");
    let running = ok(
        "list",
        jobs.runs()
            .list(ListRuns::new().status(RunStatus::Running))
            .await,
    );
    assert!(running.runs.is_empty(), "nothing is stuck running");
    // The leases of unwritable results were let go: those runs were rescued and ran again.
    let notes = seen(&token);
    let mut lapsed = 0;
    for id in &all {
        let attempts = ok("attempts", jobs.runs().attempts(id).await);
        lapsed += attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::LeaseExpired)
            .count();
        assert!(notes.contains(&id.to_string()), "run {id} never ran");
    }
    assert!(lapsed > 0, "no lease was let go");
    assert!(faulty.calls(Call::Finish) > 1);
}

async fn enqueue(jobs: &Jobs, token: &str, count: usize) -> Vec<RunId> {
    let payloads = (0..count).map(|_| NoteExecution {
        token: token.to_owned(),
    });
    ok("enqueue_many", jobs.enqueue_many(payloads).await)
        .iter()
        .map(|e| e.id())
        .collect()
}

/// Waits until every run of `ids` has `status`, by `deadline`.
async fn wait_all(jobs: &Jobs, ids: &[RunId], status: RunStatus, deadline: Instant, what: &str) {
    loop {
        let mut pending = Vec::new();
        for id in ids {
            match ok("get", jobs.runs().get(id).await) {
                Some(run) if run.status == status => {}
                Some(run) => pending.push((run.id, run.status)),
                None => panic!("{what}: run {id} is gone"),
            }
        }
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not yet {status}: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Moves a manual clock forward in step with real time, every 20 ms, until dropped.
struct Ticking(tokio::task::JoinHandle<()>);

impl Ticking {
    fn start(clock: ManualClock) -> Ticking {
        Ticking(tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let now = Instant::now();
                clock.advance(now - last);
                last = now;
            }
        }))
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.abort();
    }
}

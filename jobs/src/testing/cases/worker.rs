//! A real worker over the storage: wakeups, concurrency, shutdown, follow-ups.

use std::time::Duration;

use super::cancel_replay::wait_until;
use super::ok;
use crate::ListRuns;
use crate::testing::Harness;
use crate::testing::tasks::{FollowUp, Sleep, StopWhenTold, Succeed, WaitForCancel, seen};
use crate::{AttemptOutcome, RunStatus};

/// A worker runs everything enqueued (woken by the storage, not by polling: the poll
/// interval is an hour) and shuts down with nothing left running.
pub async fn worker_processes_runs_and_shuts_down_cleanly(h: Harness) {
    let worker = h
        .jobs
        .worker()
        .concurrency(4)
        .poll_interval(Duration::from_secs(3600))
        .start();
    let token = format!("worker-{}", crate::RunId::new());
    let payloads: Vec<Succeed> = (0..40)
        .map(|_| Succeed {
            token: token.clone(),
        })
        .collect();
    let ids: Vec<_> = ok("enqueue_many", h.jobs.enqueue_many(payloads).await)
        .iter()
        .map(|e| e.id())
        .collect();
    for id in &ids {
        h.wait_for(*id, RunStatus::Succeeded).await;
    }
    let report = worker.shutdown().await;
    assert_eq!(report.completed, 40);
    assert_eq!((report.handed_back, report.unwritten), (0, 0));
    assert_eq!(seen(&token).len(), 40, "each run executed exactly once");
}

/// Shutdown waits up to its deadline, then hands unfinished runs back to the queue.
pub async fn worker_shutdown_hands_back_unfinished_runs(h: Harness) {
    let token = format!("shutdown-{}", crate::RunId::new());
    let quick = ok(
        "enqueue",
        h.jobs
            .enqueue(Sleep {
                token: format!("{token}-quick"),
                millis: 10,
            })
            .await,
    )
    .id();
    let slow = ok(
        "enqueue",
        h.jobs
            .enqueue(Sleep {
                token: token.clone(),
                millis: 60_000,
            })
            .await,
    )
    .id();
    let worker = h
        .jobs
        .worker()
        .concurrency(2)
        .poll_interval(Duration::from_millis(10))
        .shutdown_timeout(Duration::from_millis(300))
        .start();
    wait_until(|| seen(&token).contains(&"started".to_owned())).await;
    h.wait_for(quick, RunStatus::Succeeded).await;
    let report = worker.shutdown().await;
    assert_eq!(report.handed_back, 1);
    let run = h.run(slow).await;
    assert_eq!(
        run.status,
        RunStatus::Queued,
        "handed back, ready for another worker"
    );
    assert!(!seen(&token).contains(&"finished".to_owned()));
    let attempts = ok("attempts", h.jobs.runs().attempts(&slow).await);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Interrupted);
    let running = ok(
        "list",
        h.jobs
            .runs()
            .list(ListRuns::new().status(RunStatus::Running))
            .await,
    );
    assert!(running.runs.is_empty(), "nothing is left running");
}

/// A handler enqueues a follow-up through its `Context`; it runs too.
pub async fn context_enqueues_follow_up_runs(h: Harness) {
    let token = format!("follow-{}", crate::RunId::new());
    ok(
        "enqueue",
        h.jobs
            .enqueue(FollowUp {
                token: token.clone(),
            })
            .await,
    );
    let report = ok("drain", h.jobs.drain().await);
    assert_eq!(report.succeeded, 2);
    let notes = seen(&token);
    assert_eq!(notes.len(), 2, "{notes:?}");
    let follow_up: crate::RunId = match notes[0].parse() {
        Ok(id) => id,
        Err(error) => panic!("the follow-up id should parse: {error}"),
    };
    assert_eq!(h.run(follow_up).await.status, RunStatus::Succeeded);
}

/// Shutdown first tells every attempt in flight (its `Context` is cancelled), then waits
/// for them up to its deadline, and only then aborts what is left. A handler that
/// finishes when told succeeds; one that stops early with an error is handed back,
/// using none of its budget.
pub async fn shutdown_tells_attempts_before_handing_them_back(h: Harness) {
    let token = format!("told-{}", crate::RunId::new());
    let (finishing, stopping) = (format!("{token}-finishing"), format!("{token}-stopping"));
    let finishes = ok(
        "enqueue",
        h.jobs
            .enqueue(WaitForCancel {
                token: finishing.clone(),
            })
            .await,
    )
    .id();
    let stops = ok(
        "enqueue",
        h.jobs
            .enqueue(StopWhenTold {
                token: stopping.clone(),
            })
            .await,
    )
    .id();
    let worker = h
        .jobs
        .worker()
        .concurrency(2)
        .poll_interval(Duration::from_millis(10))
        .shutdown_timeout(Duration::from_secs(5))
        .start();
    wait_until(|| {
        seen(&finishing).contains(&"started".to_owned())
            && seen(&stopping).contains(&"started".to_owned())
    })
    .await;
    let report = worker.shutdown().await;
    let told = ["started", "cancelled: Some(Shutdown)"];
    assert_eq!(seen(&finishing), told, "told, with the reason");
    assert_eq!(seen(&stopping), told);
    assert_eq!((report.completed, report.handed_back), (1, 1), "{report:?}");
    assert_eq!(h.run(finishes).await.status, RunStatus::Succeeded);
    let run = h.run(stops).await;
    assert_eq!(run.status, RunStatus::Queued, "handed back");
    assert_eq!((run.failures, run.handbacks), (0, 1));
    let attempts = ok("attempts", h.jobs.runs().attempts(&stops).await);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Interrupted);
}

/// `Jobs::drain` holds a lease only on the run it is running, keeps that lease alive
/// while the attempt takes its time, and hands the run back when its future is dropped:
/// nothing is left `running` with no one working on it.
pub async fn drain_holds_only_what_it_runs_and_is_safe_to_drop(h: Harness) {
    let token = format!("drain-{}", crate::RunId::new());
    let mut ids = Vec::new();
    for _ in 0..3 {
        let slow = Sleep {
            token: token.clone(),
            millis: 60_000,
        };
        ids.push(ok("enqueue", h.jobs.enqueue(slow).await).id());
    }
    let jobs = h.jobs.clone();
    let draining = tokio::spawn(async move { jobs.drain().await });
    wait_until(|| seen(&token).contains(&"started".to_owned())).await;
    let running = ok(
        "list",
        h.jobs
            .runs()
            .list(ListRuns::new().status(RunStatus::Running))
            .await,
    )
    .runs;
    assert_eq!(running.len(), 1, "only the run in progress is claimed");
    let busy = running[0].id;

    // A long attempt: its lease (30 s) is renewed while it runs.
    h.clock.advance(Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.clock.advance(Duration::from_secs(20));
    assert!(
        ok("rescue", h.storage.rescue_expired("conformance").await).is_empty(),
        "the lease of the attempt in progress was renewed"
    );

    // Dropped mid-attempt: the run is handed back.
    draining.abort();
    let _ = draining.await;
    let run = h.wait_for(busy, RunStatus::Queued).await;
    assert_eq!((run.failures, run.handbacks), (0, 1));
    let attempts = ok("attempts", h.jobs.runs().attempts(&busy).await);
    assert_eq!(
        attempts.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [AttemptOutcome::Interrupted]
    );
    for id in ids {
        assert_ne!(h.run(id).await.status, RunStatus::Running);
    }
}

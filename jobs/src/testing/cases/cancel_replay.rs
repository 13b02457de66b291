//! Cancelling and replaying runs.

use std::time::Duration;

use super::{claim, ok};
use crate::Error;
use crate::Task;
use crate::storage::{AttemptResult, Lease, Outcome};
use crate::testing::Harness;
use crate::testing::tasks::{FailPermanently, Succeed, WaitForCancel, seen};
use crate::{AttemptOutcome, RunId, RunStatus};

/// A cancelled run that was waiting (queued, scheduled or retrying) never runs.
pub async fn cancel_queued_run_never_runs(h: Harness) {
    let queued = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "cq".into() }).await,
    )
    .id();
    let scheduled = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed { token: "cs".into() })
            .delay(Duration::from_secs(60))
            .await,
    )
    .id();
    for id in [queued, scheduled] {
        let run = ok("cancel", h.jobs.runs().cancel(&id).await);
        assert_eq!(run.status, RunStatus::Cancelled);
        assert!(run.finished_at.is_some());
    }
    h.clock.advance(Duration::from_secs(120));
    assert_eq!(ok("drain", h.jobs.drain().await).attempts(), 0);
    assert!(seen("cq").is_empty() && seen("cs").is_empty());
    assert_eq!(h.run(queued).await.status, RunStatus::Cancelled);
    assert!(ok("attempts", h.jobs.runs().attempts(&queued).await).is_empty());
}

/// Cancelling a running run: it is cancelled at once, its `Context` sees it, and the
/// worker's late result is discarded.
pub async fn cancel_running_run_signals_context_and_discards_result(h: Harness) {
    let token = format!("cancel-running-{}", RunId::new());
    let worker = h
        .jobs
        .worker()
        .poll_interval(Duration::from_millis(10))
        .heartbeat_interval(Duration::from_millis(10))
        .start();
    let id = ok(
        "enqueue",
        h.jobs
            .enqueue(WaitForCancel {
                token: token.clone(),
            })
            .await,
    )
    .id();
    h.wait_for(id, RunStatus::Running).await;
    wait_until(|| seen(&token).contains(&"started".to_owned())).await;

    let run = ok("cancel", h.jobs.runs().cancel(&id).await);
    assert_eq!(run.status, RunStatus::Cancelled);
    // Told by the storage's event, or (if its heartbeat came first) by its lease.
    wait_until(|| {
        let seen = seen(&token);
        seen.contains(&"cancelled: Some(Cancelled)".to_owned())
            || seen.contains(&"cancelled: Some(LeaseLost)".to_owned())
    })
    .await;
    let report = worker.shutdown().await;
    assert_eq!(report.handed_back, 0);

    // The handler returned Ok after seeing the cancellation; that result was discarded.
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    let attempts = ok("attempts", h.jobs.runs().attempts(&id).await);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Cancelled);
    assert!(attempts[0].finished_at.is_some());
}

/// A finished run cannot be cancelled; the error says why and nothing changes.
pub async fn cancel_finished_run_is_an_error(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "cf".into() }).await,
    )
    .id();
    ok("drain", h.jobs.drain().await);
    let before = h.run(id).await;
    match h.jobs.runs().cancel(&id).await {
        Err(Error::NotCancellable { id: got, status }) => {
            assert_eq!((got, status), (id, RunStatus::Succeeded));
        }
        other => panic!("expected NotCancellable, got {other:?}"),
    }
    assert_eq!(h.run(id).await, before);
}

/// Cancelling an id that is not stored is a not-found error.
pub async fn cancel_unknown_run_is_not_found(h: Harness) {
    let id = RunId::new();
    assert!(matches!(
        h.jobs.runs().cancel(&id).await,
        Err(Error::RunNotFound { .. })
    ));
}

/// Replay makes a new queued run with the same task and payload, linked to the original
/// with the reason; the original is untouched; the replay runs.
pub async fn replay_makes_a_linked_run(h: Harness) {
    let id = ok("enqueue", h.jobs.enqueue(FailPermanently {}).await).id();
    ok("drain", h.jobs.drain().await);
    let original = h.run(id).await;
    assert_eq!(original.status, RunStatus::DeadLettered);

    let replay = ok(
        "replay",
        h.jobs.runs().replay(&id, "endpoint recovered").await,
    );
    assert_ne!(replay.id, id);
    assert_eq!(replay.status, RunStatus::Queued);
    assert_eq!(
        (replay.task.as_str(), &replay.payload),
        (FailPermanently::NAME, &original.payload)
    );
    assert_eq!(replay.replay_of, Some(id));
    assert_eq!(replay.replay_reason.as_deref(), Some("endpoint recovered"));
    assert_eq!(
        (replay.attempt, replay.max_attempts),
        (0, original.max_attempts)
    );
    assert_eq!(h.run(id).await, original, "the original is untouched");
    assert_eq!(h.run(replay.id).await, replay);

    // Replays of replays and of succeeded or cancelled runs are fine too.
    let ok_id = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "r".into() }).await,
    )
    .id();
    ok("drain", h.jobs.drain().await);
    let again = ok("replay", h.jobs.runs().replay(&ok_id, "resend").await);
    ok("drain", h.jobs.drain().await);
    assert_eq!(h.run(again.id).await.status, RunStatus::Succeeded);
}

/// Only finished runs can be replayed.
pub async fn replay_of_an_active_run_is_an_error(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "ra".into() }).await,
    )
    .id();
    match h.jobs.runs().replay(&id, "too early").await {
        Err(Error::NotReplayable { status, .. }) => assert_eq!(status, RunStatus::Queued),
        other => panic!("expected NotReplayable, got {other:?}"),
    }
    let running = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    assert_eq!(running.len(), 1);
    match h.jobs.runs().replay(&id, "too early").await {
        Err(Error::NotReplayable { status, .. }) => assert_eq!(status, RunStatus::Running),
        other => panic!("expected NotReplayable, got {other:?}"),
    }
    let unknown = RunId::new();
    assert!(matches!(
        h.jobs.runs().replay(&unknown, "x").await,
        Err(Error::RunNotFound { .. })
    ));
    // Tidy: finish it so nothing is left running.
    let lease = Lease::of(&running[0]);
    ok(
        "finish",
        h.storage
            .finish(
                "conformance",
                vec![Outcome::new(lease, AttemptResult::Succeeded)],
            )
            .await,
    );
}

/// Waits (bounded, real time) until `condition` holds.
pub(crate) async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

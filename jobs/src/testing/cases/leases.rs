//! Leases: fencing, heartbeats, rescue and hand-back.

use std::time::Duration;

use super::{claim, ok};
use crate::Task;
use crate::storage::{AttemptResult, Heartbeat, Lease, Outcome};
use crate::testing::Harness;
use crate::testing::tasks::Succeed;
use crate::{AttemptOutcome, RunStatus};

const LEASE: Duration = Duration::from_secs(30);

/// A result written under a lease that no longer holds is dropped and reported stale;
/// the newer attempt's result stands.
pub async fn stale_result_is_fenced_out(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "fence".into(),
            })
            .await,
    )
    .id();
    let first = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    let old = Lease::of(&first[0]);
    h.clock.advance(LEASE + Duration::from_secs(1));
    assert_eq!(
        ok("rescue", h.storage.rescue_expired("conformance").await),
        vec![id]
    );
    let second = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    let new = Lease::of(&second[0]);
    assert_eq!((old.attempt, new.attempt), (1, 2));

    let finished = ok(
        "finish",
        h.storage
            .finish(
                "conformance",
                vec![
                    Outcome::new(
                        old,
                        AttemptResult::DeadLetter {
                            error: "stale".into(),
                        },
                    ),
                    Outcome::new(new, AttemptResult::Succeeded),
                ],
            )
            .await,
    );
    assert_eq!((finished.applied, finished.stale.clone()), (1, vec![old]));
    let run = h.run(id).await;
    assert_eq!((run.status, run.attempt), (RunStatus::Succeeded, 2));
    assert!(run.last_error.as_deref() != Some("stale"));
    // Finishing again is stale too: a result is written once.
    let again = ok(
        "finish",
        h.storage
            .finish(
                "conformance",
                vec![Outcome::new(new, AttemptResult::Succeeded)],
            )
            .await,
    );
    assert_eq!(again.applied, 0);
}

/// Heartbeats extend the leases still held and leave out the ones lost.
pub async fn heartbeat_extends_only_held_leases(h: Harness) {
    ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "hb1".into(),
            })
            .await,
    );
    let cancelled = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "hb2".into(),
            })
            .await,
    )
    .id();
    let runs = claim(h.storage.as_ref(), &[Succeed::NAME], 2).await;
    let leases: Vec<Lease> = runs.iter().map(Lease::of).collect();
    ok("cancel", h.jobs.runs().cancel(&cancelled).await);

    h.clock.advance(Duration::from_secs(20));
    let kept = ok(
        "heartbeat",
        h.storage
            .heartbeat(Heartbeat::new("conformance", leases.clone(), LEASE))
            .await,
    );
    assert_eq!(
        kept,
        leases
            .iter()
            .copied()
            .filter(|l| l.id != cancelled)
            .collect::<Vec<_>>()
    );
    // 20 s + 20 s is past the original lease but inside the extended one.
    h.clock.advance(Duration::from_secs(20));
    assert!(ok("rescue", h.storage.rescue_expired("conformance").await).is_empty());
    h.clock.advance(Duration::from_secs(11));
    assert_eq!(
        ok("rescue", h.storage.rescue_expired("conformance").await).len(),
        1
    );
}

/// A run whose lease expired goes back to the queue; the lost attempt is recorded.
pub async fn expired_lease_is_rescued_and_retried(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "rescue".into(),
            })
            .await,
    )
    .id();
    claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    h.clock.advance(LEASE);
    assert!(
        ok("rescue", h.storage.rescue_expired("conformance").await).is_empty(),
        "not before it expires"
    );
    h.clock.advance(Duration::from_millis(1));
    assert_eq!(
        ok("rescue", h.storage.rescue_expired("conformance").await),
        vec![id]
    );
    let run = h.run(id).await;
    assert_eq!((run.status, run.attempt), (RunStatus::Retrying, 1));
    assert_eq!(run.failures, 1, "a lost attempt counts against the budget");
    assert!(run.last_error.unwrap_or_default().contains("lease expired"));

    assert_eq!(ok("drain", h.jobs.drain().await).succeeded, 1);
    let attempts = ok("attempts", h.jobs.runs().attempts(&id).await);
    let outcomes: Vec<AttemptOutcome> = attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::LeaseExpired, AttemptOutcome::Succeeded]
    );
    assert_eq!(h.run(id).await.attempt, 2);
}

/// A rescued run whose attempts are spent is dead-lettered.
pub async fn rescue_dead_letters_when_attempts_are_spent(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "spent".into(),
            })
            .await,
    )
    .id();
    for _ in 0..Succeed::RETRY.attempts {
        assert_eq!(
            claim(h.storage.as_ref(), &[Succeed::NAME], 1).await.len(),
            1
        );
        h.clock.advance(LEASE + Duration::from_secs(1));
        assert_eq!(
            ok("rescue", h.storage.rescue_expired("conformance").await),
            vec![id]
        );
    }
    let run = h.run(id).await;
    assert_eq!(
        (run.status, run.attempt),
        (RunStatus::DeadLettered, Succeed::RETRY.attempts)
    );
    assert!(run.finished_at.is_some());
}

/// Handing a run back records the attempt as interrupted, counts it in `handbacks` and
/// does not use up the budget.
pub async fn release_hands_runs_back_without_using_an_attempt(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "release".into(),
            })
            .await,
    )
    .id();
    let runs = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    let released = ok(
        "release",
        h.storage
            .release("conformance", vec![Lease::of(&runs[0])])
            .await,
    );
    assert_eq!(released, 1);
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(
        (run.max_attempts, run.handbacks, run.failures),
        (Succeed::RETRY.attempts, 1, 0),
        "counted apart; the budget is untouched"
    );
    // Releasing again does nothing: the lease is gone.
    assert_eq!(
        ok(
            "release",
            h.storage
                .release("conformance", vec![Lease::of(&runs[0])])
                .await
        ),
        0
    );
    assert_eq!(ok("drain", h.jobs.drain().await).succeeded, 1);
    let outcomes: Vec<AttemptOutcome> = ok("attempts", h.jobs.runs().attempts(&id).await)
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::Interrupted, AttemptOutcome::Succeeded]
    );
}

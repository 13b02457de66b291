//! Budgets and places: what a run's attempt budget counts, what a replay starts with,
//! and where a run that lost its attempt waits.

use std::time::Duration;

use super::{claim, ok};
use crate::Task;
use crate::storage::{Lease, NewRun};
use crate::testing::Harness;
use crate::testing::tasks::{FailFixed, SnoozeThenFail, Succeed};
use crate::{AttemptOutcome, RunStatus};

const LEASE: Duration = Duration::from_secs(30);

/// Backoff follows failed attempts only: a run handed back once and snoozed twice, then
/// failing, waits the first delay (10 s), not the third; it is dead-lettered after its
/// third failure, however many attempts it made in all.
pub async fn backoff_counts_only_failed_attempts(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs.enqueue(SnoozeThenFail { snooze_through: 3 }).await,
    )
    .id();
    // Attempt 1 is handed back (a deploy), attempts 2 and 3 snooze.
    let claimed = claim(h.storage.as_ref(), &[SnoozeThenFail::NAME], 1).await;
    assert_eq!(claimed.len(), 1);
    let released = ok(
        "release",
        h.storage
            .release("conformance", vec![Lease::of(&claimed[0])])
            .await,
    );
    assert_eq!(released, 1);
    for _ in 0..2 {
        assert_eq!(ok("drain", h.jobs.drain().await).snoozed, 1);
        h.clock.advance(Duration::from_secs(30));
    }
    // Attempt 4: the first failure.
    assert_eq!(ok("drain", h.jobs.drain().await).retried, 1);
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Retrying);
    assert_eq!(run.attempt, 4);
    assert_eq!(
        run.run_at,
        h.clock_now() + chrono::TimeDelta::seconds(10),
        "the first failure waits the first delay"
    );
    assert_eq!(run.max_attempts, SnoozeThenFail::RETRY.attempts);
    assert_eq!((run.failures, run.snoozes, run.handbacks), (1, 2, 1));
    // The second failure waits the second delay, the third dead-letters.
    h.clock.advance(Duration::from_secs(10));
    assert_eq!(ok("drain", h.jobs.drain().await).retried, 1);
    assert_eq!(
        h.run(id).await.run_at,
        h.clock_now() + chrono::TimeDelta::seconds(30)
    );
    h.clock.advance(Duration::from_secs(30));
    assert_eq!(ok("drain", h.jobs.drain().await).dead_lettered, 1);
    let run = h.run(id).await;
    assert_eq!((run.status, run.attempt), (RunStatus::DeadLettered, 6));
    assert_eq!((run.failures, run.snoozes, run.handbacks), (3, 2, 1));
    let outcomes: Vec<AttemptOutcome> = ok("attempts", h.jobs.runs().attempts(&id).await)
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Interrupted,
            AttemptOutcome::Snoozed,
            AttemptOutcome::Snoozed,
            AttemptOutcome::Failed,
            AttemptOutcome::Failed,
            AttemptOutcome::Failed,
        ]
    );
}

/// A replay starts with its task's budget as compiled now, not with what the original
/// was stored with, nor with what its snoozes and hand-backs made of it.
pub async fn replay_starts_with_the_compiled_budget(h: Harness) {
    // Stored with a budget of 7 (an older build), failed for good.
    let mut new = NewRun::new("conformance", FailFixed::NAME, serde_json::json!({}), 7);
    new.priority = 3;
    let id = ok("enqueue", h.storage.enqueue(vec![new]).await)[0].id();
    let claimed = claim(h.storage.as_ref(), &[FailFixed::NAME], 1).await;
    ok(
        "finish",
        h.storage
            .finish(
                "conformance",
                vec![crate::storage::Outcome::new(
                    Lease::of(&claimed[0]),
                    crate::storage::AttemptResult::DeadLetter {
                        error: "gone".into(),
                    },
                )],
            )
            .await,
    );
    let replay = ok("replay", h.jobs.runs().replay(&id, "again").await);
    assert_eq!(replay.max_attempts, FailFixed::RETRY.attempts);
    assert_eq!(
        (replay.attempt, replay.failures, replay.priority),
        (0, 0, 3)
    );

    // Snoozed twice and handed back once, then succeeded: the replay gets 3, not 6.
    let id = ok(
        "enqueue",
        h.jobs.enqueue(SnoozeThenFail { snooze_through: 3 }).await,
    )
    .id();
    let claimed = claim(h.storage.as_ref(), &[SnoozeThenFail::NAME], 1).await;
    ok(
        "release",
        h.storage
            .release("conformance", vec![Lease::of(&claimed[0])])
            .await,
    );
    for _ in 0..2 {
        assert_eq!(ok("drain", h.jobs.drain().await).snoozed, 1);
        h.clock.advance(Duration::from_secs(30));
    }
    ok("cancel", h.jobs.runs().cancel(&id).await);
    let replay = ok("replay", h.jobs.runs().replay(&id, "again").await);
    assert_eq!(replay.max_attempts, SnoozeThenFail::RETRY.attempts);
    assert_eq!((replay.snoozes, replay.handbacks), (0, 0));

    // A storage asked without a budget keeps the original's.
    let kept = ok(
        "replay",
        h.storage
            .replay(
                "conformance",
                crate::storage::ReplayRequest::new(id, crate::RunId::new(), "kept"),
            )
            .await,
    );
    assert_eq!(kept.max_attempts, SnoozeThenFail::RETRY.attempts);
}

/// A run whose attempt was lost keeps its place in line: rescued after its worker died,
/// or handed back at shutdown, it is claimed before the runs enqueued after it, by its
/// original due time and priority.
pub async fn lost_attempts_keep_their_place_in_line(h: Harness) {
    let first = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "p".into() }).await,
    )
    .id();
    h.clock.advance(Duration::from_millis(10));
    let later: Vec<NewRun> = (0..50)
        .map(|_| {
            crate::storage::NewRun::new(
                "conformance",
                Succeed::NAME,
                serde_json::json!({ "token": "p" }),
                3,
            )
        })
        .collect();
    ok("enqueue", h.storage.enqueue(later).await);

    // Rescued: its worker stopped renewing the lease.
    let claimed = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    assert_eq!(claimed[0].id, first);
    h.clock.advance(LEASE + Duration::from_secs(1));
    assert_eq!(
        ok("rescue", h.storage.rescue_expired("conformance").await),
        vec![first]
    );
    let again = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    assert_eq!(again[0].id, first, "the rescued run is first in line again");

    // Handed back: the same.
    ok(
        "release",
        h.storage
            .release("conformance", vec![Lease::of(&again[0])])
            .await,
    );
    let third = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    assert_eq!(
        third[0].id, first,
        "the run handed back is first in line again"
    );
    assert_eq!(third[0].attempt, 3);
}

//! Attempts and their outcomes: success, retries, backoff, dead letters, bad payloads.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::enqueue::enqueue_raw;
use super::{claim, ok};
use crate::ListRuns;
use crate::Task;
use crate::storage::{AttemptResult, ClaimRequest, Lease, NewRun, Outcome};
use crate::testing::Harness;
use crate::testing::tasks::{
    FailCustom, FailExponential, FailFixed, FailPermanently, Flaky, Panic, Slow, Snoozy, Succeed,
    Typed,
};
use crate::{AttemptOutcome, RunId, RunStatus};

/// A due run is claimed at most `limit` at a time, lower priority first, then oldest.
pub async fn claim_takes_only_free_slots_in_priority_order(h: Harness) {
    let low = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "low".into(),
            })
            .priority(5)
            .await,
    )
    .id();
    let mut normal = Vec::new();
    for i in 0..3 {
        normal.push(
            ok(
                "enqueue",
                h.jobs
                    .enqueue(Succeed {
                        token: format!("n{i}"),
                    })
                    .await,
            )
            .id(),
        );
    }
    let urgent = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "urgent".into(),
            })
            .priority(-1)
            .await,
    )
    .id();

    let first = claim(h.storage.as_ref(), &[Succeed::NAME], 2).await;
    let ids: Vec<RunId> = first.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![urgent, normal[0]]);
    assert!(
        first
            .iter()
            .all(|r| r.status == RunStatus::Running && r.attempt == 1)
    );
    let rest = claim(h.storage.as_ref(), &[Succeed::NAME], 10).await;
    let ids: Vec<RunId> = rest.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![normal[1], normal[2], low]);
    assert!(
        claim(h.storage.as_ref(), &[Succeed::NAME], 10)
            .await
            .is_empty()
    );
    assert!(
        claim(h.storage.as_ref(), &["another-task"], 10)
            .await
            .is_empty()
    );
}

/// Runs wait in their queue: a claim takes only the queue it names (in priority order
/// within it), the run says its queue, and a replay keeps it.
pub async fn claims_take_only_their_queue(h: Harness) {
    let mut ids = Vec::new();
    for (queue, priority) in [("webhooks", 5), ("default", 0), ("webhooks", 1)] {
        let mut run = NewRun::new(
            "conformance",
            Succeed::NAME,
            serde_json::json!({ "token": queue }),
            3,
        );
        run.queue = queue.to_owned();
        run.priority = priority;
        let stored = ok("enqueue", h.storage.enqueue(vec![run]).await);
        ids.push(stored[0].id());
        assert_eq!(stored[0].run.queue, queue);
    }
    let request = |queue: &str| {
        ClaimRequest::new(
            "conformance",
            vec![Succeed::NAME.to_owned()],
            10,
            Duration::from_secs(30),
            "conformance-worker",
        )
        .queue(queue)
    };
    let webhooks = ok("claim", h.storage.claim(request("webhooks")).await);
    let claimed: Vec<RunId> = webhooks.iter().map(|r| r.id).collect();
    assert_eq!(
        claimed,
        vec![ids[2], ids[0]],
        "the webhooks queue, priority first"
    );
    assert!(webhooks.iter().all(|r| r.queue == "webhooks"));
    assert!(ok("claim", h.storage.claim(request("other")).await).is_empty());
    let default = ok(
        "claim",
        h.storage.claim(request(crate::DEFAULT_QUEUE)).await,
    );
    assert_eq!(
        default.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    assert_eq!(h.run(ids[0]).await.queue, "webhooks");

    let outcomes = webhooks
        .iter()
        .map(|run| Outcome::new(Lease::of(run), AttemptResult::Succeeded))
        .collect();
    ok("finish", h.storage.finish("conformance", outcomes).await);
    let replay = ok("replay", h.jobs.runs().replay(&ids[0], "again").await);
    assert_eq!(replay.queue, "webhooks");
    let again = ok("claim", h.storage.claim(request("webhooks")).await);
    assert_eq!(
        again.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![replay.id]
    );
}

/// A successful attempt is recorded with its start and end.
pub async fn success_is_recorded_with_its_attempt(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "ok".into() }).await,
    )
    .id();
    let report = ok("drain", h.jobs.drain().await);
    assert_eq!(report.succeeded, 1);
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.attempt, 1);
    assert_eq!(run.finished_at, Some(h.clock_now()));
    let attempts = ok("attempts", h.jobs.runs().attempts(&id).await);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].number, 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(attempts[0].started_at, h.clock_now());
    assert_eq!(attempts[0].finished_at, Some(h.clock_now()));
    assert!(attempts[0].error.is_none());
}

/// While a run is claimed its attempt reads as running, since its claim, with no end;
/// once written, the same attempt reads as succeeded, with its end. Read on every step.
pub async fn attempt_reads_running_then_finished(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "ok".into() }).await,
    )
    .id();
    assert!(ok("attempts", h.jobs.runs().attempts(&id).await).is_empty());
    let claimed_at = h.clock_now();
    let claimed = claim(h.storage.as_ref(), &[Succeed::NAME], 1).await;
    let attempts = ok("attempts", h.jobs.runs().attempts(&id).await);
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(
        (attempts[0].number, attempts[0].outcome),
        (1, AttemptOutcome::Running)
    );
    assert_eq!(attempts[0].started_at, claimed_at);
    assert_eq!(attempts[0].finished_at, None);

    h.clock.advance(Duration::from_secs(2));
    let lease = Lease::of(&claimed[0]);
    let finished = ok(
        "finish",
        h.storage
            .finish(
                "conformance",
                vec![Outcome::new(lease, AttemptResult::Succeeded)],
            )
            .await,
    );
    assert_eq!(finished.applied, 1);
    let attempts = ok("attempts", h.jobs.runs().attempts(&id).await);
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(attempts[0].started_at, claimed_at);
    assert_eq!(attempts[0].finished_at, Some(h.clock_now()));
    assert!(h.clock_now() > claimed_at);
}

/// A snooze waits the delay asked for without using an attempt: the run is `retrying`, the
/// snooze is counted in `snoozes` (the budget is untouched), the attempt reads `snoozed`
/// with its reason, `last_error` stays empty; then the run succeeds although its policy
/// allows one attempt.
pub async fn snooze_waits_without_using_an_attempt(h: Harness) {
    let id = ok("enqueue", h.jobs.enqueue(Snoozy { snoozes: 2 }).await).id();
    let report = ok("drain", h.jobs.drain().await);
    assert_eq!((report.snoozed, report.attempts()), (1, 1));
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Retrying);
    assert_eq!(
        (run.attempt, run.max_attempts, run.snoozes, run.failures),
        (1, 1, 1, 0)
    );
    assert_eq!(run.run_at, h.clock_now() + chrono::TimeDelta::seconds(30));
    assert_eq!(run.last_error, None);
    let attempts = ok("attempts", h.jobs.runs().attempts(&id).await);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Snoozed);
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("429 Too Many Requests, Retry-After: 30")
    );

    // Not due before the delay.
    h.clock.advance(Duration::from_secs(29));
    assert_eq!(ok("drain", h.jobs.drain().await).attempts(), 0);
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(ok("drain", h.jobs.drain().await).snoozed, 1);
    h.clock.advance(Duration::from_secs(30));
    assert_eq!(ok("drain", h.jobs.drain().await).succeeded, 1);
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        (run.attempt, run.max_attempts, run.snoozes, run.failures),
        (3, 1, 2, 0)
    );
    let outcomes: Vec<AttemptOutcome> = ok("attempts", h.jobs.runs().attempts(&id).await)
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Snoozed,
            AttemptOutcome::Snoozed,
            AttemptOutcome::Succeeded
        ]
    );
}

/// A run that always snoozes is not kept alive for ever: past `MAX_SNOOZES` snoozes the
/// next one is a failed attempt, and with no attempt left the run is dead-lettered.
pub async fn snoozes_are_bounded(h: Harness) {
    let id = ok(
        "enqueue",
        h.jobs.enqueue(Snoozy { snoozes: u32::MAX }).await,
    )
    .id();
    let mut snoozed = 0;
    loop {
        let report = ok("drain", h.jobs.drain().await);
        snoozed += report.snoozed;
        if report.dead_lettered == 1 {
            break;
        }
        assert_eq!(report.snoozed, 1, "one snooze per drain: {report:?}");
        assert!(
            snoozed <= crate::MAX_SNOOZES as usize,
            "snoozed {snoozed} times"
        );
        h.clock.advance(Duration::from_secs(30));
    }
    assert_eq!(snoozed, crate::MAX_SNOOZES as usize);
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::DeadLettered);
    assert_eq!(run.attempt, crate::MAX_SNOOZES + 1);
    let last_error = run.last_error.unwrap_or_default();
    assert!(
        last_error.contains("snoozed more than") && last_error.contains("Retry-After"),
        "{last_error}"
    );
    let attempts = ok("attempts", h.jobs.runs().attempts(&id).await);
    assert_eq!(attempts.len(), crate::MAX_SNOOZES as usize + 1);
    assert_eq!(
        attempts.last().map(|a| a.outcome),
        Some(AttemptOutcome::Failed)
    );
}

/// A retryable error schedules the next attempt after the backoff; then it succeeds.
pub async fn retryable_error_retries_then_succeeds(h: Harness) {
    let id = ok("enqueue", h.jobs.enqueue(Flaky { fail_first: 2 }).await).id();
    assert_eq!(ok("drain", h.jobs.drain().await).retried, 1);
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Retrying);
    assert_eq!(
        run.last_error.as_deref(),
        Some("provider unavailable (attempt 1)")
    );
    assert_eq!(run.run_at, h.clock_now() + chrono::Duration::seconds(1));
    for _ in 0..2 {
        h.clock.advance(Duration::from_secs(1));
        ok("drain", h.jobs.drain().await);
    }
    let run = h.run(id).await;
    assert_eq!((run.status, run.attempt), (RunStatus::Succeeded, 3));
    let outcomes: Vec<AttemptOutcome> = ok("attempts", h.jobs.runs().attempts(&id).await)
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Failed,
            AttemptOutcome::Failed,
            AttemptOutcome::Succeeded
        ]
    );
}

/// `TaskError::permanent` dead-letters at once, whatever attempts remain.
pub async fn permanent_error_dead_letters_at_once(h: Harness) {
    let id = ok("enqueue", h.jobs.enqueue(FailPermanently {}).await).id();
    assert_eq!(ok("drain", h.jobs.drain().await).dead_lettered, 1);
    let run = h.run(id).await;
    assert_eq!((run.status, run.attempt), (RunStatus::DeadLettered, 1));
    assert_eq!(run.last_error.as_deref(), Some("account deleted"));
    assert!(run.finished_at.is_some());
}

/// When the last attempt fails the run is dead-lettered with that attempt's error.
pub async fn spent_attempts_dead_letter(h: Harness) {
    let id = ok("enqueue", h.jobs.enqueue(FailFixed {}).await).id();
    let times = attempt_times(&h, id, Duration::from_secs(60)).await;
    assert_eq!(times.len(), 3);
    let run = h.run(id).await;
    assert_eq!((run.status, run.attempt), (RunStatus::DeadLettered, 3));
    let dead = ok(
        "list",
        h.jobs
            .runs()
            .list(
                ListRuns::new()
                    .task::<FailFixed>()
                    .status(RunStatus::DeadLettered),
            )
            .await,
    );
    assert_eq!(dead.runs.len(), 1);
}

/// Custom delays [10s, 30s, 120s] with 4 attempts: attempts at t, t+10s, t+40s, t+160s,
/// then dead-lettered.
pub async fn custom_backoff_follows_the_delays(h: Harness) {
    let start = h.clock_now();
    let id = ok("enqueue", h.jobs.enqueue(FailCustom {}).await).id();
    let times = attempt_times(&h, id, Duration::from_secs(1)).await;
    let offsets: Vec<i64> = times.iter().map(|t| (*t - start).num_seconds()).collect();
    assert_eq!(offsets, vec![0, 10, 40, 160]);
    assert_eq!(h.run(id).await.status, RunStatus::DeadLettered);
    assert_eq!(FailCustom::RETRY.attempts, 4);
}

/// Exponential from 5 s capped at 15 s: t, +5, +10, +15, +15.
pub async fn exponential_backoff_doubles_up_to_the_cap(h: Harness) {
    let start = h.clock_now();
    let id = ok("enqueue", h.jobs.enqueue(FailExponential {}).await).id();
    let times = attempt_times(&h, id, Duration::from_secs(1)).await;
    let offsets: Vec<i64> = times.iter().map(|t| (*t - start).num_seconds()).collect();
    assert_eq!(offsets, vec![0, 5, 15, 30, 45]);
}

/// Fixed 60 s: t, +60, +120.
pub async fn fixed_backoff_waits_the_same(h: Harness) {
    let start = h.clock_now();
    let id = ok("enqueue", h.jobs.enqueue(FailFixed {}).await).id();
    let times = attempt_times(&h, id, Duration::from_secs(1)).await;
    let offsets: Vec<i64> = times.iter().map(|t| (*t - start).num_seconds()).collect();
    assert_eq!(offsets, vec![0, 60, 120]);
}

/// A panic is a failed attempt with the panic's message; the worker survives it.
pub async fn panic_is_a_failed_attempt(h: Harness) {
    let id = ok("enqueue", h.jobs.enqueue(Panic {}).await).id();
    assert_eq!(ok("drain", h.jobs.drain().await).retried, 1);
    let run = h.run(id).await;
    assert_eq!(run.status, RunStatus::Retrying);
    let error = run.last_error.unwrap_or_default();
    assert!(
        error.contains("panicked") && error.contains("index out of bounds"),
        "{error}"
    );
}

/// An attempt that outlives the task's timeout is a failed attempt saying so.
pub async fn timeout_is_a_failed_attempt(h: Harness) {
    let id = ok("enqueue", h.jobs.enqueue(Slow {}).await).id();
    assert_eq!(ok("drain", h.jobs.drain().await).retried, 1);
    let error = h.run(id).await.last_error.unwrap_or_default();
    assert!(error.contains("timed out after 50ms"), "{error}");
}

/// A payload that no longer decodes dead-letters at once, naming the field; other runs
/// are unaffected.
pub async fn undecodable_payload_dead_letters_naming_the_field(h: Harness) {
    let bad_type = enqueue_raw(
        &h,
        Typed::NAME,
        serde_json::json!({ "count": "many", "name": "x" }),
    )
    .await;
    let missing = enqueue_raw(&h, Typed::NAME, serde_json::json!({ "count": 3 })).await;
    let good = ok(
        "enqueue",
        h.jobs
            .enqueue(Typed {
                count: 1,
                name: "fine".into(),
            })
            .await,
    )
    .id();
    let report = ok("drain", h.jobs.drain().await);
    assert_eq!((report.dead_lettered, report.succeeded), (2, 1));

    let run = h.run(bad_type).await;
    assert_eq!((run.status, run.attempt), (RunStatus::DeadLettered, 1));
    let error = run.last_error.unwrap_or_default();
    assert!(error.contains("field `count`"), "names the field: {error}");
    let error = h.run(missing).await.last_error.unwrap_or_default();
    assert!(
        error.contains("missing field `name`"),
        "names the field: {error}"
    );
    assert_eq!(h.run(good).await.status, RunStatus::Succeeded);
}

/// Runs of a task this binary does not know stay queued and visible.
pub async fn runs_of_unknown_tasks_are_left_alone(h: Harness) {
    let id = enqueue_raw(
        &h,
        "task-from-another-service",
        serde_json::json!({ "x": 1 }),
    )
    .await;
    assert_eq!(ok("drain", h.jobs.drain().await).attempts(), 0);
    let run = h.run(id).await;
    assert_eq!((run.status, run.attempt), (RunStatus::Queued, 0));
    let listed = ok(
        "list",
        h.jobs
            .runs()
            .list(ListRuns::new().task_name("task-from-another-service"))
            .await,
    );
    assert_eq!(listed.runs.len(), 1);
}

/// Drains, advancing the clock by `step` between drains, until the run is final; returns
/// the start time of every attempt.
async fn attempt_times(h: &Harness, id: RunId, step: Duration) -> Vec<DateTime<Utc>> {
    for _ in 0..10_000 {
        ok("drain", h.jobs.drain().await);
        if h.run(id).await.status.is_final() {
            break;
        }
        h.clock.advance(step);
    }
    ok("attempts", h.jobs.runs().attempts(&id).await)
        .iter()
        .map(|a| a.started_at)
        .collect()
}

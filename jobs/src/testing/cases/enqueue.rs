//! Enqueueing: ids, idempotency, scheduling, batches, limits.

use std::time::Duration;

use super::ok;
use crate::ListRuns;
use crate::RunStatus;
use crate::Task;
use crate::storage::{NewRun, Schedule};
use crate::testing::Harness;
use crate::testing::tasks::{Succeed, Typed};

fn succeed(token: &str) -> Succeed {
    Succeed {
        token: token.to_owned(),
    }
}

/// An enqueued run is queued, with its task, payload and policy, and can be read back.
pub async fn enqueue_stores_a_queued_run(h: Harness) {
    let enqueued = ok("enqueue", h.jobs.enqueue(succeed("a")).await);
    assert!(enqueued.created);
    let run = h.run(enqueued.id()).await;
    assert_eq!(run, enqueued.run);
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.task, Succeed::NAME);
    assert_eq!(run.namespace, "conformance");
    assert_eq!(run.payload, serde_json::json!({ "token": "a" }));
    assert_eq!(
        (run.attempt, run.max_attempts),
        (0, Succeed::RETRY.attempts)
    );
    assert_eq!(run.created_at, h.clock_now());
    assert_eq!(run.run_at, run.created_at);
    assert!(run.started_at.is_none() && run.finished_at.is_none() && run.last_error.is_none());
}

/// A second enqueue with the same key returns the first run, not newly created.
pub async fn idempotency_key_makes_one_run(h: Harness) {
    let first = ok(
        "enqueue",
        h.jobs
            .enqueue(succeed("first"))
            .idempotency_key("welcome:user_123")
            .await,
    );
    let second = ok(
        "enqueue",
        h.jobs
            .enqueue(succeed("second"))
            .idempotency_key("welcome:user_123")
            .await,
    );
    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.id(), second.id());
    assert_eq!(second.run.payload, serde_json::json!({ "token": "first" }));
    assert_eq!(
        second.run.idempotency_key.as_deref(),
        Some("welcome:user_123")
    );
    let page = ok("list", h.jobs.runs().list(ListRuns::new()).await);
    assert_eq!(page.runs.len(), 1);
}

/// Many enqueues racing with one key make exactly one run, and every caller gets its id.
pub async fn concurrent_enqueues_with_one_key_make_one_run(h: Harness) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let jobs = h.jobs.clone();
        tasks.spawn(async move {
            jobs.enqueue(Succeed {
                token: format!("racer {i}"),
            })
            .idempotency_key("race")
            .await
        });
    }
    let mut ids = Vec::new();
    let mut created = 0;
    while let Some(joined) = tasks.join_next().await {
        let enqueued = ok(
            "enqueue",
            joined
                .map_err(|e| crate::Error::Config(e.to_string()))
                .and_then(|r| r),
        );
        created += usize::from(enqueued.created);
        ids.push(enqueued.id());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every caller gets the one run's id");
    assert_eq!(created, 1, "exactly one caller created it");
    let page = ok("list", h.jobs.runs().list(ListRuns::new()).await);
    assert_eq!(page.runs.len(), 1);
}

/// The same key in two namespaces makes two runs.
pub async fn idempotency_keys_are_per_namespace(h: Harness) {
    let other = h.namespace("other");
    let a = ok(
        "enqueue",
        h.jobs.enqueue(succeed("a")).idempotency_key("k").await,
    );
    let b = ok(
        "enqueue",
        other.enqueue(succeed("b")).idempotency_key("k").await,
    );
    assert!(a.created && b.created);
    assert_ne!(a.id(), b.id());
}

/// A delayed run is scheduled until its delay has passed, then queued and claimable.
pub async fn delay_schedules_the_first_attempt(h: Harness) {
    let run = ok(
        "enqueue",
        h.jobs
            .enqueue(succeed("later"))
            .delay(Duration::from_secs(3600))
            .await,
    )
    .run;
    assert_eq!(run.status, RunStatus::Scheduled);
    assert_eq!(run.run_at, h.clock_now() + chrono::Duration::seconds(3600));
    assert_eq!(ok("drain", h.jobs.drain().await).attempts(), 0);
    let scheduled = ok(
        "list",
        h.jobs
            .runs()
            .list(ListRuns::new().status(RunStatus::Scheduled))
            .await,
    );
    assert_eq!(scheduled.runs.len(), 1);

    h.clock.advance(Duration::from_secs(3599));
    assert_eq!(ok("drain", h.jobs.drain().await).attempts(), 0);
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(h.run(run.id).await.status, RunStatus::Queued);
    assert_eq!(ok("drain", h.jobs.drain().await).succeeded, 1);
    assert_eq!(h.run(run.id).await.status, RunStatus::Succeeded);
}

/// A `run_at` in the past runs now.
pub async fn run_at_in_the_past_runs_now(h: Harness) {
    let past = h.clock_now() - chrono::Duration::days(1);
    let run = ok(
        "enqueue",
        h.jobs.enqueue(succeed("past")).run_at(past).await,
    )
    .run;
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(ok("drain", h.jobs.drain().await).succeeded, 1);
}

/// A `run_at` in the future waits for that time exactly.
pub async fn run_at_in_the_future_waits(h: Harness) {
    let at = h.clock_now() + chrono::Duration::minutes(90);
    let run = ok("enqueue", h.jobs.enqueue(succeed("at")).run_at(at).await).run;
    assert_eq!((run.status, run.run_at), (RunStatus::Scheduled, at));
    h.clock.advance(Duration::from_secs(89 * 60));
    assert_eq!(ok("drain", h.jobs.drain().await).attempts(), 0);
    h.clock.advance(Duration::from_secs(60));
    assert_eq!(ok("drain", h.jobs.drain().await).succeeded, 1);
}

/// Many payloads in one call make one run each, returned in order.
pub async fn enqueue_many_stores_every_run_in_order(h: Harness) {
    let payloads: Vec<Succeed> = (0..250).map(|i| succeed(&format!("batch {i}"))).collect();
    let enqueued = ok("enqueue_many", h.jobs.enqueue_many(payloads).await);
    assert_eq!(enqueued.len(), 250);
    for (i, e) in enqueued.iter().enumerate() {
        assert!(e.created);
        assert_eq!(e.run.payload["token"], format!("batch {i}"));
    }
    let empty: Vec<Succeed> = Vec::new();
    assert!(ok("enqueue_many", h.jobs.enqueue_many(empty).await).is_empty());
    assert_eq!(ok("drain", h.jobs.drain().await).succeeded, 250);
}

/// A payload over the limit is refused at enqueue, naming the limit; nothing is stored.
pub async fn oversized_payload_is_rejected_with_the_limit(h: Harness) {
    let small = crate::Jobs::builder()
        .namespace("conformance")
        .shared_storage(h.storage.clone())
        .max_payload_bytes(1024)
        .build();
    let small = ok("build", small);
    let error = small
        .enqueue(Typed {
            count: 1,
            name: "x".repeat(2000),
        })
        .await
        .map(drop)
        .err();
    let text = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("1024"), "the error states the limit: {text}");
    assert!(
        text.contains(Typed::NAME),
        "the error names the task: {text}"
    );
    let page = ok("list", h.jobs.runs().list(ListRuns::new()).await);
    assert!(page.runs.is_empty());
}

/// Storage-level enqueue of a run for `task` with a raw payload (for bad-payload cases).
pub(crate) async fn enqueue_raw(
    h: &Harness,
    task: &str,
    payload: serde_json::Value,
) -> crate::RunId {
    let mut run = NewRun::new("conformance", task, payload, 3);
    run.schedule = Schedule::Now;
    let mut stored = ok("enqueue", h.storage.enqueue(vec![run]).await);
    match stored.pop() {
        Some(e) => e.id(),
        None => panic!("enqueue returned nothing"),
    }
}

impl Harness {
    /// The storage clock's time.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use crate::Clock;
        self.clock.now()
    }
}

/// Text full of quotes, SQL metacharacters and Unicode, in a task name, namespace,
/// idempotency key, payload and replay reason, is stored and returned verbatim.
pub async fn hostile_text_is_stored_verbatim(h: Harness) {
    const NASTY: &str =
        "it's \"quoted\" `back` \\ %_ ; DROP TABLE runs; -- $1 {s} ü 日本 🎉 \u{202e}";
    let jobs = h.namespace(NASTY);
    let mut run = NewRun::new(NASTY, NASTY, serde_json::json!({ NASTY: NASTY }), 2);
    run.idempotency_key = Some(NASTY.to_owned());
    let stored = ok("enqueue", h.storage.enqueue(vec![run.clone()]).await);
    assert!(stored[0].created);
    let again = ok(
        "enqueue",
        h.storage
            .enqueue(vec![NewRun {
                id: crate::RunId::new(),
                ..run
            }])
            .await,
    );
    assert!(!again[0].created, "the key matches itself exactly");
    let got = match ok("get", jobs.runs().get(&stored[0].id()).await) {
        Some(got) => got,
        None => panic!("the run should be found in its namespace"),
    };
    assert_eq!((got.namespace.as_str(), got.task.as_str()), (NASTY, NASTY));
    assert_eq!(got.idempotency_key.as_deref(), Some(NASTY));
    assert_eq!(got.payload, serde_json::json!({ NASTY: NASTY }));
    let listed = ok(
        "list",
        jobs.runs().list(ListRuns::new().task_name(NASTY)).await,
    );
    assert_eq!(listed.runs.len(), 1);
    ok("cancel", jobs.runs().cancel(&got.id).await);
    let replay = ok("replay", jobs.runs().replay(&got.id, NASTY).await);
    assert_eq!(replay.replay_reason.as_deref(), Some(NASTY));
    assert_eq!(
        h.namespace("conformance")
            .runs()
            .get(&got.id)
            .await
            .ok()
            .flatten(),
        None
    );
}

//! What operators read and do in bulk: stats, and replaying every run that matches.

use std::time::Duration;

use super::ok;
use crate::ListRuns;
use crate::Retention;
use crate::Task;
use crate::testing::Harness;
use crate::testing::tasks::{FailPermanently, Succeed};
use crate::{RunId, RunStatus};

const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Stats count runs by task and visible status, and lay finished runs out by minute over
/// the window, the current minute last; finished runs leave the window as time passes,
/// the counts stay.
pub async fn stats_count_by_task_status_and_minute(h: Harness) {
    for token in ["a", "b"] {
        ok(
            "enqueue",
            h.jobs
                .enqueue(Succeed {
                    token: token.into(),
                })
                .await,
        );
    }
    ok("enqueue", h.jobs.enqueue(FailPermanently {}).await);
    ok("drain", h.jobs.drain().await);
    ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "later".into(),
            })
            .delay(Duration::from_secs(3600))
            .await,
    );
    // Another namespace's runs are never counted.
    ok(
        "enqueue",
        h.namespace("elsewhere")
            .enqueue(Succeed { token: "x".into() })
            .await,
    );

    let stats = ok("stats", h.jobs.runs().stats(WINDOW).await);
    assert_eq!(stats.at, h.clock_now());
    assert_eq!(stats.count(Succeed::NAME, RunStatus::Succeeded), 2);
    assert_eq!(stats.count(Succeed::NAME, RunStatus::Scheduled), 1);
    assert_eq!(stats.count(Succeed::NAME, RunStatus::Queued), 0);
    assert_eq!(
        stats.count(FailPermanently::NAME, RunStatus::DeadLettered),
        1
    );
    assert_eq!(stats.counts.len(), 3, "{:?}", stats.counts);
    assert_eq!(stats.throughput.len(), 15);
    let last = &stats.throughput[14];
    assert_eq!(
        (last.succeeded, last.dead_lettered, last.cancelled),
        (2, 1, 0)
    );
    assert!(last.start <= stats.at);
    assert!(
        stats.throughput[..14]
            .iter()
            .all(|m| m.succeeded + m.dead_lettered + m.cancelled == 0)
    );

    h.clock.advance(Duration::from_secs(5 * 60));
    let later = ok("stats", h.jobs.runs().stats(WINDOW).await);
    let moved: Vec<u64> = later.throughput.iter().map(|m| m.succeeded).collect();
    assert_eq!(moved.iter().sum::<u64>(), 2);
    assert_eq!(moved[9], 2, "five minutes back: {moved:?}");

    h.clock.advance(Duration::from_secs(20 * 60));
    let gone = ok("stats", h.jobs.runs().stats(WINDOW).await);
    assert!(gone.throughput.iter().all(|m| m.succeeded == 0));
    assert_eq!(gone.count(Succeed::NAME, RunStatus::Succeeded), 2);
}

/// Bulk replay replays the matching finished runs newest first, up to the limit, says
/// whether more matched, and leaves other runs alone.
pub async fn replay_matching_replays_up_to_the_limit(h: Harness) {
    for _ in 0..3 {
        ok("enqueue", h.jobs.enqueue(FailPermanently {}).await);
    }
    ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "ok".into() }).await,
    );
    ok("drain", h.jobs.drain().await);
    let dead = ListRuns::new()
        .task::<FailPermanently>()
        .status(RunStatus::DeadLettered);
    let originals = ok("list", h.jobs.runs().list(dead.clone()).await).runs;
    assert_eq!(originals.len(), 3);

    let first = ok(
        "replay",
        h.jobs
            .runs()
            .replay_matching(&dead, "provider fixed", 2)
            .await,
    );
    assert_eq!(
        (first.replayed.len(), first.skipped, first.more),
        (2, 0, true)
    );
    for (new, original) in first.replayed.iter().zip(&originals) {
        let run = h.run(*new).await;
        assert_eq!(run.replay_of, Some(original.id), "newest first");
        assert_eq!(run.replay_reason.as_deref(), Some("provider fixed"));
        assert_eq!(run.status, RunStatus::Queued);
    }

    let all = ok(
        "replay",
        h.jobs
            .runs()
            .replay_matching(&ListRuns::new().task::<FailPermanently>(), "all", 100)
            .await,
    );
    // The three originals are replayed; the two queued replays are skipped.
    assert_eq!((all.replayed.len(), all.skipped, all.more), (3, 2, false));
    let queued = ok(
        "list",
        h.jobs
            .runs()
            .list(ListRuns::new().status(RunStatus::Queued))
            .await,
    );
    assert_eq!(queued.runs.len(), 5);
    assert!(queued.runs.iter().all(|r| r.task == FailPermanently::NAME));
}

/// Pruning deletes finished runs older than their status's retention, in batches of at
/// most the limit, never a run that has not finished; an idempotency key is remembered
/// until the key window has passed since its enqueue (its run kept until then), then
/// forgotten, and the same key makes a new run.
pub async fn retention_prunes_finished_runs_and_forgets_keys(h: Harness) {
    const HOUR: Duration = Duration::from_secs(3600);
    let retention = Retention::default()
        .succeeded(Some(HOUR))
        .cancelled(Some(HOUR))
        .dead_lettered(Some(2 * HOUR))
        .key_window(3 * HOUR);
    let storage = h.storage.clone();
    let prune = |limit| {
        let storage = storage.clone();
        async move {
            ok(
                "prune",
                storage.prune("conformance", &retention, limit).await,
            )
        }
    };
    let plain = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "a".into() }).await,
    )
    .id();
    let dead = ok("enqueue", h.jobs.enqueue(FailPermanently {}).await).id();
    let keyed = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed { token: "k".into() })
            .idempotency_key("k1")
            .await,
    )
    .id();
    let later = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "later".into(),
            })
            .delay(10 * HOUR)
            .await,
    )
    .id();
    ok("drain", h.jobs.drain().await);
    let cancelled = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed { token: "c".into() })
            .delay(HOUR)
            .await,
    )
    .id();
    ok("cancel", h.jobs.runs().cancel(&cancelled).await);

    let pruned = prune(100).await;
    assert_eq!((pruned.runs, pruned.keys), (0, 0), "nothing is old yet");

    h.clock.advance(HOUR + Duration::from_secs(60));
    let pruned = prune(100).await;
    assert_eq!(
        (pruned.runs, pruned.keys),
        (2, 0),
        "the succeeded and the cancelled run"
    );
    assert!(h.jobs.runs().get(&plain).await.ok().flatten().is_none());
    assert!(h.jobs.runs().get(&cancelled).await.ok().flatten().is_none());
    assert!(matches!(
        h.jobs.runs().attempts(&plain).await,
        Err(crate::Error::RunNotFound { .. })
    ));
    // Kept: the dead letter (2 h), the keyed run (its key is remembered), the one not due.
    for id in [dead, keyed, later] {
        assert!(
            h.jobs.runs().get(&id).await.ok().flatten().is_some(),
            "{id}"
        );
    }
    let again = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed { token: "k".into() })
            .idempotency_key("k1")
            .await,
    );
    assert_eq!(
        (again.id(), again.created),
        (keyed, false),
        "the key is remembered"
    );

    h.clock.advance(2 * HOUR);
    let pruned = prune(100).await;
    assert_eq!(
        (pruned.runs, pruned.keys),
        (2, 1),
        "the key forgotten, then its run and the dead letter pruned"
    );
    assert!(h.jobs.runs().get(&keyed).await.ok().flatten().is_none());
    assert!(h.jobs.runs().get(&dead).await.ok().flatten().is_none());
    assert!(
        h.jobs.runs().get(&later).await.ok().flatten().is_some(),
        "not finished"
    );
    let fresh = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed { token: "k".into() })
            .idempotency_key("k1")
            .await,
    );
    assert!(fresh.created, "a forgotten key makes a new run");

    // Batches: at most `limit` runs per call.
    for n in 0..3 {
        ok(
            "enqueue",
            h.jobs
                .enqueue(Succeed {
                    token: format!("b{n}"),
                })
                .await,
        );
    }
    ok("drain", h.jobs.drain().await);
    h.clock.advance(2 * HOUR);
    let mut batches = Vec::new();
    loop {
        let pruned = prune(2).await;
        batches.push(pruned.runs);
        if pruned.runs < 2 && pruned.keys < 2 {
            break;
        }
    }
    // The three just finished go, two at a time. The fresh keyed run stays (its key was
    // taken two hours ago, inside the window), and so does the run not yet due.
    assert_eq!(batches.iter().sum::<usize>(), 3, "{batches:?}");
    assert!(batches.iter().all(|n| *n <= 2), "{batches:?}");
    let left: Vec<RunId> = ok("list", h.jobs.runs().list(ListRuns::new()).await)
        .runs
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![fresh.id(), later]);
}

/// A periodic schedule makes one run per tick however many `Jobs` (processes) run it at
/// once: each tick's run is enqueued ahead (visible as `scheduled`), runs when due, and
/// after a gap with nobody running, the first missed tick runs once, late, and the
/// schedule resumes at the next tick to come.
pub async fn periodic_schedule_runs_once_per_tick(h: Harness) {
    use chrono::{TimeZone, Utc};

    let start = match Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 30) {
        chrono::LocalResult::Single(at) => at,
        _ => panic!("a valid time"),
    };
    h.clock.set(start);
    let process = || {
        let schedule = ok(
            "schedule",
            crate::Periodic::new(
                "every-minute",
                "* * * * *",
                Succeed {
                    token: "tick".into(),
                },
            ),
        );
        ok(
            "build",
            crate::Jobs::builder()
                .namespace("conformance")
                .shared_storage(h.storage.clone())
                .periodic(schedule)
                .build(),
        )
    };
    let (a, b) = (process(), process());
    let runs = || async {
        let mut runs = ok(
            "list",
            h.jobs.runs().list(ListRuns::new().task::<Succeed>()).await,
        )
        .runs;
        runs.sort_by_key(|r| r.run_at);
        runs.iter()
            .map(|r| (r.run_at.format("%H:%M:%S").to_string(), r.status))
            .collect::<Vec<_>>()
    };

    // Both processes look; one run for the 10:01 tick, scheduled.
    let (ra, rb) = tokio::join!(a.drain(), b.drain());
    assert_eq!(ok("drain", ra).attempts() + ok("drain", rb).attempts(), 0);
    assert_eq!(
        runs().await,
        [("10:01:00".to_owned(), RunStatus::Scheduled)]
    );
    let scheduled = ok("list", h.jobs.runs().list(ListRuns::new()).await).runs;
    assert_eq!(
        scheduled[0].idempotency_key.as_deref(),
        Some("periodic:every-minute:2026-11-29T10:01:00Z")
    );

    // The tick comes: it runs once, and the next tick's run is there.
    h.clock.set(start + chrono::TimeDelta::seconds(30));
    let (ra, rb) = tokio::join!(a.drain(), b.drain());
    assert_eq!(ok("drain", ra).succeeded + ok("drain", rb).succeeded, 1);
    assert_eq!(
        runs().await,
        [
            ("10:01:00".to_owned(), RunStatus::Succeeded),
            ("10:02:00".to_owned(), RunStatus::Scheduled)
        ]
    );

    // Nobody runs from 10:01:30 to 10:06:30: the 10:02 run runs once, late; 10:03 to
    // 10:06 are skipped; the next run is 10:07's.
    h.clock.set(start + chrono::TimeDelta::seconds(6 * 60));
    assert_eq!(ok("drain", b.drain().await).succeeded, 1);
    assert_eq!(ok("drain", a.drain().await).attempts(), 0);
    assert_eq!(
        runs().await,
        [
            ("10:01:00".to_owned(), RunStatus::Succeeded),
            ("10:02:00".to_owned(), RunStatus::Succeeded),
            ("10:07:00".to_owned(), RunStatus::Scheduled)
        ]
    );
}

/// Per-key limits hold claims back without using attempts: with one in flight per key,
/// a claim takes the first run of each key and nothing more until a run of that key
/// finishes; with two starts per minute, a key gets two runs a minute.
pub async fn key_limits_hold_runs_back_without_using_attempts(h: Harness) {
    use crate::KeyLimit;
    use crate::storage::{AttemptResult, ClaimRequest, Lease, Outcome};

    let jobs = h.jobs.clone();
    let enqueue = |token: &'static str| {
        let jobs = jobs.clone();
        async move {
            ok(
                "enqueue",
                jobs.enqueue(Succeed {
                    token: token.into(),
                })
                .await,
            )
            .id()
        }
    };
    let a1 = enqueue("a").await;
    let a2 = enqueue("a").await;
    let _a3 = enqueue("a").await;
    let b1 = enqueue("b").await;
    let storage = h.storage.clone();
    let claim = |limit: KeyLimit| {
        let storage = storage.clone();
        async move {
            let request = ClaimRequest::new(
                "conformance",
                vec![Succeed::NAME.to_owned()],
                10,
                Duration::from_secs(30),
                "conformance-worker",
            )
            .key_limit(limit);
            ok("claim", storage.claim(request).await)
        }
    };
    let one_at_a_time = KeyLimit::by("token").in_flight(1);
    let first = claim(one_at_a_time.clone()).await;
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a1, b1]);
    assert!(
        claim(one_at_a_time.clone()).await.is_empty(),
        "a and b are at their limit"
    );
    assert_eq!(h.run(a2).await.attempt, 0, "waiting uses no attempt");
    let done = vec![Outcome::new(Lease::of(&first[0]), AttemptResult::Succeeded)];
    ok("finish", h.storage.finish("conformance", done).await);
    let next = claim(one_at_a_time.clone()).await;
    assert_eq!(next.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a2]);

    // Starts per period: two a minute for key c, whatever finishes.
    let mut c = Vec::new();
    for _ in 0..4 {
        c.push(enqueue("c").await);
    }
    let rate = KeyLimit::by("token").starts(2, Duration::from_secs(60));
    let started: Vec<_> = claim(rate.clone())
        .await
        .into_iter()
        .filter(|r| r.payload["token"] == "c")
        .collect();
    assert_eq!(
        started.iter().map(|r| r.id).collect::<Vec<_>>(),
        c[..2].to_vec()
    );
    let done = started
        .iter()
        .map(|r| Outcome::new(Lease::of(r), AttemptResult::Succeeded))
        .collect();
    ok("finish", h.storage.finish("conformance", done).await);
    let more = claim(rate.clone()).await;
    assert!(
        more.iter().all(|r| r.payload["token"] != "c"),
        "no third start of c within the minute: {more:?}"
    );
    h.clock.advance(Duration::from_secs(61));
    let later: Vec<_> = claim(rate)
        .await
        .into_iter()
        .filter(|r| r.payload["token"] == "c")
        .map(|r| r.id)
        .collect();
    assert_eq!(later, c[2..].to_vec());
}

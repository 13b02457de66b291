//! Periodic schedules: one run per tick, none skipped while a worker is up.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::ok;
use crate::Jobs;
use crate::ListRuns;
use crate::Periodic;
use crate::Run;
use crate::testing::Harness;
use crate::testing::tasks::{NoteTick, Succeed, seen};
use crate::worker::scheduler::Scheduler;

fn at(hour: u32, minute: u32, second: u32, millis: i64) -> DateTime<Utc> {
    match Utc.with_ymd_and_hms(2026, 11, 29, hour, minute, second) {
        chrono::LocalResult::Single(at) => at + TimeDelta::milliseconds(millis),
        _ => panic!("a valid time"),
    }
}

/// A `Jobs` (one process) over the harness's storage with one schedule.
fn process(h: &Harness, schedule: Periodic) -> Jobs {
    ok(
        "build",
        Jobs::builder()
            .namespace("conformance")
            .shared_storage(h.storage.clone())
            .periodic(schedule)
            .build(),
    )
}

/// Every run of task `T`, oldest tick first.
async fn runs_of<T: crate::Task>(h: &Harness) -> Vec<Run> {
    let mut runs = ok(
        "list",
        h.jobs
            .runs()
            .list(ListRuns::new().task::<T>().limit(1000))
            .await,
    )
    .runs;
    runs.sort_by_key(|run| run.tick);
    runs
}

/// An every-second schedule whose scheduler passes come late (just after a tick, then
/// after a stall of several seconds) still gets one run for every tick, each exactly once
/// although two processes schedule it, each carrying its tick; the ticks enqueued late are
/// due at once, and a handler reads its run's tick from its `Context`.
pub async fn periodic_ticks_are_never_skipped(h: Harness) {
    h.clock.set(at(10, 0, 16, 990));
    let schedule = || {
        ok(
            "schedule",
            Periodic::new(
                "every-second",
                "* * * * * *",
                NoteTick {
                    token: "never-skipped".into(),
                },
            ),
        )
    };
    let (a, b) = (process(&h, schedule()), process(&h, schedule()));
    let lookahead = Duration::from_secs(2);
    let day = Duration::from_secs(86_400);
    let (mut first, mut second) = (
        Scheduler::new(&a, lookahead, day),
        Scheduler::new(&b, lookahead, day),
    );
    // 16.990: ticks 17 and 18 (up to 18.990), from both processes.
    assert_eq!(ok("pass", first.pass(&a).await), 2);
    assert_eq!(ok("pass", second.pass(&b).await), 0);
    // 18.001, just after tick 18: the next pass starts where the last one ended.
    h.clock.set(at(10, 0, 18, 1));
    assert_eq!(ok("pass", first.pass(&a).await), 2, "ticks 19 and 20");
    // A stall of 7.5 s: ticks 21 to 25 passed without a pass; none is lost.
    h.clock.set(at(10, 0, 25, 500));
    assert_eq!(ok("pass", first.pass(&a).await), 7, "ticks 21 to 27");
    assert_eq!(ok("pass", second.pass(&b).await), 0, "all there already");

    let runs = runs_of::<NoteTick>(&h).await;
    let ticks: Vec<DateTime<Utc>> = runs.iter().filter_map(|run| run.tick).collect();
    let expected: Vec<DateTime<Utc>> = (17..=27).map(|s| at(10, 0, s, 0)).collect();
    assert_eq!(ticks, expected, "one run per tick, none skipped");
    for run in &runs {
        let tick = run.tick.unwrap_or_default();
        let key = format!(
            "periodic:every-second:{}",
            tick.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        assert_eq!(run.idempotency_key.as_deref(), Some(key.as_str()));
        // Enqueued ahead: due at the tick; enqueued late (21 to 25): due at once.
        let late = tick > at(10, 0, 20, 0) && tick < at(10, 0, 25, 500);
        let due = if late { at(10, 0, 25, 500) } else { tick };
        assert_eq!(run.run_at, due, "{tick}");
    }

    // The due ones run once each and know their tick.
    let report = ok("drain", a.drain().await);
    assert_eq!(report.succeeded, 9, "ticks 17 to 25");
    let noted = seen("never-skipped");
    let expected: Vec<String> = (17..=25)
        .map(|s| format!("tick 2026-11-29T10:00:{s}.000Z"))
        .collect();
    let mut noted_sorted = noted.clone();
    noted_sorted.sort();
    assert_eq!(noted_sorted, expected, "{noted:?}");
}

/// After a long outage of the storage, a live scheduler catches up at most an hour (and
/// at most half the key window) of ticks; older ones are skipped. A run that is not
/// periodic has no tick.
pub async fn periodic_catch_up_is_bounded(h: Harness) {
    h.clock.set(at(10, 0, 30, 0));
    let schedule = ok(
        "schedule",
        Periodic::new(
            "every-minute",
            "* * * * *",
            Succeed {
                token: "bounded".into(),
            },
        ),
    );
    let jobs = process(&h, schedule);
    let mut scheduler = Scheduler::new(&jobs, Duration::from_secs(2), Duration::from_secs(86_400));
    assert_eq!(ok("pass", scheduler.pass(&jobs).await), 1, "10:01");
    // Three hours without a pass.
    h.clock.set(at(13, 0, 30, 0));
    assert_eq!(
        ok("pass", scheduler.pass(&jobs).await),
        61,
        "12:01 to 13:01"
    );
    let ticks: Vec<DateTime<Utc>> = runs_of::<Succeed>(&h)
        .await
        .iter()
        .filter_map(|run| run.tick)
        .collect();
    let mut expected = vec![at(10, 1, 0, 0)];
    expected.extend((1..=59).map(|m| at(12, m, 0, 0)));
    expected.extend([at(13, 0, 0, 0), at(13, 1, 0, 0)]);
    assert_eq!(ticks, expected);

    let plain = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "x".into() }).await,
    );
    assert_eq!(plain.run.tick, None);
}

//! Periodic schedules on real time: two workers (two processes' worth of `Jobs`) running
//! an every-second schedule, started just before a whole second, make exactly one run per
//! tick and skip none, on memory, SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod postgres_support;
mod sqlite_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use jobs::{Context, Jobs, MemoryStorage, Periodic, Storage};

/// The ticks each handler ran for, by token.
static TICKS: Mutex<Option<HashMap<String, Vec<DateTime<Utc>>>>> = Mutex::new(None);

#[jobs::task(name = "periodic-every-second")]
async fn every_second(ctx: Context, token: String) {
    let tick = ctx.tick().unwrap_or(DateTime::<Utc>::MIN_UTC);
    TICKS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(token)
        .or_default()
        .push(tick);
}

fn ticks_of(token: &str) -> Vec<DateTime<Utc>> {
    let mut ticks = TICKS
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|all| all.get(token).cloned())
        .unwrap_or_default();
    ticks.sort();
    ticks
}

/// Sleeps until `millis` past a whole second of the system clock.
async fn until_millis_past_a_second(millis: u32) {
    let now = Utc::now();
    let into = now.nanosecond() / 1_000_000 % 1000;
    let wait = (1000 + millis - into) % 1000;
    tokio::time::sleep(Duration::from_millis(u64::from(wait))).await;
}

/// Two `Jobs` with the schedule, each with a worker polling every 1.3 s, started 999 ms
/// past a second; after 7 s every tick from the first to the last ran exactly once, and
/// at least five did.
async fn every_tick_runs_once(a: Arc<dyn Storage>, b: Arc<dyn Storage>, token: &str) {
    let jobs = |storage: Arc<dyn Storage>| {
        let schedule = Periodic::new(
            "every-second",
            "* * * * * *",
            EverySecond {
                token: token.to_owned(),
            },
        )
        .unwrap();
        Jobs::builder()
            .namespace(token)
            .shared_storage(storage)
            .periodic(schedule)
            .build()
            .unwrap()
    };
    let (a, b) = (jobs(a), jobs(b));
    until_millis_past_a_second(999).await;
    // A poll interval that is no multiple of the schedule's period: passes drift across
    // the ticks.
    let poll = Duration::from_millis(1300);
    let workers = [
        a.worker().poll_interval(poll).start(),
        b.worker().poll_interval(poll).start(),
    ];
    tokio::time::sleep(Duration::from_secs(7)).await;
    for worker in workers {
        worker.shutdown().await;
    }
    let ticks = ticks_of(token);
    assert!(ticks.len() >= 5, "{token}: only {ticks:?}");
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::TimeDelta::seconds(1),
            "{token}: a tick skipped or run twice: {ticks:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tick_runs_once_on_memory() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    every_tick_runs_once(storage.clone(), storage, "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tick_runs_once_on_sqlite() {
    let path = sqlite_support::fresh_path("periodic");
    let open = || async { jobs_sqlite::SqliteStorage::open(&path).await.unwrap() };
    let (a, b) = (open().await, open().await);
    every_tick_runs_once(Arc::new(a), Arc::new(b), "sqlite").await;
    sqlite_support::remove_files(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tick_runs_once_on_postgres() {
    let schema = postgres_support::schema_name("periodic");
    let _guard = postgres_support::SchemaGuard(schema.clone());
    let a = postgres_support::storage(&schema, None, 4).await;
    let b = postgres_support::storage(&schema, None, 4).await;
    every_tick_runs_once(Arc::new(a), Arc::new(b), "postgres").await;
}

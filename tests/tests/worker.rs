//! The worker on the memory storage: slots, wakeups, polling, leases, rescue, shutdown.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jobs::storage::ClaimRequest;
use jobs::testing::{Call, FaultyStorage};
use jobs::{Jobs, ManualClock, MemoryStorage, RunId, RunStatus, TaskError};

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[jobs::task(retry(attempts = 1))]
async fn hold_slot(millis: u64) -> Result<(), TaskError> {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

#[jobs::task(retry(attempts = 1))]
async fn long_attempt(millis: u64) {
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

#[jobs::task(retry(attempts = 2))]
async fn quick(n: u32) {
    let _ = n;
}

/// A webhook delivery to an endpoint that hangs: it waits until released.
#[jobs::task(queue = "slow-webhooks", retry(attempts = 1))]
async fn hanging_delivery(n: u32) {
    let _ = n;
    RELEASE.notified().await;
}

static RELEASE: tokio::sync::Notify = tokio::sync::Notify::const_new();

#[jobs::task(queue = "notifications", retry(attempts = 1))]
async fn notify(n: u32) {
    let _ = n;
}

fn jobs_on(clock: &ManualClock, namespace: &str) -> Jobs {
    Jobs::builder()
        .namespace(namespace)
        .storage(MemoryStorage::with_clock(clock.clone()))
        .build()
        .unwrap()
}

async fn wait_for(jobs: &Jobs, id: RunId, status: RunStatus) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let run = jobs.runs().get(&id).await.unwrap().unwrap();
        if run.status == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never became {status}: {run:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_never_runs_more_than_its_slots() {
    let clock = ManualClock::new();
    let jobs = jobs_on(&clock, "slots");
    let worker = jobs
        .worker()
        .concurrency(3)
        .poll_interval(Duration::from_millis(5))
        .start();
    let runs = jobs
        .enqueue_many((0..12).map(|_| HoldSlot { millis: 30 }))
        .await
        .unwrap();
    for run in &runs {
        wait_for(&jobs, run.id(), RunStatus::Succeeded).await;
    }
    let report = worker.shutdown().await;
    assert_eq!(report.completed, 12);
    assert_eq!(
        PEAK.load(Ordering::SeqCst),
        3,
        "three slots, all used, never more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_picks_up_runs_that_become_due() {
    let clock = ManualClock::new();
    let jobs = jobs_on(&clock, "poll");
    let worker = jobs
        .worker()
        .poll_interval(Duration::from_millis(10))
        .start();
    let id = jobs
        .enqueue(Quick { n: 1 })
        .delay(Duration::from_secs(3600))
        .await
        .unwrap()
        .id();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        jobs.runs().get(&id).await.unwrap().unwrap().status,
        RunStatus::Scheduled
    );
    // No event announces that time passed: the poll finds it.
    clock.advance(Duration::from_secs(3600));
    wait_for(&jobs, id, RunStatus::Succeeded).await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rescuer_returns_runs_of_a_vanished_worker() {
    let clock = ManualClock::new();
    let jobs = jobs_on(&clock, "rescue");
    let id = jobs.enqueue(Quick { n: 2 }).await.unwrap().id();
    // A worker claims the run and vanishes without a word.
    let request = ClaimRequest::new(
        "rescue",
        vec!["quick".into()],
        1,
        Duration::from_secs(30),
        "ghost",
    );
    assert_eq!(jobs.storage().claim(request).await.unwrap().len(), 1);

    let worker = jobs
        .worker()
        .poll_interval(Duration::from_millis(5))
        .rescue_interval(Duration::from_millis(5))
        .start();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        jobs.runs().get(&id).await.unwrap().unwrap().status,
        RunStatus::Running,
        "the lease still holds"
    );
    clock.advance(Duration::from_secs(31));
    wait_for(&jobs, id, RunStatus::Succeeded).await;
    worker.shutdown().await;
    let attempts = jobs.runs().attempts(&id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].outcome, jobs::AttemptOutcome::LeaseExpired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_long_attempt_leased() {
    let clock = ManualClock::new();
    let jobs = jobs_on(&clock, "heartbeat");
    let worker = jobs
        .worker()
        .lease(Duration::from_secs(30))
        .heartbeat_interval(Duration::from_millis(5))
        .poll_interval(Duration::from_millis(5))
        .start();
    let id = jobs
        .enqueue(LongAttempt { millis: 400 })
        .await
        .unwrap()
        .id();
    wait_for(&jobs, id, RunStatus::Running).await;
    // Two minutes pass on the storage's clock while the attempt runs; heartbeats renew it.
    for _ in 0..6 {
        clock.advance(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(
            jobs.storage()
                .rescue_expired("heartbeat")
                .await
                .unwrap()
                .is_empty()
        );
    }
    wait_for(&jobs, id, RunStatus::Succeeded).await;
    worker.shutdown().await;
    assert_eq!(jobs.runs().attempts(&id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leaves_other_namespaces_alone() {
    let clock = ManualClock::new();
    let storage = MemoryStorage::with_clock(clock.clone());
    let a = Jobs::builder()
        .namespace("a")
        .storage(storage.clone())
        .build()
        .unwrap();
    let b = Jobs::builder()
        .namespace("b")
        .storage(storage)
        .build()
        .unwrap();
    let worker = a.worker().poll_interval(Duration::from_millis(5)).start();
    let theirs = b.enqueue(Quick { n: 3 }).await.unwrap().id();
    let mine = a.enqueue(Quick { n: 4 }).await.unwrap().id();
    wait_for(&a, mine, RunStatus::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        b.runs().get(&theirs).await.unwrap().unwrap().status,
        RunStatus::Queued
    );
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_never_claims_far_ahead_of_what_it_has_recorded() {
    let clock = ManualClock::new();
    // Results take 50 ms to write: they pile up unless the worker holds back.
    let storage = FaultyStorage::new(MemoryStorage::with_clock(clock));
    storage.slow(
        Call::Finish,
        Duration::from_millis(50),
        Duration::from_secs(3600),
    );
    let jobs = Jobs::builder()
        .namespace("backpressure")
        .storage(storage)
        .build()
        .unwrap();
    let concurrency = 8;
    let runs = jobs
        .enqueue_many((0..400).map(|n| Quick { n }))
        .await
        .unwrap();
    let worker = jobs
        .worker()
        .concurrency(concurrency)
        .poll_interval(Duration::from_millis(5))
        .start();
    // Handlers are instant and writing results is slow: without back-pressure the worker
    // would claim (and hold leases on) nearly every run long before recording them.
    let mut most_running = 0;
    let running = jobs::ListRuns::new().status(RunStatus::Running).limit(1000);
    for run in &runs {
        loop {
            let held = jobs.runs().list(running.clone()).await.unwrap().runs.len();
            most_running = most_running.max(held);
            let status = jobs.runs().get(&run.id()).await.unwrap().unwrap().status;
            if status == RunStatus::Succeeded {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    worker.shutdown().await;
    assert!(most_running > 0);
    assert!(
        most_running <= 2 * concurrency,
        "the worker held {most_running} leases with {concurrency} slots"
    );
}

/// Each queue has its own slots: deliveries that hang fill the webhooks queue's two slots,
/// and notifications still run at once in theirs. A worker told to serve one queue leaves
/// the others' runs alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_queue_never_takes_another_queues_slots() {
    let clock = ManualClock::new();
    let jobs = jobs_on(&clock, "queues");
    let mut hanging = Vec::new();
    for n in 0..5 {
        hanging.push(jobs.enqueue(HangingDelivery { n }).await.unwrap());
    }
    assert_eq!(hanging[0].run.queue, "slow-webhooks");
    let worker = jobs
        .worker()
        .queue("slow-webhooks", 2)
        .queue("notifications", 4)
        .poll_interval(Duration::from_millis(5))
        .start();
    wait_for(&jobs, hanging[0].id(), RunStatus::Running).await;
    wait_for(&jobs, hanging[1].id(), RunStatus::Running).await;

    let mut notes = Vec::new();
    for n in 0..20 {
        notes.push(jobs.enqueue(Notify { n }).await.unwrap().id());
    }
    for id in &notes {
        wait_for(&jobs, *id, RunStatus::Succeeded).await;
    }
    let running = jobs
        .runs()
        .list(jobs::ListRuns::new().status(RunStatus::Running))
        .await
        .unwrap();
    assert_eq!(running.runs.len(), 2, "two slots in the webhooks queue");
    assert!(running.runs.iter().all(|r| r.queue == "slow-webhooks"));

    // Release the deliveries; the other three get their turn.
    RELEASE.notify_waiters();
    for _ in 0..50 {
        RELEASE.notify_waiters();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let done = jobs
            .runs()
            .list(jobs::ListRuns::new().status(RunStatus::Succeeded))
            .await
            .unwrap();
        if done.runs.len() == 25 {
            break;
        }
    }
    for run in &hanging {
        wait_for(&jobs, run.id(), RunStatus::Succeeded).await;
    }
    worker.shutdown().await;

    // A worker of one queue claims nothing of another.
    let only = jobs
        .worker()
        .queue("notifications", 1)
        .poll_interval(Duration::from_millis(5))
        .start();
    let other = jobs.enqueue(HangingDelivery { n: 99 }).await.unwrap().id();
    let mine = jobs.enqueue(Notify { n: 99 }).await.unwrap().id();
    wait_for(&jobs, mine, RunStatus::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let left = jobs.runs().get(&other).await.unwrap().unwrap();
    assert_eq!(left.status, RunStatus::Queued, "not served by this worker");
    only.shutdown().await;
}

/// The worker prunes by itself: a finished run older than its retention disappears
/// within a prune interval; a worker told to keep everything keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_prunes_finished_runs_past_their_retention() {
    let clock = ManualClock::new();
    let jobs = jobs_on(&clock, "prune");
    let id = jobs.enqueue(Quick { n: 1 }).await.unwrap().id();
    jobs.drain().await.unwrap();
    clock.advance(Duration::from_secs(2 * 3600));

    let keeper = jobs
        .worker()
        .retention(jobs::Retention::keep_forever())
        .prune_interval(Duration::from_millis(5))
        .start();
    tokio::time::sleep(Duration::from_millis(100)).await;
    keeper.shutdown().await;
    assert!(
        jobs.runs().get(&id).await.unwrap().is_some(),
        "kept for ever"
    );

    let pruner = jobs
        .worker()
        .retention(jobs::Retention::default().succeeded(Some(Duration::from_secs(3600))))
        .prune_interval(Duration::from_millis(5))
        .start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while jobs.runs().get(&id).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "never pruned");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    pruner.shutdown().await;
}

/// A worker keeps the next tick of every periodic schedule enqueued and runs it when due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_periodic_schedules_on_their_ticks() {
    let clock = ManualClock::new();
    let jobs = Jobs::builder()
        .namespace("periodic")
        .storage(MemoryStorage::with_clock(clock.clone()))
        .periodic(jobs::Periodic::new("quick-every-minute", "* * * * *", Quick { n: 7 }).unwrap())
        .build()
        .unwrap();
    let worker = jobs
        .worker()
        .poll_interval(Duration::from_millis(5))
        .start();
    let list = |status| {
        let jobs = jobs.clone();
        async move {
            jobs.runs()
                .list(jobs::ListRuns::new().status(status))
                .await
                .unwrap()
                .runs
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while list(RunStatus::Scheduled).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no tick enqueued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first = list(RunStatus::Scheduled).await.remove(0);
    clock.set(first.run_at);
    wait_for(&jobs, first.id, RunStatus::Succeeded).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let next = list(RunStatus::Scheduled).await;
        if let Some(next) = next.first() {
            assert_eq!(next.run_at, first.run_at + chrono::TimeDelta::minutes(1));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the next tick was not enqueued"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.shutdown().await;
}

static PER_KEY_RUNNING: AtomicUsize = AtomicUsize::new(0);
static PER_KEY_PEAK: AtomicUsize = AtomicUsize::new(0);

#[jobs::task(retry(attempts = 1))]
async fn call_endpoint(endpoint_id: String) {
    let _ = endpoint_id;
    let now = PER_KEY_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PER_KEY_PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    PER_KEY_RUNNING.fetch_sub(1, Ordering::SeqCst);
}

/// A worker with free slots still runs one run of a key at a time under `in_flight(1)`,
/// while another key's run goes beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keeps_a_key_within_its_limit() {
    let clock = ManualClock::new();
    let jobs = Jobs::builder()
        .namespace("limits")
        .storage(MemoryStorage::with_clock(clock.clone()))
        .limit::<CallEndpoint>(jobs::KeyLimit::by("endpoint_id").in_flight(1))
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(
            jobs.enqueue(CallEndpoint {
                endpoint_id: "ep_1".into(),
            })
            .await
            .unwrap()
            .id(),
        );
    }
    let other = jobs
        .enqueue(CallEndpoint {
            endpoint_id: "ep_2".into(),
        })
        .await
        .unwrap()
        .id();
    let worker = jobs
        .worker()
        .concurrency(8)
        .poll_interval(Duration::from_millis(5))
        .start();
    for id in ids.iter().chain([&other]) {
        wait_for(&jobs, *id, RunStatus::Succeeded).await;
    }
    worker.shutdown().await;
    assert_eq!(
        PER_KEY_PEAK.load(Ordering::SeqCst),
        2,
        "one run of ep_1 at a time, beside the one of ep_2"
    );
    for id in &ids {
        assert_eq!(
            jobs.runs().get(id).await.unwrap().unwrap().attempt,
            1,
            "no attempt used waiting"
        );
    }
}

//! `SqliteStorage` beyond the conformance suite: several workers and two storages sharing
//! one file in one process, a restart keeping every run, files it must refuse, and the
//! watch of other processes' writes: it wakes idle workers, outlives the runtime that
//! subscribed first (and needs none), and ends with its storage.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod sqlite_support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use jobs::storage::StorageEvent;
use jobs::{Context, Error, Jobs, RunId, RunStatus, Storage};
use jobs_sqlite::SqliteStorage;
use sqlite_support::fresh_path;
use tokio::sync::broadcast;

/// How many times each run's handler ran, by run.
static EXECUTIONS: Mutex<Option<HashMap<RunId, u32>>> = Mutex::new(None);

#[jobs::task(retry(attempts = 3, backoff = "fixed", initial_delay = "10ms"))]
async fn count_execution(ctx: Context, n: u32) {
    let _ = n;
    // A little work, so that workers overlap.
    tokio::task::yield_now().await;
    let mut executions = EXECUTIONS.lock().unwrap();
    *executions
        .get_or_insert_with(HashMap::new)
        .entry(ctx.run_id())
        .or_default() += 1;
}

fn jobs_on(storage: SqliteStorage) -> Jobs {
    Jobs::builder()
        .namespace("shared")
        .storage(storage)
        .build()
        .unwrap()
}

/// Four workers on one storage and two more on a second storage of the same file (two
/// writer connections contending for the file's lock, as two processes would), while two
/// tasks enqueue through both: every run succeeds and runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_storages_in_one_process_share_one_file() {
    const PER_ENQUEUER: u32 = 600;
    let path = fresh_path("shared");
    let first = SqliteStorage::open(&path).await.unwrap();
    let second = SqliteStorage::open(&path).await.unwrap();
    let mut workers = Vec::new();
    for storage in [&first, &first, &first, &first, &second, &second] {
        workers.push(
            jobs_on(storage.clone())
                .worker()
                .concurrency(8)
                .poll_interval(Duration::from_millis(20))
                .start(),
        );
    }
    let mut enqueuers = Vec::new();
    for (index, storage) in [&first, &second].into_iter().enumerate() {
        let jobs = jobs_on(storage.clone());
        enqueuers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for chunk in 0..PER_ENQUEUER / 50 {
                let batch = (0..50).map(|k| CountExecution {
                    n: index as u32 * PER_ENQUEUER + chunk * 50 + k,
                });
                let enqueued = jobs.enqueue_many(batch).await.unwrap();
                ids.extend(enqueued.iter().map(|e| e.id()));
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for enqueuer in enqueuers {
        ids.extend(enqueuer.await.unwrap());
    }
    assert_eq!(ids.len(), 2 * PER_ENQUEUER as usize);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = first
            .stats("shared", Duration::from_secs(60))
            .await
            .unwrap()
            .count("count-execution", RunStatus::Succeeded);
        if done == ids.len() as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {} runs succeeded within 60 s",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stale = 0;
    for worker in workers {
        let report = worker.shutdown().await;
        stale += report.stale;
        assert_eq!(report.unwritten, 0, "{report:?}");
    }
    assert_eq!(
        stale, 0,
        "no result was fenced out: no run was claimed twice"
    );

    let executions = EXECUTIONS.lock().unwrap().take().unwrap_or_default();
    for id in &ids {
        let run = first.get("shared", *id).await.unwrap().unwrap();
        assert_eq!(
            (run.status, run.attempt),
            (RunStatus::Succeeded, 1),
            "{run:?}"
        );
        assert_eq!(executions.get(id), Some(&1), "run {id} ran exactly once");
    }
    // (Other tests of this file run the task too: their runs are in the map as well.)
    let workers: i64 = sqlx::query_scalar("SELECT count(DISTINCT worker) FROM runs")
        .fetch_one(first.read_pool())
        .await
        .unwrap();
    assert!(workers >= 2, "the work was shared, by {workers} worker(s)");
}

/// A storage closed and opened again (a restart) finds every run as it was.
#[tokio::test]
async fn runs_survive_closing_and_opening_the_file_again() {
    let path = fresh_path("reopen");
    let storage = SqliteStorage::open(&path).await.unwrap();
    let jobs = jobs_on(storage.clone());
    let now = jobs
        .enqueue(CountExecution { n: 1 })
        .idempotency_key("once")
        .await
        .unwrap();
    let later = jobs
        .enqueue(CountExecution { n: 2 })
        .delay(Duration::from_secs(3600))
        .await
        .unwrap();
    storage.close().await;
    drop(jobs);
    drop(storage);

    let storage = SqliteStorage::open(&path).await.unwrap();
    let jobs = jobs_on(storage.clone());
    let run = jobs.runs().get(&now.id()).await.unwrap().unwrap();
    assert_eq!(run, now.run, "the run as it was enqueued");
    let scheduled = jobs.runs().get(&later.id()).await.unwrap().unwrap();
    assert_eq!(scheduled.status, RunStatus::Scheduled);
    let again = jobs
        .enqueue(CountExecution { n: 3 })
        .idempotency_key("once")
        .await
        .unwrap();
    assert!(!again.created, "the key is remembered across the restart");
    assert_eq!(again.id(), now.id());
}

/// A file written by a newer version of the schema is refused, and left as it was.
#[tokio::test]
async fn a_file_from_a_newer_schema_is_refused() {
    let path = fresh_path("newer");
    let storage = SqliteStorage::open(&path).await.unwrap();
    storage.close().await;
    drop(storage);
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("PRAGMA user_version = 99")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    match SqliteStorage::open(&path).await {
        Err(Error::Config(message)) => {
            assert!(message.contains("schema version 99"), "{message}");
            assert!(message.contains("newer jobs-sqlite"), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
        other => panic!("a newer file should be refused, got {other:?}"),
    }
}

/// Files that cannot hold runs are refused with an error naming them, and left alone.
#[tokio::test]
async fn unusable_files_are_refused_naming_the_file() {
    let garbage = fresh_path("garbage");
    std::fs::write(&garbage, b"this is not a database, just some text").unwrap();
    let missing_dir = fresh_path("missing").join("no-such-dir").join("jobs.db");
    for (path, why) in [
        (garbage.clone(), "file is not a database"),
        (missing_dir, "does not exist; create it first"),
    ] {
        match SqliteStorage::open(&path).await {
            Err(error @ Error::Storage { .. }) => {
                let message = error.to_string();
                assert!(
                    message.contains(&path.display().to_string()),
                    "names the file: {message}"
                );
                assert!(message.contains(why), "says why: {message}");
            }
            other => panic!("{} should be refused, got {other:?}", path.display()),
        }
    }
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        b"this is not a database, just some text",
        "a refused file is left as it was"
    );
}

/// A batch larger than one insert statement takes is stored whole and in order, and a
/// key repeated across the statements makes one run.
#[tokio::test]
async fn a_large_batch_is_stored_in_order_with_its_keys() {
    use jobs::storage::NewRun;

    let storage = SqliteStorage::open(fresh_path("batch")).await.unwrap();
    let mut runs: Vec<NewRun> = (0..1_500)
        .map(|n| {
            let mut run = NewRun::new("batch", "count-execution", serde_json::json!({ "n": n }), 1);
            run.idempotency_key = Some(format!("key-{n}"));
            run
        })
        .collect();
    runs[1_200].idempotency_key = Some("key-3".to_owned());
    let enqueued = storage.enqueue(runs.clone()).await.unwrap();
    assert_eq!(enqueued.len(), runs.len());
    for (n, (stored, run)) in enqueued.iter().zip(&runs).enumerate() {
        if n == 1_200 {
            assert!(!stored.created, "the key of run 3 was taken");
            assert_eq!(stored.id(), runs[3].id);
        } else {
            assert!(stored.created, "run {n}");
            assert_eq!(stored.id(), run.id, "run {n} in its place");
        }
    }
    let stats = storage
        .stats("batch", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(stats.count("count-execution", RunStatus::Queued), 1_499);
}

/// A run enqueued through another storage of the file (as by another process, whose
/// wakeups cannot reach this one's workers) is picked up long before the worker's poll:
/// the storage notices the other connection's commit. Without the watch, it waits for
/// the poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_notice_runs_enqueued_by_another_process() {
    let path = fresh_path("watch");
    let watched = SqliteStorage::open(&path).await.unwrap();
    let unwatched = SqliteStorage::builder()
        .watch_interval(None)
        .open(&path)
        .await
        .unwrap();
    let other = jobs_on(SqliteStorage::open(&path).await.unwrap());
    // Polls so rare that only a wakeup can start a run during the test.
    let poll = Duration::from_secs(3600);
    let watching = jobs_on(watched)
        .worker()
        .queue("default", 4)
        .poll_interval(poll)
        .start();
    // Let the workers make their first (empty) claims and go idle.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let run = other.enqueue(CountExecution { n: 7 }).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = other.runs().get(&run.id()).await.unwrap().unwrap().status;
        if status == RunStatus::Succeeded {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watching worker never noticed the run (its poll is an hour): {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watching.shutdown().await;

    // The same without the watch: the run waits for the poll.
    let blind = jobs_on(unwatched)
        .worker()
        .queue("default", 4)
        .poll_interval(poll)
        .start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = other.enqueue(CountExecution { n: 8 }).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = other
        .runs()
        .get(&waiting.id())
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(
        status,
        RunStatus::Queued,
        "no wakeup reaches an unwatched storage"
    );
    blind.shutdown().await;
}

/// Waits until the run `id` has succeeded, failing the test after `within`: `why` says
/// what was missing.
async fn wait_for_success(jobs: &Jobs, id: RunId, within: Duration, why: &str) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = jobs.runs().get(&id).await.unwrap().unwrap().status;
        if status == RunStatus::Succeeded {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {id} is still {status} after {within:?}: {why}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `work` on a runtime of its own, on a thread of its own, then ends that runtime
/// (as a sub-command's `#[tokio::main]` or a runtime built for one job would), and waits
/// for the thread.
async fn on_a_passing_runtime<F>(work: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(work());
        drop(runtime); // every task spawned on it ends here
    });
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
}

/// The first subscriber of a storage is on a runtime that then ends; a worker started
/// afterwards on another runtime, polling once an hour, is still woken by a run enqueued
/// through another storage of the file (as by another process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_outlives_the_runtime_that_subscribed_first() {
    let path = fresh_path("passing");
    let mine = SqliteStorage::open(&path).await.unwrap();
    let other = jobs_on(SqliteStorage::open(&path).await.unwrap());

    // Subscribes on a runtime of its own, gives the watch time to look a few times, and
    // ends that runtime.
    let first = mine.clone();
    on_a_passing_runtime(async move || {
        let _events = first.subscribe();
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;

    // A run that was due before the worker started: its first claim takes it, so once it
    // has succeeded (and the worker has looked again) the worker is idle, and only a
    // wakeup brings it back before an hour.
    let due = other.enqueue(CountExecution { n: 1 }).await.unwrap();
    let worker = jobs_on(mine)
        .worker()
        .queue("default", 4)
        .poll_interval(Duration::from_secs(3600))
        .start();
    wait_for_success(&other, due.id(), Duration::from_secs(10), "the first claim").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let woken = other.enqueue(CountExecution { n: 2 }).await.unwrap();
    wait_for_success(
        &other,
        woken.id(),
        Duration::from_secs(10),
        "no wakeup reached the idle worker (its poll is an hour)",
    )
    .await;
    let report = worker.shutdown().await;
    assert_eq!(report.completed, 2);
}

/// Subscribing outside any tokio runtime still starts the watch: once the storage claims
/// from a namespace, the receiver hears of a run enqueued there through another storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_outside_a_runtime_still_watches() {
    use jobs::storage::{ClaimRequest, NewRun};

    let path = fresh_path("nort");
    let mine = SqliteStorage::open(&path).await.unwrap();
    let other = SqliteStorage::open(&path).await.unwrap();
    let subscriber = mine.clone();
    let mut events = std::thread::spawn(move || subscriber.subscribe())
        .join()
        .unwrap();
    // Time for the watch to take its first look: a commit before it goes unnoticed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Claims nothing (no run of that task), but the storage now wakes "nort".
    let claimed = mine
        .claim(ClaimRequest::new(
            "nort",
            vec!["no-such-task".to_owned()],
            1,
            Duration::from_secs(60),
            "test",
        ))
        .await
        .unwrap();
    assert!(claimed.is_empty());

    other
        .enqueue(vec![NewRun::new(
            "nort",
            "count-execution",
            serde_json::json!({ "n": 1 }),
            1,
        )])
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("a wakeup within 10 s")
        .unwrap();
    assert_eq!(
        event,
        StorageEvent::RunsAvailable {
            namespace: "nort".to_owned()
        }
    );
}

/// How many of this process's open files are the database file `db` or its `-wal`: one
/// pair per open connection. `None` where this cannot be known (not Linux).
fn open_files(db: &std::path::Path) -> Option<usize> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let db = std::fs::canonicalize(db).unwrap();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let count = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| *target == db || target.as_os_str() == wal)
        .count();
    Some(count)
}

/// Waits until no connection of this process has the file `db` open (where that can be
/// known), failing the test after 10 s.
async fn wait_until_no_connection_is_open(db: &std::path::Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Some(open) = open_files(db).filter(|open| *open > 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} files of {} still open after 10 s",
            db.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A storage with a subscriber, after its watch has had time to open its connection.
async fn watching(tag: &str) -> (SqliteStorage, PathBuf, broadcast::Receiver<StorageEvent>) {
    let path = fresh_path(tag);
    let storage = SqliteStorage::open(&path).await.unwrap();
    let events = storage.subscribe();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_ne!(
        open_files(&path),
        Some(0),
        "the file is open while the storage is"
    );
    (storage, path, events)
}

/// Dropping the last handle to a storage ends its watch: the storage's event channel
/// closes, which happens only once the watch has ended (it holds a sender until then),
/// and (on Linux, where this test can see it) every connection to the file is closed,
/// the watch's included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_storage_ends_its_watch() {
    let (storage, path, mut events) = watching("drop").await;
    drop(storage);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Err(broadcast::error::RecvError::Closed) => break,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the event channel is still open after 10 s");
    wait_until_no_connection_is_open(&path).await;
}

/// Closing a storage that still has subscribers closes the watch's connection too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_storage_closes_the_watch_connection() {
    let (storage, path, _events) = watching("close").await;
    storage.close().await;
    wait_until_no_connection_is_open(&path).await;
}

/// A file written by the first version, where each snooze and hand-back raised the run's
/// budget: opening it counts those from the stored attempts and gives the budget back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_before_the_budget_counters_is_migrated() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let path = fresh_path("budget");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let first = include_str!("../../jobs-sqlite/migrations/0001_runs.sql");
    sqlx::raw_sql(first).execute(&pool).await.unwrap();
    // Compiled with 3 attempts; handed back once, snoozed once, failed once: stored with 5.
    let id = RunId::new();
    let text = id.as_uuid().hyphenated().to_string();
    sqlx::raw_sql(&format!(
        "PRAGMA user_version = 1;
         INSERT INTO runs (id, namespace, task, status, payload, attempt, max_attempts,
                           created_at, run_at)
         VALUES ('{text}', 'n', 't', 'retrying', '{{}}', 3, 5, 0, 0);
         INSERT INTO attempts (run_id, number, started_at, finished_at, outcome, error)
         VALUES ('{text}', 1, 0, 0, 'interrupted', 'x'),
                ('{text}', 2, 0, 0, 'snoozed', 'x'),
                ('{text}', 3, 0, 0, 'failed', 'x');"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let storage = SqliteStorage::open(&path).await.unwrap();
    let run = storage.get("n", id).await.unwrap().unwrap();
    assert_eq!(
        (run.max_attempts, run.failures, run.snoozes, run.handbacks),
        (3, 1, 1, 1)
    );
    sqlite_support::remove_files(&path);
}

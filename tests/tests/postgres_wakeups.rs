//! `PgStorage` wakeups and transactions: NOTIFY reaches workers of other storages (other
//! processes, as far as the database can tell), the LISTEN connection comes back after it
//! is killed, the listener outlives the runtime that first subscribed (and needs none)
//! and ends with its storage, cancellations reach the running attempt at once, and
//! enqueueing inside the application's transaction stores the run if and only if the
//! transaction commits.
//!
//! Workers here poll once an hour and beat their heart every ten minutes, so anything that
//! happens within seconds was caused by a notification.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod postgres_support;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jobs::{AttemptOutcome, Context, Jobs, RunId, RunStatus, WorkerHandle};
use jobs_postgres::PgStorage;
use postgres_support::{SchemaGuard, jobs_over, pool, schema_name, storage};
use sqlx::PgPool;

static SEEN: Mutex<Option<HashMap<String, Vec<String>>>> = Mutex::new(None);

fn note(token: &str, event: &str) {
    SEEN.lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(token.to_owned())
        .or_default()
        .push(event.to_owned());
}

fn seen(token: &str) -> Vec<String> {
    SEEN.lock()
        .unwrap()
        .as_ref()
        .and_then(|seen| seen.get(token).cloned())
        .unwrap_or_default()
}

#[jobs::task(name = "pg-wakeups-record", retry(attempts = 3))]
async fn record(token: String) {
    note(&token, "ran");
}

#[jobs::task(name = "pg-wakeups-wait-for-cancel", retry(attempts = 1))]
async fn wait_for_cancel(ctx: Context, token: String) {
    note(&token, "started");
    tokio::select! {
        _ = ctx.cancelled() => note(&token, "cancelled"),
        _ = tokio::time::sleep(Duration::from_secs(30)) => note(&token, "not cancelled"),
    }
}

/// A worker that only a notification can wake in time.
fn deaf_worker(jobs: &Jobs) -> WorkerHandle {
    jobs.worker()
        .concurrency(4)
        .poll_interval(Duration::from_secs(3600))
        .heartbeat_interval(Duration::from_secs(600))
        .start()
}

/// Waits (bounded) until `condition` holds.
async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The backend pid of a LISTEN connection for `schema`, other than `not`, as `pool` sees
/// it in `pg_stat_activity`.
async fn listener_pid(pool: &PgPool, schema: &str, not: Option<i32>) -> i32 {
    let query = format!("LISTEN \"jobs.{schema}\"");
    let mut found = None;
    wait_until("the LISTEN connection", async || {
        found = sqlx::query_scalar::<_, i32>(
            "SELECT pid FROM pg_stat_activity WHERE starts_with(query, $1) AND state = 'idle' AND pid <> $2",
        )
        .bind(&query)
        .bind(not.unwrap_or(0))
        .fetch_optional(pool)
        .await
        .unwrap();
        found.is_some()
    })
    .await;
    found.unwrap()
}

/// Two storages on one fresh schema, as two processes would have them: `mine`, under a
/// worker that only a notification can wake, its LISTEN connection up; and `theirs`, on a
/// pool of its own, with the application `other` over it.
struct TwoStorages {
    _guard: SchemaGuard,
    schema: String,
    mine: PgStorage,
    theirs: PgStorage,
    worker: WorkerHandle,
    /// The backend pid of `mine`'s LISTEN connection.
    listener: i32,
    other: Jobs,
}

impl TwoStorages {
    /// Schema `jt_<tag>_<random hex>`; the worker and `other` work in `namespace`.
    async fn start(tag: &str, namespace: &str) -> TwoStorages {
        let schema = schema_name(tag);
        let _guard = SchemaGuard(schema.clone());
        let mine = storage(&schema, None, 4).await;
        let theirs = PgStorage::builder()
            .schema(&schema)
            .from_pool(pool(2).await)
            .unwrap();
        let worker = deaf_worker(&jobs_over(&mine, namespace));
        let listener = listener_pid(mine.pool(), &schema, None).await;
        let other = jobs_over(&theirs, namespace);
        TwoStorages {
            _guard,
            schema,
            mine,
            theirs,
            worker,
            listener,
            other,
        }
    }
}

async fn wait_for_status(jobs: &Jobs, id: RunId, status: RunStatus) {
    wait_until(&format!("run {id} {status}"), async || {
        jobs.runs().get(&id).await.unwrap().unwrap().status == status
    })
    .await;
}

/// An enqueue through another storage wakes the worker; after its LISTEN connection is
/// terminated, the listener reconnects by itself and the next enqueue wakes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_its_connection_is_killed() {
    let two = TwoStorages::start("listen", "wake").await;
    let (other, first) = (&two.other, two.listener);
    let token = format!("wake-{}", RunId::new());
    let before = other
        .enqueue(Record {
            token: token.clone(),
        })
        .await
        .unwrap()
        .id();
    wait_for_status(other, before, RunStatus::Succeeded).await;

    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(two.theirs.pool())
        .await
        .unwrap();
    assert!(killed);
    let second = listener_pid(two.mine.pool(), &two.schema, Some(first)).await;
    assert_ne!(first, second);

    let started = Instant::now();
    let after = other
        .enqueue(Record {
            token: token.clone(),
        })
        .await
        .unwrap()
        .id();
    wait_for_status(other, after, RunStatus::Succeeded).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(seen(&token).len(), 2);
    let report = two.worker.shutdown().await;
    assert_eq!(report.completed, 2);
}

/// A cancel through another storage reaches the running attempt's `Context` at once
/// (its worker's heartbeat is ten minutes away), and the late result is discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_elsewhere_stops_the_attempt_at_once() {
    let two = TwoStorages::start("cancel", "cancel").await;
    let other = &two.other;
    let token = format!("cancel-{}", RunId::new());
    let id = other
        .enqueue(WaitForCancel {
            token: token.clone(),
        })
        .await
        .unwrap()
        .id();
    wait_until("the attempt starts", async || {
        seen(&token).contains(&"started".to_owned())
    })
    .await;
    let started = Instant::now();
    let cancelled = other.runs().cancel(&id).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    wait_until("the attempt sees the cancel", async || {
        seen(&token).contains(&"cancelled".to_owned())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let report = two.worker.shutdown().await;
    assert_eq!((report.completed, report.stale), (0, 1));
    let attempts = other.runs().attempts(&id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Cancelled);
    assert_eq!(
        other.runs().get(&id).await.unwrap().unwrap().status,
        RunStatus::Cancelled
    );
}

/// `enqueue_in` on a rolled-back transaction leaves no run; on a committed one, the run
/// exists once the transaction commits (not before) and a worker woken by the commit's
/// NOTIFY runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_in_a_transaction_follows_the_transaction() {
    let schema = schema_name("tx");
    let _guard = SchemaGuard(schema.clone());
    let storage = storage(&schema, None, 4).await;
    let app = pool(2).await;
    sqlx::query(&format!(
        "CREATE TABLE {schema}.users (id text PRIMARY KEY)"
    ))
    .execute(&app)
    .await
    .unwrap();
    let jobs = jobs_over(&storage, "tx");
    let worker = deaf_worker(&jobs);
    listener_pid(storage.pool(), &schema, None).await;
    let token = format!("tx-{}", RunId::new());

    // Rolled back: neither the user nor the run.
    let mut tx = app.begin().await.unwrap();
    sqlx::query(&format!("INSERT INTO {schema}.users (id) VALUES ('ann')"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let run = jobs
        .enqueue(Record {
            token: token.clone(),
        })
        .into_new_run()
        .unwrap();
    let stored = storage.enqueue_in(&mut tx, vec![run]).await.unwrap();
    let rolled_back = stored[0].id();
    tx.rollback().await.unwrap();
    assert!(jobs.runs().get(&rolled_back).await.unwrap().is_none());

    // Committed: both, and the run is processed.
    let mut tx = app.begin().await.unwrap();
    sqlx::query(&format!("INSERT INTO {schema}.users (id) VALUES ('bob')"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let keyed = || {
        jobs.enqueue(Record {
            token: token.clone(),
        })
        .idempotency_key("welcome:bob")
        .into_new_run()
        .unwrap()
    };
    let first = storage.enqueue_in(&mut tx, vec![keyed()]).await.unwrap();
    let again = storage.enqueue_in(&mut tx, vec![keyed()]).await.unwrap();
    assert!(first[0].created && !again[0].created);
    assert_eq!(first[0].id(), again[0].id());
    let id = first[0].id();
    assert!(
        jobs.runs().get(&id).await.unwrap().is_none(),
        "invisible until the commit"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        seen(&token).is_empty(),
        "no worker ran it before the commit"
    );
    let committed = Instant::now();
    tx.commit().await.unwrap();
    wait_for_status(&jobs, id, RunStatus::Succeeded).await;
    assert!(committed.elapsed() < Duration::from_secs(5));
    assert_eq!(seen(&token), vec!["ran".to_owned()]);
    let users: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.users"))
        .fetch_one(&app)
        .await
        .unwrap();
    assert_eq!(users, 1);
    worker.shutdown().await;
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
/// afterwards on another runtime is still woken by an enqueue from another storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakeups_outlive_the_runtime_that_subscribed_first() {
    let schema = schema_name("rt");
    let _guard = SchemaGuard(schema.clone());
    let mine = storage(&schema, None, 4).await;
    let theirs = PgStorage::builder()
        .schema(&schema)
        .from_pool(pool(2).await)
        .unwrap();

    // Subscribes on a runtime of its own, waits until the storage LISTENs, and ends.
    let (first, watched) = (mine.clone(), schema.clone());
    on_a_passing_runtime(async move || {
        use jobs::Storage as _;
        let _events = first.subscribe();
        let watcher = pool(1).await;
        listener_pid(&watcher, &watched, None).await;
        watcher.close().await;
    })
    .await;

    // A run that was due before the worker started: its first claim takes it, so once it
    // has succeeded the worker is idle and only a wakeup brings it back before an hour.
    let other = jobs_over(&theirs, "rt");
    let token = format!("rt-{}", RunId::new());
    let enqueue = async || {
        other
            .enqueue(Record {
                token: token.clone(),
            })
            .await
            .unwrap()
            .id()
    };
    let due = enqueue().await;
    let worker = deaf_worker(&jobs_over(&mine, "rt"));
    wait_for_status(&other, due, RunStatus::Succeeded).await;

    let woken = enqueue().await;
    wait_for_status(&other, woken, RunStatus::Succeeded).await;
    assert_eq!(seen(&token).len(), 2);
    let report = worker.shutdown().await;
    assert_eq!(report.completed, 2);
}

/// Subscribing outside any tokio runtime still starts the listener: the receiver hears
/// an enqueue made through another storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_outside_a_runtime_still_listens() {
    use jobs::Storage as _;
    use jobs::storage::StorageEvent;

    let schema = schema_name("nort");
    let _guard = SchemaGuard(schema.clone());
    let mine = storage(&schema, None, 2).await;
    let theirs = PgStorage::builder()
        .schema(&schema)
        .from_pool(pool(2).await)
        .unwrap();
    let subscriber = mine.clone();
    let mut events = std::thread::spawn(move || subscriber.subscribe())
        .join()
        .unwrap();
    listener_pid(theirs.pool(), &schema, None).await;

    let token = format!("nort-{}", RunId::new());
    jobs_over(&theirs, "nort")
        .enqueue(Record { token })
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

/// Dropping the last handle to a storage ends its listener: the LISTEN connection closes,
/// and the storage's event channel closes, which happens only once the listener's thread
/// has ended its runtime (the thread holds a sender until then).
///
/// Whether the OS thread itself is gone is not checked: tests in this binary run in
/// parallel, each with listener threads of the same name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_storage_ends_its_listener() {
    use jobs::Storage as _;

    let schema = schema_name("drop");
    let _guard = SchemaGuard(schema.clone());
    let mine = storage(&schema, None, 2).await;
    let watcher = pool(1).await;
    let mut events = mine.subscribe();
    let pid = listener_pid(&watcher, &schema, None).await;

    drop(mine);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the event channel is still open after 10 s");
    wait_until("the LISTEN connection closes", async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&watcher)
            .await
            .unwrap()
            == 0
    })
    .await;
}

//! `PgStorage` beyond the conformance suite: query plans, batches, idempotency under real
//! concurrency, migrations, connection errors and hostile input.
//!
//! Every test works in a schema of its own and drops it at the end.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod postgres_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobs::storage::{AttemptResult, ClaimRequest, Lease, NewRun, Outcome, ReplayRequest};
use jobs::{Error, ListRuns, RunId, RunStatus, Storage, Task as _};
use jobs_postgres::PgStorage;
use postgres_support::{SchemaGuard, database_url, jobs_over, pool, schema_name, storage};

#[jobs::task(name = "pg-storage-noop", retry(attempts = 3))]
async fn noop(n: u32) {
    let _ = n;
}

fn claim_request(namespace: &str, limit: usize) -> ClaimRequest {
    ClaimRequest::new(
        namespace,
        vec![Noop::NAME.to_owned()],
        limit,
        Duration::from_secs(30),
        "plan-test",
    )
}

/// On 100,000 finished runs and a few queued ones, the claim walks the claimable partial
/// index (never the table), and the batched finish goes through the primary key from its
/// very first execution on a fresh connection. Both hold for the generic plans too (the
/// ones PostgreSQL caches after a few executions), made with statistics taken when
/// nothing was running: the state in which the finish once cached a nested loop over
/// every running run for each result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_and_finish_use_their_indexes_on_a_large_table() {
    let schema = schema_name("plan");
    let _guard = SchemaGuard(schema.clone());
    let storage = storage(&schema, None, 4).await;
    sqlx::query(&format!(
        "INSERT INTO {schema}.runs (id, namespace, task, status, payload, attempt, max_attempts,
                                    created_at, run_at, started_at, finished_at)
         SELECT gen_random_uuid(), 'plan', 'pg-storage-noop', 'succeeded', '{{\"n\": 1}}', 1, 3,
                now(), now(), now(), now()
         FROM generate_series(1, 100000)"
    ))
    .execute(storage.pool())
    .await
    .unwrap();
    let jobs = jobs_over(&storage, "plan");
    jobs.enqueue_many((0..1000).map(|n| Noop { n }))
        .await
        .unwrap();
    sqlx::query(&format!("ANALYZE {schema}.runs"))
        .execute(storage.pool())
        .await
        .unwrap();

    for limit in [10, 1000] {
        let plan = storage
            .explain_claim(&claim_request("plan", limit))
            .await
            .unwrap();
        println!("claim plan, limit {limit}:\n{}\n", shorten(&plan));
        assert!(
            plan.contains("runs_claimable"),
            "the claim uses the claimable partial index:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan on runs"),
            "the claim never scans the table:\n{plan}"
        );
    }

    let plan = storage
        .explain_claim_generic(&claim_request("plan", 1000))
        .await
        .unwrap();
    println!("generic claim plan:\n{}\n", shorten(&plan));
    assert!(
        plan.contains("runs_claimable") && !plan.contains("Seq Scan on runs"),
        "the generic claim plan uses the claimable partial index:\n{plan}"
    );

    let claimed = storage.claim(claim_request("plan", 1000)).await.unwrap();
    assert_eq!(claimed.len(), 1000);
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .map(|run| Outcome::new(Lease::of(run), AttemptResult::Succeeded))
        .collect();

    // A fresh pool: a new connection has no cached plan to lean on.
    let fresh = PgStorage::builder()
        .schema(&schema)
        .from_pool(pool(1).await)
        .unwrap();
    let plan = fresh.explain_finish("plan", &outcomes).await.unwrap();
    println!("finish plan, 1000 results:\n{}\n", shorten(&plan));
    assert_finish_looks_up_each_result(&plan);
    let plan = fresh
        .explain_finish_generic("plan", &outcomes)
        .await
        .unwrap();
    println!("generic finish plan, 1000 results:\n{}\n", shorten(&plan));
    assert_finish_looks_up_each_result(&plan);
    let started = Instant::now();
    let finished = fresh.finish("plan", outcomes).await.unwrap();
    println!(
        "first finish of 1000 results on a fresh connection: {:?}",
        started.elapsed()
    );
    assert_eq!((finished.applied, finished.stale.len()), (1000, 0));
}

/// The finish plan reaches runs by primary key, one lookup per result: never through the
/// running-runs index (a join over every running run), never by a join filter (every pair
/// compared), never by scanning a table.
fn assert_finish_looks_up_each_result(plan: &str) {
    let plan = shorten(plan);
    assert!(
        plan.contains("Index Scan using runs_pkey on runs"),
        "the finish finds runs by primary key:\n{plan}"
    );
    for bad in [
        "runs_running",
        "Join Filter",
        "Seq Scan on runs",
        "Seq Scan on attempts",
    ] {
        assert!(!plan.contains(bad), "the finish plan has {bad:?}:\n{plan}");
    }
}

/// A plan with its long array literals cut, for reading.
fn shorten(plan: &str) -> String {
    plan.lines()
        .map(|line| match line.char_indices().nth(160) {
            Some((at, _)) => format!("{}...", &line[..at]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// 200 enqueues with one key, at once, from 4 storages with 10 connections each: one run,
/// and every caller gets its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_enqueues_with_one_key_make_one_run() {
    let schema = schema_name("idem");
    let _guard = SchemaGuard(schema.clone());
    let first = storage(&schema, None, 10).await;
    let mut storages = vec![first];
    for _ in 0..3 {
        storages.push(
            PgStorage::builder()
                .schema(&schema)
                .from_pool(pool(10).await)
                .unwrap(),
        );
    }
    for round in 0..3 {
        let key = format!("race-{round}");
        let start = Arc::new(tokio::sync::Barrier::new(200));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200u32 {
            let jobs = jobs_over(&storages[i as usize % storages.len()], "idem");
            let key = key.clone();
            let start = start.clone();
            tasks.spawn(async move {
                start.wait().await;
                jobs.enqueue(Noop { n: i }).idempotency_key(key).await
            });
        }
        let mut ids = HashSet::new();
        let mut created = 0;
        while let Some(joined) = tasks.join_next().await {
            let enqueued = joined.unwrap().unwrap();
            created += usize::from(enqueued.created);
            ids.insert(enqueued.id());
        }
        assert_eq!(ids.len(), 1, "every caller gets the one run's id");
        assert_eq!(created, 1, "exactly one caller created it");
    }
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.runs"))
        .fetch_one(storages[0].pool())
        .await
        .unwrap();
    assert_eq!(count, 3);
}

/// A batch is one statement: 5,000 runs come back in order, all written by one command
/// (one `(xmin, cmin)`), and a batch with a bad row stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_many_is_one_statement() {
    let schema = schema_name("batch");
    let _guard = SchemaGuard(schema.clone());
    let storage = storage(&schema, None, 4).await;
    let jobs = jobs_over(&storage, "batch");
    let enqueued = jobs
        .enqueue_many((0..5000).map(|n| Noop { n }))
        .await
        .unwrap();
    assert_eq!(enqueued.len(), 5000);
    for (n, e) in enqueued.iter().enumerate() {
        assert!(e.created);
        assert_eq!(e.run.payload["n"], n);
    }
    let commands: i64 = sqlx::query_scalar(&format!(
        "SELECT count(DISTINCT (xmin::text, cmin::text)) FROM {schema}.runs"
    ))
    .fetch_one(storage.pool())
    .await
    .unwrap();
    assert_eq!(commands, 1, "one INSERT wrote all 5,000 runs");

    // Duplicate keys inside one batch: the second gets the first's run.
    let mut keyed: Vec<NewRun> = (0..3)
        .map(|n| NewRun::new("batch", Noop::NAME, serde_json::json!({ "n": n }), 3))
        .collect();
    keyed[0].idempotency_key = Some("twice".into());
    keyed[2].idempotency_key = Some("twice".into());
    let stored = storage.enqueue(keyed).await.unwrap();
    assert!(stored[0].created && stored[1].created && !stored[2].created);
    assert_eq!(stored[2].id(), stored[0].id());
    assert_eq!(stored[2].run.payload, serde_json::json!({ "n": 0 }));

    // A run id given twice violates the primary key: nothing of the batch is stored.
    let mut bad: Vec<NewRun> = (0..3)
        .map(|n| NewRun::new("atomic", Noop::NAME, serde_json::json!({ "n": n }), 3))
        .collect();
    bad[2].id = bad[0].id;
    let error = storage.enqueue(bad).await.unwrap_err();
    assert!(error.to_string().contains("enqueue runs"), "{error}");
    let page = storage.list("atomic", &ListRuns::new()).await.unwrap();
    assert!(page.runs.is_empty(), "a failed batch stores nothing");
}

/// Four processes' worth of `migrate()` at once, on one new schema and on four: all
/// succeed, and migrating again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_are_safe() {
    let shared = schema_name("mig");
    let mut tasks = tokio::task::JoinSet::new();
    let mut schemas = vec![shared.clone()];
    for i in 0..8 {
        let schema = if i % 2 == 0 {
            shared.clone()
        } else {
            let own = schema_name("mig");
            schemas.push(own.clone());
            own
        };
        tasks.spawn(async move {
            let storage = PgStorage::builder()
                .schema(schema)
                .from_pool(pool(2).await)
                .unwrap();
            storage.migrate().await
        });
    }
    let _guards: Vec<SchemaGuard> = schemas.iter().cloned().map(SchemaGuard).collect();
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap().unwrap();
    }
    for schema in &schemas {
        let storage = PgStorage::builder()
            .schema(schema)
            .from_pool(pool(2).await)
            .unwrap();
        storage.migrate().await.unwrap();
        let versions: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {schema}._sqlx_migrations WHERE success"
        ))
        .fetch_one(storage.pool())
        .await
        .unwrap();
        let embedded = std::fs::read_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../jobs-postgres/migrations"
        ))
        .unwrap()
        .count();
        assert_eq!(
            versions,
            i64::try_from(embedded).unwrap(),
            "{schema}: each migration is recorded once"
        );
        let jobs = jobs_over(&storage, "m");
        assert!(jobs.enqueue(Noop { n: 1 }).await.unwrap().created);
    }
}

/// Runs stored before the budget counters had their budget raised by each snooze and
/// hand-back: the migration counts those from the stored attempts and gives the budget
/// back, so a migrated run backs off and dead-letters like a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_migration_counts_earlier_attempts() {
    let schema = schema_name("budget");
    let _guard = SchemaGuard(schema.clone());
    let mut conn = pool(1).await.acquire().await.unwrap().detach();
    let migrations = concat!(env!("CARGO_MANIFEST_DIR"), "/../jobs-postgres/migrations");
    let file = |name: &str| std::fs::read_to_string(format!("{migrations}/{name}")).unwrap();
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\";"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for earlier in [
        "0001_runs.sql",
        "0002_last_attempt_on_run.sql",
        "0003_snoozed_attempts.sql",
        "0004_queues.sql",
        "0005_key_limits.sql",
    ] {
        sqlx::raw_sql(&file(earlier))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // Compiled with 3 attempts; handed back once, snoozed once, failed once: stored with 5.
    let (stretched, untouched) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    sqlx::raw_sql(&format!(
        "INSERT INTO runs (id, namespace, task, status, payload, attempt, max_attempts,
                           created_at, run_at)
         VALUES ('{stretched}', 'n', 't', 'retrying', '{{}}', 3, 5, now(), now()),
                ('{untouched}', 'n', 't', 'queued', '{{}}', 0, 3, now(), now());
         INSERT INTO attempts (run_id, number, started_at, finished_at, outcome, error)
         VALUES ('{stretched}', 1, now(), now(), 'interrupted', 'x'),
                ('{stretched}', 2, now(), now(), 'snoozed', 'x'),
                ('{stretched}', 3, now(), now(), 'failed', 'x');"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql(&file("0006_budget_counters.sql"))
        .execute(&mut conn)
        .await
        .unwrap();
    let counts = |id: uuid::Uuid| {
        sqlx::query_as::<_, (i32, i32, i32, i32)>(
            "SELECT max_attempts, failures, snoozes, handbacks FROM runs WHERE id = $1",
        )
        .bind(id)
    };
    assert_eq!(
        counts(stretched).fetch_one(&mut conn).await.unwrap(),
        (3, 1, 1, 1)
    );
    assert_eq!(
        counts(untouched).fetch_one(&mut conn).await.unwrap(),
        (3, 0, 0, 0)
    );
}

/// Bad URLs, unreachable servers, missing databases and bad schema names are errors that
/// say what is wrong; nothing panics or hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_problems_are_clear_errors() {
    let started = Instant::now();
    match PgStorage::connect("this is not a url").await {
        Err(Error::Config(message)) => {
            assert!(message.contains("invalid PostgreSQL URL"), "{message}")
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    match PgStorage::connect("mysql://root@127.0.0.1/jobs_test").await {
        Err(Error::Config(message)) => {
            assert!(message.contains("invalid PostgreSQL URL"), "{message}")
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    let unreachable = PgStorage::connect("postgres://root:secret@127.0.0.1:1/jobs_test")
        .await
        .unwrap_err();
    let text = error_chain(&unreachable);
    assert!(matches!(unreachable, Error::Storage { .. }), "{text}");
    assert!(text.contains("127.0.0.1:1"), "names the server: {text}");
    assert!(text.to_lowercase().contains("refused"), "says why: {text}");
    assert!(!text.contains("secret"), "never shows the password: {text}");

    let url = database_url();
    let (base, _) = url.rsplit_once('/').unwrap();
    let missing = PgStorage::connect(&format!("{base}/no_such_database_for_jobs"))
        .await
        .unwrap_err();
    let text = error_chain(&missing);
    assert!(text.contains("no_such_database_for_jobs"), "{text}");

    match PgStorage::builder()
        .schema("Robert'); DROP TABLE runs;--")
        .connect(&url)
        .await
    {
        Err(Error::Config(message)) => assert!(message.contains("schema"), "{message}"),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

fn error_chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Quotes, Unicode and SQL in names, keys and reasons are stored verbatim; NUL, which
/// PostgreSQL text cannot hold, is an error in identifiers and replaced in diagnostics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_stored_verbatim() {
    let schema = schema_name("input");
    let _guard = SchemaGuard(schema.clone());
    let storage = storage(&schema, None, 4).await;
    let nasty = [
        "'; DROP TABLE runs; --",
        "\"quoted\" \\ backslash $1 $$ :colon",
        "日本語 🚀 e\u{301}",
        "line\nbreak\ttab",
    ];
    for (i, text) in nasty.iter().enumerate() {
        let namespace = format!("ns:{text}");
        let mut run = NewRun::new(
            namespace.clone(),
            format!("task {text}"),
            serde_json::json!({ "text": text }),
            3,
        );
        run.idempotency_key = Some(format!("key {text}"));
        let stored = storage.enqueue(vec![run.clone()]).await.unwrap();
        assert!(stored[0].created, "{i}");
        let again = storage.enqueue(vec![run]).await.unwrap();
        assert!(!again[0].created, "the key matched verbatim: {text}");
        let read = storage
            .get(&namespace, stored[0].id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, stored[0].run);
        assert_eq!(read.task, format!("task {text}"));
        assert_eq!(read.idempotency_key, Some(format!("key {text}")));
        assert_eq!(read.payload["text"], *text);

        let listed = storage
            .list(
                &namespace,
                &ListRuns::new().task_name(format!("task {text}")),
            )
            .await
            .unwrap();
        assert_eq!(listed.runs.len(), 1);
        storage.cancel(&namespace, read.id).await.unwrap();
        let replay = storage
            .replay(
                &namespace,
                ReplayRequest::new(read.id, RunId::new(), format!("because {text}")),
            )
            .await
            .unwrap();
        assert_eq!(replay.replay_reason, Some(format!("because {text}")));
    }

    let mut nul_key = NewRun::new("input", "task", serde_json::json!({}), 1);
    nul_key.idempotency_key = Some("nul\0key".into());
    assert!(matches!(
        storage.enqueue(vec![nul_key]).await,
        Err(Error::InvalidInput { field, .. }) if field == "idempotency_key"
    ));
    let nul_payload = NewRun::new("input", "task", serde_json::json!({ "s": "a\0b" }), 1);
    assert!(matches!(
        storage.enqueue(vec![nul_payload]).await,
        Err(Error::InvalidInput { field, .. }) if field == "payload.s"
    ));

    let run = NewRun::new("input", Noop::NAME, serde_json::json!({ "n": 1 }), 1);
    let id = storage.enqueue(vec![run]).await.unwrap()[0].id();
    let claimed = storage.claim(claim_request("input", 1)).await.unwrap();
    let outcome = Outcome::new(
        Lease::of(&claimed[0]),
        AttemptResult::DeadLetter {
            error: "bad\0byte".into(),
        },
    );
    assert_eq!(
        storage
            .finish("input", vec![outcome])
            .await
            .unwrap()
            .applied,
        1
    );
    let run = storage.get("input", id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::DeadLettered);
    assert_eq!(run.last_error.as_deref(), Some("bad\u{FFFD}byte"));
}

/// An application pool whose `search_path` leads elsewhere: statements name the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_whatever_the_pools_search_path() {
    let schema = schema_name("path");
    let _guard = SchemaGuard(schema.clone());
    let options: sqlx::postgres::PgConnectOptions = database_url().parse().unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.options([("search_path", "nowhere_at_all")]))
        .await
        .unwrap();
    let storage = PgStorage::builder()
        .schema(&schema)
        .from_pool(pool)
        .unwrap();
    storage.migrate().await.unwrap();
    let jobs = jobs_over(&storage, "path");
    let id = jobs.enqueue(Noop { n: 7 }).await.unwrap().id();
    assert_eq!(jobs.drain().await.unwrap().succeeded, 1);
    assert_eq!(
        jobs.runs().get(&id).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );
    let path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(storage.pool())
        .await
        .unwrap();
    assert_eq!(
        path, "nowhere_at_all",
        "the application's pool is left as it was"
    );
}

/// Without a manual clock the database's clock decides: timestamps are the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_clock_decides() {
    let schema = schema_name("clock");
    let _guard = SchemaGuard(schema.clone());
    let storage = storage(&schema, None, 2).await;
    let jobs = jobs_over(&storage, "clock");
    let run = jobs
        .enqueue(Noop { n: 1 })
        .delay(Duration::from_secs(60))
        .await
        .unwrap()
        .run;
    let server_now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(storage.pool())
        .await
        .unwrap();
    let age = server_now - run.created_at;
    assert!(
        age >= chrono::Duration::zero() && age < chrono::Duration::seconds(5),
        "created_at is the server's now: {age}"
    );
    assert_eq!(run.run_at - run.created_at, chrono::Duration::seconds(60));
    assert_eq!(run.status, RunStatus::Scheduled);
    let scheduled = jobs
        .runs()
        .list(ListRuns::new().status(RunStatus::Scheduled))
        .await
        .unwrap();
    assert_eq!(scheduled.runs.len(), 1);
}

/// A per-key in-flight limit holds across processes: four storages (each its own pool,
/// as four worker processes would have) claim the runs of one key concurrently, each
/// holding what it claims for a moment; at no time are more than two held.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_limit_holds_across_concurrent_claimers() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let schema = schema_name("limit");
    let _guard = SchemaGuard(schema.clone());
    let first = storage(&schema, None, 4).await;
    let jobs = jobs_over(&first, "lim");
    jobs.enqueue_many((0..40).map(|n| Noop { n }))
        .await
        .unwrap();
    // Every run has the same key: the limit reads a field they do not have (the empty key).
    let limit = jobs::KeyLimit::by("endpoint").in_flight(2);
    let held = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let storage = storage(&schema, None, 2).await;
        let (limit, held, peak, done) = (limit.clone(), held.clone(), peak.clone(), done.clone());
        tasks.spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while done.load(Ordering::SeqCst) < 40 {
                assert!(Instant::now() < deadline, "the runs were not all claimed");
                let request = claim_request("lim", 5).key_limit(limit.clone());
                let runs = storage.claim(request).await.unwrap();
                if runs.is_empty() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                let now = held.fetch_add(runs.len(), Ordering::SeqCst) + runs.len();
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                // Counted down before the finish is written, so a run is never counted
                // beside one claimed after the storage saw it finish.
                held.fetch_sub(runs.len(), Ordering::SeqCst);
                let outcomes: Vec<Outcome> = runs
                    .iter()
                    .map(|run| Outcome::new(Lease::of(run), AttemptResult::Succeeded))
                    .collect();
                let count = outcomes.len();
                storage.finish("lim", outcomes).await.unwrap();
                done.fetch_add(count, Ordering::SeqCst);
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 40);
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        peak <= 2,
        "{peak} runs of one key held at once; the limit is 2"
    );
    assert_eq!(
        peak, 2,
        "the limit was reached, so the test tested something"
    );
}

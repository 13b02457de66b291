//! The first five minutes: define a task, enqueue it twice with one idempotency key,
//! process it with a worker, and print the run's story.
//!
//! In memory, or on SQLite or PostgreSQL when `DATABASE_URL` is set:
//!
//! ```sh
//! cargo run --example quickstart
//! DATABASE_URL=sqlite://jobs.db cargo run --example quickstart          # the file ./jobs.db
//! DATABASE_URL=postgres://localhost/app cargo run --example quickstart  # schema example_quickstart
//! ```
//!
//! Each run starts empty: the SQLite file is created, or emptied if jobs-sqlite made it
//! (any other file is refused); the PostgreSQL schema is dropped and created again.

use std::time::Duration;

use jobs::{Jobs, RunStatus, TaskError};

/// Sends a notification to a user. The attribute turns the arguments after `ctx` into
/// the payload struct `NotifyUser { user_id, template, data }`.
#[jobs::task(retry(
    attempts = 5,
    backoff = "exponential",
    initial_delay = "5s",
    max_delay = "300s"
))]
async fn notify_user(
    ctx: jobs::Context,
    user_id: String,
    template: String,
    data: serde_json::Value,
) -> Result<(), TaskError> {
    println!(
        "  [worker] attempt {} of run {}: sending `{template}` to {user_id} with {data}",
        ctx.attempt(),
        ctx.run_id()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), examples::Report> {
    // `MemoryStorage::new()`, or a `SqliteStorage` or `PgStorage` when DATABASE_URL is set
    // (examples/src/lib.rs).
    let storage = examples::system_storage("quickstart").await?;
    let jobs = Jobs::builder()
        .name("background")
        .namespace("app")
        .storage(storage)
        .build()?;

    // What a `POST /signup` handler would do. Signing up twice enqueues once.
    let signup = || NotifyUser {
        user_id: "user_123".into(),
        template: "welcome".into(),
        data: serde_json::json!({ "plan": "pro" }),
    };
    let first = jobs
        .enqueue(signup())
        .idempotency_key("welcome:user_123")
        .await?;
    println!("enqueued {} (created: {})", first.id(), first.created);
    let second = jobs
        .enqueue(signup())
        .idempotency_key("welcome:user_123")
        .await?;
    println!(
        "enqueued again with the same key -> {} (created: {})",
        second.id(),
        second.created
    );
    assert_eq!(first.id(), second.id());

    // A worker in the same process picks the run up at once.
    let worker = jobs.worker().concurrency(4).start();
    let run = loop {
        let run = jobs
            .runs()
            .get(&first.id())
            .await?
            .ok_or("the run vanished")?;
        if run.status.is_final() {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    worker.shutdown().await;

    println!("\nthe run's story:");
    println!(
        "  task {} in namespace {}, payload {}",
        run.task, run.namespace, run.payload
    );
    println!("  created  {}", run.created_at);
    for attempt in jobs.runs().attempts(&run.id).await? {
        let finished = attempt
            .finished_at
            .map(|t| t.to_string())
            .unwrap_or_default();
        println!(
            "  attempt {}: started {}, finished {finished}: {}",
            attempt.number, attempt.started_at, attempt.outcome
        );
    }
    println!("  status   {}", run.status);
    println!("\nas JSON: {}", serde_json::to_string_pretty(&run)?);
    assert_eq!(run.status, RunStatus::Succeeded);
    Ok(())
}

//! The HTTP API of `jobs-web` as an application serves it, for the OpenAPI-driven fuzz run
//! (`scripts/fuzz-api.sh`, run by `tests/api_fuzz.rs`).
//!
//! ```text
//! DATABASE_URL=postgres://... jobs-api-server --token TOKEN [--schema NAME] [--port N]
//! ```
//!
//! Serves `jobs_web::builder(jobs).bearer_token(TOKEN).router()` on 127.0.0.1 (any free
//! port unless `--port`), over PostgreSQL in schema `NAME` (default: a fresh `fuzz_<hex>`,
//! dropped when the server stops), with a worker running its tasks so that runs finish,
//! fail and can be replayed. The tasks have payloads of different shapes, nested objects
//! and lists included, so that enqueue by name has real types to check against:
//!
//! - `fuzz-send-email` `{ "to": string, "retries_left": u8 }`;
//! - `fuzz-place-order` `{ "order": { "id", "customer": { "id": u64, "email", "address":
//!   { "line1", "city", "country" } | null }, "lines": [{ "sku", "quantity": u32,
//!   "price_cents": u64 }], "note": string | null } }`, dead-lettered when a line has
//!   quantity 0;
//! - `fuzz-ping` `{}`;
//! - `fuzz-record` `{ "data": any JSON }`.
//!
//! Prints `listening http://127.0.0.1:PORT` once it answers, and stops (dropping its own
//! schema) when stdin closes or says `stop`, or on SIGINT or SIGTERM.

use std::process::ExitCode;

use jobs::{Jobs, TaskError};
use jobs_tests::worker_cli;
use serde::{Deserialize, Serialize};

/// The name its messages go by.
const NAME: &str = "jobs-api-server";

#[jobs::task(
    name = "fuzz-send-email",
    retry(attempts = 2, backoff = "fixed", initial_delay = "1s")
)]
async fn send_email(to: String, retries_left: u8) {
    let _ = (to, retries_left);
}

/// An order, nested two levels deep.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: String,
    customer: Customer,
    lines: Vec<Line>,
    note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Customer {
    id: u64,
    email: String,
    address: Option<Address>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Address {
    line1: String,
    city: String,
    country: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
    price_cents: u64,
}

#[jobs::task(name = "fuzz-place-order")]
async fn place_order(order: Order) -> Result<(), TaskError> {
    match order.lines.iter().position(|line| line.quantity == 0) {
        Some(i) => Err(TaskError::permanent(format!(
            "order {}: line {i} has quantity 0",
            order.id
        ))),
        None => Ok(()),
    }
}

#[jobs::task(name = "fuzz-ping")]
async fn ping() {}

#[jobs::task(name = "fuzz-record")]
async fn record(data: serde_json::Value) {
    let _ = data;
}

struct Args {
    url: String,
    schema: String,
    token: String,
    port: u16,
}

fn args() -> Result<Args, String> {
    let mut url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/jobs_test".to_owned());
    let random = jobs::RunId::new().as_uuid().simple().to_string();
    let mut schema = format!("fuzz_{}", &random[16..]);
    let mut token = None;
    let mut port = 0;
    worker_cli::parse_flags(|flag, value| {
        match flag {
            "--database-url" => url = value,
            "--schema" => schema = value,
            "--token" => token = Some(value),
            "--port" => port = worker_cli::number(flag, &value)?,
            other => return worker_cli::unknown(other),
        }
        Ok(())
    })?;
    if !schema
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(format!("--schema {schema}: letters, digits and `_` only"));
    }
    Ok(Args {
        url,
        schema,
        token: token.ok_or("pass --token: the API is served with a bearer token")?,
        port,
    })
}

fn main() -> ExitCode {
    worker_cli::main(NAME, args, run)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (storage, pool) = worker_cli::connect(&args.url, &args.schema, 8).await?;
    storage.migrate().await?;
    let jobs = Jobs::builder()
        .name(NAME)
        .namespace("fuzz")
        .storage(storage)
        .build()?;
    let worker = jobs.worker().concurrency(2).start();
    let app = jobs_web::builder(jobs).bearer_token(args.token).router();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("listening http://{}", listener.local_addr()?);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let reason = worker_cli::told_to_stop().await;
            eprintln!("{NAME}: {reason}; stopping");
        })
        .await;
    let _ = worker.shutdown().await;
    let dropped = sqlx::query(&format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        args.schema
    ))
    .execute(&pool)
    .await;
    if let Err(error) = dropped {
        eprintln!("{NAME}: could not drop schema {}: {error}", args.schema);
    }
    served?;
    Ok(())
}

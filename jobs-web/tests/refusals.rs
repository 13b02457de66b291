//! Input no storage can keep is the client's mistake, answered 422 with the field, the
//! same whatever the storage: NUL in payload strings, idempotency keys, the task filter,
//! bulk replay's task and replay reasons; a `run_at` past year 9999; and a missing nested
//! payload field, named by its full path. Each is sent to a router over memory, SQLite
//! and PostgreSQL (`DATABASE_URL`, default the local test database).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

#[path = "support/http.rs"]
mod http;

use axum::http::StatusCode;
use http::call;
use jobs::{Jobs, MemoryStorage, RunId, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where an order goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Address {
    city: String,
}

#[jobs::task(name = "web-refusal-ship")]
async fn ship(order_id: String, address: Address) {
    let _ = (order_id, address);
}

/// Every refusal through a router over `storage`.
async fn refusals(storage: Arc<dyn Storage>, name: &str) {
    let jobs = Jobs::builder()
        .namespace("refusals")
        .shared_storage(storage)
        .build()
        .unwrap();
    let app = jobs_web::router(jobs.clone());
    let enqueue = "/tasks/web-refusal-ship/runs";
    let address = json!({ "city": "Lyon" });
    let cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        (
            "POST",
            enqueue.into(),
            Some(json!({ "payload": { "order_id": "a\u{0}b", "address": address } })),
            "payload.order_id",
        ),
        (
            "POST",
            enqueue.into(),
            Some(json!({ "payload": { "order_id": "a", "address": { "city": "\u{0}" } } })),
            "payload.address.city",
        ),
        (
            "POST",
            enqueue.into(),
            Some(
                json!({ "payload": { "order_id": "a", "address": address }, "idempotency_key": "k\u{0}" }),
            ),
            "idempotency_key",
        ),
        (
            "POST",
            enqueue.into(),
            Some(
                json!({ "payload": { "order_id": "a", "address": address }, "run_at": "+10000-01-01T00:00:00Z" }),
            ),
            "run_at",
        ),
        (
            "POST",
            enqueue.into(),
            Some(json!({ "payload": { "order_id": "a", "address": {} } })),
            "address.city",
        ),
        ("GET", "/runs?task=a%00b".into(), None, "task"),
        (
            "POST",
            "/runs/replay".into(),
            Some(json!({ "status": "dead_lettered", "reason": "x\u{0}" })),
            "reason",
        ),
        (
            "POST",
            "/runs/replay".into(),
            Some(json!({ "task": "a\u{0}b", "status": "dead_lettered", "reason": "r" })),
            "task",
        ),
    ];
    for (method, uri, body, field) in cases {
        let (status, answer) = call(&app, method, &uri, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {method} {uri}: {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{name}: {answer}");
    }

    // A replay reason with NUL: refused, not stored mangled.
    let run = jobs
        .enqueue(Ship {
            order_id: "o1".into(),
            address: Address {
                city: "Lyon".into(),
            },
        })
        .await
        .unwrap()
        .id();
    jobs.runs().cancel(&run).await.unwrap();
    let uri = format!("/runs/{run}/replay");
    let (status, answer) = call(&app, "POST", &uri, Some(json!({ "reason": "x\u{0}" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {answer}");
    assert_eq!(answer["error"]["field"], "reason", "{name}: {answer}");

    // Nothing but that one run was stored.
    let (_, page) = call(&app, "GET", "/runs", None).await;
    let ids: Vec<&str> = page["runs"]
        .as_array()
        .map(|runs| runs.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [run.to_string()], "{name}");
}

#[tokio::test]
async fn memory_refuses_what_no_storage_can_keep() {
    refusals(Arc::new(MemoryStorage::new()), "memory").await;
}

#[tokio::test]
async fn sqlite_refuses_what_no_storage_can_keep() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("refusals-{}.db", RunId::new()));
    let storage = jobs_sqlite::SqliteStorage::open(&path).await.unwrap();
    refusals(Arc::new(storage), "sqlite").await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn postgres_refuses_what_no_storage_can_keep() {
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/jobs_test".to_owned());
    let schema = format!(
        "jw_refusals_{}",
        &RunId::new().as_uuid().simple().to_string()[16..]
    );
    let storage = jobs_postgres::PgStorage::builder()
        .schema(&schema)
        .connect(&url)
        .await
        .unwrap();
    storage.migrate().await.unwrap();
    let pool = storage.pool().clone();
    refusals(Arc::new(storage), "postgres").await;
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}

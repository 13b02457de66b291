//! Values no storage can keep are refused, the same on every backend, before anything is
//! stored: text with a NUL character (PostgreSQL cannot hold one), times outside the years
//! 0 to 9999 (RFC 3339 cannot write them), delays past a century.

use std::time::Duration;

use super::ok;
use crate::storage::{NewRun, ReplayRequest, Schedule};
use crate::testing::Harness;
use crate::{Error, ListRuns, RunId};

/// The field an `InvalidInput` error names, or a panic saying what came instead.
fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, Error>) -> String {
    match result {
        Err(Error::InvalidInput { field, reason }) => {
            assert!(!reason.is_empty(), "{what}: a reason");
            field
        }
        other => panic!("{what}: expected InvalidInput, got {other:?}"),
    }
}

fn run(payload: serde_json::Value) -> NewRun {
    NewRun::new("conformance", "jobs-conformance-succeed", payload, 3)
}

/// NUL in a payload (in a nested string, in an object's key, in an array), in an
/// idempotency key or a task name, a `run_at` of year 10000, a delay of two centuries:
/// each is `Error::InvalidInput` naming the field, and nothing of its batch is stored.
pub async fn values_no_storage_can_keep_are_refused(h: Harness) {
    let good = run(serde_json::json!({ "token": "fine" }));
    let cases: Vec<(NewRun, &str)> = vec![
        (
            run(serde_json::json!({ "order": { "id": "a\u{0}b" } })),
            "payload.order.id",
        ),
        (
            run(serde_json::json!({ "items": ["ok", "x\u{0}"] })),
            "payload.items[1]",
        ),
        (run(serde_json::json!({ "k\u{0}ey": 1 })), "payload"),
        (
            {
                let mut keyed = run(serde_json::json!({}));
                keyed.idempotency_key = Some("nul\u{0}key".into());
                keyed
            },
            "idempotency_key",
        ),
        (
            NewRun::new("conformance", "task\u{0}", serde_json::json!({}), 3),
            "task",
        ),
        (
            {
                let mut late = run(serde_json::json!({}));
                let year_10000 = "+10000-01-01T00:00:00Z".parse().unwrap_or_default();
                late.schedule = Schedule::At(year_10000);
                late
            },
            "run_at",
        ),
        (
            {
                let mut far = run(serde_json::json!({}));
                far.schedule = Schedule::After(Duration::from_secs(200 * 366 * 24 * 3600));
                far
            },
            "delay",
        ),
    ];
    for (bad, field) in cases {
        // The bad run second in its batch: the good one before it is not stored either.
        let batch = vec![good.clone(), bad];
        let named = refused(field, h.storage.enqueue(batch).await);
        assert!(named.starts_with(field), "{named} should name {field}");
    }
    let stored = ok(
        "list",
        h.storage.list("conformance", &ListRuns::new()).await,
    );
    assert!(stored.runs.is_empty(), "nothing stored: {:?}", stored.runs);

    // A task filter with NUL.
    let filter = ListRuns::new().task_name("a\u{0}b");
    assert_eq!(
        refused("list", h.storage.list("conformance", &filter).await),
        "task"
    );

    // A replay reason with NUL: refused, not stored mangled.
    let id = ok("enqueue", h.storage.enqueue(vec![good]).await)[0].id();
    ok("cancel", h.storage.cancel("conformance", id).await);
    let request = ReplayRequest::new(id, RunId::new(), "because\u{0}");
    assert_eq!(
        refused("replay", h.storage.replay("conformance", request).await),
        "reason"
    );
    let all = ok(
        "list",
        h.storage.list("conformance", &ListRuns::new()).await,
    );
    assert_eq!(all.runs.len(), 1, "no replay was made");
}

//! A `Context` argument may stand anywhere, or nowhere; it is never a payload field, and
//! the other arguments reach the fn in their order.

use std::sync::Mutex;

use jobs::{Context, Jobs, MemoryStorage, Task};

static CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(call: String) {
    CALLS.lock().expect("not poisoned").push(call);
}

#[jobs::task]
async fn first(ctx: jobs::Context, a: u32, b: String) {
    record(format!("first {} {a} {b}", ctx.task()));
}

#[jobs::task]
async fn middle(a: u32, ctx: Context, b: String) {
    record(format!("middle {a} {} {b}", ctx.task()));
}

#[jobs::task]
async fn last(a: u32, b: String, _: ::jobs::Context) {
    record(format!("last {a} {b}"));
}

#[jobs::task]
async fn absent(a: u32, b: String) {
    record(format!("absent {a} {b}"));
}

/// Arguments that share a name with the fn or with the generated code's locals.
#[jobs::task]
async fn ctx(ctx: u32, context: Context, absent: String) {
    record(format!("ctx {ctx} {absent} {}", context.attempt()));
}

#[jobs::task]
async fn only_context(ctx: Context) {
    record(format!("only {}", ctx.task()));
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs = Jobs::builder()
        .name("ui")
        .namespace("ui")
        .storage(MemoryStorage::new())
        .build()?;
    let cx = |name: &str| Context::for_test(&jobs, name);

    First {
        a: 1,
        b: "x".into(),
    }
    .run(cx("t1"))
    .await
    .expect("ok");
    Middle {
        a: 2,
        b: "y".into(),
    }
    .run(cx("t2"))
    .await
    .expect("ok");
    Last {
        a: 3,
        b: "z".into(),
    }
    .run(cx("t3"))
    .await
    .expect("ok");
    Absent {
        a: 4,
        b: "w".into(),
    }
    .run(cx("t4"))
    .await
    .expect("ok");
    Ctx {
        ctx: 5,
        absent: "v".into(),
    }
    .run(cx("t5"))
    .await
    .expect("ok");
    OnlyContext {}.run(cx("t6")).await.expect("ok");

    let calls = CALLS.lock().expect("not poisoned").clone();
    assert_eq!(
        calls,
        [
            "first t1 1 x",
            "middle 2 t2 y",
            "last 3 z",
            "absent 4 w",
            "ctx 5 v 1",
            "only t6",
        ]
    );
    // The fns are still there to call directly.
    absent(6, "direct".into()).await;

    // The payload is exactly the non-context arguments.
    let json = serde_json::to_value(Middle {
        a: 7,
        b: "q".into(),
    })?;
    assert_eq!(json, serde_json::json!({ "a": 7, "b": "q" }));
    assert_eq!(serde_json::to_value(OnlyContext {})?, serde_json::json!({}));
    Ok(())
}

//! `#[cfg]` on an argument works as on any fn: an argument compiled out is gone from the
//! fn, from the payload and from the call; one compiled in is in all three. Any mix of
//! them, next to the `Context` wherever it stands (or itself cfg'd), with `cfg_attr`.
#![deny(warnings)]

use std::sync::Mutex;

use jobs::{Context, Jobs, MemoryStorage};

static CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(call: String) {
    CALLS.lock().expect("not poisoned").push(call);
}

/// The example of the bug report: one argument off, one on.
#[jobs::task]
async fn send_mail(
    to: String,
    #[cfg(any())] debug: bool,
    #[cfg(all())] verbose: u8,
) -> Result<(), jobs::TaskError> {
    record(format!("send_mail {to} {verbose}"));
    Ok(())
}

/// Off and on arguments on both sides of the `Context`, with other attributes.
#[jobs::task]
async fn mixed(
    #[cfg(any())] a: u8,
    #[cfg(all())]
    /// Documented, renamed and compiled in.
    #[serde(rename = "bee")]
    b: u8,
    ctx: Context,
    #[cfg(any())]
    #[serde(default)]
    c: String,
    #[cfg(all())] d: String,
    #[cfg(all())]
    #[cfg(any())]
    e: u8,
    f: u8,
) {
    record(format!("mixed {b} {} {d} {f}", ctx.task()));
}

/// Every argument compiled out but the context; one of a type that could not be a
/// payload field, which is not checked since there is no such field.
#[jobs::task]
async fn all_off(
    #[cfg(any())] a: u8,
    ctx: Context,
    #[cfg(any())] b: u8,
    #[cfg(any())] file: std::fs::File,
) {
    record(format!("all_off {}", ctx.attempt()));
}

/// The `Context` itself compiled in, or out.
#[jobs::task]
async fn context_on(a: u8, #[cfg(all())] ctx: Context) {
    record(format!("context_on {a} {}", ctx.attempt()));
}

#[jobs::task]
async fn context_off(a: u8, #[cfg(any())] ctx: Context) {
    record(format!("context_off {a}"));
}

/// `cfg_attr` that expands to a `cfg`, in and out.
#[jobs::task]
async fn via_cfg_attr(
    #[cfg_attr(all(), cfg(any()))] a: u8,
    #[cfg_attr(any(), cfg(any()))] b: u8,
    #[cfg_attr(all(), cfg_attr(all(), cfg(all())))] c: u8,
    #[cfg_attr(all(), allow(unused_variables))] d: u8,
) {
    record(format!("via_cfg_attr {b} {c}"));
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs = Jobs::builder()
        .name("ui")
        .namespace("ui")
        .storage(MemoryStorage::new())
        .build()?;

    // The payloads hold exactly the arguments compiled in.
    let send_payload = SendMail {
        to: "ann".into(),
        verbose: 2,
    };
    let mixed_payload = Mixed {
        b: 1,
        d: "dee".into(),
        f: 3,
    };
    assert_eq!(
        serde_json::to_value(&mixed_payload)?,
        serde_json::json!({ "bee": 1, "d": "dee", "f": 3 })
    );
    assert_eq!(serde_json::to_value(AllOff {})?, serde_json::json!({}));

    jobs.enqueue(send_payload).await?;
    jobs.enqueue(mixed_payload).await?;
    jobs.enqueue(AllOff {}).await?;
    jobs.enqueue(ContextOn { a: 4 }).await?;
    jobs.enqueue(ContextOff { a: 5 }).await?;
    jobs.enqueue(ViaCfgAttr { b: 6, c: 7, d: 8 }).await?;
    let report = jobs.drain().await?;
    assert_eq!(report.succeeded, 6);

    let mut calls = CALLS.lock().expect("not poisoned").clone();
    calls.sort();
    assert_eq!(
        calls,
        [
            "all_off 1",
            "context_off 5",
            "context_on 4 1",
            "mixed 1 mixed dee 3",
            "send_mail ann 2",
            "via_cfg_attr 6 7",
        ]
    );

    // The fns themselves have the same arguments as their payloads.
    send_mail("bob".into(), 9).await.expect("ok");
    context_off(10).await;
    Ok(())
}

//! Tasks defined with `#[jobs::task]`, end to end on the memory storage.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Mutex;
use std::time::Duration;

use jobs::{
    Backoff, Context, Jobs, ManualClock, MemoryStorage, RetryPolicy, RunId, RunStatus, Task,
    TaskError,
};

static SEEN: Mutex<Vec<(RunId, String, u32, u32)>> = Mutex::new(Vec::new());

/// Records what its Context says, fails its first attempt.
#[jobs::task(
    name = "inspect-context",
    retry(attempts = 3, backoff = "fixed", initial_delay = "1s")
)]
async fn inspect(label: String, ctx: Context) -> Result<(), TaskError> {
    SEEN.lock().unwrap().push((
        ctx.run_id(),
        ctx.task().to_owned(),
        ctx.attempt(),
        ctx.max_attempts(),
    ));
    if ctx.attempt() == 1 {
        // Any std error converts through `?`.
        let parsed: Result<u32, std::num::ParseIntError> = label.parse();
        parsed?;
    }
    Ok(())
}

#[jobs::task(retry(
    attempts = 5,
    backoff = "exponential",
    initial_delay = "5s",
    max_delay = "300s"
))]
async fn notify_user(
    ctx: Context,
    user_id: String,
    template: String,
    data: serde_json::Value,
) -> Result<(), TaskError> {
    let _ = (ctx, user_id, template, data);
    Ok(())
}

#[jobs::task(retry(
    attempts = 5,
    backoff = "exponential",
    initial_delay = "30s",
    max_delay = "900s"
))]
async fn sync_provider(account_id: String) -> Result<(), TaskError> {
    if account_id.is_empty() {
        return Err(TaskError::permanent("no account"));
    }
    Ok(())
}

#[jobs::task(retry(attempts = 4, backoff = "fixed", initial_delay = "60s"))]
async fn send_notification(user_id: String) {
    let _ = user_id;
}

#[jobs::task(retry(attempts = 8, backoff = "custom", delays = ["10s", "30s", "2m", "5m", "15m", "1h", "6h"]))]
async fn deliver_webhook(endpoint_id: String, url: String) -> Result<(), TaskError> {
    let _ = (endpoint_id, url);
    Ok(())
}

#[jobs::task(retry(attempts = 3))]
async fn send_reminder(user_id: String) {
    let _ = user_id;
}

#[jobs::task(timeout = "100ms", retry(attempts = 1))]
async fn too_slow() {
    tokio::time::sleep(Duration::from_secs(30)).await;
}

#[test]
fn names_and_policies_follow_the_attribute() {
    assert_eq!(NotifyUser::NAME, "notify-user");
    assert_eq!(SyncProvider::NAME, "sync-provider");
    assert_eq!(DeliverWebhook::NAME, "deliver-webhook");
    assert_eq!(Inspect::NAME, "inspect-context");
    assert_eq!(
        NotifyUser::RETRY,
        RetryPolicy::exponential(5, Duration::from_secs(5), Duration::from_secs(300))
    );
    assert_eq!(
        SendNotification::RETRY,
        RetryPolicy::fixed(4, Duration::from_secs(60))
    );
    assert_eq!(DeliverWebhook::RETRY.attempts, 8);
    let Backoff::Custom(delays) = DeliverWebhook::RETRY.backoff else {
        panic!("custom backoff expected");
    };
    let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [10, 30, 120, 300, 900, 3600, 21600]);
    assert_eq!(SendReminder::RETRY.attempts, 3);
    assert_eq!(TooSlow::TIMEOUT, Some(Duration::from_millis(100)));
    assert_eq!(NotifyUser::TIMEOUT, None);
}

#[tokio::test]
async fn the_original_fn_stays_callable() {
    let jobs = Jobs::builder()
        .storage(MemoryStorage::new())
        .build()
        .unwrap();
    let ctx = Context::for_test(&jobs, NotifyUser::NAME);
    notify_user(ctx, "u1".into(), "welcome".into(), serde_json::json!({}))
        .await
        .unwrap();
    assert!(
        sync_provider(String::new())
            .await
            .unwrap_err()
            .is_permanent()
    );
}

#[tokio::test]
async fn context_carries_run_task_and_attempt_and_errors_convert() {
    let clock = ManualClock::new();
    let jobs = Jobs::builder()
        .storage(MemoryStorage::with_clock(clock.clone()))
        .build()
        .unwrap();
    let id = jobs
        .enqueue(Inspect {
            label: "not a number".into(),
        })
        .await
        .unwrap()
        .id();
    jobs.drain().await.unwrap();
    let run = jobs.runs().get(&id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Retrying);
    assert_eq!(
        run.last_error.as_deref(),
        Some("invalid digit found in string")
    );
    clock.advance(Duration::from_secs(1));
    jobs.drain().await.unwrap();
    assert_eq!(
        jobs.runs().get(&id).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );
    let seen: Vec<_> = SEEN
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.0 == id)
        .cloned()
        .collect();
    assert_eq!(
        seen,
        vec![
            (id, "inspect-context".to_owned(), 1, 3),
            (id, "inspect-context".to_owned(), 2, 3)
        ]
    );
}

#[tokio::test]
async fn a_timeout_from_the_attribute_fails_the_attempt() {
    let jobs = Jobs::builder()
        .storage(MemoryStorage::new())
        .build()
        .unwrap();
    let id = jobs.enqueue(TooSlow {}).await.unwrap().id();
    let report = jobs.drain().await.unwrap();
    assert_eq!(report.dead_lettered, 1);
    let run = jobs.runs().get(&id).await.unwrap().unwrap();
    assert_eq!(
        run.last_error.as_deref(),
        Some("the attempt timed out after 100ms")
    );
}

#[tokio::test]
async fn every_task_linked_in_is_known_to_the_worker() {
    let jobs = Jobs::builder()
        .storage(MemoryStorage::new())
        .build()
        .unwrap();
    let names = jobs.task_names();
    for name in [
        "notify-user",
        "sync-provider",
        "send-notification",
        "deliver-webhook",
        "send-reminder",
        "inspect-context",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
}

#[test]
fn builder_errors_are_clear() {
    let error = Jobs::builder().build().unwrap_err().to_string();
    assert!(error.contains("no storage"), "{error}");
    let error = Jobs::builder()
        .storage(MemoryStorage::new())
        .namespace("")
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.contains("namespace"), "{error}");
}

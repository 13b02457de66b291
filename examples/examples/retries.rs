//! Retrying jobs: the brief's three retry policies against a provider that fails a set
//! number of times, and each run's attempt history.
//!
//! - `sync-provider`: exponential from 30 s, at most 900 s, 5 attempts. The provider fails
//!   3 times, so the run succeeds on its 4th attempt, after waiting 30 s, 1 m and 2 m.
//! - `send-notification`: a fixed 60 s, 4 attempts. The provider fails 5 times, more than
//!   the run may try: it is dead-lettered after its 4th attempt.
//! - `deliver-webhook`: the provider's own cadence, 10 s, 30 s, 2 m, 5 m, 15 m, 1 h, 6 h,
//!   8 attempts. The endpoint fails 5 times; the 6th attempt, 22 m 40 s in, succeeds.
//!
//! The policies are the brief's; the example only runs them quickly: the storage reads time
//! from a `ManualClock`, and the example moves it to each next retry (and says so) once the
//! worker has done what was due.
//!
//! In memory, or on PostgreSQL when `DATABASE_URL` is set:
//!
//! ```sh
//! cargo run --example retries
//! DATABASE_URL=postgres://localhost/app cargo run --example retries
//! ```

use std::time::Duration;

use jobs::{Task, TaskError};

#[jobs::task(retry(
    attempts = 5,
    backoff = "exponential",
    initial_delay = "30s",
    max_delay = "900s"
))]
async fn sync_provider(account_id: String) -> Result<(), TaskError> {
    provider::sync_account(&account_id).await?;
    Ok(())
}

#[jobs::task(retry(attempts = 4, backoff = "fixed", initial_delay = "60s"))]
async fn send_notification(user_id: String, template: String) -> Result<(), TaskError> {
    provider::send_notification(&user_id, &template).await?;
    Ok(())
}

#[jobs::task(retry(
    attempts = 8,
    backoff = "custom",
    delays = ["10s", "30s", "2m", "5m", "15m", "1h", "6h"]
))]
async fn deliver_webhook(endpoint_id: String, event_id: String) -> Result<(), TaskError> {
    provider::deliver(&endpoint_id, &event_id).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), examples::Report> {
    // The application, its storage on a clock that the example moves by hand.
    let (jobs, timeline) = examples::app_on_manual_clock("retries").await?;

    // How often the fake provider fails before it answers.
    provider::fail_next("acct_42", 3);
    provider::fail_next("user_123", 5);
    provider::fail_next("ep_123", 5);

    println!("policies:");
    policy::<SyncProvider>();
    policy::<SendNotification>();
    policy::<DeliverWebhook>();

    let runs = [
        jobs.enqueue(SyncProvider {
            account_id: "acct_42".into(),
        })
        .await?
        .run,
        jobs.enqueue(SendNotification {
            user_id: "user_123".into(),
            template: "invoice-overdue".into(),
        })
        .await?
        .run,
        jobs.enqueue(DeliverWebhook {
            endpoint_id: "ep_123".into(),
            event_id: "evt_123".into(),
        })
        .await?
        .run,
    ];

    println!("\na worker runs what is due; the clock jumps to each next retry:");
    let worker = jobs
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    timeline.run_until_done(&jobs).await?;
    worker.shutdown().await;

    println!("\nattempt histories (start of each attempt after enqueue):");
    for run in &runs {
        let run = jobs.runs().get(&run.id).await?.ok_or("the run vanished")?;
        println!(
            "  {} {}: {} after {} of {} attempts",
            run.task, run.id, run.status, run.attempt, run.max_attempts
        );
        examples::print_attempts(&jobs, &run).await?;
    }
    Ok(())
}

/// Prints a task's policy: its attempts and the wait before each retry.
fn policy<T: Task>() {
    let waits: Vec<String> = (1..T::RETRY.attempts)
        .filter_map(|attempt| T::RETRY.delay_after(attempt))
        .map(examples::human)
        .collect();
    println!(
        "  {:<17} {} attempts, waiting {}",
        T::NAME,
        T::RETRY.attempts,
        waits.join(", ")
    );
}

/// A provider that fails a set number of times before it answers.
mod provider {
    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};

    use examples::Unavailable;

    static FAILURES_LEFT: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

    /// Makes the next `times` calls for `key` fail.
    pub(crate) fn fail_next(key: &str, times: u32) {
        let mut failures = FAILURES_LEFT.lock().unwrap_or_else(PoisonError::into_inner);
        failures
            .get_or_insert_with(HashMap::new)
            .insert(key.to_owned(), times);
    }

    fn call(key: &str) -> Result<(), Unavailable> {
        let mut failures = FAILURES_LEFT.lock().unwrap_or_else(PoisonError::into_inner);
        match failures.get_or_insert_with(HashMap::new).get_mut(key) {
            Some(left) if *left > 0 => {
                *left -= 1;
                Err(Unavailable)
            }
            _ => Ok(()),
        }
    }

    pub(crate) async fn sync_account(account_id: &str) -> Result<(), Unavailable> {
        call(account_id)
    }

    pub(crate) async fn send_notification(
        user_id: &str,
        _template: &str,
    ) -> Result<(), Unavailable> {
        call(user_id)
    }

    pub(crate) async fn deliver(endpoint_id: &str, _event_id: &str) -> Result<(), Unavailable> {
        call(endpoint_id)
    }
}

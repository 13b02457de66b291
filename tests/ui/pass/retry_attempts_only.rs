//! `retry(attempts = N)` alone: the default exponential backoff with N attempts.

use std::time::Duration;

use jobs::{RetryPolicy, Task};

#[jobs::task(retry(attempts = 3))]
async fn three() {}

#[jobs::task(retry(attempts = 1))]
async fn once() {}

#[jobs::task(retry(attempts = 4294967295))]
async fn forever() {}

fn main() {
    assert_eq!(Three::RETRY, RetryPolicy::DEFAULT);
    assert_eq!(
        Once::RETRY,
        RetryPolicy::exponential(1, Duration::from_secs(5), Duration::from_secs(300))
    );
    assert_eq!(Once::RETRY.delay_after(1), None);
    assert_eq!(Forever::RETRY.attempts, u32::MAX);
}

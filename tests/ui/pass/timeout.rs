//! `timeout = "..."` in every unit.

use std::time::Duration;

use jobs::{RetryPolicy, Task};

#[jobs::task(timeout = "30s")]
async fn thirty_seconds() {}

#[jobs::task(timeout = "250ms", retry(attempts = 2))]
async fn millis() {}

#[jobs::task(retry(backoff = "fixed"), timeout = "2m")]
async fn minutes() {}

#[jobs::task(timeout = "6h")]
async fn hours() {}

#[jobs::task(timeout = "1d")]
async fn day() {}

fn main() {
    assert_eq!(ThirtySeconds::TIMEOUT, Some(Duration::from_secs(30)));
    assert_eq!(ThirtySeconds::RETRY, RetryPolicy::DEFAULT);
    assert_eq!(Millis::TIMEOUT, Some(Duration::from_millis(250)));
    assert_eq!(Minutes::TIMEOUT, Some(Duration::from_secs(120)));
    assert_eq!(Hours::TIMEOUT, Some(Duration::from_secs(6 * 3_600)));
    assert_eq!(Day::TIMEOUT, Some(Duration::from_secs(86_400)));
}

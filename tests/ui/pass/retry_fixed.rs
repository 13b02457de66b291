//! `backoff = "fixed"`: the same wait, `initial_delay`, before every retry.

use std::time::Duration;

use jobs::{Backoff, RetryPolicy, Task};

#[jobs::task(retry(attempts = 4, backoff = "fixed", initial_delay = "1m"))]
async fn poll_status(order_id: u64) -> Result<(), jobs::TaskError> {
    let _ = order_id;
    Ok(())
}

/// Without `initial_delay` the wait is 5s.
#[jobs::task(retry(backoff = "fixed"))]
async fn fixed_default() {}

fn main() {
    assert_eq!(PollStatus::NAME, "poll-status");
    assert_eq!(
        PollStatus::RETRY,
        RetryPolicy::fixed(4, Duration::from_secs(60))
    );
    assert!(matches!(PollStatus::RETRY.backoff, Backoff::Fixed(_)));
    assert_eq!(
        PollStatus::RETRY.delay_after(3),
        Some(Duration::from_secs(60))
    );
    assert_eq!(PollStatus::RETRY.delay_after(4), None);

    assert_eq!(
        FixedDefault::RETRY,
        RetryPolicy::fixed(3, Duration::from_secs(5))
    );
}

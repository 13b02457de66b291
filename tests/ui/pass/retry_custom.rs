//! `backoff = "custom"`: the waits as listed, the last one repeating.

use std::time::Duration;

use jobs::{Backoff, RetryPolicy, Task};

#[jobs::task(retry(
    attempts = 10,
    backoff = "custom",
    delays = ["500ms", "10s", "30s", "2m", "10m", "1h", "1d"],
))]
async fn sync_account(account_id: String) -> Result<(), jobs::TaskError> {
    let _ = account_id;
    Ok(())
}

#[jobs::task(retry(backoff = "custom", delays = ["6h"]))]
async fn one_delay() {}

fn main() {
    const DELAYS: &[Duration] = &[
        Duration::from_millis(500),
        Duration::from_secs(10),
        Duration::from_secs(30),
        Duration::from_secs(120),
        Duration::from_secs(600),
        Duration::from_secs(3_600),
        Duration::from_secs(86_400),
    ];
    assert_eq!(SyncAccount::NAME, "sync-account");
    assert_eq!(SyncAccount::RETRY, RetryPolicy::custom(10, DELAYS));
    let waits: Vec<_> = (1..=10)
        .map(|n| SyncAccount::RETRY.delay_after(n))
        .collect();
    assert_eq!(
        waits[..7],
        DELAYS.iter().copied().map(Some).collect::<Vec<_>>()[..]
    );
    assert_eq!(waits[8], Some(Duration::from_secs(86_400)));
    assert_eq!(waits[9], None);

    match OneDelay::RETRY.backoff {
        Backoff::Custom(delays) => assert_eq!(&*delays, &[Duration::from_secs(6 * 3_600)]),
        other => panic!("{other:?}"),
    }
    assert_eq!(OneDelay::RETRY.attempts, 3);
}

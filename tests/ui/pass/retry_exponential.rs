//! `backoff = "exponential"`, written out in full and with its defaults.

use std::time::Duration;

use jobs::{RetryPolicy, Task};

const S: fn(u64) -> Duration = Duration::from_secs;

#[jobs::task(retry(
    attempts = 5,
    backoff = "exponential",
    initial_delay = "5s",
    max_delay = "300s"
))]
pub async fn notify_user(
    ctx: jobs::Context,
    user_id: String,
    template: String,
) -> Result<(), jobs::TaskError> {
    let _ = (ctx, user_id, template);
    Ok(())
}

/// No `initial_delay`: 5s. No `max_delay`: 300s.
#[jobs::task(retry(attempts = 4, backoff = "exponential"))]
async fn defaults() {}

/// An `initial_delay` above the default maximum raises the maximum to it.
#[jobs::task(retry(initial_delay = "10m"))]
async fn long_initial() {}

/// Only a maximum.
#[jobs::task(retry(max_delay = "1h", initial_delay = "500ms", attempts = 10))]
async fn millis() {}

fn main() {
    assert_eq!(NotifyUser::NAME, "notify-user");
    assert_eq!(NotifyUser::RETRY, RetryPolicy::exponential(5, S(5), S(300)));
    assert_eq!(NotifyUser::TIMEOUT, None);

    assert_eq!(Defaults::RETRY, RetryPolicy::exponential(4, S(5), S(300)));
    assert_eq!(
        LongInitial::RETRY,
        RetryPolicy::exponential(3, S(600), S(600))
    );
    assert_eq!(
        Millis::RETRY,
        RetryPolicy::exponential(10, Duration::from_millis(500), S(3600))
    );
    assert_eq!(Millis::RETRY.delay_after(2), Some(S(1)));

    let payload = NotifyUser {
        user_id: "user_123".into(),
        template: "welcome".into(),
    };
    let _ = (payload.clone(), format!("{payload:?}"));
}

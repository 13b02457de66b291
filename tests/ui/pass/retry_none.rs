//! No arguments at all: `RetryPolicy::DEFAULT`, no timeout, names from the fn.

use jobs::{RetryPolicy, Task};

#[jobs::task]
async fn send_welcome_email(user_id: String) -> Result<(), jobs::TaskError> {
    let _ = user_id;
    Ok(())
}

#[jobs::task()]
async fn empty_parens() {}

fn main() {
    assert_eq!(SendWelcomeEmail::NAME, "send-welcome-email");
    assert_eq!(SendWelcomeEmail::RETRY, RetryPolicy::DEFAULT);
    assert_eq!(SendWelcomeEmail::TIMEOUT, None);
    assert_eq!(EmptyParens::NAME, "empty-parens");
    assert_eq!(EmptyParens::RETRY, RetryPolicy::DEFAULT);
}

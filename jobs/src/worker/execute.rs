//! Running one attempt: decode, call the handler, catch panics and timeouts, and decide
//! from the task's policy what happens next.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as Poll, Poll as Ready};
use std::time::Duration;

use crate::storage::AttemptResult;
use crate::task::context::{CancelReason, Context};
use crate::task::error::{MAX_SNOOZES, TaskError};
use crate::task::registry::{AttemptFuture, TaskRegistration};

/// How an attempt's handler ended, before the policy is applied.
enum Ending {
    Returned(Result<(), TaskError>),
    Panicked(String),
    TimedOut(Duration),
}

/// What becomes of an attempt that ended.
pub(crate) enum Verdict {
    /// Record this result.
    Record(AttemptResult),
    /// The handler stopped early with a retryable error after its worker began shutting
    /// down: hand the run back (the error, for the log), using none of its budget.
    HandBack(String),
}

/// Runs one attempt, in the calling task, and says what becomes of it.
///
/// A panic in the handler is caught here (it is a failed attempt, not a dead worker), and
/// the task's timeout, if any, bounds the attempt. Aborting the calling task abandons the
/// attempt without a result, which is how a shutdown hands back what did not return.
pub(crate) async fn execute(
    registration: &'static TaskRegistration,
    payload: serde_json::Value,
    ctx: Context,
) -> Verdict {
    let budget = Budget {
        max_attempts: ctx.max_attempts(),
        failures: ctx.failures(),
        snoozes: ctx.snoozes(),
    };
    let cancel = ctx.cancel_handle();
    let handler = CatchUnwind((registration.start)(payload, ctx));
    let ending = match (registration.timeout)() {
        Some(limit) => tokio::time::timeout(limit, handler)
            .await
            .unwrap_or(Ending::TimedOut(limit)),
        None => handler.await,
    };
    if let Ending::Returned(Err(error)) = &ending {
        let stopped_early = !error.is_permanent() && error.snooze_delay().is_none();
        if stopped_early && cancel.reason() == Some(CancelReason::Shutdown) {
            return Verdict::HandBack(error.message().to_owned());
        }
    }
    Verdict::Record(decide(registration, budget, ending))
}

/// What the run's budget was when the attempt started.
#[derive(Debug, Clone, Copy)]
struct Budget {
    max_attempts: u32,
    failures: u32,
    snoozes: u32,
}

/// Polls the handler, turning a panic into [`Ending::Panicked`].
struct CatchUnwind(AttemptFuture);

impl Future for CatchUnwind {
    type Output = Ending;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Poll<'_>) -> Ready<Ending> {
        let handler = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx))) {
            Ok(Ready::Ready(result)) => Ready::Ready(Ending::Returned(result)),
            Ok(Ready::Pending) => Ready::Pending,
            Err(panic) => Ready::Ready(Ending::Panicked(panic_message(panic))),
        }
    }
}

/// Applies the task's policy to how the handler ended. Backoff and the budget follow the
/// run's failed attempts only: snoozes and hand-backs are counted apart.
fn decide(registration: &TaskRegistration, budget: Budget, ending: Ending) -> AttemptResult {
    let (error, permanent) = match ending {
        Ending::Returned(Ok(())) => return AttemptResult::Succeeded,
        Ending::Returned(Err(error)) if error.snooze_delay().is_some() => {
            let delay = error.snooze_delay().unwrap_or_default();
            if budget.snoozes < MAX_SNOOZES {
                return AttemptResult::Snooze {
                    reason: error.message().to_owned(),
                    delay,
                };
            }
            (
                format!(
                    "snoozed more than {MAX_SNOOZES} times, counted as a failed attempt: {}",
                    error.message()
                ),
                false,
            )
        }
        Ending::Returned(Err(error)) => (error.message().to_owned(), error.is_permanent()),
        Ending::Panicked(message) => (format!("the handler panicked: {message}"), false),
        Ending::TimedOut(limit) => (
            format!("the attempt timed out after {}", humanize(limit)),
            false,
        ),
    };
    if permanent {
        return AttemptResult::DeadLetter { error };
    }
    // The stored budget wins over the compiled one: the run was enqueued with it.
    let mut policy = (registration.retry)();
    policy.attempts = budget.max_attempts;
    match policy.delay_after(budget.failures.saturating_add(1)) {
        Some(delay) => AttemptResult::Retry { error, delay },
        None => AttemptResult::DeadLetter { error },
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// `1.5s`, `30s`, `250ms`: short and exact enough for error messages.
pub(crate) fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn panic_messages_are_extracted() {
        assert_eq!(panic_message(Box::new("boom")), "boom");
        assert_eq!(panic_message(Box::new(String::from("bang"))), "bang");
        assert_eq!(panic_message(Box::new(7)), "(a panic without a message)");
    }
}

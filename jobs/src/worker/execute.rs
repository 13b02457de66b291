//! Running one attempt: decode, call the handler, catch panics and timeouts, and decide
//! from the task's policy what happens next.

use std::time::Duration;

use tokio::task::AbortHandle;

use crate::context::Context;
use crate::registry::TaskRegistration;
use crate::run::Run;
use crate::storage::AttemptResult;
use crate::task::TaskError;

/// How an attempt's handler ended, before the policy is applied.
enum Ending {
    Returned(Result<(), TaskError>),
    Panicked(String),
    TimedOut(Duration),
    /// Aborted from outside (shutdown hand-back): no result is recorded.
    Aborted,
}

/// Runs one attempt of `run` and returns what storage should record, or `None` when the
/// attempt was aborted (its run is being handed back by whoever aborted it).
///
/// `on_start` receives the handler task's abort handle as soon as it is spawned.
pub(crate) async fn execute(
    registration: &'static TaskRegistration,
    run: &Run,
    ctx: Context,
    on_start: impl FnOnce(AbortHandle),
) -> Option<AttemptResult> {
    let future = (registration.start)(run.payload.clone(), ctx);
    let mut handle = tokio::spawn(future);
    on_start(handle.abort_handle());
    let joined = match (registration.timeout)() {
        Some(limit) => match tokio::time::timeout(limit, &mut handle).await {
            Ok(joined) => Some(joined),
            Err(_) => {
                handle.abort();
                None
            }
        },
        None => Some(handle.await),
    };
    let ending = match joined {
        None => Ending::TimedOut((registration.timeout)().unwrap_or_default()),
        Some(Ok(result)) => Ending::Returned(result),
        Some(Err(error)) if error.is_panic() => Ending::Panicked(panic_message(error.into_panic())),
        Some(Err(_)) => Ending::Aborted,
    };
    decide(registration, run, ending)
}

fn decide(registration: &TaskRegistration, run: &Run, ending: Ending) -> Option<AttemptResult> {
    let (error, permanent) = match ending {
        Ending::Aborted => return None,
        Ending::Returned(Ok(())) => return Some(AttemptResult::Succeeded),
        Ending::Returned(Err(error)) => (error.message().to_owned(), error.is_permanent()),
        Ending::Panicked(message) => (format!("the handler panicked: {message}"), false),
        Ending::TimedOut(limit) => (
            format!("the attempt timed out after {}", humanize(limit)),
            false,
        ),
    };
    if permanent {
        return Some(AttemptResult::DeadLetter { error });
    }
    // The stored budget wins over the compiled one: it may have grown by hand-backs.
    let mut policy = (registration.retry)();
    policy.attempts = run.max_attempts;
    Some(match policy.delay_after(run.attempt) {
        Some(delay) => AttemptResult::Retry { error, delay },
        None => AttemptResult::DeadLetter { error },
    })
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

//! The tasks the conformance cases run. Written out by hand (not with `#[jobs::task]`) so
//! the suite checks storages without depending on the attribute.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Context;
use crate::RetryPolicy;
use crate::{Task, TaskError};

/// Records what handlers saw, keyed by a token of the test's choosing.
static SEEN: Mutex<Option<HashMap<String, Vec<String>>>> = Mutex::new(None);

/// Notes that `event` happened for `token`.
pub fn note(token: &str, event: &str) {
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    seen.get_or_insert_with(HashMap::new)
        .entry(token.to_owned())
        .or_default()
        .push(event.to_owned());
}

/// Everything noted for `token`, in order.
pub fn seen(token: &str) -> Vec<String> {
    let seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    seen.as_ref()
        .and_then(|map| map.get(token))
        .cloned()
        .unwrap_or_default()
}

macro_rules! conformance_task {
    ($ty:ident, $name:literal, $retry:expr, $timeout:expr, |$this:ident, $ctx:ident| $body:expr) => {
        impl Task for $ty {
            const NAME: &'static str = $name;
            const RETRY: RetryPolicy = $retry;
            const TIMEOUT: Option<Duration> = $timeout;
            #[allow(clippy::manual_async_fn)]
            fn run(
                self,
                $ctx: Context,
            ) -> impl std::future::Future<Output = Result<(), TaskError>> + Send {
                let $this = self;
                async move { $body }
            }
        }
        inventory::submit! {
            crate::__private::TaskRegistration::new::<$ty>(module_path!(), file!(), line!())
        }
    };
}

/// Succeeds and notes `started`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Succeed {
    /// The token to note under.
    pub token: String,
}
conformance_task!(
    Succeed,
    "jobs-conformance-succeed",
    RetryPolicy::fixed(3, Duration::from_secs(1)),
    None,
    |this, ctx| {
        note(&this.token, &format!("attempt {}", ctx.attempt()));
        Ok(())
    }
);

/// Fails its first `fail_first` attempts (retryable), then succeeds. Fixed 1 s, 5 attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flaky {
    /// Attempts that fail.
    pub fail_first: u32,
}
conformance_task!(
    Flaky,
    "jobs-conformance-flaky",
    RetryPolicy::fixed(5, Duration::from_secs(1)),
    None,
    |this, ctx| {
        if ctx.attempt() <= this.fail_first {
            Err(TaskError::retryable(format!(
                "provider unavailable (attempt {})",
                ctx.attempt()
            )))
        } else {
            Ok(())
        }
    }
);

/// Snoozes 30 s (a provider's `Retry-After`) on its first `snoozes` attempts, then
/// succeeds; `u32::MAX` snoozes for ever. One attempt in its policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snoozy {
    /// Attempts that snooze.
    pub snoozes: u32,
}
conformance_task!(
    Snoozy,
    "jobs-conformance-snoozy",
    RetryPolicy::fixed(1, Duration::from_secs(1)),
    None,
    |this, ctx| {
        if ctx.attempt() <= this.snoozes {
            Err(TaskError::snooze(
                Duration::from_secs(30),
                "429 Too Many Requests, Retry-After: 30",
            ))
        } else {
            Ok(())
        }
    }
);

/// Always fails; custom delays [10s, 30s, 120s], 4 attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailCustom {}
const CUSTOM_DELAYS: &[Duration] = &[
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(120),
];
conformance_task!(
    FailCustom,
    "jobs-conformance-fail-custom",
    RetryPolicy::custom(4, CUSTOM_DELAYS),
    None,
    |_this, ctx| {
        Err(TaskError::retryable(format!(
            "failed attempt {}",
            ctx.attempt()
        )))
    }
);

/// Always fails; exponential from 5 s capped at 15 s, 5 attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailExponential {}
conformance_task!(
    FailExponential,
    "jobs-conformance-fail-exponential",
    RetryPolicy::exponential(5, Duration::from_secs(5), Duration::from_secs(15)),
    None,
    |_this, _ctx| Err(TaskError::retryable("still failing"))
);

/// Always fails; fixed 60 s, 3 attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailFixed {}
conformance_task!(
    FailFixed,
    "jobs-conformance-fail-fixed",
    RetryPolicy::fixed(3, Duration::from_secs(60)),
    None,
    |_this, _ctx| Err(TaskError::retryable("still failing"))
);

/// Fails permanently.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailPermanently {}
conformance_task!(
    FailPermanently,
    "jobs-conformance-permanent",
    RetryPolicy::fixed(5, Duration::from_secs(1)),
    None,
    |_this, _ctx| Err(TaskError::permanent("account deleted"))
);

/// Panics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Panic {}
conformance_task!(
    Panic,
    "jobs-conformance-panic",
    RetryPolicy::fixed(2, Duration::from_secs(1)),
    None,
    |_this, _ctx| {
        if true {
            panic!("index out of bounds in the handler");
        }
        Ok(())
    }
);

/// Outlives its 50 ms timeout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slow {}
conformance_task!(
    Slow,
    "jobs-conformance-slow",
    RetryPolicy::fixed(2, Duration::from_secs(1)),
    Some(Duration::from_millis(50)),
    |_this, _ctx| {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    }
);

/// A payload with typed fields, for decode failures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Typed {
    /// A number.
    pub count: u32,
    /// A name.
    pub name: String,
}
conformance_task!(
    Typed,
    "jobs-conformance-typed",
    RetryPolicy::fixed(3, Duration::from_secs(1)),
    None,
    |this, _ctx| {
        let _ = (this.count, this.name);
        Ok(())
    }
);

/// Notes `started`, waits until cancelled (or 10 s), notes `cancelled: <reason>`, returns
/// Ok.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitForCancel {
    /// The token to note under.
    pub token: String,
}
conformance_task!(
    WaitForCancel,
    "jobs-conformance-wait-for-cancel",
    RetryPolicy::fixed(3, Duration::from_secs(1)),
    None,
    |this, ctx| {
        note(&this.token, "started");
        tokio::select! {
            _ = ctx.cancelled() => note(&this.token, &format!("cancelled: {:?}", ctx.cancel_reason())),
            _ = tokio::time::sleep(Duration::from_secs(10)) => note(&this.token, "not cancelled"),
        }
        Ok(())
    }
);

/// Notes `started` and sleeps `millis`, ignoring cancellation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sleep {
    /// The token to note under.
    pub token: String,
    /// How long to sleep.
    pub millis: u64,
}
conformance_task!(
    Sleep,
    "jobs-conformance-sleep",
    RetryPolicy::fixed(3, Duration::from_secs(1)),
    None,
    |this, _ctx| {
        note(&this.token, "started");
        tokio::time::sleep(Duration::from_millis(this.millis)).await;
        note(&this.token, "finished");
        Ok(())
    }
);

/// Enqueues a [`Succeed`] with the same token, then succeeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FollowUp {
    /// Passed on to the follow-up.
    pub token: String,
}
conformance_task!(
    FollowUp,
    "jobs-conformance-follow-up",
    RetryPolicy::fixed(3, Duration::from_secs(1)),
    None,
    |this, ctx| {
        let next = ctx
            .enqueue(Succeed {
                token: this.token.clone(),
            })
            .await
            .map_err(TaskError::retryable)?;
        note(&this.token, &next.id().to_string());
        Ok(())
    }
);

/// Snoozes 30 s on attempts up to `snooze_through`, then always fails (retryable); custom
/// delays [10s, 30s, 120s], 3 attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnoozeThenFail {
    /// The last attempt number that snoozes.
    pub snooze_through: u32,
}
conformance_task!(
    SnoozeThenFail,
    "jobs-conformance-snooze-then-fail",
    RetryPolicy::custom(3, CUSTOM_DELAYS),
    None,
    |this, ctx| {
        if ctx.attempt() <= this.snooze_through {
            Err(TaskError::snooze(Duration::from_secs(30), "not yet"))
        } else {
            Err(TaskError::retryable(format!(
                "failed attempt {}",
                ctx.attempt()
            )))
        }
    }
);

/// Notes the cron tick its run is for (`tick <RFC 3339>`, or `tick none`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoteTick {
    /// The token to note under.
    pub token: String,
}
conformance_task!(
    NoteTick,
    "jobs-conformance-note-tick",
    RetryPolicy::fixed(3, Duration::from_secs(1)),
    None,
    |this, ctx| {
        let tick = ctx.tick().map_or_else(
            || "none".to_owned(),
            |tick| tick.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        note(&this.token, &format!("tick {tick}"));
        Ok(())
    }
);

/// Notes `started`, waits until its context is cancelled (or 10 s), notes `cancelled:
/// <reason>`, then returns a retryable error ("stopped early"): what a handler that stops when told
/// does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopWhenTold {
    /// The token to note under.
    pub token: String,
}
conformance_task!(
    StopWhenTold,
    "jobs-conformance-stop-when-told",
    RetryPolicy::fixed(3, Duration::from_secs(1)),
    None,
    |this, ctx| {
        note(&this.token, "started");
        tokio::select! {
            _ = ctx.cancelled() => {
                note(&this.token, &format!("cancelled: {:?}", ctx.cancel_reason()));
                Err(TaskError::retryable("stopped early"))
            }
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                note(&this.token, "not cancelled");
                Ok(())
            }
        }
    }
);

/// Notes its run's id under `token` each time it runs, and succeeds. A budget of 50
/// attempts, 100 ms apart: for cases whose runs lose attempts on purpose.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoteExecution {
    /// The token to note under.
    pub token: String,
}
conformance_task!(
    NoteExecution,
    "jobs-conformance-note-execution",
    RetryPolicy::fixed(50, Duration::from_millis(100)),
    None,
    |this, ctx| {
        note(&this.token, &ctx.run_id().to_string());
        Ok(())
    }
);

//! Shutdown: tell the attempts in flight, wait for them up to the deadline, then abort
//! the rest and hand their runs back.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{Pool, backoff};
use crate::model::run::RunId;
use crate::storage::Lease;
use crate::task::context::CancelReason;

impl Pool {
    /// After claiming stopped: tells every attempt in flight that the worker is shutting
    /// down (its `Context` is cancelled with [`CancelReason::Shutdown`]), so a handler
    /// that watches it can finish or return before the deadline.
    pub(super) fn tell_attempts_to_stop(&self) {
        let held = self.held();
        let running = held.values().filter(|h| !h.returned);
        let mut told = 0;
        for attempt in running {
            attempt.cancel.cancel(CancelReason::Shutdown);
            told += 1;
        }
        if told > 0 {
            tracing::info!(worker = %self.id, attempts = told, "shutting down: told the attempts in flight");
        }
    }

    /// After claiming stopped: waits for running attempts, up to the shutdown timeout.
    pub(super) async fn wait_for_attempts(&self) {
        let deadline = Instant::now() + self.config.shutdown_timeout;
        while self.running.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            tokio::select! {
                _ = self.slot_freed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Aborts the attempts still running and hands their runs back, trying until
    /// `deadline`. Returns how many were handed back and how many could not be.
    pub(super) async fn hand_back(&self, deadline: Instant) -> (usize, usize) {
        let stragglers: Vec<Lease> = {
            let mut held = self.held();
            let ids: Vec<RunId> = held
                .iter()
                .filter(|(_, h)| !h.returned)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| held.remove(&id).map(|h| (id, h)))
                .map(|(id, h)| {
                    h.abort.abort();
                    h.cancel.cancel(CancelReason::Shutdown);
                    Lease {
                        id,
                        attempt: h.attempt,
                    }
                })
                .collect()
        };
        if stragglers.is_empty() {
            return (0, 0);
        }
        let count = stragglers.len();
        let mut failures = 0u32;
        loop {
            let release = self
                .jobs
                .storage()
                .release(self.namespace(), stragglers.clone());
            let error = match tokio::time::timeout_at(deadline, release).await {
                Ok(Ok(released)) => {
                    tracing::info!(worker = %self.id, released, "handed unfinished runs back");
                    // A run not released had already left this worker (cancelled, rescued).
                    return (released, 0);
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => "the shutdown deadline passed".to_owned(),
            };
            failures = failures.saturating_add(1);
            let wait = backoff(failures);
            if Instant::now() + wait >= deadline {
                tracing::warn!(worker = %self.id, count, %error, "runs not handed back; they are retried once their lease expires");
                return (0, count);
            }
            tracing::warn!(worker = %self.id, %error, retry_in = ?wait, "could not hand runs back");
            tokio::time::sleep(wait).await;
        }
    }
}

//! The claim loop: claims as many due runs as there are free slots, group by group, and
//! sleeps until a storage event, a freed slot or the poll interval.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{Pool, backoff};
use crate::model::error::Error;
use crate::model::run::RunId;
use crate::storage::{ClaimRequest, StorageEvent};
use crate::task::context::CancelReason;

impl Pool {
    pub(super) async fn claim_loop(self: &Arc<Self>, stop: &CancellationToken) {
        let mut events = Some(self.jobs.storage().subscribe());
        let mut failures = 0u32;
        while !stop.is_cancelled() {
            let free = self.free_slots();
            let mut claimed = 0;
            if free > 0 && !self.tasks.is_empty() {
                match self.claim(free).await {
                    Ok(count) => {
                        failures = 0;
                        claimed = count;
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        let wait = backoff(failures);
                        tracing::warn!(worker = %self.id, %error, retry_in = ?wait, "claim failed");
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(wait) => continue,
                        }
                    }
                }
            }
            if free > 0 && claimed == free {
                // A full batch: more may be due. Let the attempts just started run first,
                // so the next claim counts the slots they free and fetches a batch too.
                tokio::task::yield_now().await;
                continue;
            }
            self.wait_for_work(stop, &mut events, free == 0).await;
        }
    }

    /// How many runs to claim now: free slots, as long as running attempts and results
    /// not yet written stay within twice the concurrency.
    pub(super) fn free_slots(&self) -> usize {
        let concurrency = self.config.concurrency;
        let running = self.running.load(Ordering::Acquire);
        let unwritten = self.unwritten.load(Ordering::Acquire);
        concurrency
            .saturating_sub(running)
            .min((2 * concurrency).saturating_sub(running + unwritten))
    }

    /// Claims up to `free` runs, group by group (the unlimited tasks together, each task
    /// with per-key limits on its own), and starts them; returns how many.
    pub(super) async fn claim(self: &Arc<Self>, free: usize) -> Result<usize, Error> {
        let mut claimed = 0;
        for (tasks, limit) in &self.groups {
            let room = free.saturating_sub(claimed);
            if room == 0 {
                break;
            }
            let mut request = ClaimRequest::new(
                self.namespace(),
                tasks.clone(),
                room,
                self.config.lease,
                self.id.clone(),
            )
            .queue(self.config.queue.clone());
            if let Some(limit) = limit {
                request = request.key_limit(limit.clone());
            }
            let runs = self.jobs.storage().claim(request).await?;
            claimed += runs.len();
            self.start_batch(runs);
        }
        Ok(claimed)
    }

    /// Sleeps until a storage event, a freed slot, the poll interval or `stop`.
    pub(super) async fn wait_for_work(
        &self,
        stop: &CancellationToken,
        events: &mut Option<broadcast::Receiver<StorageEvent>>,
        full: bool,
    ) {
        let poll = tokio::time::sleep(self.config.poll_interval);
        tokio::pin!(poll);
        loop {
            let event = async {
                match events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = self.slot_freed.notified(), if full => {
                    // Let the attempts finishing alongside this one free their slots too,
                    // so the next claim fetches a batch rather than one run.
                    tokio::task::yield_now().await;
                    return;
                }
                event = event => match event {
                    Ok(StorageEvent::RunsAvailable { namespace }) => {
                        if !full && namespace == self.namespace() {
                            return;
                        }
                    }
                    Ok(StorageEvent::Cancelled { namespace, id }) => {
                        if namespace == self.namespace() {
                            self.cancel_local(id);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => *events = None,
                },
                _ = &mut poll => return,
            }
        }
    }

    pub(super) fn cancel_local(&self, id: RunId) {
        if let Some(held) = self.held().get(&id) {
            tracing::info!(worker = %self.id, run_id = %id, "run cancelled while running");
            held.cancel.cancel(CancelReason::Cancelled);
        }
    }
}

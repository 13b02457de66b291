//! The pruner: deletes finished runs and forgets idempotency keys past their retention.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::super::metrics;
use super::Pool;

impl Pool {
    /// Every prune interval (the first after one interval): prune batches of
    /// [`PRUNE_BATCH`] until a batch finds less than a full one, each its own short
    /// statement, so no lock is held for long and a large backlog goes in steps.
    pub(super) async fn prune(self: Arc<Self>, stop: CancellationToken) {
        let every = self.config.prune_interval;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let mut total = (0, 0);
            loop {
                let storage = self.jobs.storage();
                match storage
                    .prune(self.namespace(), &self.config.retention, PRUNE_BATCH)
                    .await
                {
                    Ok(pruned) => {
                        total = (total.0 + pruned.runs, total.1 + pruned.keys);
                        if pruned.runs < PRUNE_BATCH && pruned.keys < PRUNE_BATCH {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(worker = %self.id, %error, "prune failed");
                        break;
                    }
                }
                if stop.is_cancelled() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            if total != (0, 0) {
                metrics::pruned(total.0);
                tracing::info!(worker = %self.id, runs = total.0, keys = total.1, "pruned finished runs and expired idempotency keys");
            }
        }
    }
}

/// Runs deleted (and keys forgotten) per prune statement.
const PRUNE_BATCH: usize = 1000;

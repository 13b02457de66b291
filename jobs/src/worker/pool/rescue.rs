//! The rescuer: returns the runs of workers whose lease expired.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::super::metrics;
use super::Pool;

impl Pool {
    /// Returns the runs of workers whose lease expired.
    pub(super) async fn rescue(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.rescue_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.jobs.storage().rescue_expired(self.namespace()).await {
                Ok(rescued) if !rescued.is_empty() => {
                    metrics::rescued(rescued.len());
                    tracing::warn!(worker = %self.id, count = rescued.len(), runs = ?rescued, "rescued runs whose lease expired");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(worker = %self.id, %error, "rescue failed"),
            }
        }
    }
}

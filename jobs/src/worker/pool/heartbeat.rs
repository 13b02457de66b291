//! The heartbeat: extends the leases this worker holds, and stops the attempts whose
//! lease did not come back.

use std::collections::HashSet;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Pool;
use crate::storage::{Heartbeat, Lease};
use crate::task::context::CancelReason;

impl Pool {
    /// Extends this worker's leases; cancels attempts whose lease was lost.
    pub(super) async fn heartbeat(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.heartbeat_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tick.tick() => {}
            }
            let leases: Vec<Lease> = self
                .held()
                .iter()
                .map(|(id, h)| Lease {
                    id: *id,
                    attempt: h.attempt,
                })
                .collect();
            if !leases.is_empty() {
                let request = Heartbeat::new(self.namespace(), leases.clone(), self.config.lease);
                match self.jobs.storage().heartbeat(request).await {
                    Ok(kept) => {
                        let kept: HashSet<Lease> = kept.into_iter().collect();
                        let held = self.held();
                        for lease in leases.iter().filter(|l| !kept.contains(l)) {
                            if let Some(h) =
                                held.get(&lease.id).filter(|h| h.attempt == lease.attempt)
                            {
                                if h.cancel
                                    .reason()
                                    .is_none_or(|r| r == CancelReason::Shutdown)
                                {
                                    tracing::info!(worker = %self.id, run_id = %lease.id, "lease lost (cancelled or rescued); stopping the attempt");
                                    h.cancel.cancel(CancelReason::LeaseLost);
                                }
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(worker = %self.id, %error, "heartbeat failed");
                    }
                }
            }
            if stop.is_cancelled() {
                // Keep beating while results are being written at shutdown.
                tokio::time::sleep(self.config.heartbeat_interval()).await;
            }
        }
    }
}

//! The periodic role: every poll interval, a pass of this worker's
//! [`Scheduler`](super::super::scheduler::Scheduler).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::super::scheduler::Scheduler;
use super::Pool;

impl Pool {
    /// Every poll interval: every tick of every periodic schedule up to two poll
    /// intervals ahead gets its run, due at the tick, including ticks a late pass would
    /// otherwise have missed (see [`Periodic`](crate::Periodic)). Every worker does it;
    /// the tick's idempotency key keeps one run.
    pub(super) async fn schedule(self: Arc<Self>, stop: CancellationToken) {
        let every = self.config.poll_interval;
        let mut scheduler = Scheduler::new(
            &self.jobs,
            every.saturating_mul(2),
            self.config.retention.key_window_for(),
        );
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match scheduler.pass(&self.jobs).await {
                Ok(0) => {}
                Ok(created) => {
                    tracing::debug!(worker = %self.id, created, "enqueued the next ticks of periodic schedules");
                }
                Err(error) => {
                    tracing::warn!(worker = %self.id, %error, "periodic schedules: could not enqueue the next ticks")
                }
            }
        }
    }
}

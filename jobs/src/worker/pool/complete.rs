//! The completer: writes results in batches, and gives a batch up (its leases left to
//! lapse) when the storage refuses it for a whole lease.

use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::super::metrics;
use super::{Pool, Unwritten, backoff};
use crate::model::error::Error;
use crate::storage::Outcome;

impl Pool {
    /// Writes results in batches until `stop`, then writes what is left and returns.
    pub(super) async fn complete(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<(Outcome, Unwritten)>,
        stop: CancellationToken,
    ) {
        let mut batch = Vec::new();
        let mut pending = Vec::new();
        loop {
            let stopping = tokio::select! {
                biased;
                received = rx.recv() => match received {
                    Some((outcome, unwritten)) => {
                        batch.push(outcome);
                        pending.push(unwritten);
                        false
                    }
                    None => true,
                },
                _ = stop.cancelled() => true,
            };
            if !stopping {
                // The first result woke us; let the attempts finishing alongside it send
                // theirs too, so one write carries a batch rather than one result.
                tokio::task::yield_now().await;
            }
            while batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok((outcome, unwritten)) => {
                        batch.push(outcome);
                        pending.push(unwritten);
                    }
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.write(&mut batch).await;
            }
            // Written: room for new claims.
            pending.clear();
            if stopping && rx.is_empty() {
                return;
            }
        }
    }

    /// Writes one batch of results, retrying while the storage fails, for at most one
    /// lease length: past that, the batch is given up (see [`abandon`](Self::abandon)).
    pub(super) async fn write(&self, batch: &mut Vec<Outcome>) {
        let give_up = Instant::now() + self.config.lease;
        let mut failures = 0u32;
        loop {
            match self
                .jobs
                .storage()
                .finish(self.namespace(), batch.clone())
                .await
            {
                Ok(report) => {
                    self.counts
                        .completed
                        .fetch_add(report.applied, Ordering::Relaxed);
                    self.counts
                        .stale
                        .fetch_add(report.stale.len(), Ordering::Relaxed);
                    if !report.stale.is_empty() {
                        metrics::stale(report.stale.len());
                    }
                    for lease in &report.stale {
                        tracing::info!(worker = %self.id, run_id = %lease.id, attempt = lease.attempt, "result dropped: the run was cancelled or rescued meanwhile");
                    }
                    self.let_go(batch);
                    return;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let now = Instant::now();
                    if now >= give_up {
                        self.abandon(batch, &error);
                        return;
                    }
                    let wait = backoff(failures).min(give_up - now);
                    tracing::warn!(worker = %self.id, %error, pending = batch.len(), retry_in = ?wait, "could not write results");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Gives up a batch of results the storage would not take for a whole lease: stops
    /// renewing their leases, so they lapse and the runs are rescued (by any worker) and
    /// run again, rather than being held for ever by a worker that cannot finish them.
    /// The worker goes on claiming and running other work meanwhile.
    pub(super) fn abandon(&self, batch: &mut Vec<Outcome>, error: &Error) {
        let count = batch.len();
        metrics::results_abandoned(count);
        tracing::error!(worker = %self.id, count, %error, lease = ?self.config.lease, "results could not be written for a whole lease: letting their leases lapse, so the runs are rescued and run again");
        self.let_go(batch);
    }

    /// Forgets the leases of `batch` (written or given up): no more heartbeats for them.
    pub(super) fn let_go(&self, batch: &mut Vec<Outcome>) {
        let mut held = self.held();
        for outcome in batch.drain(..) {
            if let Entry::Occupied(entry) = held.entry(outcome.lease.id) {
                if entry.get().attempt == outcome.lease.attempt {
                    entry.remove();
                }
            }
        }
    }
}

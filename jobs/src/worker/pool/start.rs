//! Starting attempts: a claimed batch becomes one tokio task per attempt, each with its
//! `Context`, its slot and its lease entry; its result goes to the completer.

use std::sync::Arc;

use tracing::Instrument;

use super::super::execute::{Verdict, execute};
use super::super::metrics;
use super::{Held, Pool, Reserved, SlotGuard, Unwritten};
use crate::model::run::Run;
use crate::storage::{AttemptResult, Lease, Outcome};
use crate::task::context::{Cancel, Context};

impl Pool {
    /// Starts the attempts of a claimed batch: the first few here, the rest in chunks on
    /// tasks of their own.
    ///
    /// Starting an attempt (a spawn, its context, its lease entry) costs about as much as
    /// claiming it. Done all in the claim loop, it would make that one task the ceiling of
    /// the worker's throughput; handed to chunk tasks, it runs on every thread while the
    /// loop claims the next batch. A small batch starts here, without the extra hop.
    pub(super) fn start_batch(self: &Arc<Self>, mut runs: Vec<Run>) {
        // Slots are taken now, so the next count of free slots already sees this batch.
        let mut slots = Reserved::new(self, runs.len());
        while runs.len() > START_CHUNK {
            let chunk = runs.split_off(runs.len() - START_CHUNK);
            let chunk_slots = slots.split(chunk.len());
            let pool = self.clone();
            tokio::spawn(async move { pool.start_chunk(chunk, chunk_slots) });
        }
        self.start_chunk(runs, slots);
    }

    pub(super) fn start_chunk(self: &Arc<Self>, runs: Vec<Run>, mut slots: Reserved) {
        for run in runs {
            if let Some(slot) = slots.take() {
                self.start_attempt(run, slot);
            }
        }
    }

    pub(super) fn start_attempt(self: &Arc<Self>, run: Run, slot: SlotGuard) {
        let Some(registration) = self.jobs.registry().get(&run.task) else {
            // Claims name only registered tasks, so a storage returned something else.
            tracing::error!(worker = %self.id, run_id = %run.id, task = %run.task, "claimed a run of an unknown task; handing it back");
            let storage = self.jobs.storage().clone();
            let namespace = self.namespace().to_owned();
            tokio::spawn(async move { storage.release(&namespace, vec![Lease::of(&run)]).await });
            return;
        };
        let mut run = run;
        let payload = std::mem::take(&mut run.payload);
        let (id, attempt) = (run.id, run.attempt);
        let lease = Lease { id, attempt };
        let task_name = registration.name();
        metrics::attempt_started(task_name, run.run_at, run.started_at.unwrap_or(run.run_at));
        let span = tracing::info_span!(
            "attempt",
            run_id = %id,
            task = %run.task,
            attempt,
            namespace = %self.namespace(),
        );
        let cancel = Cancel::new();
        let ctx = Context::new(&run, cancel.clone(), self.jobs.clone());
        // Held locked across the spawn, so the attempt cannot report before it is held.
        let mut held = self.held();
        let handle = tokio::spawn(
            async move {
                let began = std::time::Instant::now();
                let result = match execute(registration, payload, ctx).await {
                    Verdict::Record(result) => result,
                    Verdict::HandBack(error) => {
                        // Left held and not returned: the shutdown hands it back.
                        tracing::info!(%error, "the attempt stopped early at shutdown; its run is handed back");
                        return;
                    }
                };
                metrics::attempt_ended(task_name, &result, began.elapsed());
                log_result(attempt, &result);
                let pool = &slot.0;
                if let Some(held) = pool.held().get_mut(&id) {
                    held.returned = true;
                }
                // If the completer is gone the lease simply expires and the run is retried.
                let unwritten = Unwritten::new(pool);
                let _ = pool.results.send((Outcome::new(lease, result), unwritten));
                drop(slot);
            }
            .instrument(span),
        );
        held.insert(
            id,
            Held {
                attempt,
                cancel,
                abort: handle.abort_handle(),
                returned: false,
            },
        );
    }
}

/// Claimed runs started per chunk task (see [`Pool::start_batch`]).
const START_CHUNK: usize = 32;

fn log_result(attempt: u32, result: &AttemptResult) {
    match result {
        AttemptResult::Succeeded => tracing::debug!("attempt succeeded"),
        AttemptResult::Retry { error, delay } => {
            tracing::info!(%error, retry_in = ?delay, "attempt failed; retry scheduled");
        }
        AttemptResult::DeadLetter { error } => {
            tracing::warn!(%error, attempts = attempt, "run dead-lettered");
        }
        AttemptResult::Snooze { reason, delay } => {
            tracing::info!(%reason, retry_in = ?delay, "attempt snoozed");
        }
    }
}

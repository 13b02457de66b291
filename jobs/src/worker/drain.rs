//! `Jobs::drain`: run every due run to completion, here and now. For tests and scripts.

use std::time::Duration;

use tracing::Instrument;

use super::execute::{Verdict, execute};
use super::metrics;
use crate::client::Jobs;
use crate::context::{Cancel, Context};
use crate::error::Error;
use crate::limits::KeyLimit;
use crate::storage::{AttemptResult, ClaimRequest, Lease, Outcome};

/// What [`Jobs::drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Attempts that succeeded.
    pub succeeded: usize,
    /// Attempts that failed and will be retried later.
    pub retried: usize,
    /// Attempts that failed for good.
    pub dead_lettered: usize,
    /// Attempts that asked to run again later.
    pub snoozed: usize,
}

impl DrainReport {
    /// Attempts run in all.
    pub fn attempts(&self) -> usize {
        self.succeeded + self.retried + self.dead_lettered + self.snoozed
    }
}

impl Jobs {
    /// Runs every run that is due now, one attempt at a time, until none is due, and
    /// returns what happened. Runs that a handler enqueues and that are due are run too;
    /// retries that are not yet due are not.
    ///
    /// Meant for tests (with a [`ManualClock`](crate::ManualClock), advance the clock
    /// and drain again) and for one-shot scripts; services start a [`worker`](Self::worker).
    ///
    /// # Errors
    ///
    /// A storage failure.
    pub async fn drain(&self) -> Result<DrainReport, Error> {
        let mut report = DrainReport::default();
        let groups: Vec<(&'static str, Vec<String>, Option<KeyLimit>)> = self
            .registry()
            .queues()
            .into_iter()
            .flat_map(|queue| {
                self.claim_groups(queue)
                    .into_iter()
                    .map(move |(tasks, limit)| (queue, tasks, limit))
            })
            .collect();
        // Queue after queue until a whole round finds nothing due: a run of one queue may
        // enqueue runs in another.
        loop {
            // The next tick of every periodic schedule has its run (due when it is).
            crate::periodic::Scheduler::new(self, Duration::ZERO, Duration::MAX)
                .pass(self)
                .await?;
            let mut ran = false;
            for (queue, tasks, limit) in &groups {
                while self.drain_batch(queue, tasks, limit, &mut report).await? {
                    ran = true;
                }
            }
            if !ran {
                return Ok(report);
            }
        }
    }

    /// Claims up to 100 due runs of `tasks` in `queue` and runs them; `false` when none
    /// was due.
    async fn drain_batch(
        &self,
        queue: &str,
        tasks: &[String],
        limit: &Option<KeyLimit>,
        report: &mut DrainReport,
    ) -> Result<bool, Error> {
        let mut request = ClaimRequest::new(
            self.namespace(),
            tasks.to_vec(),
            100,
            Duration::from_secs(300),
            format!("{}:drain", self.name()),
        )
        .queue(queue);
        if let Some(limit) = limit {
            request = request.key_limit(limit.clone());
        }
        let runs = self.storage().claim(request).await?;
        if runs.is_empty() {
            return Ok(false);
        }
        let mut outcomes = Vec::with_capacity(runs.len());
        for run in runs {
            let Some(registration) = self.registry().get(&run.task) else {
                continue;
            };
            let lease = Lease::of(&run);
            let span = tracing::info_span!(
                "attempt",
                run_id = %run.id,
                task = %run.task,
                attempt = run.attempt,
                namespace = %self.namespace(),
            );
            let task = registration.name();
            metrics::attempt_started(task, run.run_at, run.started_at.unwrap_or(run.run_at));
            let ctx = Context::new(&run, Cancel::new(), self.clone());
            let began = std::time::Instant::now();
            let result = match execute(registration, run.payload, ctx)
                .instrument(span)
                .await
            {
                Verdict::Record(result) => result,
                // Drains are never shut down; nothing to hand back.
                Verdict::HandBack(error) => AttemptResult::Retry {
                    error,
                    delay: Duration::ZERO,
                },
            };
            metrics::attempt_ended(task, &result, began.elapsed());
            match &result {
                AttemptResult::Succeeded => report.succeeded += 1,
                AttemptResult::Retry { .. } => report.retried += 1,
                AttemptResult::DeadLetter { .. } => report.dead_lettered += 1,
                AttemptResult::Snooze { .. } => report.snoozed += 1,
            }
            outcomes.push(Outcome::new(lease, result));
        }
        self.storage().finish(self.namespace(), outcomes).await?;
        Ok(true)
    }
}

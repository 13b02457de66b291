//! `Jobs::drain`: run every due run to completion, here and now. For tests and scripts.

use std::time::Duration;

use tracing::Instrument;

use super::execute::{Verdict, execute};
use super::metrics;
use super::scheduler::Scheduler;
use crate::model::error::Error;
use crate::model::limits::KeyLimit;
use crate::storage::{AttemptResult, ClaimRequest, Heartbeat, Lease, Outcome};
use crate::task::context::{Cancel, CancelReason, Context};
use crate::task::handle::Jobs;

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
    /// It claims one run at a time, under a 30 s lease renewed every second while the
    /// attempt runs, so an attempt may take as long as it needs; dropping the returned
    /// future hands the run in progress back (as a worker's shutdown does).
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
            Scheduler::new(self, Duration::ZERO, Duration::MAX)
                .pass(self)
                .await?;
            let mut ran = false;
            for (queue, tasks, limit) in &groups {
                while self.drain_one(queue, tasks, limit, &mut report).await? {
                    ran = true;
                }
            }
            if !ran {
                return Ok(report);
            }
        }
    }

    /// Claims one due run of `tasks` in `queue` and runs it; `false` when none was due.
    ///
    /// One at a time, so a drain holds a lease only on the run it is running: a batch
    /// claimed up front would sit `running` while the attempts before it take their time.
    async fn drain_one(
        &self,
        queue: &str,
        tasks: &[String],
        limit: &Option<KeyLimit>,
        report: &mut DrainReport,
    ) -> Result<bool, Error> {
        let mut request = ClaimRequest::new(
            self.namespace(),
            tasks.to_vec(),
            1,
            DRAIN_LEASE,
            format!("{}:drain", self.name()),
        )
        .queue(queue);
        if let Some(limit) = limit {
            request = request.key_limit(limit.clone());
        }
        let Some(mut run) = self.storage().claim(request).await?.pop() else {
            return Ok(false);
        };
        let cancel = Cancel::new();
        let held = HeldLease::new(self, Lease::of(&run), cancel.clone());
        let Some(registration) = self.registry().get(&run.task) else {
            // Claims name only registered tasks, so a storage returned something else:
            // dropping `held` hands it back, and this group is done (not claimed again).
            tracing::error!(run_id = %run.id, task = %run.task, "drain claimed a run of an unknown task; handing it back");
            return Ok(false);
        };
        let span = tracing::info_span!(
            "attempt",
            run_id = %run.id,
            task = %run.task,
            attempt = run.attempt,
            namespace = %self.namespace(),
        );
        let task = registration.name();
        metrics::attempt_started(task, run.run_at, run.started_at.unwrap_or(run.run_at));
        let payload = std::mem::take(&mut run.payload);
        let ctx = Context::new(&run, cancel, self.clone());
        let began = std::time::Instant::now();
        let result = match execute(registration, payload, ctx).instrument(span).await {
            Verdict::Record(result) => result,
            // A drain is never shut down, so this does not happen; handing back is right.
            Verdict::HandBack(_) => return Ok(true),
        };
        metrics::attempt_ended(task, &result, began.elapsed());
        match &result {
            AttemptResult::Succeeded => report.succeeded += 1,
            AttemptResult::Retry { .. } => report.retried += 1,
            AttemptResult::DeadLetter { .. } => report.dead_lettered += 1,
            AttemptResult::Snooze { .. } => report.snoozed += 1,
        }
        let outcome = Outcome::new(held.lease, result);
        self.storage()
            .finish(self.namespace(), vec![outcome])
            .await?;
        held.written();
        Ok(true)
    }
}

/// The lease a drain takes on the run it runs.
const DRAIN_LEASE: Duration = Duration::from_secs(30);

/// How often a drain renews that lease while the attempt runs.
const DRAIN_HEARTBEAT: Duration = Duration::from_secs(1);

/// A drain's hold on the run it runs: a heartbeat renews the lease (and cancels the
/// attempt's context if the lease is lost), and unless the result was written, dropping
/// it (the drain's future was dropped, or failed) hands the run back.
struct HeldLease {
    lease: Lease,
    jobs: Jobs,
    heartbeat: tokio::task::JoinHandle<()>,
    written: bool,
}

impl HeldLease {
    fn new(jobs: &Jobs, lease: Lease, cancel: Cancel) -> Self {
        let beating = jobs.clone();
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval(DRAIN_HEARTBEAT);
            tick.tick().await;
            loop {
                tick.tick().await;
                let request = Heartbeat::new(beating.namespace(), vec![lease], DRAIN_LEASE);
                match beating.storage().heartbeat(request).await {
                    Ok(kept) if kept.contains(&lease) => {}
                    Ok(_) => {
                        cancel.cancel(CancelReason::LeaseLost);
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(run_id = %lease.id, %error, "drain: could not renew the lease");
                    }
                }
            }
        });
        HeldLease {
            lease,
            jobs: jobs.clone(),
            heartbeat,
            written: false,
        }
    }

    /// The result is written: nothing to hand back.
    fn written(mut self) {
        self.written = true;
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if self.written {
            return;
        }
        // Dropped mid-attempt: hand the run back. Without a runtime to do it on, the
        // lease lapses instead and the run is rescued.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (jobs, lease) = (self.jobs.clone(), self.lease);
        runtime.spawn(async move {
            if let Err(error) = jobs.storage().release(jobs.namespace(), vec![lease]).await {
                tracing::warn!(run_id = %lease.id, %error, "drain: could not hand the run back; it is retried once its lease expires");
            }
        });
    }
}

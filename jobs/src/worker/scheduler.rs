//! The periodic scheduler: the role that enqueues each tick of the periodic schedules
//! ahead of time, in every worker (and in [`Jobs::drain`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::clock;
use crate::model::error::Error;
use crate::task::handle::Jobs;

/// The most ticks of one schedule enqueued by one pass; a longer catch-up goes on at the
/// next pass.
const MAX_TICKS_PER_PASS: usize = 1000;

/// How far back a scheduler catches up at most (see [`Periodic`](crate::Periodic)).
const MAX_CATCH_UP: Duration = Duration::from_secs(3600);

/// The periodic scheduler of one worker (or of one [`Jobs::drain`]): which ticks of each
/// schedule it has made sure of, so that a pass that comes late enqueues the ticks it
/// missed rather than skipping them.
#[derive(Debug)]
pub(crate) struct Scheduler {
    /// Per schedule (by index in `Jobs::periodic_schedules`), the first tick not yet
    /// enqueued by this scheduler; `None` before its first pass.
    next: Vec<Option<DateTime<Utc>>>,
    /// How far past now each pass enqueues ticks.
    lookahead: Duration,
    /// How far back a pass catches up at most.
    catch_up: Duration,
}

impl Scheduler {
    /// A scheduler for `jobs`' schedules enqueuing `lookahead` ahead, catching up at most
    /// [`MAX_CATCH_UP`] and at most half of `key_window` (so a tick whose run's key was
    /// forgotten is never enqueued again).
    pub(crate) fn new(jobs: &Jobs, lookahead: Duration, key_window: Duration) -> Self {
        Scheduler {
            next: vec![None; jobs.periodic_schedules().len()],
            lookahead,
            catch_up: MAX_CATCH_UP.min(key_window / 2),
        }
    }

    /// Enqueues, by the storage's clock, every tick of every schedule from the first one
    /// this scheduler has not enqueued yet (from now, on its first pass) up to `lookahead`
    /// ahead, and at least the next tick to come. Returns how many runs this pass
    /// created; the others were there already (another worker's). On an error nothing is
    /// remembered, so the next pass enqueues the same ticks.
    pub(crate) async fn pass(&mut self, jobs: &Jobs) -> Result<usize, Error> {
        let schedules = jobs.periodic_schedules();
        if schedules.is_empty() {
            return Ok(0);
        }
        let now = jobs.storage().now().await?;
        let ahead = clock::add(now, self.lookahead);
        let oldest = clock::sub(now, self.catch_up);
        let mut runs = Vec::new();
        let namespace = jobs.namespace();
        let mut next = self.next.clone();
        for (schedule, next) in schedules.iter().zip(next.iter_mut()) {
            let from = match *next {
                None => now,
                Some(first) if first < oldest => {
                    tracing::warn!(schedule = schedule.name(), from = %first, to = %oldest, "periodic schedule: ticks older than the catch-up window skipped");
                    oldest
                }
                Some(first) => first,
            };
            // Up to the lookahead, and at least the next tick to come.
            let until = schedule
                .next_tick(now)
                .map_or(ahead, |tick| tick.max(ahead));
            let mut tick = schedule.tick_from(from);
            let mut count = 0;
            while let Some(at) = tick.filter(|at| *at <= until && count < MAX_TICKS_PER_PASS) {
                runs.push(schedule.run_of(namespace, at));
                count += 1;
                tick = schedule.next_tick(at);
            }
            *next = Some(tick.unwrap_or(until));
        }
        let created = if runs.is_empty() {
            0
        } else {
            let stored = jobs.storage().enqueue(runs).await?;
            stored.iter().filter(|e| e.created).count()
        };
        self.next = next;
        Ok(created)
    }
}

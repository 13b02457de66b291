//! Periodic tasks: a payload run on a cron schedule, once per tick however many workers
//! and processes are up.

use std::fmt;
use std::str::FromStr;

use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::client::Jobs;
use crate::error::Error;
use crate::run::RunId;
use crate::storage::{NewRun, Schedule};
use crate::task::Task;

/// A task run on a cron schedule. Register it with
/// [`JobsBuilder::periodic`](crate::JobsBuilder::periodic).
///
/// **Exactly once per tick.** Each tick's run is enqueued ahead of time, as a `scheduled`
/// run due at the tick, with the idempotency key `periodic:{name}:{tick}`: however many
/// workers and processes compute the same tick, the storage keeps one run (the unique
/// key, in the database on PostgreSQL). The run knows its tick
/// ([`Context::tick`](crate::Context::tick)), even when it starts late.
///
/// **No tick is skipped while a worker is up.** Every worker's scheduler (one per
/// worker, running every poll interval) remembers the first tick it has not enqueued yet
/// and enqueues every tick from there up to two poll intervals ahead (and always the next
/// tick to come, so the next run of a daily schedule is visible as `scheduled` a day
/// ahead). A pass that comes late, or a storage that failed for a while, delays ticks but
/// loses none: the next pass enqueues them, due at once, each once. That catch-up reaches
/// back at most an hour (and at most half the idempotency key window, so a tick whose
/// run's key was already forgotten is never enqueued twice); older ticks are skipped
/// with a warning.
///
/// **Missed ticks with no worker up.** When every worker was down over several ticks, the
/// run of the first missed tick (enqueued before they went down) runs once, late, when a
/// worker is back; the ticks after it are skipped, and the schedule goes on from the next
/// tick to come. A schedule added after a tick has no run for it.
///
/// **How fine.** Patterns have 5 fields (`minute hour day-of-month month day-of-week`) or
/// 6 with seconds first, so the finest schedule is every second. A tick's run is due at
/// the tick and starts when a worker next claims (at once when it is awake, else within
/// its [`poll_interval`](crate::WorkerBuilder::poll_interval), 1 s by default): for
/// schedules of a few seconds, lower the poll interval, and give the task a queue with
/// free slots. `*`, lists, ranges, steps and names (`MON`, `JAN`) work. Ticks are computed
/// in the schedule's time zone (UTC unless [`timezone`](Self::timezone) says otherwise),
/// so `0 3 * * *` in `Europe/Paris` is 03:00 Paris time all year round.
///
/// ```rust,standalone_crate
/// use jobs::{Jobs, MemoryStorage, Periodic};
///
/// #[jobs::task]
/// async fn nightly_report(kind: String) {}
///
/// # fn main() -> Result<(), jobs::Error> {
/// let nightly = Periodic::new("nightly-report", "0 3 * * *", NightlyReport { kind: "sales".into() })?
///     .timezone("Europe/Paris")?;
/// let jobs = Jobs::builder().storage(MemoryStorage::new()).periodic(nightly).build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Periodic {
    name: String,
    pattern: String,
    cron: Cron,
    timezone: chrono_tz::Tz,
    task: &'static str,
    queue: &'static str,
    max_attempts: u32,
    payload: serde_json::Value,
}

impl Periodic {
    /// Runs `payload` on every tick of cron `pattern`. `name` tells schedules apart (it
    /// is part of each tick's idempotency key): keep it stable across deploys.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a pattern that does not parse (naming it and why) or an
    /// empty name; [`Error::Payload`] for a payload that does not serialize.
    pub fn new<T: Task>(name: impl Into<String>, pattern: &str, payload: T) -> Result<Self, Error> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(Error::Config("a periodic schedule needs a name".into()));
        }
        let cron = Cron::from_str(pattern).map_err(|e| {
            Error::Config(format!(
                "periodic schedule `{name}`: `{pattern}` is not a cron pattern: {e}"
            ))
        })?;
        let payload = serde_json::to_value(&payload).map_err(|e| Error::Payload {
            task: T::NAME.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Periodic {
            name,
            pattern: pattern.to_owned(),
            cron,
            timezone: chrono_tz::UTC,
            task: T::NAME,
            queue: T::QUEUE,
            max_attempts: T::RETRY.attempts.max(1),
            payload,
        })
    }

    /// Computes ticks in this IANA time zone (`Europe/Paris`, `America/New_York`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a name that is not a known time zone.
    pub fn timezone(mut self, zone: &str) -> Result<Self, Error> {
        self.timezone = chrono_tz::Tz::from_str(zone).map_err(|_| {
            Error::Config(format!(
                "periodic schedule `{}`: `{zone}` is not a time zone (use an IANA name such as `Europe/Paris`)",
                self.name
            ))
        })?;
        Ok(self)
    }

    /// The schedule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task it runs.
    pub fn task(&self) -> &'static str {
        self.task
    }

    /// The first tick strictly after `now`, or `None` when the pattern has none left.
    pub fn next_tick(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|tick| tick.with_timezone(&Utc))
    }

    /// The first tick at or after `at` (to the millisecond: cron works in whole seconds,
    /// and an inclusive search would return the second `at` falls in).
    fn tick_from(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_tick(at - chrono::TimeDelta::milliseconds(1))
    }

    /// The idempotency key of the run of `tick`.
    pub fn key(&self, tick: DateTime<Utc>) -> String {
        format!(
            "periodic:{}:{}",
            self.name,
            tick.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }

    /// The run of `tick`, for `jobs`' namespace.
    fn run_of(&self, jobs: &Jobs, tick: DateTime<Utc>) -> NewRun {
        let mut run = NewRun::new(
            jobs.namespace(),
            self.task,
            self.payload.clone(),
            self.max_attempts,
        );
        run.id = RunId::new();
        run.queue = self.queue.to_owned();
        run.idempotency_key = Some(self.key(tick));
        run.schedule = Schedule::At(tick);
        run.tick = Some(tick);
        run
    }
}

impl fmt::Debug for Periodic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Periodic")
            .field("name", &self.name)
            .field("pattern", &self.pattern)
            .field("timezone", &self.timezone.name())
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

/// The most ticks of one schedule enqueued by one pass; a longer catch-up goes on at the
/// next pass.
const MAX_TICKS_PER_PASS: usize = 1000;

/// How far back a scheduler catches up at most (see [`Periodic`]).
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
        let ahead = crate::clock::add(now, self.lookahead);
        let oldest = crate::clock::sub(now, self.catch_up);
        let mut runs = Vec::new();
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
                runs.push(schedule.run_of(jobs, at));
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::retry::RetryPolicy;
    use crate::task::TaskError;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Report {}

    impl Task for Report {
        const NAME: &'static str = "report";
        const RETRY: RetryPolicy = RetryPolicy::DEFAULT;
        const TIMEOUT: Option<Duration> = None;
        async fn run(self, _ctx: Context) -> Result<(), TaskError> {
            Ok(())
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn ticks_follow_the_pattern_in_its_time_zone() -> Result<(), Error> {
        let nightly = Periodic::new("nightly", "0 3 * * *", Report {})?.timezone("Europe/Paris")?;
        // Winter: Paris is UTC+1; summer: UTC+2.
        assert_eq!(
            nightly.next_tick(at("2026-11-29T10:00:00Z")),
            Some(at("2026-11-30T02:00:00Z"))
        );
        assert_eq!(
            nightly.next_tick(at("2026-07-01T10:00:00Z")),
            Some(at("2026-07-02T01:00:00Z"))
        );
        let minutely = Periodic::new("minutely", "* * * * *", Report {})?;
        assert_eq!(
            minutely.next_tick(at("2026-11-29T10:00:00Z")),
            Some(at("2026-11-29T10:01:00Z")),
            "strictly after now"
        );
        assert_eq!(
            minutely.key(at("2026-11-29T10:01:00Z")),
            "periodic:minutely:2026-11-29T10:01:00Z"
        );
        Ok(())
    }

    #[test]
    fn bad_patterns_and_zones_are_errors_that_say_so() {
        let bad = Periodic::new("x", "every day", Report {}).map(drop);
        assert!(
            matches!(&bad, Err(Error::Config(m)) if m.contains("`every day` is not a cron pattern")),
            "{bad:?}"
        );
        let zone =
            Periodic::new("x", "0 3 * * *", Report {}).and_then(|p| p.timezone("Mars/Olympus"));
        assert!(
            matches!(&zone, Err(Error::Config(m)) if m.contains("`Mars/Olympus` is not a time zone")),
            "{:?}",
            zone.map(drop)
        );
        assert!(Periodic::new(" ", "* * * * *", Report {}).is_err());
    }
}

//! Periodic tasks: a payload run on a cron schedule, once per tick however many workers
//! and processes are up.

use std::fmt;
use std::str::FromStr;

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
/// **Exactly once per tick.** The run of a tick is enqueued ahead of time, as a
/// `scheduled` run due at the tick, with the idempotency key `periodic:{name}:{tick}`:
/// however many workers and processes compute the same tick, the storage keeps one run
/// (the unique key, in the database on PostgreSQL). The next tick's run is therefore
/// always visible through the runs API (list the task's runs with status `scheduled`).
///
/// **Missed ticks.** When every worker was down over several ticks, the run of the first
/// missed tick (enqueued before they went down) runs once, late, when a worker is back;
/// the ticks after it are skipped, and the schedule goes on from the next tick to come.
/// A schedule added after a tick has no run for it.
///
/// Patterns have 5 fields (`minute hour day-of-month month day-of-week`) or 6 with
/// seconds first; `*`, lists, ranges, steps and names (`MON`, `JAN`) work. Ticks are
/// computed in the schedule's time zone (UTC unless [`timezone`](Self::timezone) says
/// otherwise), so `0 3 * * *` in `Europe/Paris` is 03:00 Paris time all year round.
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

/// Makes sure the next tick of every schedule of `jobs` has its run, by the storage's
/// clock; returns how many runs this call created. Safe to call from every worker at
/// once: the tick's key lets one run through.
pub(crate) async fn ensure_next_ticks(jobs: &Jobs) -> Result<usize, Error> {
    let schedules = jobs.periodic_schedules();
    if schedules.is_empty() {
        return Ok(0);
    }
    let now = jobs.storage().now().await?;
    let runs: Vec<NewRun> = schedules
        .iter()
        .filter_map(|p| p.next_tick(now).map(|tick| p.run_of(jobs, tick)))
        .collect();
    if runs.is_empty() {
        return Ok(0);
    }
    let stored = jobs.storage().enqueue(runs).await?;
    Ok(stored.iter().filter(|e| e.created).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::retry::RetryPolicy;
    use crate::task::TaskError;
    use std::time::Duration;

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

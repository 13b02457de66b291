//! Periodic tasks: a payload run on a cron schedule, once per tick however many workers
//! and processes are up. The schedule as data and its cron arithmetic; the typed
//! constructor [`Periodic::new`] is with the builder that takes schedules
//! (`client/builder.rs`), the scheduler that enqueues ticks with the workers
//! (`worker/schedule.rs`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::model::error::Error;
use crate::model::run::RunId;
use crate::storage::{NewRun, Schedule};

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
    /// A schedule running `payload` (already JSON) of `task`, waiting in `queue`, with
    /// `max_attempts`, on every tick of cron `pattern` (for
    /// [`Periodic::new`](Periodic::new), which takes a typed payload).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a pattern that does not parse (naming it and why) or an
    /// empty name.
    pub(crate) fn from_parts(
        name: String,
        pattern: &str,
        task: &'static str,
        queue: &'static str,
        max_attempts: u32,
        payload: serde_json::Value,
    ) -> Result<Self, Error> {
        if name.trim().is_empty() {
            return Err(Error::Config("a periodic schedule needs a name".into()));
        }
        let cron = Cron::from_str(pattern).map_err(|e| {
            Error::Config(format!(
                "periodic schedule `{name}`: `{pattern}` is not a cron pattern: {e}"
            ))
        })?;
        Ok(Periodic {
            name,
            pattern: pattern.to_owned(),
            cron,
            timezone: chrono_tz::UTC,
            task,
            queue,
            max_attempts: max_attempts.max(1),
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
    pub(crate) fn tick_from(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
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

    /// The run of `tick`, in `namespace`.
    pub(crate) fn run_of(&self, namespace: &str, tick: DateTime<Utc>) -> NewRun {
        let mut run = NewRun::new(
            namespace,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A schedule of a task named `report`.
    fn report(name: &str, pattern: &str) -> Result<Periodic, Error> {
        let payload = serde_json::json!({});
        Periodic::from_parts(name.to_owned(), pattern, "report", "default", 3, payload)
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn ticks_follow_the_pattern_in_its_time_zone() -> Result<(), Error> {
        let nightly = report("nightly", "0 3 * * *")?.timezone("Europe/Paris")?;
        // Winter: Paris is UTC+1; summer: UTC+2.
        assert_eq!(
            nightly.next_tick(at("2026-11-29T10:00:00Z")),
            Some(at("2026-11-30T02:00:00Z"))
        );
        assert_eq!(
            nightly.next_tick(at("2026-07-01T10:00:00Z")),
            Some(at("2026-07-02T01:00:00Z"))
        );
        let minutely = report("minutely", "* * * * *")?;
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
        let bad = report("x", "every day").map(drop);
        assert!(
            matches!(&bad, Err(Error::Config(m)) if m.contains("`every day` is not a cron pattern")),
            "{bad:?}"
        );
        let zone = report("x", "0 3 * * *").and_then(|p| p.timezone("Mars/Olympus"));
        assert!(
            matches!(&zone, Err(Error::Config(m)) if m.contains("`Mars/Olympus` is not a time zone")),
            "{:?}",
            zone.map(drop)
        );
        assert!(report(" ", "* * * * *").is_err());
    }
}

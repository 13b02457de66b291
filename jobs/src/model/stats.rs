//! What a dashboard shows of a namespace: runs by task and status, and recent throughput.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::run::RunStatus;

/// The longest window of [`Stats::throughput`]: a day of minutes.
pub const MAX_STATS_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Counts and recent throughput of one namespace's runs. Get it from
/// [`Runs::stats`](crate::Runs::stats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// When the figures were taken, by the storage's clock.
    pub at: DateTime<Utc>,
    /// How many runs each task has in each status: only counts above zero, by task name,
    /// then in the order of [`RunStatus::ALL`].
    pub counts: Vec<StatusCount>,
    /// Runs that finished in each minute of the window, oldest minute first; every minute
    /// is present, the current (partial) one last.
    pub throughput: Vec<MinuteCount>,
}

/// How many runs of one task are in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusCount {
    /// The task.
    pub task: String,
    /// The status.
    pub status: RunStatus,
    /// How many runs.
    pub count: u64,
}

/// The runs that finished in one minute, by how they finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MinuteCount {
    /// The start of the minute.
    pub start: DateTime<Utc>,
    /// Runs that succeeded.
    pub succeeded: u64,
    /// Runs dead-lettered.
    pub dead_lettered: u64,
    /// Runs cancelled.
    pub cancelled: u64,
}

impl StatusCount {
    /// A count (for storage implementations).
    pub fn new(task: impl Into<String>, status: RunStatus, count: u64) -> Self {
        StatusCount {
            task: task.into(),
            status,
            count,
        }
    }
}

impl MinuteCount {
    fn empty(start: DateTime<Utc>) -> Self {
        MinuteCount {
            start,
            succeeded: 0,
            dead_lettered: 0,
            cancelled: 0,
        }
    }

    fn add(&mut self, status: RunStatus, count: u64) {
        match status {
            RunStatus::Succeeded => self.succeeded += count,
            RunStatus::DeadLettered => self.dead_lettered += count,
            RunStatus::Cancelled => self.cancelled += count,
            _ => {}
        }
    }
}

impl Stats {
    /// Stats at `at` from counts by (task, status) and finished runs by (minute start,
    /// final status), for storage implementations: sorts the counts, drops zeros, and
    /// lays the finished runs out on every minute of `window` up to `at`'s minute.
    pub fn from_counts(
        at: DateTime<Utc>,
        window: Duration,
        counts: impl IntoIterator<Item = StatusCount>,
        finished: impl IntoIterator<Item = (DateTime<Utc>, RunStatus, u64)>,
    ) -> Self {
        let mut merged: BTreeMap<(String, usize), u64> = BTreeMap::new();
        for count in counts.into_iter().filter(|c| c.count > 0) {
            *merged
                .entry((count.task, status_rank(count.status)))
                .or_default() += count.count;
        }
        let counts = merged
            .into_iter()
            .map(|((task, rank), count)| StatusCount::new(task, RunStatus::ALL[rank], count))
            .collect();

        let first = window_start(at, window);
        let minutes = (at - first).num_minutes().max(0) + 1;
        let mut throughput: Vec<MinuteCount> = (0..minutes)
            .map(|i| MinuteCount::empty(first + TimeDelta::minutes(i)))
            .collect();
        for (start, status, count) in finished {
            let index = (minute_of(start) - first).num_minutes();
            if let Some(slot) = usize::try_from(index)
                .ok()
                .and_then(|i| throughput.get_mut(i))
            {
                slot.add(status, count);
            }
        }
        Stats {
            at,
            counts,
            throughput,
        }
    }

    /// Stats at `at` of runs given as (task, status as readers see it, end), for storages
    /// that hold their runs at hand (in memory): counts every run, and lays out those
    /// that finished within the window.
    pub fn from_runs<'a>(
        at: DateTime<Utc>,
        window: Duration,
        runs: impl IntoIterator<Item = (&'a str, RunStatus, Option<DateTime<Utc>>)>,
    ) -> Self {
        let since = window_start(at, window);
        let mut counts: BTreeMap<(&str, usize), u64> = BTreeMap::new();
        let mut finished: BTreeMap<(DateTime<Utc>, usize), u64> = BTreeMap::new();
        for (task, status, end) in runs {
            *counts.entry((task, status_rank(status))).or_default() += 1;
            if let Some(end) = end.filter(|end| status.is_final() && *end >= since && *end <= at) {
                *finished
                    .entry((minute_of(end), status_rank(status)))
                    .or_default() += 1;
            }
        }
        Stats::from_counts(
            at,
            window,
            counts
                .into_iter()
                .map(|((task, rank), n)| StatusCount::new(task, RunStatus::ALL[rank], n)),
            finished
                .into_iter()
                .map(|((minute, rank), n)| (minute, RunStatus::ALL[rank], n)),
        )
    }

    /// Runs of `task` in `status`, zero if none.
    pub fn count(&self, task: &str, status: RunStatus) -> u64 {
        self.counts
            .iter()
            .filter(|c| c.task == task && c.status == status)
            .map(|c| c.count)
            .sum()
    }
}

/// The first minute a window of `window` ending at `at` covers: the window is clamped to
/// [`MAX_STATS_WINDOW`] and to at least the current minute.
pub fn window_start(at: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let window = window.min(MAX_STATS_WINDOW);
    let span = TimeDelta::from_std(window).unwrap_or(TimeDelta::zero());
    minute_of(at - span + TimeDelta::minutes(1)).min(minute_of(at))
}

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

fn status_rank(status: RunStatus) -> usize {
    RunStatus::ALL
        .iter()
        .position(|s| *s == status)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_fifteen_minute_window_has_fifteen_minutes_ending_with_the_current_one() {
        let now = at("2026-11-29T10:15:30Z");
        let stats = Stats::from_counts(now, Duration::from_secs(15 * 60), [], []);
        assert_eq!(stats.throughput.len(), 15);
        assert_eq!(stats.throughput[0].start, at("2026-11-29T10:01:00Z"));
        assert_eq!(stats.throughput[14].start, at("2026-11-29T10:15:00Z"));
    }

    #[test]
    fn finished_runs_land_in_their_minute_and_outside_ones_are_dropped() {
        let now = at("2026-11-29T10:15:30Z");
        let stats = Stats::from_counts(
            now,
            Duration::from_secs(5 * 60),
            [
                StatusCount::new("b", RunStatus::Queued, 2),
                StatusCount::new("a", RunStatus::Succeeded, 0),
                StatusCount::new("a", RunStatus::DeadLettered, 1),
                StatusCount::new("a", RunStatus::Queued, 3),
            ],
            [
                (at("2026-11-29T10:15:00Z"), RunStatus::Succeeded, 4),
                (at("2026-11-29T10:11:00Z"), RunStatus::DeadLettered, 1),
                (at("2026-11-29T10:10:00Z"), RunStatus::Succeeded, 9),
            ],
        );
        let counts: Vec<(&str, RunStatus, u64)> = stats
            .counts
            .iter()
            .map(|c| (c.task.as_str(), c.status, c.count))
            .collect();
        assert_eq!(
            counts,
            [
                ("a", RunStatus::Queued, 3),
                ("a", RunStatus::DeadLettered, 1),
                ("b", RunStatus::Queued, 2)
            ]
        );
        assert_eq!(stats.throughput.len(), 5);
        assert_eq!(stats.throughput[0].dead_lettered, 1);
        assert_eq!(stats.throughput[4].succeeded, 4);
        let total: u64 = stats.throughput.iter().map(|m| m.succeeded).sum();
        assert_eq!(total, 4, "the 10:10 minute is outside the window");
    }

    #[test]
    fn windows_are_clamped_to_a_day_and_to_one_minute() {
        let now = at("2026-11-29T10:15:30Z");
        let day = Stats::from_counts(now, Duration::from_secs(7 * 24 * 3600), [], []);
        assert_eq!(day.throughput.len(), 24 * 60);
        let zero = Stats::from_counts(now, Duration::ZERO, [], []);
        assert_eq!(zero.throughput.len(), 1);
    }
}

//! Rows into `jobs` values, and `jobs` values into bind parameters.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs::stats::StatusCount;
use jobs::{Attempt, AttemptOutcome, Error, Run, RunId, RunStatus, Stats};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

/// The longest lease or delay a statement accepts (100 years); longer ones are cut to it,
/// as `timestamptz` arithmetic would otherwise overflow.
const MAX_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;

/// `duration` in microseconds, for `$n * interval '1 microsecond'`.
pub(crate) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).map_or(MAX_MICROS, |us| us.min(MAX_MICROS))
}

/// A `u32` count for an `integer` column.
pub(crate) fn int4(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Text for a `text` column. PostgreSQL text cannot hold NUL, so diagnostic text (errors,
/// reasons) has it replaced by U+FFFD instead of failing the whole statement.
pub(crate) fn clean_text(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

/// A `Run` from a row holding the run columns (see `sql::RUN_COLUMNS`).
pub(crate) fn run(row: &PgRow) -> Result<Run, Error> {
    build_run(row).map_err(|e| Error::storage("read a run from PostgreSQL", e))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn build_run(row: &PgRow) -> Result<Run, BoxError> {
    let mut run = Run::new(
        RunId::from_uuid(row.try_get("id")?),
        row.try_get::<String, _>("namespace")?,
        row.try_get::<String, _>("task")?,
        row.try_get::<Value, _>("payload")?,
        row.try_get("created_at")?,
    );
    run.queue = row.try_get("queue")?;
    run.status = row.try_get::<&str, _>("status")?.parse::<RunStatus>()?;
    run.attempt = count(row.try_get("attempt")?);
    run.max_attempts = count(row.try_get("max_attempts")?);
    run.failures = count(row.try_get("failures")?);
    run.snoozes = count(row.try_get("snoozes")?);
    run.handbacks = count(row.try_get("handbacks")?);
    run.priority = row.try_get("priority")?;
    run.idempotency_key = row.try_get("idempotency_key")?;
    run.run_at = row.try_get("run_at")?;
    run.started_at = row.try_get("started_at")?;
    run.finished_at = row.try_get("finished_at")?;
    run.last_error = row.try_get("last_error")?;
    run.replay_of = row
        .try_get::<Option<Uuid>, _>("replay_of")?
        .map(RunId::from_uuid);
    run.replay_reason = row.try_get("replay_reason")?;
    run.tick = row.try_get("tick")?;
    Ok(run)
}

/// An `Attempt` from a row of the attempts query, or `None` for the row of a run without
/// attempts (a LEFT JOIN that matched nothing).
pub(crate) fn attempt(row: &PgRow) -> Result<Option<Attempt>, Error> {
    build_attempt(row).map_err(|e| Error::storage("read an attempt from PostgreSQL", e))
}

fn build_attempt(row: &PgRow) -> Result<Option<Attempt>, BoxError> {
    let Some(number) = row.try_get::<Option<i32>, _>("number")? else {
        return Ok(None);
    };
    let started_at: DateTime<Utc> = row.try_get("started_at")?;
    let outcome = row
        .try_get::<&str, _>("outcome")?
        .parse::<AttemptOutcome>()?;
    let mut attempt = Attempt::new(count(number), started_at, outcome);
    attempt.finished_at = row.try_get("finished_at")?;
    attempt.error = row.try_get("error")?;
    Ok(Some(attempt))
}

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// The stats of a namespace from the rows of the stats statement.
pub(crate) fn stats(rows: &[PgRow], window: Duration) -> Result<Stats, Error> {
    build_stats(rows, window).map_err(|e| Error::storage("read the stats of a namespace", e))
}

/// Lays out the rows of the stats statement: (task, status, minute, n, at), plus one row
/// of NULLs that carries `at` for an empty namespace.
fn build_stats(rows: &[PgRow], window: Duration) -> Result<Stats, BoxError> {
    let mut at = None;
    let mut counts = Vec::new();
    let mut finished = Vec::new();
    for row in rows {
        at = Some(row.try_get::<DateTime<Utc>, _>("at")?);
        let Some(task) = row.try_get::<Option<String>, _>("task")? else {
            continue;
        };
        let status: RunStatus = row.try_get::<&str, _>("status")?.parse()?;
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
        if let Some(minute) = row.try_get::<Option<DateTime<Utc>>, _>("minute")? {
            finished.push((minute, status, n));
        }
        counts.push(StatusCount::new(task, status, n));
    }
    let at = at.ok_or("the stats statement returned no row")?;
    Ok(Stats::from_counts(at, window, counts, finished))
}

//! Rows into `jobs` values, and `jobs` values into column values.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs::{Attempt, AttemptOutcome, Error, Run, RunId, RunStatus};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

/// The longest lease or delay a statement accepts (100 years); longer ones are cut to it.
const MAX_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;

/// `duration` in microseconds, at most 100 years.
pub(crate) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).map_or(MAX_MICROS, |us| us.min(MAX_MICROS))
}

/// A time as stored: microseconds since the Unix epoch. Times before it are stored as it.
pub(crate) fn stamp(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros().max(0)
}

/// A stored time back.
pub(crate) fn time(us: i64) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| {
        Error::storage(
            "read a time from SQLite",
            format!("{us} µs since 1970 is out of range"),
        )
    })
}

fn optional_time(us: Option<i64>) -> Result<Option<DateTime<Utc>>, Error> {
    us.map(time).transpose()
}

/// A `u32` count from an `INTEGER` column.
fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// An id as stored: hyphenated lowercase text.
pub(crate) fn id_text(id: RunId) -> String {
    id.as_uuid().hyphenated().to_string()
}

/// A stored id back.
pub(crate) fn run_id(text: &str) -> Result<RunId, Error> {
    Uuid::parse_str(text)
        .map(RunId::from_uuid)
        .map_err(|e| Error::storage("read a run id from SQLite", e))
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, Error>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column)
        .map_err(|e| Error::storage("read a run from SQLite", e))
}

/// A `Run` from a row holding the run columns (`sql::run_columns!`), its status as seen
/// at `now`.
pub(crate) fn run(row: &SqliteRow, now: DateTime<Utc>) -> Result<Run, Error> {
    let status: RunStatus = get::<&str>(row, "status")?.parse()?;
    let attempt = count(get(row, "attempt")?);
    let run_at = time(get(row, "run_at")?)?;
    let payload: &str = get(row, "payload")?;
    let payload = serde_json::from_str(payload)
        .map_err(|e| Error::storage("read a run's payload from SQLite", e))?;
    let mut run = Run::new(
        run_id(get(row, "id")?)?,
        get::<String>(row, "namespace")?,
        get::<String>(row, "task")?,
        payload,
        time(get(row, "created_at")?)?,
    );
    run.queue = get(row, "queue")?;
    run.status = status.as_seen_at(attempt, run_at, now);
    run.attempt = attempt;
    run.max_attempts = count(get(row, "max_attempts")?);
    run.failures = count(get(row, "failures")?);
    run.snoozes = count(get(row, "snoozes")?);
    run.handbacks = count(get(row, "handbacks")?);
    run.priority = i16::try_from(get::<i64>(row, "priority")?).unwrap_or(0);
    run.idempotency_key = get(row, "idempotency_key")?;
    run.run_at = run_at;
    run.started_at = optional_time(get(row, "started_at")?)?;
    run.finished_at = optional_time(get(row, "finished_at")?)?;
    run.last_error = get(row, "last_error")?;
    run.replay_of = get::<Option<&str>>(row, "replay_of")?
        .map(run_id)
        .transpose()?;
    run.replay_reason = get(row, "replay_reason")?;
    run.tick = optional_time(get(row, "tick")?)?;
    Ok(run)
}

/// An `Attempt` from a row of the `attempts` table.
pub(crate) fn attempt(row: &SqliteRow) -> Result<Attempt, Error> {
    let mut attempt = Attempt::new(
        count(get(row, "number")?),
        time(get(row, "started_at")?)?,
        get::<&str>(row, "outcome")?.parse::<AttemptOutcome>()?,
    );
    attempt.finished_at = optional_time(get(row, "finished_at")?)?;
    attempt.error = get(row, "error")?;
    Ok(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_to_the_microsecond() {
        let at = DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap_or_default();
        assert_eq!(time(stamp(at)).ok(), Some(at));
        assert_eq!(
            stamp(DateTime::<Utc>::MIN_UTC),
            0,
            "before 1970 is stored as 1970"
        );
        assert!(time(i64::MAX).is_err());
    }

    #[test]
    fn long_delays_are_capped() {
        assert_eq!(micros(Duration::from_millis(1500)), 1_500_000);
        assert_eq!(micros(Duration::MAX), MAX_MICROS);
    }
}

//! What a storage can keep, checked the same way by every backend before it stores
//! anything: text without NUL (PostgreSQL's `text` and `jsonb` cannot hold one), times in
//! the years 0 to 9999 (what RFC 3339 writes, so every answer carrying the run stays
//! valid), delays of at most a century. A value outside is the caller's mistake:
//! [`Error::InvalidInput`] naming the field, never a storage error.
//!
//! Storages call [`check_new_runs`] at the start of [`Storage::enqueue`](super::Storage::enqueue),
//! [`check_text`] on the task filter of `list` and on the reason of `replay`.

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};

use super::records::{NewRun, Schedule};
use crate::model::error::Error;

/// The longest delay a run may be scheduled with: a century.
pub const MAX_DELAY: Duration = Duration::from_secs(100 * 366 * 24 * 3600);

/// Checks every run of a batch; the first value no storage can keep is the error, and
/// the batch must then not be stored at all.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the field: `namespace`, `task`, `queue`,
/// `idempotency_key`, `payload` or the path in it (`payload.order.id`,
/// `payload.items[2]`), `run_at`, `delay`, `tick`.
pub fn check_new_runs(runs: &[NewRun]) -> Result<(), Error> {
    runs.iter().try_for_each(check_new_run)
}

fn check_new_run(run: &NewRun) -> Result<(), Error> {
    check_text("namespace", &run.namespace)?;
    check_text("task", &run.task)?;
    check_text("queue", &run.queue)?;
    if let Some(key) = &run.idempotency_key {
        check_text("idempotency_key", key)?;
    }
    check_payload(&run.payload, &mut "payload".to_owned())?;
    match run.schedule {
        Schedule::Now => {}
        Schedule::After(delay) if delay > MAX_DELAY => {
            return Err(Error::invalid_input(
                "delay",
                format!("{delay:?} is longer than the longest delay, a century"),
            ));
        }
        Schedule::After(_) => {}
        Schedule::At(at) => check_time("run_at", at)?,
    }
    if let Some(tick) = run.tick {
        check_time("tick", tick)?;
    }
    Ok(())
}

/// Refuses text with a NUL character.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming `field`.
pub fn check_text(field: &str, text: &str) -> Result<(), Error> {
    match text.find('\0') {
        None => Ok(()),
        Some(at) => Err(Error::invalid_input(
            field,
            format!("contains a NUL character (at byte {at}), which no storage can keep"),
        )),
    }
}

/// Refuses a time outside the years 0 to 9999.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming `field`.
pub fn check_time(field: &str, at: DateTime<Utc>) -> Result<(), Error> {
    if (0..=9999).contains(&at.year()) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            field,
            format!("{at} is outside the years 0 to 9999"),
        ))
    }
}

/// Walks a payload, `path` naming where it is; refuses NUL in any string, and in any
/// object key (named by the object holding it).
fn check_payload(value: &serde_json::Value, path: &mut String) -> Result<(), Error> {
    match value {
        serde_json::Value::String(text) => check_text(path, text),
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                check_payload(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                if key.contains('\0') {
                    return Err(Error::invalid_input(
                        path.as_str(),
                        "has a key with a NUL character, which no storage can keep",
                    ));
                }
                let len = path.len();
                path.push('.');
                path.push_str(key);
                check_payload(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<(), Error>) -> Option<String> {
        match result {
            Err(Error::InvalidInput { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn payload_paths_name_the_value() {
        let payload = serde_json::json!({ "a": [{ "b": "ok" }, { "b": "x\u{0}" }] });
        let mut path = "payload".to_owned();
        assert_eq!(
            field(check_payload(&payload, &mut path)).as_deref(),
            Some("payload.a[1].b")
        );
        let fine = serde_json::json!({ "a": ["\u{1}", 1, null, { "c": "d" }] });
        assert!(check_payload(&fine, &mut "payload".to_owned()).is_ok());
    }

    #[test]
    fn times_are_kept_in_four_digit_years() {
        let ok = |text: &str| text.parse::<DateTime<Utc>>().map(|at| check_time("t", at));
        assert!(matches!(ok("9999-12-31T23:59:59Z"), Ok(Ok(()))));
        assert!(matches!(ok("0000-01-01T00:00:00Z"), Ok(Ok(()))));
        assert!(matches!(ok("+10000-01-01T00:00:00Z"), Ok(Err(_))));
        assert!(matches!(ok("-0001-12-31T00:00:00Z"), Ok(Err(_))));
    }
}

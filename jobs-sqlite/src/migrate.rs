//! The schema's migrations, embedded, and the runner that applies them.
//!
//! The file's `user_version` (a number in its header) is the number of the last migration
//! applied. [`apply`] reads it and, when migrations are missing, applies them in one
//! `BEGIN IMMEDIATE` transaction, so two processes opening a new file at once cannot both
//! apply them: the second waits for the first's write lock, then finds nothing left to do.
//! A file already up to date is opened without taking the write lock.

use std::path::Path;

use jobs::Error;
use sqlx::SqlitePool;

/// Every migration, in order: its number (the `user_version` it leaves) and its SQL.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "0001_runs", include_str!("../migrations/0001_runs.sql")),
    (
        2,
        "0002_budget_counters",
        include_str!("../migrations/0002_budget_counters.sql"),
    ),
    (
        3,
        "0003_periodic_tick",
        include_str!("../migrations/0003_periodic_tick.sql"),
    ),
];

/// The `user_version` of a file with every migration applied: the last one's number.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Applies the migrations `path` does not have yet.
pub(crate) async fn apply(writer: &SqlitePool, path: &Path) -> Result<(), Error> {
    let action = format!("bring the schema of {} up to date", path.display());
    let failed = |e: sqlx::Error| Error::storage(action.clone(), e);
    // A file already up to date (every open but the first) needs no write lock.
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(writer)
        .await
        .map_err(failed)?;
    if check(version, path)? {
        return Ok(());
    }
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
    // Again under the lock: another process may have applied them meanwhile.
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
    if check(version, path)? {
        return Ok(());
    }
    for &(number, name, sql) in MIGRATIONS.iter().filter(|(n, ..)| *n > version) {
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| {
            Error::storage(format!("apply migration {name} to {}", path.display()), e)
        })?;
        // PRAGMA takes no bind parameters; the number is ours.
        sqlx::query(&format!("PRAGMA user_version = {number}"))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    tx.commit().await.map_err(failed)?;
    tracing::debug!(path = %path.display(), from = version, to = LATEST, "migrated");
    Ok(())
}

/// Whether a file at `version` is up to date; an error when a newer version wrote it.
fn check(version: i64, path: &Path) -> Result<bool, Error> {
    if version > LATEST {
        return Err(Error::Config(format!(
            "{} has schema version {version}, written by a newer jobs-sqlite (this one knows \
             up to {LATEST}); upgrade jobs-sqlite, or open another file",
            path.display()
        )));
    }
    Ok(version == LATEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_latest() {
        for (index, (number, name, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*number, index as i64 + 1, "{name}");
            assert!(name.starts_with(&format!("{number:04}_")), "{name}");
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(LATEST));
    }
}

//! `jobs migrate`.

use std::path::Path;

use serde::Serialize;

use crate::cli::Global;
use crate::connect::{IfMissing, Store, Target};
use crate::exit::{Backend, CliError};
use crate::output::{self, Output};

/// What `jobs migrate --json` prints for PostgreSQL.
#[derive(Debug, Serialize)]
struct Migrated<'a> {
    /// The schema that is now up to date.
    schema: &'a str,
    /// Always true: on failure the command exits non-zero instead.
    migrated: bool,
}

/// What `jobs migrate --json` prints for a SQLite file.
#[derive(Debug, Serialize)]
struct MigratedFile<'a> {
    /// The file that is now up to date, as the URL names it.
    file: &'a Path,
    /// Whether the command created the file.
    created: bool,
    /// Always true: on failure the command exits non-zero instead.
    migrated: bool,
}

/// PostgreSQL: creates the schema if it is missing and applies the storage's
/// migrations. Safe to run again, and from many processes at once (the storage takes an
/// advisory lock).
///
/// SQLite: opening the file applies the migrations it lacks (in one transaction, under
/// the file's write lock), and creates the file first if it is missing; its directory
/// must exist. This is the only command that creates a SQLite file.
pub(super) async fn migrate(global: &Global) -> Result<Output, CliError> {
    let target = Target::from_options(global)?;
    let existed = match target.backend() {
        Backend::Sqlite(Some(path)) => path.exists(),
        _ => true,
    };
    match target.storage(IfMissing::Create).await? {
        Store::Postgres(storage) => {
            storage.migrate().await.map_err(|e| target.error(e))?;
            let schema = target.scope().schema.as_str();
            if global.json {
                output::json(&Migrated {
                    schema,
                    migrated: true,
                })
            } else {
                Ok(format!("schema `{schema}` is migrated and up to date\n"))
            }
        }
        Store::Sqlite(storage) => {
            storage.close().await;
            let file = storage.path();
            if global.json {
                output::json(&MigratedFile {
                    file,
                    created: !existed,
                    migrated: true,
                })
            } else if existed {
                Ok(format!(
                    "SQLite file `{}` is migrated and up to date\n",
                    file.display()
                ))
            } else {
                Ok(format!(
                    "created SQLite file `{}`; it is migrated and up to date\n",
                    file.display()
                ))
            }
        }
    }
}

//! `jobs migrate`.

use serde::Serialize;

use crate::cli::Global;
use crate::connect::Target;
use crate::exit::CliError;
use crate::output::{self, Output};

/// What `jobs migrate --json` prints.
#[derive(Debug, Serialize)]
struct Migrated<'a> {
    /// The schema that is now up to date.
    schema: &'a str,
    /// Always true: on failure the command exits non-zero instead.
    migrated: bool,
}

/// Creates the schema if it is missing and applies the storage's migrations. Safe to run
/// again, and from many processes at once (the storage takes an advisory lock).
pub(super) async fn migrate(global: &Global) -> Result<Output, CliError> {
    let target = Target::from_options(global)?;
    let storage = target.storage().await?;
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

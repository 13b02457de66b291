//! From the global options to a storage and a `Jobs` handle.

use std::time::Duration;

use jobs::Jobs;
use jobs_postgres::PgStorage;

use crate::cli::Global;
use crate::exit::{CliError, Kind, Scope};

/// The schema and namespace the options name, for messages.
pub(crate) fn scope(global: &Global) -> Scope {
    Scope {
        schema: global.schema.clone(),
        namespace: global.namespace.clone(),
    }
}

/// Where the runs are: the database, the schema and the namespace.
#[derive(Debug)]
pub(crate) struct Target {
    url: String,
    scope: Scope,
}

impl Target {
    /// The target the options name.
    ///
    /// # Errors
    ///
    /// No database URL ([`Kind::Usage`]), saying to set `DATABASE_URL`.
    pub(crate) fn from_options(global: &Global) -> Result<Self, CliError> {
        let url = global
            .database_url
            .clone()
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| {
                CliError::new(Kind::Usage, "no database given: DATABASE_URL is not set").hint(
                    "set DATABASE_URL=postgres://user:password@host:port/database \
                     or pass --database-url",
                )
            })?;
        Ok(Target {
            url,
            scope: scope(global),
        })
    }

    /// The schema and namespace, for messages.
    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// A storage on a small pool of its own (one command needs one or two connections).
    ///
    /// # Errors
    ///
    /// A bad URL or schema name (5); the server cannot be reached (1).
    pub(crate) async fn storage(&self) -> Result<PgStorage, CliError> {
        PgStorage::builder()
            .schema(self.scope.schema.clone())
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&self.url)
            .await
            .map_err(|e| self.error(e))
    }

    /// A `Jobs` over [`storage`](Self::storage), in the namespace. It knows no tasks,
    /// and needs none: the tool only reads and manages runs.
    ///
    /// # Errors
    ///
    /// As [`storage`](Self::storage); a namespace that is empty or too long (5).
    pub(crate) async fn jobs(&self) -> Result<Jobs, CliError> {
        let storage = self.storage().await?;
        Jobs::builder()
            .name("jobs-cli")
            .namespace(self.scope.namespace.clone())
            .storage(storage)
            .build()
            .map_err(|e| self.error(e))
    }

    /// A library error, classified, with hints naming this target.
    pub(crate) fn error(&self, error: jobs::Error) -> CliError {
        CliError::from_jobs(error, &self.scope)
    }
}

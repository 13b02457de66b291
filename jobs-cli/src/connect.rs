//! From the global options to a storage and a `Jobs` handle: PostgreSQL for a
//! `postgres://` (or `postgresql://`) URL, a SQLite file for a `sqlite:` one.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jobs::{Jobs, Storage};
use jobs_postgres::PgStorage;
use jobs_sqlite::SqliteStorage;

use crate::cli::Global;
use crate::exit::{Backend, CliError, Kind, Scope, URL_FORMS};

/// How long a write to a SQLite file waits for another process to release the file's
/// write lock before failing with "database is locked".
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema and namespace the options name, for messages.
pub(crate) fn scope(global: &Global) -> Scope {
    Scope {
        schema: global.schema.clone(),
        namespace: global.namespace.clone(),
    }
}

/// What opening a SQLite file does when the file is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfMissing {
    /// Fail (exit code 1): a mistyped path must not leave an empty database behind.
    Refuse,
    /// Create it, with its tables: what `jobs migrate` is for.
    Create,
}

/// An opened storage, of the kind the URL named.
#[derive(Debug)]
pub(crate) enum Store {
    /// A PostgreSQL database.
    Postgres(PgStorage),
    /// A SQLite file (its migrations applied when it was opened).
    Sqlite(SqliteStorage),
}

impl Store {
    /// The storage, for a `Jobs` handle.
    fn shared(&self) -> Arc<dyn Storage> {
        match self {
            Store::Postgres(storage) => Arc::new(storage.clone()),
            Store::Sqlite(storage) => Arc::new(storage.clone()),
        }
    }

    /// Closes a SQLite file's connections and waits for them, so that what the command
    /// wrote is in the file itself (not only in its `-wal` file) when the process ends.
    /// A PostgreSQL pool simply ends with the process.
    pub(crate) async fn close(&self) {
        if let Store::Sqlite(storage) = self {
            storage.close().await;
        }
    }
}

/// Where the runs are: the database, the schema (PostgreSQL) and the namespace.
#[derive(Debug)]
pub(crate) struct Target {
    url: String,
    backend: Backend,
    scope: Scope,
}

impl Target {
    /// The target the options name.
    ///
    /// # Errors
    ///
    /// No database URL ([`Kind::Usage`]), saying to set `DATABASE_URL`; a URL of
    /// another scheme than `postgres`, `postgresql` or `sqlite` ([`Kind::InvalidInput`]);
    /// `--schema` on the command line with a SQLite URL ([`Kind::Usage`]).
    pub(crate) fn from_options(global: &Global) -> Result<Self, CliError> {
        let url = global
            .database_url
            .clone()
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| {
                CliError::new(Kind::Usage, "no database given: DATABASE_URL is not set").hint(
                    "set DATABASE_URL=postgres://user:password@host:port/database \
                     (or sqlite://jobs.db for a SQLite file) or pass --database-url",
                )
            })?;
        let (backend, url) = match url.split_once(':') {
            Some((scheme, _)) if matches_scheme(scheme, &["postgres", "postgresql"]) => {
                (Backend::Postgres, url)
            }
            Some((scheme, rest)) if matches_scheme(scheme, &["sqlite"]) => {
                // Schemes are case-insensitive; `jobs-sqlite` wants `sqlite:` as written.
                let url = format!("sqlite:{rest}");
                (Backend::Sqlite(sqlite_path(&url)), url)
            }
            scheme => return Err(unknown_scheme(scheme.map(|(scheme, _)| scheme))),
        };
        if matches!(backend, Backend::Sqlite(_)) && global.schema_on_command_line {
            return Err(CliError::new(
                Kind::Usage,
                "--schema is for PostgreSQL: a SQLite file has no schemas",
            )
            .hint(
                "leave out --schema: the file holds the runs of every namespace in one set \
                 of tables (pick the application's with --namespace)",
            ));
        }
        Ok(Target {
            url,
            backend,
            scope: scope(global),
        })
    }

    /// The schema and namespace, for messages.
    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The kind of database, and the SQLite file's path.
    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// A storage with few connections of its own (one command needs one or two). A
    /// SQLite file is opened with its migrations applied; when it is missing, it is
    /// created only if `if_missing` says so.
    ///
    /// # Errors
    ///
    /// A bad URL or schema name (5); the server cannot be reached, the SQLite file is
    /// missing (and `if_missing` refuses) or cannot be opened (1).
    pub(crate) async fn storage(&self, if_missing: IfMissing) -> Result<Store, CliError> {
        match &self.backend {
            Backend::Postgres => PgStorage::builder()
                .schema(self.scope.schema.clone())
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect(&self.url)
                .await
                .map(Store::Postgres)
                .map_err(|e| self.error(e)),
            Backend::Sqlite(path) => {
                if let (IfMissing::Refuse, Some(path)) = (if_missing, path) {
                    existing_file(path)?;
                }
                // A URL that names no file is refused by `connect`, which says why.
                SqliteStorage::builder()
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .readers(2)
                    .connect(&self.url)
                    .await
                    .map(Store::Sqlite)
                    .map_err(|e| self.error(e))
            }
        }
    }

    /// Opens the storage (never creating a SQLite file), runs `work` with a `Jobs` over
    /// it in the namespace, then closes the storage, whether `work` succeeded or not.
    /// The `Jobs` knows no tasks, and needs none: the tool only reads and manages runs.
    ///
    /// # Errors
    ///
    /// As [`storage`](Self::storage); a namespace that is empty or too long (5); what
    /// `work` returned, classified.
    pub(crate) async fn with_jobs<T, F, Fut>(&self, work: F) -> Result<T, CliError>
    where
        F: FnOnce(Jobs) -> Fut,
        Fut: Future<Output = Result<T, jobs::Error>>,
    {
        let store = self.storage(IfMissing::Refuse).await?;
        let built = Jobs::builder()
            .name("jobs-cli")
            .namespace(self.scope.namespace.clone())
            .shared_storage(store.shared())
            .build();
        let result = match built {
            Ok(jobs) => work(jobs).await,
            Err(e) => Err(e),
        };
        store.close().await;
        result.map_err(|e| self.error(e))
    }

    /// A library error, classified, with hints naming this target.
    pub(crate) fn error(&self, error: jobs::Error) -> CliError {
        CliError::from_jobs_on(error, &self.scope, &self.backend)
    }
}

/// Whether `scheme` is one of `names`, ignoring case.
fn matches_scheme(scheme: &str, names: &[&str]) -> bool {
    names.iter().any(|name| scheme.eq_ignore_ascii_case(name))
}

/// A URL of no scheme the tool knows. Only the scheme is quoted: the rest may hold a
/// password.
fn unknown_scheme(scheme: Option<&str>) -> CliError {
    let looks_like_a_scheme = |s: &str| {
        !s.is_empty()
            && s.len() <= 20
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    let message = match scheme {
        Some(scheme) if looks_like_a_scheme(scheme) => {
            format!("unsupported database URL scheme `{scheme}:`")
        }
        _ => "the database URL is neither a postgres:// nor a sqlite: URL".to_owned(),
    };
    CliError::new(Kind::InvalidInput, message).hint(format!("set DATABASE_URL to {URL_FORMS}"))
}

/// The file a `sqlite:` URL names, by the rules of `SqliteStorage::connect`: `None` for
/// a URL it refuses (no file, `?options`, `:memory:`), which it then explains.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    if rest.is_empty() || rest.contains('?') || rest.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(rest))
}

/// Checks that the SQLite file at `path` exists, so that opening it does not create an
/// empty database where a path was mistyped.
fn existing_file(path: &Path) -> Result<(), CliError> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(CliError::new(
            Kind::Failure,
            format!("`{shown}` is a directory, not a SQLite file"),
        )
        .hint("check the path in DATABASE_URL: it names the database file itself")),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let resolved = match std::path::absolute(path) {
                Ok(absolute) if absolute != path => format!(" ({})", absolute.display()),
                _ => String::new(),
            };
            Err(CliError::new(
                Kind::Failure,
                format!("the SQLite file `{shown}`{resolved} does not exist"),
            )
            .hint(format!(
                "check the path in DATABASE_URL (sqlite://jobs.db is relative to the \
                 current directory, sqlite:///var/lib/app/jobs.db is absolute); to create \
                 a new database at `{shown}`, run `jobs migrate`"
            )))
        }
        Err(e) => Err(CliError::new(
            Kind::Failure,
            format!("could not read the SQLite file `{shown}`: {e}"),
        )
        .hint("check that this user may read the file and its directory")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(url: &str, schema_on_command_line: bool) -> Global {
        Global {
            database_url: Some(url.to_owned()),
            schema: PgStorage::DEFAULT_SCHEMA.to_owned(),
            schema_on_command_line,
            namespace: "default".to_owned(),
            json: false,
        }
    }

    fn backend(url: &str) -> Result<Backend, Kind> {
        Target::from_options(&global(url, false))
            .map(|target| target.backend().clone())
            .map_err(|e| e.kind())
    }

    #[test]
    fn the_scheme_picks_the_storage() {
        for url in [
            "postgres://app@localhost/app",
            "postgresql://app@localhost/app",
            "POSTGRES://app@localhost/app",
        ] {
            assert_eq!(backend(url), Ok(Backend::Postgres), "{url}");
        }
        for (url, path) in [
            ("sqlite://jobs.db", "jobs.db"),
            ("sqlite:///var/lib/app/jobs.db", "/var/lib/app/jobs.db"),
            ("sqlite:data/jobs.db", "data/jobs.db"),
            ("SQLite://jobs.db", "jobs.db"),
        ] {
            assert_eq!(
                backend(url),
                Ok(Backend::Sqlite(Some(PathBuf::from(path)))),
                "{url}"
            );
        }
        for url in ["sqlite::memory:", "sqlite://jobs.db?mode=ro", "sqlite://"] {
            assert_eq!(backend(url), Ok(Backend::Sqlite(None)), "{url}");
        }
    }

    #[test]
    fn other_schemes_are_refused_naming_both_forms() {
        for url in ["mysql://root:secret@db/app", "jobs.db", "//host/db"] {
            let error = Target::from_options(&global(url, false))
                .err()
                .unwrap_or_else(|| panic!("{url} should be refused"));
            let text = error.to_string();
            assert_eq!(error.kind(), Kind::InvalidInput, "{text}");
            assert!(
                text.contains("postgres://") && text.contains("sqlite://"),
                "{text}"
            );
            assert!(!text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn a_schema_on_the_command_line_is_refused_for_sqlite_only() {
        let sqlite = Target::from_options(&global("sqlite://jobs.db", true));
        assert_eq!(sqlite.err().map(|e| e.kind()), Some(Kind::Usage));
        assert!(Target::from_options(&global("postgres://app@localhost/app", true)).is_ok());
    }
}

//! What went wrong, as the operator sees it: an `error: ...` line, a hint saying what to
//! do, and a distinct exit code.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jobs::Error;

/// The exit codes, as `jobs --help` lists them. Keep in step with [`Kind`] and the crate
/// docs in `main.rs`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  failure: the database or storage failed (connection refused, query failed,
     SQLite file missing or locked...)
  2  usage error: bad arguments (or --schema with SQLite), or no database given
     (set DATABASE_URL)
  3  not found: no run with this id in this namespace
  4  conflict: the run cannot be cancelled (finished) or replayed (not finished)
  5  invalid input: bad run id, status, cursor, schema name or database URL";

/// The class of an error, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The database or storage failed: 1.
    Failure,
    /// Bad arguments or missing configuration: 2, as clap's own usage errors.
    Usage,
    /// No run with this id: 3.
    NotFound,
    /// The run is in the wrong state for the operation: 4.
    Conflict,
    /// A value that does not parse or is not allowed: 5.
    InvalidInput,
}

impl Kind {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Kind::Failure => 1,
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::Conflict => 4,
            Kind::InvalidInput => 5,
        }
    }
}

/// An error of the tool: what happened and, when we can tell, what to do about it.
#[derive(Debug)]
pub(crate) struct CliError {
    kind: Kind,
    message: String,
    hint: Option<String>,
}

/// Where a command was looking, for hints that name it.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The PostgreSQL schema.
    pub(crate) schema: String,
    /// The namespace of runs.
    pub(crate) namespace: String,
}

impl CliError {
    /// An error of `kind` with `message`.
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds what the operator can do about it.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The class of the error.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// The exit code for it.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind().code())
    }

    /// An error of the library, classified, with a hint naming `scope` in PostgreSQL (or
    /// fitting any database, for errors raised before connecting).
    pub(crate) fn from_jobs(error: Error, scope: &Scope) -> Self {
        CliError::from_jobs_on(error, scope, &Backend::Postgres)
    }

    /// An error of the library, classified, with a hint for `backend` naming `scope`.
    pub(crate) fn from_jobs_on(error: Error, scope: &Scope, backend: &Backend) -> Self {
        let kind = match (backend, &error) {
            // The URL is fine; the file cannot be used by this version.
            (Backend::Sqlite(_), Error::Config(message)) if written_by_newer(message) => {
                Kind::Failure
            }
            _ => kind_of(&error),
        };
        let hint = match backend {
            Backend::Postgres => postgres_hint(&error, scope),
            Backend::Sqlite(path) => sqlite_hint(&error, scope, path.as_deref()),
        };
        CliError {
            kind,
            message: error.to_string(),
            hint,
        }
    }
}

/// The kind of database a command works on, for hints that fit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backend {
    /// A PostgreSQL server: the runs are in the scope's schema.
    Postgres,
    /// A SQLite file: the path its URL names, `None` when the URL names no usable file.
    Sqlite(Option<PathBuf>),
}

/// The accepted forms of a database URL, for hints.
pub(crate) const URL_FORMS: &str = "postgres://user:password@host:port/database \
     (or postgresql://...) for PostgreSQL, sqlite://jobs.db (relative to the current \
     directory) or sqlite:///var/lib/app/jobs.db (absolute) for a SQLite file";

/// The forms of a SQLite URL, for hints.
const SQLITE_URL_FORMS: &str = "sqlite://jobs.db (relative to the current directory), \
     sqlite:///var/lib/app/jobs.db (absolute) or sqlite:jobs.db";

/// What to do about errors that read the same whatever the database.
fn common_hint(error: &Error) -> Option<String> {
    match error {
        Error::NotCancellable { .. } => Some(
            "only scheduled, queued, running or retrying runs can be cancelled; \
             a finished run can be replayed with `jobs runs replay ID --reason ...`"
                .to_owned(),
        ),
        Error::NotReplayable { .. } => Some(
            "wait for the run to finish, or cancel it first with `jobs runs cancel ID`".to_owned(),
        ),
        Error::InvalidRunId { .. } => {
            Some("copy the id from `jobs runs list`: `run_` and 32 hex digits".to_owned())
        }
        _ => None,
    }
}

/// What to do about an error of a PostgreSQL database.
fn postgres_hint(error: &Error, scope: &Scope) -> Option<String> {
    match error {
        Error::RunNotFound { .. } => Some(format!(
            "check the id with `jobs runs list`; runs of another namespace need \
             --namespace (this looked in `{}`, schema `{}`)",
            scope.namespace, scope.schema
        )),
        Error::Config(_) => Some(
            "check DATABASE_URL (postgres://user:password@host:port/database) and \
             --schema (a lowercase SQL identifier)"
                .to_owned(),
        ),
        Error::Storage { .. } => Some(storage_hint(&error.to_string(), scope)),
        _ => common_hint(error),
    }
}

/// What to do about an error of the SQLite file at `path`.
fn sqlite_hint(error: &Error, scope: &Scope, path: Option<&Path>) -> Option<String> {
    let file = path.map_or_else(
        || "the SQLite file".to_owned(),
        |path| format!("`{}`", path.display()),
    );
    match error {
        Error::RunNotFound { .. } => Some(format!(
            "check the id with `jobs runs list`; runs of another namespace need \
             --namespace (this looked in `{}`, file {file})",
            scope.namespace
        )),
        Error::Config(message) if written_by_newer(message) => Some(format!(
            "{file} was written by a newer version of jobs: use a `jobs` tool of the \
             application's version (or a newer one)"
        )),
        Error::Config(message) if message.contains("namespace") => {
            Some("check --namespace (or JOBS_NAMESPACE)".to_owned())
        }
        Error::Config(_) => Some(format!(
            "check DATABASE_URL: {SQLITE_URL_FORMS}; with no `?options` (the tool sets \
             its own) and not `:memory:` (an in-memory database holds no runs to manage)"
        )),
        Error::Storage { .. } => Some(sqlite_storage_hint(&error.to_string(), &file)),
        _ => common_hint(error),
    }
}

/// Whether a configuration error of `jobs-sqlite` says the file has a newer schema.
fn written_by_newer(message: &str) -> bool {
    message.contains("newer jobs-sqlite")
}

/// What to try after a failure of the SQLite file `file` (quoted, for the message).
fn sqlite_storage_hint(message: &str, file: &str) -> String {
    let message = message.to_ascii_lowercase();
    if message.contains("database is locked") || message.contains("database is busy") {
        format!(
            "another process (a worker, the application or another `jobs` command) held \
             the write lock of {file} longer than the busy timeout ({} s); try again, \
             and look for a process stuck in a long transaction",
            crate::connect::SQLITE_BUSY_TIMEOUT.as_secs()
        )
    } else if message.contains("directory") && message.contains("does not exist") {
        format!(
            "the directory of the file must exist: create it, or fix the path in \
             DATABASE_URL: {SQLITE_URL_FORMS}"
        )
    } else if message.contains("not a database") {
        format!("{file} is not a SQLite database: check the path in DATABASE_URL")
    } else if message.contains("no such table") {
        format!(
            "{file} lacks the tables of jobs: run `jobs migrate`, and keep other \
             applications' tables out of this file"
        )
    } else {
        format!(
            "check that {file} is on a local disk and that this user may read and write \
             it and its directory (SQLite keeps `-wal` and `-shm` files beside it); \
             then try again"
        )
    }
}

/// The class of a library error.
pub(crate) fn kind_of(error: &Error) -> Kind {
    match error {
        Error::RunNotFound { .. } => Kind::NotFound,
        Error::NotCancellable { .. } | Error::NotReplayable { .. } => Kind::Conflict,
        Error::InvalidRunId { .. }
        | Error::InvalidCursor { .. }
        | Error::UnknownStatus { .. }
        | Error::Config(_) => Kind::InvalidInput,
        _ => Kind::Failure,
    }
}

/// What to try after a storage failure: a missing table means the schema was never
/// migrated; anything else is most likely the connection.
fn storage_hint(message: &str, scope: &Scope) -> String {
    if message.contains("does not exist") {
        format!(
            "is schema `{}` migrated? run `jobs migrate --schema {}`, or pass the schema \
             the application uses with --schema",
            scope.schema, scope.schema
        )
    } else {
        "check that PostgreSQL is running and reachable at DATABASE_URL, and that the \
         user may use the schema; then try again"
            .to_owned()
    }
}

impl fmt::Display for CliError {
    /// `error: <message>` and, on the next line, `hint: <what to do>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs::{RunId, RunStatus};

    fn scope() -> Scope {
        Scope {
            schema: "jobs".into(),
            namespace: "default".into(),
        }
    }

    #[test]
    fn library_errors_map_to_their_documented_codes() {
        let id = RunId::new();
        let cases = [
            (
                Error::RunNotFound {
                    id,
                    namespace: "default".into(),
                },
                3,
            ),
            (
                Error::NotCancellable {
                    id,
                    status: RunStatus::Succeeded,
                },
                4,
            ),
            (
                Error::NotReplayable {
                    id,
                    status: RunStatus::Queued,
                },
                4,
            ),
            (
                Error::InvalidRunId {
                    input: "nope".into(),
                    reason: "a run id starts with `run_`".into(),
                },
                5,
            ),
            (Error::UnknownStatus { input: "x".into() }, 5),
            (Error::InvalidCursor { input: "x".into() }, 5),
            (Error::Config("invalid schema name".into()), 5),
            (Error::storage("list runs", "connection refused"), 1),
        ];
        for (error, code) in cases {
            let cli = CliError::from_jobs(error, &scope());
            assert_eq!(cli.kind().code(), code, "{cli}");
            assert!(cli.to_string().starts_with("error: "));
        }
    }

    #[test]
    fn the_help_lists_every_code() {
        for kind in [
            Kind::Failure,
            Kind::Usage,
            Kind::NotFound,
            Kind::Conflict,
            Kind::InvalidInput,
        ] {
            let line = format!("\n  {}  ", kind.code());
            assert!(EXIT_CODES_HELP.contains(&line), "{kind:?}");
        }
        let docs = include_str!("main.rs");
        for code in 0..=5 {
            assert!(
                docs.contains(&format!("//! | {code} ")),
                "crate docs lack {code}"
            );
        }
    }

    fn sqlite() -> Backend {
        Backend::Sqlite(Some(PathBuf::from("data/jobs.db")))
    }

    #[test]
    fn sqlite_errors_get_hints_about_the_file() {
        let hint = |error: Error| CliError::from_jobs_on(error, &scope(), &sqlite()).to_string();
        let locked = hint(Error::storage(
            "cancel run",
            "error returned from database: (code: 5) database is locked",
        ));
        assert!(
            locked.contains("write lock of `data/jobs.db`")
                && locked.contains("busy timeout (5 s)"),
            "{locked}"
        );
        let no_dir = hint(Error::storage(
            "open the SQLite file data/jobs.db",
            "the directory data does not exist; create it first",
        ));
        assert!(
            no_dir.contains("directory of the file must exist") && no_dir.contains("sqlite:///"),
            "{no_dir}"
        );
        let not_found = hint(Error::RunNotFound {
            id: RunId::new(),
            namespace: "default".into(),
        });
        assert!(not_found.contains("file `data/jobs.db`"), "{not_found}");
        assert!(!not_found.contains("schema"), "{not_found}");
        let bad_url = hint(Error::Config("invalid SQLite URL `sqlite::memory:`".into()));
        assert!(
            bad_url.contains("sqlite://jobs.db") && !bad_url.contains("--schema"),
            "{bad_url}"
        );
        for text in [locked, no_dir, bad_url] {
            assert!(!text.contains("PostgreSQL"), "{text}");
        }
    }

    #[test]
    fn sqlite_errors_keep_their_codes() {
        let code = |error: Error| CliError::from_jobs_on(error, &scope(), &sqlite()).kind();
        assert_eq!(
            code(Error::storage("list runs", "database is locked")),
            Kind::Failure
        );
        assert_eq!(
            code(Error::Config("invalid SQLite URL".into())),
            Kind::InvalidInput
        );
        assert_eq!(
            code(Error::NotCancellable {
                id: RunId::new(),
                status: RunStatus::Succeeded,
            }),
            Kind::Conflict
        );
        // A file of a newer version: the URL is right, the file cannot be used.
        let newer = Error::Config(
            "data/jobs.db has schema version 9, written by a newer jobs-sqlite".into(),
        );
        let cli = CliError::from_jobs_on(newer, &scope(), &sqlite());
        assert_eq!(cli.kind(), Kind::Failure);
        assert!(cli.to_string().contains("newer version"), "{cli}");
    }

    #[test]
    fn a_missing_table_suggests_migrating() {
        let error = Error::storage("list runs", "relation \"jobs.runs\" does not exist");
        let text = CliError::from_jobs(error, &scope()).to_string();
        assert!(text.contains("jobs migrate"), "{text}");
    }
}

//! What went wrong, as the operator sees it: an `error: ...` line, a hint saying what to
//! do, and a distinct exit code.

use std::fmt;
use std::process::ExitCode;

use jobs::Error;

/// The exit codes, as `jobs --help` lists them. Keep in step with [`Kind`] and the crate
/// docs in `main.rs`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  failure: the database or storage failed (connection refused, query failed...)
  2  usage error: bad arguments, or no database given (set DATABASE_URL)
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

    /// An error of the library, classified, with a hint naming `scope`.
    pub(crate) fn from_jobs(error: Error, scope: &Scope) -> Self {
        let kind = kind_of(&error);
        let hint = match &error {
            Error::RunNotFound { .. } => Some(format!(
                "check the id with `jobs runs list`; runs of another namespace need \
                 --namespace (this looked in `{}`, schema `{}`)",
                scope.namespace, scope.schema
            )),
            Error::NotCancellable { .. } => Some(
                "only scheduled, queued, running or retrying runs can be cancelled; \
                 a finished run can be replayed with `jobs runs replay ID --reason ...`"
                    .to_owned(),
            ),
            Error::NotReplayable { .. } => Some(
                "wait for the run to finish, or cancel it first with `jobs runs cancel ID`"
                    .to_owned(),
            ),
            Error::InvalidRunId { .. } => {
                Some("copy the id from `jobs runs list`: `run_` and 32 hex digits".to_owned())
            }
            Error::Config(_) => Some(
                "check DATABASE_URL (postgres://user:password@host:port/database) and \
                 --schema (a lowercase SQL identifier)"
                    .to_owned(),
            ),
            Error::Storage { .. } => Some(storage_hint(&error.to_string(), scope)),
            _ => None,
        };
        CliError {
            kind,
            message: error.to_string(),
            hint,
        }
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

    #[test]
    fn a_missing_table_suggests_migrating() {
        let error = Error::storage("list runs", "relation \"jobs.runs\" does not exist");
        let text = CliError::from_jobs(error, &scope()).to_string();
        assert!(text.contains("jobs migrate"), "{text}");
    }
}

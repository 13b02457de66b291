//! `jobs`: the operators' command-line tool for the `jobs` background-job framework.
//!
//! It reads and manages the runs that applications store in PostgreSQL through
//! `jobs-postgres`, or in a SQLite file through `jobs-sqlite`: list them, look at one and
//! its attempts, cancel, replay one or every dead letter of a task, see counts and
//! throughput, and apply the storage's migrations. It needs no task types: runs are read
//! and managed as stored.
//!
//! ```text
//! export DATABASE_URL=postgres://app@localhost/app
//! jobs migrate
//! jobs runs list --task deliver-webhook --status dead_lettered
//! jobs runs get run_0190a3b1c2d3e4f5a6b7c8d9e0f1a2b3
//! jobs runs attempts run_0190a3b1c2d3e4f5a6b7c8d9e0f1a2b3
//! jobs runs cancel run_0190a3b1c2d3e4f5a6b7c8d9e0f1a2b3
//! jobs runs replay run_0190a3b1c2d3e4f5a6b7c8d9e0f1a2b3 --reason "provider fixed"
//! jobs runs replay --task deliver-webhook --status dead_lettered --reason "provider fixed" --max 500
//! jobs stats --minutes 60
//! ```
//!
//! Every command takes `--database-url` (or `DATABASE_URL`), `--schema` (or
//! `JOBS_SCHEMA`, default `jobs`; PostgreSQL only), `--namespace` (or `JOBS_NAMESPACE`,
//! default `default`, as `Jobs::builder()`), and `--json`: the library's values as JSON
//! on stdout (`Run`, `Page`, a list of `Attempt`s, `ReplayReport`, `Stats`) and nothing
//! else there. Errors go to stderr as `error: ...`, with a `hint: ...` line saying what
//! to do.
//!
//! # SQLite
//!
//! The URL's scheme picks the storage: `postgres://` or `postgresql://` for PostgreSQL,
//! `sqlite:` for a SQLite file, named as `SqliteStorage::connect` takes it:
//! `sqlite://jobs.db` (relative to the current directory), `sqlite:///var/lib/app/jobs.db`
//! (absolute) or `sqlite:jobs.db`, without `?options`. Every command works on it, also
//! while the application's workers use the file.
//!
//! ```text
//! export DATABASE_URL=sqlite:///var/lib/app/jobs.db
//! jobs migrate      # creates the file if it is missing; its directory must exist
//! jobs runs list --status dead_lettered
//! ```
//!
//! - Only `jobs migrate` creates the file. Every other command first checks that the file
//!   exists, and fails (code 1) naming the path otherwise, so a mistyped path never
//!   leaves an empty database behind.
//! - Opening a file applies the migrations it lacks (as the application does when it
//!   opens it), so `jobs migrate` reports the file up to date, and says whether it
//!   created it (`"created"` in its JSON, which names the `"file"` instead of a schema).
//! - A file has no schemas: `--schema` on the command line is a usage error (code 2),
//!   and `JOBS_SCHEMA` in the environment is ignored.
//! - Every write (cancel, replay, and `migrate` when the file lacks migrations) waits up
//!   to 5 s for another process to release the file's write lock, then fails with
//!   "database is locked" (code 1). Reads never wait for it.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0 | success |
//! | 1 | failure: the database or storage failed (connection refused, query failed, SQLite file missing or locked...) |
//! | 2 | usage error: bad arguments (clap's own, or `--schema` with SQLite), or no database given (`DATABASE_URL` unset) |
//! | 3 | not found: no run with this id in this namespace |
//! | 4 | conflict: the run cannot be cancelled (it finished) or replayed (it has not) |
//! | 5 | invalid input: a bad run id, status, cursor, schema name or database URL (or its scheme) |

mod cli;
mod commands;
mod connect;
mod exit;
mod output;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use crate::exit::{CliError, Kind};

fn main() -> ExitCode {
    let cli = cli::Cli::from_args();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Kind::Failure, format!("could not start the runtime: {e}")))
        .and_then(|runtime| runtime.block_on(commands::run(cli)));
    match result {
        Ok(text) => write_stdout(&text),
        Err(error) => {
            // Nothing is left to tell if stderr is gone too.
            let _ = writeln!(std::io::stderr(), "{error}");
            error.exit_code()
        }
    }
}

/// Writes the command's output; a reader that went away (`| head`) is not an error.
fn write_stdout(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: could not write the output: {e}");
            ExitCode::from(Kind::Failure.code())
        }
    }
}

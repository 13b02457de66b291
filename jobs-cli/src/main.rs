//! `jobs`: the operators' command-line tool for the `jobs` background-job framework.
//!
//! It reads and manages the runs that applications store in PostgreSQL through
//! `jobs-postgres`: list them, look at one and its attempts, cancel, replay one or every
//! dead letter of a task, see counts and throughput, and apply the storage's migrations.
//! It needs no task types: runs are read and managed as stored.
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
//! `JOBS_SCHEMA`, default `jobs`), `--namespace` (or `JOBS_NAMESPACE`, default `default`,
//! as `Jobs::builder()`), and `--json`: the library's values as JSON on stdout (`Run`,
//! `Page`, a list of `Attempt`s, `ReplayReport`, `Stats`) and nothing else there.
//! Errors go to stderr as `error: ...`, with a `hint: ...` line saying what to do.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0 | success |
//! | 1 | failure: the database or storage failed (connection refused, query failed...) |
//! | 2 | usage error: bad arguments (clap's own), or no database given (`DATABASE_URL` unset) |
//! | 3 | not found: no run with this id in this namespace |
//! | 4 | conflict: the run cannot be cancelled (it finished) or replayed (it has not) |
//! | 5 | invalid input: a bad run id, status, cursor, schema name or database URL |

mod cli;
mod commands;
mod connect;
mod exit;
mod output;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::exit::{CliError, Kind};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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

//! One module per command. Each checks its inputs, connects, calls the library and
//! returns what to print on stdout.

mod migrate;
mod replay;
mod runs;
mod stats;

use jobs::{Cursor, RunId, RunStatus};

use crate::cli::{Cli, Command, RunsCommand};
use crate::connect;
use crate::exit::{CliError, Scope};
use crate::output::Output;

/// Runs the command `cli` names.
///
/// # Errors
///
/// Whatever went wrong, classified for its exit code.
pub(crate) async fn run(cli: Cli) -> Result<Output, CliError> {
    let global = &cli.global;
    match cli.command {
        Command::Migrate => migrate::migrate(global).await,
        Command::Runs(RunsCommand::List(args)) => runs::list(global, args).await,
        Command::Runs(RunsCommand::Get(args)) => runs::get(global, &args.id).await,
        Command::Runs(RunsCommand::Attempts(args)) => runs::attempts(global, &args.id).await,
        Command::Runs(RunsCommand::Cancel(args)) => runs::cancel(global, &args.id).await,
        Command::Runs(RunsCommand::Replay(args)) => replay::replay(global, args).await,
        Command::Stats(args) => stats::stats(global, args).await,
    }
}

/// A run id given on the command line.
fn parse_id(input: &str, scope: &Scope) -> Result<RunId, CliError> {
    input
        .trim()
        .parse()
        .map_err(|e| CliError::from_jobs(e, scope))
}

/// A status given on the command line.
fn parse_status(input: &str, scope: &Scope) -> Result<RunStatus, CliError> {
    input
        .trim()
        .parse()
        .map_err(|e| CliError::from_jobs(e, scope))
}

/// A cursor given on the command line.
fn parse_cursor(input: &str, scope: &Scope) -> Result<Cursor, CliError> {
    input
        .trim()
        .parse()
        .map_err(|e| CliError::from_jobs(e, scope))
}

/// The scope of the options, for errors raised before connecting.
fn scope(global: &crate::cli::Global) -> Scope {
    connect::scope(global)
}

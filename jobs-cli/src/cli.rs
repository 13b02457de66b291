//! The command line: options and subcommands, as clap parses them.
//!
//! Run ids, statuses and cursors are taken as text and parsed by the commands, so a bad
//! one exits with code 5 (invalid input) and the library's own message, not clap's 2.

use clap::parser::ValueSource;
use clap::{ArgGroup, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use jobs::JobsBuilder;
use jobs_postgres::PgStorage;

use crate::exit::EXIT_CODES_HELP;

/// Manage the runs of `jobs`, the background-job framework, in PostgreSQL or in a SQLite
/// file.
#[derive(Debug, Parser)]
#[command(name = "jobs", version, after_help = EXIT_CODES_HELP)]
pub(crate) struct Cli {
    /// Where to connect and how to print.
    #[command(flatten)]
    pub(crate) global: Global,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// The command line of the process. Exits as clap does (code 2, or 0 for `--help`)
    /// when it does not parse.
    pub(crate) fn from_args() -> Self {
        let matches = Cli::command().get_matches();
        Cli::from_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The command line `matches` holds, noting whether `--schema` was written on it
    /// (rather than taken from `JOBS_SCHEMA` or the default).
    ///
    /// # Errors
    ///
    /// Matches that do not fit the definitions (not for matches of [`Cli::command`]).
    pub(crate) fn from_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut cli = Cli::from_arg_matches(matches).map_err(|e| e.format(&mut Cli::command()))?;
        cli.global.schema_on_command_line =
            matches.value_source("schema") == Some(ValueSource::CommandLine);
        Ok(cli)
    }
}

/// Options every command accepts, before or after the command's name.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Database URL: postgres://user:password@host:port/database, or a SQLite file:
    /// sqlite://jobs.db (relative path) or sqlite:///var/lib/app/jobs.db (absolute path)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// The PostgreSQL schema holding the runs (not for SQLite: there --schema is refused
    /// and JOBS_SCHEMA ignored)
    #[arg(long, env = "JOBS_SCHEMA", global = true, default_value = PgStorage::DEFAULT_SCHEMA)]
    pub(crate) schema: String,
    /// Whether `--schema` was given on the command line (not by `JOBS_SCHEMA` or the
    /// default): a SQLite database refuses it.
    #[arg(skip)]
    pub(crate) schema_on_command_line: bool,
    /// The namespace of the runs (as given to `Jobs::builder().namespace(..)`)
    #[arg(long, env = "JOBS_NAMESPACE", global = true, default_value = JobsBuilder::DEFAULT_NAMESPACE)]
    pub(crate) namespace: String,
    /// Print JSON on stdout (the values as the library serializes them), nothing else
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the schema and apply the storage's migrations (safe to run again); for
    /// SQLite, create the file if it is missing
    Migrate,
    /// List, inspect, cancel and replay runs
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Runs per task and status, and runs finished per minute
    Stats(StatsArgs),
}

/// `jobs runs ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// Runs, newest first, a page at a time
    List(ListArgs),
    /// One run's fields and payload
    Get(IdArg),
    /// Every attempt of a run, oldest first
    Attempts(IdArg),
    /// Cancel a run that has not finished
    Cancel(IdArg),
    /// Enqueue a finished run again: one by id, or every run matching --status (and --task)
    Replay(ReplayArgs),
}

/// `jobs runs list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only runs of this task (its name, e.g. `notify-user`)
    #[arg(long)]
    pub(crate) task: Option<String>,
    /// Only runs with this status: scheduled, queued, running, retrying, succeeded,
    /// cancelled or dead_lettered
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Runs per page
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) limit: u32,
    /// Continue after a previous page: the cursor it printed
    #[arg(long)]
    pub(crate) cursor: Option<String>,
}

/// A run id argument.
#[derive(Debug, Args)]
pub(crate) struct IdArg {
    /// The run's id: `run_` and 32 hex digits
    pub(crate) id: String,
}

/// `jobs runs replay`: an id, or a filter with --status.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["id", "status"])))]
pub(crate) struct ReplayArgs {
    /// The run to replay (or give --status for a bulk replay instead)
    #[arg(conflicts_with_all = ["task", "status", "max"])]
    pub(crate) id: Option<String>,
    /// Bulk: replay runs with this final status (succeeded, cancelled or dead_lettered)
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Bulk: only runs of this task
    #[arg(long)]
    pub(crate) task: Option<String>,
    /// Bulk: replay at most this many runs, newest first [default: 1000]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) max: Option<u32>,
    /// Why: stored with every new run
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) reason: String,
}

/// `jobs stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Throughput over the last this many minutes (at most a day)
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub(crate) minutes: u32,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn replay_takes_an_id_or_a_filter_not_both() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied());
        assert!(parse(&["jobs", "runs", "replay", "run_x", "--reason", "r"]).is_ok());
        assert!(
            parse(&[
                "jobs",
                "runs",
                "replay",
                "--status",
                "dead_lettered",
                "--reason",
                "r"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "jobs",
                "runs",
                "replay",
                "run_x",
                "--status",
                "cancelled",
                "--reason",
                "r"
            ])
            .is_err()
        );
        assert!(parse(&["jobs", "runs", "replay", "--task", "t", "--reason", "r"]).is_err());
        assert!(parse(&["jobs", "runs", "replay", "run_x"]).is_err());
        assert!(parse(&["jobs", "runs", "replay", "run_x", "--reason", ""]).is_err());
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let cli = Cli::try_parse_from(["jobs", "runs", "list", "--json", "--schema", "s"]);
        assert!(cli.is_ok_and(|cli| cli.global.json && cli.global.schema == "s"));
    }

    #[test]
    fn a_schema_on_the_command_line_is_told_from_the_default() {
        let given = |args: &[&str]| {
            Cli::command()
                .try_get_matches_from(args.iter().copied())
                .and_then(|matches| Cli::from_matches(&matches))
                .map(|cli| (cli.global.schema_on_command_line, cli.global.schema))
                .ok()
        };
        assert_eq!(
            given(&["jobs", "runs", "list", "--schema", "s"]),
            Some((true, "s".to_owned()))
        );
        assert_eq!(
            given(&["jobs", "--schema", "s", "stats"]),
            Some((true, "s".to_owned()))
        );
        // The default, or JOBS_SCHEMA if the environment sets it.
        assert_eq!(
            given(&["jobs", "migrate"]).map(|(on_line, _)| on_line),
            Some(false)
        );
    }
}

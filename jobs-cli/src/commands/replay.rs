//! `jobs runs replay`: one run by id, or every finished run matching a filter.

use std::time::Duration;

use jobs::{Jobs, ListRuns, ReplayReport, RunStatus};

use super::{parse_id, parse_status, scope};
use crate::cli::{Global, ReplayArgs};
use crate::connect::Target;
use crate::exit::{CliError, Kind};
use crate::output::{self, Output};
use crate::progress::Progress;

/// Runs a bulk replay handles unless `--max` says otherwise.
const DEFAULT_MAX: u32 = 1000;

/// New run ids a human summary lists; more are only counted.
const LISTED_IDS: usize = 10;

/// Replays one run (an id) or many (`--status`, maybe `--task`). Clap has already made
/// sure exactly one of the two forms was given.
pub(super) async fn replay(global: &Global, args: ReplayArgs) -> Result<Output, CliError> {
    match (&args.id, &args.status) {
        (Some(id), None) => replay_one(global, id, &args.reason).await,
        (None, Some(status)) => replay_matching(global, &args, status).await,
        _ => Err(CliError::new(
            Kind::Usage,
            "give either a run id or --status (with --task and --max), not both",
        )
        .hint("`jobs runs replay ID --reason R` or `jobs runs replay --status dead_lettered --reason R`")),
    }
}

async fn replay_one(global: &Global, id: &str, reason: &str) -> Result<Output, CliError> {
    let id = parse_id(id, &scope(global))?;
    let target = Target::from_options(global)?;
    let run = target
        .with_jobs(|jobs| async move { jobs.runs().replay(&id, reason).await })
        .await?;
    if global.json {
        output::json(&run)
    } else {
        Ok(format!(
            "replayed {id} as {} (task {}, {})\n",
            run.id, run.task, run.status
        ))
    }
}

async fn replay_matching(
    global: &Global,
    args: &ReplayArgs,
    status: &str,
) -> Result<Output, CliError> {
    let status = parse_status(status, &scope(global))?;
    if !status.is_final() {
        return Err(CliError::new(
            Kind::InvalidInput,
            format!("runs that are {status} cannot be replayed: they have not finished"),
        )
        .hint("use --status dead_lettered, succeeded or cancelled"));
    }
    let max = usize::try_from(args.max.unwrap_or(DEFAULT_MAX)).unwrap_or(usize::MAX);
    let mut filter = ListRuns::new().status(status);
    if let Some(task) = &args.task {
        filter = filter.task_name(task.clone());
    }
    let target = Target::from_options(global)?;
    let mut progress = Progress::hidden();
    let bar = &mut progress;
    let result = target
        .with_jobs(|jobs| async move {
            if Progress::wanted() {
                *bar = Progress::new(expected(&jobs, args.task.as_deref(), status, max).await);
            }
            jobs.runs()
                .replay_matching_with_progress(&filter, &args.reason, max, |report| {
                    bar.update(report.replayed.len(), report.skipped);
                })
                .await
        })
        .await;
    progress.finish();
    let report = result?;
    if global.json {
        output::json(&report)
    } else {
        Ok(summary(&report, status))
    }
}

/// How many runs a bulk replay will look at, to size the progress bar: the matching
/// runs by the storage's counts, at most `max`. `None` when the storage cannot tell.
async fn expected(jobs: &Jobs, task: Option<&str>, status: RunStatus, max: usize) -> Option<u64> {
    let stats = jobs.runs().stats(Duration::from_secs(60)).await.ok()?;
    let matching: u64 = stats
        .counts
        .iter()
        .filter(|c| c.status == status && task.is_none_or(|t| t == c.task))
        .map(|c| c.count)
        .sum();
    Some(matching.min(u64::try_from(max).unwrap_or(u64::MAX)))
}

/// The closing line: replayed, skipped, and whether more matched.
fn summary(report: &ReplayReport, status: RunStatus) -> String {
    let mut text = format!(
        "replayed {} {status} run{}, skipped {} still active; {}\n",
        report.replayed.len(),
        if report.replayed.len() == 1 { "" } else { "s" },
        report.skipped,
        if report.more {
            "more runs matched than --max allowed: run the command again for the rest"
        } else {
            "no more runs matched"
        },
    );
    if !report.replayed.is_empty() && report.replayed.len() <= LISTED_IDS {
        text.push_str("new runs:\n");
        for id in &report.replayed {
            text.push_str(&format!("  {id}\n"));
        }
    }
    text
}

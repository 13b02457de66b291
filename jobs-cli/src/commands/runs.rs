//! `jobs runs list | get | attempts | cancel`.

use jobs::{Attempt, ListRuns, Page, Run};

use super::{parse_cursor, parse_id, parse_status, scope};
use crate::cli::{Global, ListArgs};
use crate::connect::Target;
use crate::exit::{CliError, Kind};
use crate::output::{self, Output};

/// How much of a run's last error a list shows.
const ERROR_WIDTH: usize = 60;

/// A page of runs, newest first.
pub(super) async fn list(global: &Global, args: ListArgs) -> Result<Output, CliError> {
    let scope = scope(global);
    let mut filter = ListRuns::new().limit(args.limit);
    if let Some(task) = args.task {
        filter = filter.task_name(task);
    }
    if let Some(status) = &args.status {
        filter = filter.status(parse_status(status, &scope)?);
    }
    if let Some(cursor) = &args.cursor {
        filter = filter.cursor(parse_cursor(cursor, &scope)?);
    }
    let target = Target::from_options(global)?;
    let page = target
        .with_jobs(|jobs| async move { jobs.runs().list(filter).await })
        .await?;
    if global.json {
        output::json(&page)
    } else {
        Ok(page_text(&page))
    }
}

/// One run, with its payload.
pub(super) async fn get(global: &Global, id: &str) -> Result<Output, CliError> {
    let id = parse_id(id, &scope(global))?;
    let target = Target::from_options(global)?;
    let run = target
        .with_jobs(|jobs| async move { jobs.runs().get(&id).await })
        .await?;
    let Some(run) = run else {
        return Err(target.error(jobs::Error::RunNotFound {
            id,
            namespace: target.scope().namespace.clone(),
        }));
    };
    if global.json {
        output::json(&run)
    } else {
        run_text(&run)
    }
}

/// Every attempt of a run.
pub(super) async fn attempts(global: &Global, id: &str) -> Result<Output, CliError> {
    let id = parse_id(id, &scope(global))?;
    let target = Target::from_options(global)?;
    let attempts = target
        .with_jobs(|jobs| async move { jobs.runs().attempts(&id).await })
        .await?;
    if global.json {
        output::json(&attempts)
    } else if attempts.is_empty() {
        Ok(format!("run {id} has made no attempt yet\n"))
    } else {
        Ok(attempts_table(&attempts))
    }
}

/// Cancels a run that has not finished.
pub(super) async fn cancel(global: &Global, id: &str) -> Result<Output, CliError> {
    let id = parse_id(id, &scope(global))?;
    let target = Target::from_options(global)?;
    let run = target
        .with_jobs(|jobs| async move { jobs.runs().cancel(&id).await })
        .await?;
    if global.json {
        output::json(&run)
    } else {
        Ok(format!(
            "run {} ({}) is now {}\n",
            run.id, run.task, run.status
        ))
    }
}

/// A page as a table, then the cursor of the next page if there is one.
fn page_text(page: &Page) -> String {
    if page.runs.is_empty() {
        return "no runs match\n".to_owned();
    }
    let rows: Vec<Vec<String>> = page
        .runs
        .iter()
        .map(|run| {
            vec![
                run.id.to_string(),
                run.task.clone(),
                run.status.to_string(),
                attempts_cell(run),
                output::time(run.created_at),
                output::maybe_time(run.finished_at),
                run.last_error
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |e| output::shorten(e, ERROR_WIDTH)),
            ]
        })
        .collect();
    let mut text = output::table(
        &[
            "ID",
            "TASK",
            "STATUS",
            "ATTEMPTS",
            "CREATED",
            "FINISHED",
            "LAST ERROR",
        ],
        &rows,
        &[],
    );
    if let Some(cursor) = &page.next_cursor {
        text.push_str(&format!("\nmore runs: next page with --cursor {cursor}\n"));
    }
    text
}

/// Attempts made, and the failed ones against the budget when any failed: `3 (1/3 failed)`.
fn attempts_cell(run: &Run) -> String {
    if run.failures == 0 {
        run.attempt.to_string()
    } else {
        format!(
            "{} ({}/{} failed)",
            run.attempt, run.failures, run.max_attempts
        )
    }
}

/// Attempts made, and what became of them: `4: failed 1 of 3 allowed, snoozed 2, handed
/// back 1` (snoozes and hand-backs only when there were some).
fn attempts_detail(run: &Run) -> String {
    let mut text = format!(
        "{}: failed {} of {} allowed",
        run.attempt, run.failures, run.max_attempts
    );
    if run.snoozes > 0 {
        text.push_str(&format!(", snoozed {}", run.snoozes));
    }
    if run.handbacks > 0 {
        text.push_str(&format!(", handed back {}", run.handbacks));
    }
    text
}

/// A run's fields, then its payload as pretty JSON.
fn run_text(run: &Run) -> Result<String, CliError> {
    let mut text = output::fields(&[
        ("id", run.id.to_string()),
        ("namespace", run.namespace.clone()),
        ("task", run.task.clone()),
        ("status", run.status.to_string()),
        ("attempts", attempts_detail(run)),
        ("priority", run.priority.to_string()),
        (
            "idempotency key",
            output::or_dash(run.idempotency_key.as_deref()),
        ),
        ("created", output::time(run.created_at)),
        ("run at", output::time(run.run_at)),
        ("started", output::maybe_time(run.started_at)),
        ("finished", output::maybe_time(run.finished_at)),
        ("last error", output::or_dash(run.last_error.as_deref())),
        (
            "replay of",
            run.replay_of
                .map_or_else(|| "-".to_owned(), |id| id.to_string()),
        ),
        (
            "replay reason",
            output::or_dash(run.replay_reason.as_deref()),
        ),
    ]);
    let payload = serde_json::to_string_pretty(&run.payload)
        .map_err(|e| CliError::new(Kind::Failure, format!("could not print the payload: {e}")))?;
    text.push_str("payload:\n");
    text.push_str(&payload);
    text.push('\n');
    Ok(text)
}

/// Attempts as a table.
fn attempts_table(attempts: &[Attempt]) -> String {
    let rows: Vec<Vec<String>> = attempts
        .iter()
        .map(|a| {
            vec![
                a.number.to_string(),
                a.outcome.to_string(),
                output::time(a.started_at),
                output::maybe_time(a.finished_at),
                a.finished_at.map_or_else(
                    || "-".to_owned(),
                    |end| output::duration(end - a.started_at),
                ),
                a.error
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |e| output::shorten(e, 80)),
            ]
        })
        .collect();
    output::table(
        &["#", "OUTCOME", "STARTED", "FINISHED", "DURATION", "ERROR"],
        &rows,
        &[0, 4],
    )
}

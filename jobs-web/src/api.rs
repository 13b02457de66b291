//! The JSON API: read runs and their attempts, cancel and replay them, enqueue by task
//! name, and the stats a dashboard shows. `openapi.json` describes every route.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jobs::{Attempt, Cursor, ListRuns, Page, ReplayReport, Run, RunId, RunStatus, Runs, Stats};
use serde::{Deserialize, Serialize};

use crate::Shared;
use crate::error::ApiError;

type Answer<T> = Result<T, ApiError>;

/// The query of `GET /runs`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    task: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /runs`: a page of runs, newest first.
pub(crate) async fn list_runs(
    State(shared): State<Shared>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Answer<Json<Page>> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut filter = ListRuns::new();
    if let Some(task) = nonempty(query.task) {
        filter = filter.task_name(task);
    }
    if let Some(status) = nonempty(query.status) {
        filter = filter.status(status.parse::<RunStatus>()?);
    }
    if let Some(limit) = query.limit {
        filter = filter.limit(limit);
    }
    if let Some(cursor) = nonempty(query.cursor) {
        filter = filter.cursor(cursor.parse::<Cursor>()?);
    }
    Ok(Json(shared.jobs.runs().list(filter).await?))
}

/// `GET /runs/{id}`.
pub(crate) async fn get_run(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Answer<Json<Run>> {
    let id: RunId = id.parse()?;
    match shared.jobs.runs().get(&id).await? {
        Some(run) => Ok(Json(run)),
        None => Err(run_not_found(id)),
    }
}

/// The attempts of a run, oldest first.
#[derive(Serialize)]
pub(crate) struct Attempts {
    attempts: Vec<Attempt>,
}

/// `GET /runs/{id}/attempts`.
pub(crate) async fn attempts(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Answer<Json<Attempts>> {
    let id: RunId = id.parse()?;
    let attempts = shared.jobs.runs().attempts(&id).await?;
    Ok(Json(Attempts { attempts }))
}

/// `POST /runs/{id}/cancel`.
pub(crate) async fn cancel(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Answer<Json<Run>> {
    let id: RunId = id.parse()?;
    Ok(Json(shared.jobs.runs().cancel(&id).await?))
}

/// The body of a replay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayBody {
    reason: String,
}

/// `POST /runs/{id}/replay`: a new queued run of a finished one; 201 with the new run.
pub(crate) async fn replay(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<ReplayBody>, JsonRejection>,
) -> Answer<(StatusCode, Json<Run>)> {
    let id: RunId = id.parse()?;
    let Json(body) = body.map_err(json_rejection)?;
    let reason = required_reason(body.reason)?;
    let run = shared.jobs.runs().replay(&id, reason).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// The body of a bulk replay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayMatchingBody {
    task: Option<String>,
    status: String,
    reason: String,
    max: Option<usize>,
}

/// What a bulk replay did.
#[derive(Serialize)]
pub(crate) struct ReplayMatchingAnswer {
    /// Runs replayed.
    replayed: usize,
    /// Matching runs that had not finished, left alone.
    skipped: usize,
    /// Whether more runs matched than `max`: call again for the rest.
    more: bool,
    /// The new runs.
    ids: Vec<RunId>,
}

/// `POST /runs/replay`: replays the finished runs of a status (and a task), newest
/// first, at most `max` (default and cap: the router's limit).
pub(crate) async fn replay_matching(
    State(shared): State<Shared>,
    body: Result<Json<ReplayMatchingBody>, JsonRejection>,
) -> Answer<Json<ReplayMatchingAnswer>> {
    let Json(body) = body.map_err(json_rejection)?;
    let status: RunStatus = body.status.parse()?;
    if !status.is_final() {
        return Err(ApiError::bad_request(format!(
            "status `{status}` is not a finished status: only succeeded, cancelled and dead_lettered runs can be replayed"
        )));
    }
    let reason = required_reason(body.reason)?;
    let mut filter = ListRuns::new().status(status);
    if let Some(task) = nonempty(body.task) {
        filter = filter.task_name(task);
    }
    let max = body.max.unwrap_or(shared.max_replay).min(shared.max_replay);
    let report: ReplayReport = shared
        .jobs
        .runs()
        .replay_matching(&filter, &reason, max)
        .await?;
    Ok(Json(ReplayMatchingAnswer {
        replayed: report.replayed.len(),
        skipped: report.skipped,
        more: report.more,
        ids: report.replayed,
    }))
}

/// The body of an enqueue by task name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnqueueBody {
    payload: serde_json::Value,
    idempotency_key: Option<String>,
    delay_seconds: Option<f64>,
    run_at: Option<DateTime<Utc>>,
    priority: Option<i16>,
}

/// What an enqueue answers.
#[derive(Serialize)]
pub(crate) struct EnqueueAnswer {
    /// `false` when the idempotency key was taken: `run` is the earlier run.
    created: bool,
    run: Run,
}

/// `POST /tasks/{name}/runs`: 201 with a new run, 200 with the run that already held the
/// idempotency key; 404 for an unknown task, 422 (naming the field) for a payload that
/// does not fit the task.
pub(crate) async fn enqueue(
    State(shared): State<Shared>,
    Path(task): Path<String>,
    body: Result<Json<EnqueueBody>, JsonRejection>,
) -> Answer<Response> {
    let Json(body) = body.map_err(json_rejection)?;
    let mut enqueue = shared.jobs.enqueue_json(&task, body.payload);
    match (body.delay_seconds, body.run_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give `delay_seconds` or `run_at`, not both",
            ));
        }
        (Some(seconds), None) => {
            let delay = Duration::try_from_secs_f64(seconds).map_err(|_| {
                ApiError::bad_request(format!(
                    "`delay_seconds` must be a number of seconds from 0 up, got {seconds}"
                ))
            })?;
            enqueue = enqueue.delay(delay);
        }
        (None, Some(at)) => enqueue = enqueue.run_at(at),
        (None, None) => {}
    }
    if let Some(key) = body.idempotency_key {
        enqueue = enqueue.idempotency_key(key);
    }
    if let Some(priority) = body.priority {
        enqueue = enqueue.priority(priority);
    }
    let enqueued = enqueue.await?;
    let status = if enqueued.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = EnqueueAnswer {
        created: enqueued.created,
        run: enqueued.run,
    };
    Ok((status, Json(answer)).into_response())
}

/// The tasks this binary has.
#[derive(Serialize)]
pub(crate) struct Tasks {
    tasks: Vec<TaskInfo>,
}

#[derive(Serialize)]
struct TaskInfo {
    name: String,
}

/// `GET /tasks`: the tasks linked into the serving binary, by name.
pub(crate) async fn tasks(State(shared): State<Shared>) -> Json<Tasks> {
    let tasks = shared
        .jobs
        .task_names()
        .into_iter()
        .map(|name| TaskInfo { name })
        .collect();
    Json(Tasks { tasks })
}

/// The query of `GET /stats`.
#[derive(Debug, Deserialize)]
pub(crate) struct StatsQuery {
    minutes: Option<u32>,
}

/// `GET /stats`: counts by task and status, and runs finished per minute over the last
/// `minutes` (default 15, at most a day).
pub(crate) async fn stats(
    State(shared): State<Shared>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Answer<Json<Stats>> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let minutes = query.minutes.unwrap_or(15).clamp(1, 24 * 60);
    let window = Duration::from_secs(u64::from(minutes) * 60);
    Ok(Json(shared.jobs.runs().stats(window).await?))
}

/// The most runs a bulk replay may replay when the router is not told otherwise.
pub(crate) const DEFAULT_MAX_REPLAY: usize = 1_000;

/// Upper bound for [`crate::WebBuilder::max_replay`].
pub(crate) const MAX_REPLAY: usize = Runs::MAX_REPLAY;

fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn required_reason(reason: String) -> Answer<String> {
    if reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "`reason` must say why the run is replayed",
        ));
    }
    Ok(reason)
}

fn run_not_found(id: RunId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "run_not_found",
        format!("run {id} not found"),
    )
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text())
}

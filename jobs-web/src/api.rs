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

/// The query of `GET /runs`. Numbers are read as text, to tell a value that is not a
/// number (400) from one out of bounds (422).
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    task: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /runs`: a page of runs, newest first.
pub(crate) async fn list_runs(
    State(shared): State<Shared>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Answer<Json<Page>> {
    let Query(query) = query.map_err(query_rejection)?;
    let limit = query_integer("limit", query.limit.as_deref(), LIMIT)?;
    let mut filter = ListRuns::new();
    if let Some(task) = nonempty(query.task) {
        filter = filter.task_name(task);
    }
    if let Some(status) = nonempty(query.status) {
        filter = filter.status(status.parse::<RunStatus>()?);
    }
    if let Some(limit) = limit {
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
    let Json(body) = body.map_err(|e| json_rejection(e, &shared))?;
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
    max: Option<serde_json::Number>,
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
    let Json(body) = body.map_err(|e| json_rejection(e, &shared))?;
    let max = match &body.max {
        // Above the router's limit is not an error: the limit caps it, and `more` says
        // that more runs matched.
        Some(max) => json_integer("max", max, 1, i64::MAX)?,
        None => i64::MAX,
    };
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
    let max = usize::try_from(max).map_or(shared.max_replay, |max| max.min(shared.max_replay));
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
    priority: Option<serde_json::Number>,
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
    let Json(body) = body.map_err(|e| json_rejection(e, &shared))?;
    let priority = match &body.priority {
        Some(priority) => Some(json_integer(
            "priority",
            priority,
            i64::from(i16::MIN),
            i64::from(i16::MAX),
        )?),
        None => None,
    };
    if !body.payload.is_object() {
        // A task's payload is the struct of its arguments, which serde would also read
        // from an array: only the object that enqueueing by type stores is taken.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            "`payload` must be a JSON object of the task's arguments",
        ));
    }
    let mut enqueue = shared.jobs.enqueue_json(&task, body.payload);
    match (body.delay_seconds, body.run_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give `delay_seconds` or `run_at`, not both",
            ));
        }
        (Some(seconds), None) => {
            let delay = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|delay| delay.as_secs_f64() <= MAX_DELAY_SECONDS)
                .ok_or_else(|| {
                    ApiError::invalid_input(
                        "delay_seconds",
                        format!(
                            "must be from 0 to {MAX_DELAY_SECONDS} seconds (100 years), got {seconds}"
                        ),
                    )
                })?;
            enqueue = enqueue.delay(delay);
        }
        (None, Some(at)) => enqueue = enqueue.run_at(at),
        (None, None) => {}
    }
    if let Some(key) = body.idempotency_key {
        enqueue = enqueue.idempotency_key(key);
    }
    if let Some(priority) = priority.and_then(|p| i16::try_from(p).ok()) {
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

/// The query of `GET /stats`, its number read as text (see [`ListQuery`]).
#[derive(Debug, Deserialize)]
pub(crate) struct StatsQuery {
    minutes: Option<String>,
}

/// `GET /stats`: counts by task and status, and runs finished per minute over the last
/// `minutes` (default 15, at most a day).
pub(crate) async fn stats(
    State(shared): State<Shared>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Answer<Json<Stats>> {
    let Query(query) = query.map_err(query_rejection)?;
    let minutes = query_integer("minutes", query.minutes.as_deref(), MINUTES)?.unwrap_or(15);
    let window = Duration::from_secs(u64::from(minutes) * 60);
    Ok(Json(shared.jobs.runs().stats(window).await?))
}

/// The bounds of `GET /runs?limit=`.
const LIMIT: (u32, u32) = (1, ListRuns::MAX_LIMIT);

/// The bounds of `GET /stats?minutes=`: a minute to a day.
const MINUTES: (u32, u32) = (1, 24 * 60);

/// The longest `delay_seconds` of an enqueue: 100 years (of 365.25 days), so that the
/// time it gives stays well within what every storage keeps.
const MAX_DELAY_SECONDS: f64 = 100.0 * 365.25 * 86_400.0;

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

/// A body the API cannot read: 413 over the body limit, 400 otherwise (not JSON, not
/// the JSON the route takes, no JSON content type).
fn json_rejection(rejection: JsonRejection, shared: &Shared) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::body_too_large(shared.body_limit);
    }
    ApiError::bad_request(rejection.body_text())
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text())
}

/// A whole number of a query parameter, within `(min, max)`: `None` when it is absent,
/// 400 when it is not a whole number (`many`, `1.5`, empty), 422 naming it when it is one
/// outside the bounds (`0`, `-5`, `99999999999999999999`).
fn query_integer(field: &str, raw: Option<&str>, (min, max): (u32, u32)) -> Answer<Option<u32>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let shown: String = raw.chars().take(40).collect();
        return Err(ApiError::bad_request(format!(
            "`{field}` must be a whole number from {min} to {max}, got `{shown}`"
        )));
    }
    match raw.parse::<i64>() {
        Ok(value) if (i64::from(min)..=i64::from(max)).contains(&value) => {
            Ok(u32::try_from(value).ok())
        }
        _ => Err(ApiError::invalid_input(
            field,
            format!("must be from {min} to {max}, got {raw}"),
        )),
    }
}

/// A whole number of a JSON body, within `min..=max`: 400 when it has a fraction, 422
/// naming it outside the bounds. `5.0` is 5, as JSON Schema counts it.
fn json_integer(field: &str, value: &serde_json::Number, min: i64, max: i64) -> Answer<i64> {
    let out_of_bounds = || {
        let bounds = if max == i64::MAX {
            format!("from {min} up")
        } else {
            format!("from {min} to {max}")
        };
        ApiError::invalid_input(field, format!("must be {bounds}, got {value}"))
    };
    let whole = if let Some(value) = value.as_i64() {
        value
    } else if value.as_u64().is_some() {
        return if max == i64::MAX {
            Ok(max)
        } else {
            Err(out_of_bounds())
        };
    } else {
        let float = value.as_f64().unwrap_or(f64::NAN);
        if !float.is_finite() || float.fract() != 0.0 {
            return Err(ApiError::bad_request(format!(
                "`{field}` must be a whole number, got {value}"
            )));
        }
        // Saturates outside i64, which the bounds then refuse (or cap, for `max`).
        #[allow(clippy::cast_possible_truncation)]
        let whole = float as i64;
        whole
    };
    if (min..=max).contains(&whole) {
        Ok(whole)
    } else {
        Err(out_of_bounds())
    }
}

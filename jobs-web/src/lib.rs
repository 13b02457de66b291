//! HTTP API and web dashboard for [`jobs`], as an axum [`Router`] to mount in any app.
//!
//! ```no_run
//! # async fn serve(jobs: jobs::Jobs) -> std::io::Result<()> {
//! let app = axum::Router::new().nest_service("/jobs", jobs_web::router(jobs));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Under the mount point (with `.nest_service("/jobs", ..)` the dashboard answers at both
//! `/jobs` and `/jobs/`; with `.nest("/jobs", ..)` at `/jobs` only, as axum never routes
//! the `/jobs/` of a nested router to it; the page finds the API relative to its own
//! address either way):
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the dashboard: counts, runs with filters and paging, a run's payload and attempts, cancel and replay buttons, a throughput chart |
//! | `GET /runs?task=&status=&limit=&cursor=` | a page of runs, newest first |
//! | `GET /runs/{id}`, `GET /runs/{id}/attempts` | one run; its attempts |
//! | `POST /runs/{id}/cancel` | cancels a run that has not finished |
//! | `POST /runs/{id}/replay` `{"reason": ".."}` | a new run from a finished one |
//! | `POST /runs/replay` `{"status": "dead_lettered", "task": .., "reason": .., "max": ..}` | replays every matching finished run, bounded |
//! | `POST /tasks/{name}/runs` `{"payload": .., "idempotency_key": .., "delay_seconds": .., "run_at": .., "priority": ..}` | enqueues by task name, the payload checked against the task's type |
//! | `GET /tasks` | the tasks this binary has |
//! | `GET /stats?minutes=15` | counts by task and status, runs finished per minute |
//! | `GET /openapi.json` | the OpenAPI 3.1 document of all of the above |
//!
//! Every error is JSON, `{"error": {"code": "run_not_found", "message": "...", "field":
//! null}}`, 405 and 404 included: 400 for a request that cannot be read, 422 with `field`
//! naming the parameter or payload field for a value out of bounds or a payload that does
//! not fit, 413 for a body over twice the payload limit plus 64 KiB. `openapi.json` lists
//! every status of every operation, and bounds (`limit` 1 to 1000, `minutes` 1 to 1440,
//! `max` from 1, `priority` an i16, `delay_seconds` 0 to 100 years).
//!
//! With [`WebBuilder::bearer_token`], every route answers 401 (with `WWW-Authenticate:
//! Bearer realm="jobs"`) unless the request carries the token, as `Authorization: Bearer
//! <token>` (the scheme in any case) or (for the dashboard in a browser) the `jobs_token`
//! cookie that the dashboard's sign-in form sets.

mod api;
mod auth;
mod dashboard;
mod error;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jobs::Jobs;

/// The router with every route and no token: see the crate docs.
pub fn router(jobs: Jobs) -> Router {
    builder(jobs).router()
}

/// Options for the router: a bearer token, the bulk-replay limit.
pub fn builder(jobs: Jobs) -> WebBuilder {
    WebBuilder {
        jobs,
        token: None,
        max_replay: api::DEFAULT_MAX_REPLAY,
    }
}

/// Builds the router; from [`builder`].
#[derive(Clone)]
#[must_use = "call `.router()` to get the router"]
pub struct WebBuilder {
    jobs: Jobs,
    token: Option<String>,
    max_replay: usize,
}

impl WebBuilder {
    /// Every route answers 401 unless the request carries this token (an empty token
    /// means none).
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// The most runs one `POST /runs/replay` replays (default 1,000; at most 10,000).
    pub fn max_replay(mut self, max: usize) -> Self {
        self.max_replay = max.clamp(1, api::MAX_REPLAY);
        self
    }

    /// The router, to `.nest(..)` or serve as it is.
    pub fn router(self) -> Router {
        let body_limit = body_limit(self.jobs.max_payload_bytes());
        let openapi = dashboard::served_openapi(&self.jobs.task_names(), self.token.is_some());
        let shared = Shared(Arc::new(Inner {
            jobs: self.jobs,
            max_replay: self.max_replay,
            body_limit,
            openapi,
        }));
        let routes = Router::new()
            .route("/", get(dashboard::page))
            .route("/openapi.json", get(dashboard::openapi))
            .route("/runs", get(api::list_runs))
            .route("/runs/replay", post(api::replay_matching))
            .route("/runs/{id}", get(api::get_run))
            .route("/runs/{id}/attempts", get(api::attempts))
            .route("/runs/{id}/cancel", post(api::cancel))
            .route("/runs/{id}/replay", post(api::replay))
            .route("/tasks", get(api::tasks))
            .route("/tasks/{name}/runs", post(api::enqueue))
            .route("/stats", get(api::stats))
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(api_fallback)
            .layer(axum::middleware::from_fn_with_state(
                body_limit,
                refuse_large_bodies,
            ))
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(shared);
        match self.token {
            Some(token) => routes.layer(axum::middleware::from_fn_with_state(
                auth::Token::new(token),
                auth::require,
            )),
            None => routes,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Shared(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) jobs: Jobs,
    pub(crate) max_replay: usize,
    /// The largest request body read: see [`body_limit`].
    pub(crate) body_limit: usize,
    /// `openapi.json` as this router serves it.
    pub(crate) openapi: String,
}

impl std::ops::Deref for Shared {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The largest request body the router reads: twice the largest payload `jobs` stores
/// (room for a pretty-printed one), and 64 KiB for the rest of the body. Past it, 413.
fn body_limit(max_payload_bytes: usize) -> usize {
    max_payload_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024)
}

/// Answers 413 at once to a request whose `Content-Length` is over the limit, whatever the
/// route (one without a length is cut off as it is read: [`DefaultBodyLimit`]).
async fn refuse_large_bodies(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if length.is_some_and(|length| length > limit as u64) {
        return error::ApiError::body_too_large(limit).into_response();
    }
    next.run(request).await
}

/// A route asked with a method it does not answer: 405 in the JSON shape (axum adds
/// `Allow`).
async fn method_not_allowed(method: Method, uri: Uri) -> error::ApiError {
    error::ApiError::method_not_allowed(method.as_str(), uri.path())
}

async fn api_fallback(uri: Uri) -> error::ApiError {
    error::ApiError::not_found(format!(
        "no route {}; see openapi.json for the routes",
        uri.path()
    ))
}

/// Every route and method, as `openapi.json` must describe them.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/openapi.json"),
    ("get", "/runs"),
    ("post", "/runs/replay"),
    ("get", "/runs/{id}"),
    ("get", "/runs/{id}/attempts"),
    ("post", "/runs/{id}/cancel"),
    ("post", "/runs/{id}/replay"),
    ("get", "/tasks"),
    ("post", "/tasks/{name}/runs"),
    ("get", "/stats"),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ROUTES;
    use crate::dashboard::OPENAPI;

    /// The OpenAPI document describes exactly the routes the router has.
    #[test]
    fn openapi_describes_every_route_and_no_other() {
        let doc: serde_json::Value = match serde_json::from_str(OPENAPI) {
            Ok(doc) => doc,
            Err(e) => panic!("openapi.json is not JSON: {e}"),
        };
        let mut described = BTreeSet::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
                    described.insert((method.clone(), path.clone()));
                }
            }
        }
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(described, routed);
    }

    /// What every operation can answer is in its responses: 401 (with the challenge
    /// header) and 413 everywhere, 400 wherever the request has input to get wrong.
    #[test]
    fn openapi_documents_the_answers_every_operation_can_give() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap_or_default();
        assert!(
            doc["components"]["responses"]["Unauthorized"]["headers"]["WWW-Authenticate"]
                ["required"]
                .as_bool()
                .unwrap_or(false)
        );
        for (method, path) in ROUTES {
            let operation = &doc["paths"][path][method];
            let responses = &operation["responses"];
            for status in ["401", "413"] {
                assert!(responses[status].is_object(), "{method} {path}: {status}");
            }
            let has_input =
                operation["parameters"].is_array() || operation["requestBody"].is_object();
            assert_eq!(
                responses["400"].is_object(),
                has_input,
                "{method} {path}: 400 exactly where there is input"
            );
        }
    }

    /// The document a router serves names its tasks and says whether it needs the token.
    #[test]
    fn the_served_openapi_names_the_tasks_and_the_token() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let served: serde_json::Value =
            serde_json::from_str(&crate::dashboard::served_openapi(&names, true))
                .unwrap_or_default();
        let name = &served["paths"]["/tasks/{name}/runs"]["post"]["parameters"][0];
        assert_eq!(name["name"], "name");
        assert_eq!(name["schema"]["examples"], serde_json::json!(["a", "b"]));
        assert_eq!(served["security"], serde_json::json!([{ "bearer": [] }]));
        let open: serde_json::Value =
            serde_json::from_str(&crate::dashboard::served_openapi(&names, false))
                .unwrap_or_default();
        assert_eq!(open["security"], serde_json::json!([]));
    }
}

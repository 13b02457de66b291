//! One-off jobs in a web app: `POST /signup` enqueues `notify-user` with the idempotency
//! key `welcome:{userId}` and answers `{"queued": true, "runId": "..."}`; `GET /runs/{id}`
//! answers the run as JSON. The worker runs in the same process, and the dashboard and
//! JSON API of `jobs-web` are mounted at `/jobs`.
//!
//! By default the example then drives itself: it signs the same user up twice (one run,
//! the same `runId` twice), reads the run until it has succeeded, shows the JSON errors for
//! a body that does not fit, a malformed run id and an unknown one, and exits. With `--serve` it keeps serving until
//! Ctrl-C, then stops the worker gracefully.
//!
//! In memory, or on PostgreSQL when `DATABASE_URL` is set:
//!
//! ```sh
//! cargo run --example signup
//! DATABASE_URL=postgres://localhost/app cargo run --example signup
//!
//! # or keep serving, and call it yourself:
//! PORT=3000 cargo run --example signup -- --serve
//! curl -s localhost:3000/signup -H 'content-type: application/json' \
//!     -d '{"userId": "user_123", "plan": "pro"}'
//! curl -s localhost:3000/runs/run_...
//! open http://localhost:3000/jobs       # the dashboard
//! ```

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jobs::{Jobs, Run, RunId, RunStatus, TaskError};
use serde::Deserialize;
use serde_json::{Value, json};

#[jobs::task(retry(
    attempts = 5,
    backoff = "exponential",
    initial_delay = "5s",
    max_delay = "300s"
))]
async fn notify_user(user_id: String, template: String, data: Value) -> Result<(), TaskError> {
    notifications::send(&user_id, &template, &data).await?;
    Ok(())
}

/// The body of `POST /signup`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signup {
    user_id: String,
    plan: String,
}

/// `POST /signup`: enqueue the welcome notification, once per user.
async fn signup(
    State(jobs): State<Jobs>,
    body: Result<Json<Signup>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let run = jobs
        .enqueue(NotifyUser {
            user_id: body.user_id.clone(),
            template: "welcome".into(),
            data: json!({ "plan": body.plan }),
        })
        .idempotency_key(format!("welcome:{}", body.user_id))
        .await?;
    Ok(Json(json!({ "queued": true, "runId": run.id() })))
}

/// `GET /runs/{id}`: the run as JSON.
async fn get_run(State(jobs): State<Jobs>, Path(id): Path<String>) -> Result<Json<Run>, ApiError> {
    let id: RunId = id.parse()?;
    match jobs.runs().get(&id).await? {
        Some(run) => Ok(Json(run)),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("run {id} not found"),
        )),
    }
}

/// An error answered as `{"error": "..."}` with its status.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<jobs::Error> for ApiError {
    fn from(error: jobs::Error) -> Self {
        let status = match &error {
            jobs::Error::InvalidRunId { .. }
            | jobs::Error::Payload { .. }
            | jobs::Error::PayloadTooLarge { .. } => StatusCode::BAD_REQUEST,
            jobs::Error::RunNotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError(rejection.status(), rejection.body_text())
    }
}

#[tokio::main]
async fn main() -> Result<(), examples::Report> {
    let serve = std::env::args().skip(1).any(|arg| arg == "--serve");

    let jobs = Jobs::builder()
        .name("background")
        .namespace("app")
        .storage(examples::system_storage("signup").await?)
        .build()?;
    let worker = jobs.worker().concurrency(16).start();

    let app = Router::new()
        .route("/signup", post(signup))
        .route("/runs/{id}", get(get_run))
        .with_state(jobs.clone())
        .nest_service("/jobs", jobs_web::router(jobs.clone()));
    let (listener, base) = examples::listen().await?;
    println!("listening on {base}");
    println!("the dashboard: {base}/jobs");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });

    if serve {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c().await?;
        println!("\nCtrl-C: stopping");
    } else {
        demo(&base).await?;
    }

    let _ = stop.send(());
    server.await??;
    let report = worker.shutdown().await;
    println!(
        "worker stopped: {} completed, {} handed back",
        examples::plural(report.completed as u64, "attempt"),
        report.handed_back
    );
    Ok(())
}

/// What a client of the app does: sign up twice, then read the run.
async fn demo(base: &str) -> Result<(), examples::BoxError> {
    let http = reqwest::Client::new();
    let body = json!({ "userId": "user_123", "plan": "pro" });

    let mut run_ids = Vec::new();
    for _ in 0..2 {
        let response = http
            .post(format!("{base}/signup"))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        println!("POST /signup {body} -> {status} {answer}");
        run_ids.push(answer["runId"].as_str().unwrap_or_default().to_owned());
    }
    if run_ids[0] != run_ids[1] {
        return Err(format!("two signups made two runs: {run_ids:?}").into());
    }
    println!("the second signup returned the same runId: {}", run_ids[0]);

    // The worker picks the run up at once; read it until it has succeeded.
    let url = format!("{base}/runs/{}", run_ids[0]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (status, run) = loop {
        let response = http.get(&url).send().await?.error_for_status()?;
        let status = response.status();
        let run: Run = response.json().await?;
        if run.status == RunStatus::Succeeded || tokio::time::Instant::now() > deadline {
            break (status, run);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "GET /runs/{} -> {status} {}",
        run.id,
        serde_json::to_string_pretty(&run)?
    );
    if run.status != RunStatus::Succeeded {
        return Err(format!("run {} is still {}", run.id, run.status).into());
    }

    // Errors are JSON too: a body that does not fit, a malformed id, an unknown id.
    let bad = json!({ "userId": 123 });
    let response = http
        .post(format!("{base}/signup"))
        .json(&bad)
        .send()
        .await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    println!("POST /signup {bad} -> {status} {answer}");
    for id in ["run_123".to_owned(), RunId::new().to_string()] {
        let response = http.get(format!("{base}/runs/{id}")).send().await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        println!("GET /runs/{id} -> {status} {answer}");
    }

    // The dashboard's API, mounted at /jobs: the counts it shows.
    let stats: Value = http
        .get(format!("{base}/jobs/stats"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let counts: Vec<String> = stats["counts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {}: {}", c["task"], c["status"], c["count"]))
        .collect();
    println!("GET /jobs/stats -> {}", counts.join(", "));
    let page = http.get(format!("{base}/jobs")).send().await?;
    println!(
        "GET /jobs -> {} (the dashboard, {})",
        page.status(),
        page.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
    );
    Ok(())
}

/// The application's notification service (here: a line on stdout).
mod notifications {
    /// Sends `template` to `user_id`.
    pub(crate) async fn send(
        user_id: &str,
        template: &str,
        data: &serde_json::Value,
    ) -> Result<(), std::io::Error> {
        println!("  [notifications] `{template}` to {user_id} with {data}");
        Ok(())
    }
}

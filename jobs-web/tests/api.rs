//! The JSON API through the router, on the memory storage: every route, its errors, and
//! the bearer token.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http::{call, call_with};
use http_body_util::BodyExt;
use jobs::{Jobs, MemoryStorage, RunStatus, TaskError};
use serde_json::{Value, json};
use tower::ServiceExt;

#[jobs::task(name = "web-send-email", retry(attempts = 4))]
async fn send_email(to: String, retries_left: u8) {
    let _ = (to, retries_left);
}

#[jobs::task(name = "web-always-fails")]
async fn always_fails() -> Result<(), TaskError> {
    Err(TaskError::permanent("the provider said no"))
}

fn jobs() -> Jobs {
    Jobs::builder()
        .namespace("web")
        .storage(MemoryStorage::new())
        .build()
        .unwrap()
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

#[tokio::test]
async fn enqueue_by_name_checks_the_payload_against_the_task() {
    let jobs = jobs();
    let app = jobs_web::router(jobs.clone());

    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "a@example.com", "retries_left": 2 }, "idempotency_key": "k1" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"], true);
    assert_eq!(body["run"]["task"], "web-send-email");
    assert_eq!(body["run"]["max_attempts"], 4);
    let id = body["run"]["id"].as_str().unwrap().to_owned();

    // The same key: the same run, 200, created false.
    let (status, again) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "a@example.com", "retries_left": 2 }, "idempotency_key": "k1" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["created"].clone(), again["run"]["id"].clone()),
        (json!(false), json!(id))
    );

    // A field of the wrong type: 422 naming it.
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "a@example.com", "retries_left": "two" } })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_payload");
    assert_eq!(body["error"]["field"], "retries_left");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retries_left"),
        "{body}"
    );

    // A missing field: 422 naming it too.
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "a@example.com" } })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "retries_left");

    // An unknown task: 404.
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/no-such-task/runs",
        Some(json!({ "payload": {} })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_code(&body), "task_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web-send-email")
    );

    // Delays and absolute times; not both.
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "b", "retries_left": 0 }, "delay_seconds": 3600 })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["run"]["status"], "scheduled");
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "c", "retries_left": 0 }, "run_at": "2100-01-01T00:00:00Z" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["run"]["run_at"], "2100-01-01T00:00:00Z");
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "d", "retries_left": 0 }, "run_at": "2100-01-01T00:00:00Z", "delay_seconds": 1 })),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({ "payload": { "to": "d", "retries_left": 0 }, "delay_seconds": -5 })),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );

    // Bad JSON, unknown fields and a missing payload answer JSON errors too.
    for bad in [
        json!({ "payload": {}, "extra": 1 }),
        json!({ "idempotency_key": "x" }),
        json!([1]),
    ] {
        let (status, body) = call(&app, "POST", "/tasks/web-send-email/runs", Some(bad)).await;
        assert!(status.is_client_error(), "{status} {body}");
        assert_eq!(error_code(&body), "bad_request", "{body}");
    }
    let stored = jobs.runs().list(jobs::ListRuns::new()).await.unwrap();
    assert_eq!(
        stored.runs.len(),
        3,
        "only the three good enqueues stored runs"
    );
}

#[tokio::test]
async fn runs_are_read_listed_cancelled_and_replayed() {
    let jobs = jobs();
    let app = jobs_web::router(jobs.clone());
    let failed = jobs.enqueue(AlwaysFails {}).await.unwrap().id();
    jobs.drain().await.unwrap();
    let queued = jobs
        .enqueue(SendEmail {
            to: "x".into(),
            retries_left: 1,
        })
        .await
        .unwrap()
        .id();

    let (status, run) = call(&app, "GET", &format!("/runs/{failed}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run["status"], "dead_lettered");
    assert_eq!(run["last_error"], "the provider said no");

    let (status, attempts) = call(&app, "GET", &format!("/runs/{failed}/attempts"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attempts["attempts"][0]["outcome"], "failed");
    assert_eq!(attempts["attempts"][0]["error"], "the provider said no");

    let (status, page) = call(&app, "GET", "/runs?status=dead_lettered", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["runs"].as_array().unwrap().len(), 1);
    let (_, page) = call(&app, "GET", "/runs?limit=1", None).await;
    assert_eq!(page["runs"][0]["id"], json!(queued.to_string()));
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, next) = call(&app, "GET", &format!("/runs?limit=1&cursor={cursor}"), None).await;
    assert_eq!(next["runs"][0]["id"], json!(failed.to_string()));
    assert_eq!(next["next_cursor"], Value::Null);
    let (_, by_task) = call(&app, "GET", "/runs?task=web-send-email", None).await;
    assert_eq!(by_task["runs"].as_array().unwrap().len(), 1);

    // Replay needs a reason, and a finished run.
    let (status, body) = call(
        &app,
        "POST",
        &format!("/runs/{failed}/replay"),
        Some(json!({ "reason": " " })),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let (status, body) = call(
        &app,
        "POST",
        &format!("/runs/{queued}/replay"),
        Some(json!({ "reason": "again" })),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "not_replayable")
    );
    let (status, replay) = call(
        &app,
        "POST",
        &format!("/runs/{failed}/replay"),
        Some(json!({ "reason": "provider fixed" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{replay}");
    assert_eq!(replay["replay_of"], json!(failed.to_string()));
    assert_eq!(replay["status"], "queued");

    // Cancel once; the second time the run has finished.
    let (status, cancelled) = call(&app, "POST", &format!("/runs/{queued}/cancel"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    let (status, body) = call(&app, "POST", &format!("/runs/{queued}/cancel"), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "not_cancellable")
    );

    // Bad ids, unknown runs, bad filters.
    let (status, body) = call(&app, "GET", "/runs/not-an-id", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_run_id")
    );
    let unknown = jobs::RunId::new();
    for (method, uri) in [
        ("GET", format!("/runs/{unknown}")),
        ("GET", format!("/runs/{unknown}/attempts")),
        ("POST", format!("/runs/{unknown}/cancel")),
    ] {
        let (status, body) = call(&app, method, &uri, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "run_not_found"),
            "{uri}"
        );
    }
    let (status, body) = call(&app, "GET", "/runs?status=sleeping", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_status")
    );
    let (status, body) = call(&app, "GET", "/runs?cursor=nonsense", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_cursor")
    );
    let (status, body) = call(&app, "GET", "/runs?limit=many", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let (status, body) = call(&app, "GET", "/nowhere", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn dead_letters_are_replayed_in_bulk_up_to_the_limit() {
    let jobs = jobs();
    let app = jobs_web::builder(jobs.clone()).max_replay(3).router();
    for _ in 0..5 {
        jobs.enqueue(AlwaysFails {}).await.unwrap();
    }
    jobs.drain().await.unwrap();

    let (status, body) = call(
        &app,
        "POST",
        "/runs/replay",
        Some(json!({ "status": "queued", "reason": "r" })),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );

    let (status, report) = call(
        &app,
        "POST",
        "/runs/replay",
        Some(json!({ "status": "dead_lettered", "task": "web-always-fails", "reason": "provider fixed", "max": 100 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["replayed"], 3, "the router's limit caps `max`");
    assert_eq!(report["more"], true);
    assert_eq!(report["ids"].as_array().unwrap().len(), 3);
    let queued = jobs
        .runs()
        .list(jobs::ListRuns::new().status(RunStatus::Queued))
        .await
        .unwrap();
    assert_eq!(queued.runs.len(), 3);
}

#[tokio::test]
async fn stats_and_tasks_describe_the_namespace() {
    let jobs = jobs();
    let app = jobs_web::router(jobs.clone());
    jobs.enqueue(AlwaysFails {}).await.unwrap();
    jobs.enqueue(SendEmail {
        to: "x".into(),
        retries_left: 0,
    })
    .await
    .unwrap();
    jobs.drain().await.unwrap();
    jobs.enqueue(SendEmail {
        to: "y".into(),
        retries_left: 0,
    })
    .await
    .unwrap();

    let (status, stats) = call(&app, "GET", "/stats?minutes=5", None).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let counts = stats["counts"].as_array().unwrap();
    let count = |task: &str, status: &str| {
        counts
            .iter()
            .find(|c| c["task"] == task && c["status"] == status)
            .map_or(0, |c| c["count"].as_u64().unwrap())
    };
    assert_eq!(count("web-always-fails", "dead_lettered"), 1);
    assert_eq!(count("web-send-email", "succeeded"), 1);
    assert_eq!(count("web-send-email", "queued"), 1);
    let minutes = stats["throughput"].as_array().unwrap();
    assert_eq!(minutes.len(), 5);
    assert_eq!(minutes[4]["succeeded"], 1);
    assert_eq!(minutes[4]["dead_lettered"], 1);

    let (_, tasks) = call(&app, "GET", "/tasks", None).await;
    let names: Vec<&str> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"web-send-email") && names.contains(&"web-always-fails"),
        "{names:?}"
    );
}

#[tokio::test]
async fn with_a_token_every_route_answers_401_without_it() {
    let jobs = jobs();
    let app = jobs_web::builder(jobs.clone())
        .bearer_token("s3cret")
        .router();
    let id = jobs::RunId::new();
    let routes = [
        ("GET", "/".to_owned()),
        ("GET", "/openapi.json".to_owned()),
        ("GET", "/runs".to_owned()),
        ("POST", "/runs/replay".to_owned()),
        ("GET", format!("/runs/{id}")),
        ("GET", format!("/runs/{id}/attempts")),
        ("POST", format!("/runs/{id}/cancel")),
        ("POST", format!("/runs/{id}/replay")),
        ("GET", "/tasks".to_owned()),
        ("POST", "/tasks/web-send-email/runs".to_owned()),
        ("GET", "/stats".to_owned()),
        ("GET", "/nowhere".to_owned()),
    ];
    for (method, uri) in &routes {
        let (status, body) = call_with(&app, method, uri, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(error_code(&body), "unauthorized", "{method} {uri}");
        let (status, _) = call_with(&app, method, uri, None, Some("wrong")).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} with a wrong token"
        );
    }
    let (status, _) = call_with(&app, "GET", "/runs", None, Some("s3cret")).await;
    assert_eq!(status, StatusCode::OK);

    // A browser asking for the page gets the sign-in form; the cookie it sets is accepted.
    let request = Request::get("/")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&html).contains("jobs_token"));
    let request = Request::get("/runs")
        .header(header::COOKIE, "jobs_token=s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_as_json() {
    let app = jobs_web::router(jobs());
    let (status, doc) = call(&app, "GET", "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/tasks/{name}/runs"]["post"].is_object());
}

/// Sends raw bytes; answers the status, the headers and the JSON body.
async fn send(app: &Router, request: Request<Body>) -> (StatusCode, header::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, json)
}

/// Whether `body` is `{"error": {"code", "message", "field"}}` with this code.
fn is_error_shape(body: &Value, code: &str) -> bool {
    let error = &body["error"];
    body.as_object().is_some_and(|o| o.len() == 1)
        && error["code"] == code
        && error["message"].as_str().is_some_and(|m| !m.is_empty())
        && (error["field"].is_null() || error["field"].is_string())
        && error.as_object().is_some_and(|o| o.len() == 3)
}

#[tokio::test]
async fn too_large_bodies_answer_413_as_json() {
    let app = jobs_web::router(jobs());
    let body_of = |size: usize| {
        let payload = json!({ "to": "x".repeat(size), "retries_left": 1 });
        json!({ "payload": payload }).to_string()
    };
    // With its Content-Length, as an HTTP client sends it.
    let post = |uri: &str, body: String| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap()
    };

    // A payload just over the jobs payload limit (1 MiB), in a body the router reads.
    let (status, _, body) = send(&app, post("/tasks/web-send-email/runs", body_of(1 << 20))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(is_error_shape(&body, "payload_too_large"), "{body}");

    // Bodies over the router's body limit, whatever the route.
    let id = jobs::RunId::new();
    for uri in [
        "/tasks/web-send-email/runs".to_owned(),
        "/runs/replay".to_owned(),
        format!("/runs/{id}/replay"),
        format!("/runs/{id}/cancel"),
    ] {
        let (status, _, body) = send(&app, post(&uri, body_of(3 << 20))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}: {body}");
        assert!(is_error_shape(&body, "payload_too_large"), "{uri}: {body}");
    }

    // Without a Content-Length (a streamed body), the limit holds as the body is read.
    let chunks =
        futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(bytes_of(1 << 20))));
    let streamed = Request::post("/tasks/web-send-email/runs")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(chunks))
        .unwrap();
    let (status, _, body) = send(&app, streamed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(is_error_shape(&body, "payload_too_large"), "{body}");
}

fn bytes_of(size: usize) -> axum::body::Bytes {
    axum::body::Bytes::from(vec![b' '; size])
}

#[tokio::test]
async fn every_error_is_json_405_included() {
    let jobs = jobs();
    let id = jobs::RunId::new();
    let plain = jobs_web::router(jobs.clone());
    let nested = Router::new().nest("/jobs", jobs_web::router(jobs.clone()));
    let with_token = jobs_web::builder(jobs.clone())
        .bearer_token("s3cret")
        .router();

    for (app, prefix) in [(&plain, ""), (&nested, "/jobs")] {
        // Routes asked with a method they do not answer: 405, JSON, and `Allow`.
        for (method, path, allow) in [
            ("DELETE", format!("/runs/{id}"), "GET,HEAD"),
            ("PUT", "/tasks/x/runs".to_owned(), "POST"),
            ("GET", "/runs/replay".to_owned(), "POST"),
            ("POST", "/stats".to_owned(), "GET,HEAD"),
            ("PATCH", String::new(), "GET,HEAD"),
        ] {
            let uri = match format!("{prefix}{path}") {
                root if root.is_empty() => "/".to_owned(),
                uri => uri,
            };
            let request = Request::builder()
                .method(method)
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let (status, headers, body) = send(app, request).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            assert_eq!(headers[header::ALLOW], allow, "{method} {uri}");
            assert!(
                is_error_shape(&body, "method_not_allowed"),
                "{method} {uri}: {body}"
            );
        }

        // Unknown paths under the router: 404, JSON.
        for path in ["/nowhere", "/runs/x/y/z", "/tasks/x"] {
            let uri = format!("{prefix}{path}");
            let (status, headers, body) =
                send(app, Request::get(&uri).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
            assert!(is_error_shape(&body, "not_found"), "{uri}: {body}");
        }

        // Bodies and queries the API cannot read: 400, JSON.
        let replay = format!("{prefix}/runs/{id}/replay");
        for (content_type, bad) in [
            (Some("application/json"), "{not json"),
            (Some("application/json"), ""),
            (Some("application/json"), "{\"reason\": 5}"),
            (Some("text/plain"), "{\"reason\": \"r\"}"),
            (None, "{\"reason\": \"r\"}"),
        ] {
            let mut request = Request::post(&replay);
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let (status, headers, body) = send(app, request.body(Body::from(bad)).unwrap()).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{content_type:?} {bad:?}: {body}"
            );
            assert_eq!(headers[header::CONTENT_TYPE], "application/json");
            assert!(
                is_error_shape(&body, "bad_request"),
                "{content_type:?} {bad:?}: {body}"
            );
        }
        for query in [
            "limit=many",
            "limit=1.5",
            "limit=",
            "status=sleeping",
            "cursor=x",
        ] {
            let uri = format!("{prefix}/runs?{query}");
            let (status, _, body) =
                send(app, Request::get(&uri).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(
                body["error"]["code"].is_string() && body["error"]["message"].is_string(),
                "{uri}: {body}"
            );
        }
        let uri = format!("{prefix}/stats?minutes=soon");
        let (status, _, body) = send(app, Request::get(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(is_error_shape(&body, "bad_request"), "{uri}: {body}");
    }

    // With a token, the 405 comes once the token is given, and in the same shape.
    let request = Request::delete(format!("/runs/{id}"))
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&with_token, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET,HEAD");
    assert!(is_error_shape(&body, "method_not_allowed"), "{body}");
}

#[tokio::test]
async fn out_of_range_values_are_refused_with_422_naming_them() {
    let jobs = jobs();
    let app = jobs_web::router(jobs.clone());
    jobs.enqueue(AlwaysFails {}).await.unwrap();
    jobs.drain().await.unwrap();

    for (uri, field) in [
        ("/runs?limit=0", "limit"),
        ("/runs?limit=1001", "limit"),
        ("/runs?limit=-1", "limit"),
        ("/runs?limit=99999999999999999999999", "limit"),
        ("/stats?minutes=0", "minutes"),
        ("/stats?minutes=1441", "minutes"),
        ("/stats?minutes=-5", "minutes"),
    ] {
        let (status, body) = call(&app, "GET", uri, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {body}");
        assert!(is_error_shape(&body, "invalid_input"), "{uri}: {body}");
        assert_eq!(body["error"]["field"], field, "{uri}");
    }
    // The bounds themselves are fine.
    for uri in [
        "/runs?limit=1",
        "/runs?limit=1000",
        "/stats?minutes=1",
        "/stats?minutes=1440",
    ] {
        let (status, body) = call(&app, "GET", uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }

    for (max, field) in [(json!(0), "max"), (json!(-1), "max")] {
        let (status, body) = call(
            &app,
            "POST",
            "/runs/replay",
            Some(json!({ "status": "dead_lettered", "reason": "r", "max": max })),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "max {max}: {body}"
        );
        assert!(is_error_shape(&body, "invalid_input"), "{body}");
        assert_eq!(body["error"]["field"], field);
    }
    assert_eq!(
        jobs.runs()
            .list(jobs::ListRuns::new().status(RunStatus::Queued))
            .await
            .unwrap()
            .runs
            .len(),
        0,
        "a refused bulk replay replays nothing"
    );

    let payload = json!({ "to": "a", "retries_left": 1 });
    for (extra, field) in [
        (json!({ "delay_seconds": -5 }), "delay_seconds"),
        (
            json!({ "delay_seconds": 3_155_760_001_u64 }),
            "delay_seconds",
        ),
        (json!({ "delay_seconds": 1e300 }), "delay_seconds"),
        (json!({ "priority": 32768 }), "priority"),
        (json!({ "priority": -32769 }), "priority"),
    ] {
        let mut body = extra.clone();
        body["payload"] = payload.clone();
        let (status, answer) = call(&app, "POST", "/tasks/web-send-email/runs", Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{extra}: {answer}"
        );
        assert!(is_error_shape(&answer, "invalid_input"), "{answer}");
        assert_eq!(answer["error"]["field"], field, "{extra}");
    }
}

#[tokio::test]
async fn the_dashboard_answers_at_the_mount_point_with_and_without_its_slash() {
    let jobs = jobs();
    // As the README mounts it: `/jobs` and `/jobs/` are the dashboard, the API beside.
    let app = Router::new().nest_service("/jobs", jobs_web::router(jobs.clone()));
    for uri in ["/jobs", "/jobs/"] {
        let (status, headers, body) =
            send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{uri}"
        );
        assert!(body.as_str().unwrap().contains("<html"), "{uri}");
    }
    for uri in [
        "/jobs/runs",
        "/jobs/stats",
        "/jobs/tasks",
        "/jobs/openapi.json",
    ] {
        let (status, _, body) = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    let (status, _, body) = send(
        &app,
        Request::get("/jobs/nowhere").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(is_error_shape(&body, "not_found"), "{body}");
    // `.nest` serves `/jobs` too (axum routes `/jobs/` of a nested router nowhere).
    let nested = Router::new().nest("/jobs", jobs_web::router(jobs));
    let (status, _, _) = send(&nested, Request::get("/jobs").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_401_says_how_to_authenticate_and_the_scheme_is_case_insensitive() {
    let app = jobs_web::builder(jobs()).bearer_token("s3cret").router();
    let get = |authorization: Option<&str>, accept: Option<&str>| {
        let mut request = Request::get("/runs");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        if let Some(value) = accept {
            request = request.header(header::ACCEPT, value);
        }
        request.body(Body::empty()).unwrap()
    };
    for (authorization, accept) in [
        (None, None),
        (Some("Bearer wrong"), None),
        (Some("Basic czNjcmV0"), None),
        (None, Some("text/html")),
    ] {
        let (status, headers, _) = send(&app, get(authorization, accept)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.to_ascii_lowercase().starts_with("bearer"),
            "{authorization:?} {accept:?}: {challenge}"
        );
    }
    for authorization in [
        "Bearer s3cret",
        "bearer s3cret",
        "BEARER s3cret",
        "bEaReR  s3cret",
    ] {
        let (status, _, body) = send(&app, get(Some(authorization), None)).await;
        assert_eq!(status, StatusCode::OK, "{authorization}: {body}");
    }
}

#[tokio::test]
async fn a_payload_is_an_object_and_null_options_mean_left_out() {
    let jobs = jobs();
    let app = jobs_web::router(jobs.clone());

    // serde would read the struct of a task's arguments from an array too: only the
    // object that enqueueing by type stores is taken.
    for payload in [json!(["a@example.com", 1]), json!(null), json!("x")] {
        let (status, body) = call(
            &app,
            "POST",
            "/tasks/web-send-email/runs",
            Some(json!({ "payload": payload })),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{payload}: {body}"
        );
        assert!(is_error_shape(&body, "invalid_payload"), "{body}");
    }

    // Optional fields given as null are as if left out, as openapi.json says.
    let (status, body) = call(
        &app,
        "POST",
        "/tasks/web-send-email/runs",
        Some(json!({
            "payload": { "to": "a", "retries_left": 1 },
            "idempotency_key": null, "delay_seconds": null, "run_at": null, "priority": null,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call(
        &app,
        "POST",
        "/runs/replay",
        Some(json!({ "status": "dead_lettered", "reason": "r", "task": null, "max": null })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = jobs.runs().list(jobs::ListRuns::new()).await.unwrap();
    assert_eq!(stored.runs.len(), 1, "only the good enqueue stored a run");
}

//! Webhook delivery: an `invoice.paid` event is delivered to three endpoints, each
//! delivery a run of `deliver-webhook`, posting JSON over HTTP with the brief's retry
//! cadence (8 attempts; 10s, 30s, 2m, 5m, 15m, 1h, 6h between them).
//!
//! The endpoints are real HTTP servers on 127.0.0.1, served by this example:
//!
//! - `ep_flaky` answers 500 twice, then 200: the delivery is retried, then succeeds;
//! - `ep_gone` answers 410 Gone: the handler disables the endpoint, and the run succeeds;
//! - `ep_down` answers 503 until it recovers: the delivery is dead-lettered after 8
//!   attempts. Then the dead letters are listed and replayed, and succeed;
//! - `ep_busy` answers 429 Too Many Requests with `Retry-After: 90` once: the handler
//!   snoozes the run for the 90 s the endpoint asked for, which uses none of its 8
//!   attempts, and the next delivery succeeds.
//!
//! Every request carries `x-jobs-event-id` and `x-jobs-delivery-id` (the run's id); the
//! endpoints check both. The cadence is the brief's: the storage reads time from a
//! `ManualClock` that the example moves to each next retry instead of waiting 7 hours.
//!
//! In memory, or on PostgreSQL when `DATABASE_URL` is set:
//!
//! ```sh
//! cargo run --example webhooks
//! DATABASE_URL=postgres://localhost/app cargo run --example webhooks
//! ```

use std::time::Duration;

use examples::Timeline;
use jobs::{Jobs, ListRuns, ManualClock, RunStatus, TaskError};
use reqwest::StatusCode;
use serde_json::json;

#[jobs::task(retry(
    attempts = 8,
    backoff = "custom",
    delays = ["10s", "30s", "2m", "5m", "15m", "1h", "6h"]
))]
async fn deliver_webhook(
    ctx: jobs::Context,
    endpoint_id: String,
    event_id: String,
    url: String,
    body: serde_json::Value,
) -> Result<(), TaskError> {
    // One HTTP client for every delivery, given to `Jobs::builder().state(..)`.
    let http = ctx.state::<reqwest::Client>()?;
    let response = http
        .post(&url)
        .header("x-jobs-event-id", &event_id)
        .header("x-jobs-delivery-id", ctx.run_id().to_string())
        .json(&body)
        .send()
        .await?;

    if response.status() == StatusCode::GONE {
        webhooks::disable_endpoint(&endpoint_id).await?;
        return Ok(());
    }
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        // The endpoint says when: wait that long, without counting it as a failure.
        let seconds = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60);
        return Err(TaskError::snooze(
            Duration::from_secs(seconds),
            format!("429 Too Many Requests, Retry-After: {seconds}"),
        ));
    }
    if !response.status().is_success() {
        return Err(TaskError::retryable(format!(
            "webhook delivery failed: {}",
            response.status()
        )));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), examples::Report> {
    let receivers = receivers::Receivers::default();
    let base = receivers.serve().await?;
    println!("webhook endpoints listening on {base}");

    let clock = ManualClock::new();
    let timeline = Timeline::new(clock.clone());
    let jobs = Jobs::builder()
        .name("background")
        .namespace("app")
        .storage(examples::storage("webhooks", clock).await?)
        .state(reqwest::Client::new())
        .build()?;
    let worker = jobs
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();

    // An event was recorded; deliver it to every endpoint that subscribed to it.
    let event_id = "evt_123";
    let body = json!({ "type": "invoice.paid", "data": { "invoiceId": "inv_123" } });
    let mut deliveries = Vec::new();
    for endpoint_id in ["ep_flaky", "ep_gone", "ep_down", "ep_busy"] {
        let run = jobs
            .enqueue(DeliverWebhook {
                endpoint_id: endpoint_id.into(),
                event_id: event_id.into(),
                url: format!("{base}/hooks/{endpoint_id}"),
                body: body.clone(),
            })
            .idempotency_key(format!("webhook:{endpoint_id}:{event_id}"))
            .await?;
        println!("delivery of {event_id} to {endpoint_id}: {}", run.id());
        deliveries.push(run.id());
    }

    println!("\ndelivering; the clock jumps to each next retry:");
    timeline.run_until_done(&jobs).await?;

    println!("\ndeliveries:");
    for id in &deliveries {
        let run = jobs.runs().get(id).await?.ok_or("the run vanished")?;
        println!(
            "  {} to {}: {} after {}",
            run.id,
            endpoint(&run),
            run.status,
            examples::plural(run.attempt, "attempt")
        );
        examples::print_attempts(&jobs, &run).await?;
        receivers.check_deliveries(&run.id);
    }
    println!("  disabled endpoints: {:?}", webhooks::disabled());

    println!("\nreplay dead letters:");
    let failed = jobs
        .runs()
        .list(
            ListRuns::new()
                .task::<DeliverWebhook>()
                .status(RunStatus::DeadLettered)
                .limit(50),
        )
        .await?;
    println!(
        "  {} dead-lettered",
        examples::plural(failed.runs.len() as u64, "delivery")
    );
    receivers.recover("ep_down");
    let mut replays = Vec::new();
    for run in failed.runs {
        let replay = jobs.runs().replay(&run.id, "endpoint recovered").await?;
        println!("  replaying {} as {}", run.id, replay.id);
        replays.push(replay.id);
    }
    for id in &replays {
        let run = examples::wait_until_finished(&jobs, id).await?;
        println!(
            "  replay {} to {}: {} after {}, replay of {} ({})",
            run.id,
            endpoint(&run),
            run.status,
            examples::plural(run.attempt, "attempt"),
            run.replay_of.map(|id| id.to_string()).unwrap_or_default(),
            run.replay_reason.as_deref().unwrap_or_default()
        );
        receivers.check_deliveries(&run.id);
    }
    worker.shutdown().await;
    Ok(())
}

/// The endpoint a delivery run posts to.
fn endpoint(run: &jobs::Run) -> &str {
    run.payload["endpoint_id"].as_str().unwrap_or("?")
}

/// The webhook product's own records: which endpoints are disabled.
mod webhooks {
    use std::collections::BTreeSet;
    use std::sync::{Mutex, PoisonError};

    static DISABLED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

    /// Stops delivering to an endpoint that told us it is gone.
    pub(crate) async fn disable_endpoint(endpoint_id: &str) -> Result<(), std::io::Error> {
        println!("  [webhooks] endpoint {endpoint_id} answered 410 Gone: disabled");
        DISABLED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(endpoint_id.to_owned());
        Ok(())
    }

    /// The endpoints disabled so far.
    pub(crate) fn disabled() -> Vec<String> {
        let disabled = DISABLED.lock().unwrap_or_else(PoisonError::into_inner);
        disabled.iter().cloned().collect()
    }
}

/// The customers' side: three webhook endpoints on 127.0.0.1.
mod receivers {
    use std::collections::{HashMap, HashSet};
    use std::sync::{Arc, Mutex, PoisonError};

    use axum::Json;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use axum::routing::post;
    use jobs::RunId;

    /// The endpoints' state, shared with the example so it can check what they received.
    #[derive(Clone, Default)]
    pub(crate) struct Receivers {
        inner: Arc<Mutex<Inner>>,
    }

    #[derive(Default)]
    struct Inner {
        calls: HashMap<String, u32>,
        recovered: HashSet<String>,
        /// Every request: (endpoint, delivery id, event id).
        received: Vec<(String, RunId, String)>,
    }

    impl Receivers {
        /// Serves the endpoints on an ephemeral port and returns their base URL.
        pub(crate) async fn serve(&self) -> std::io::Result<String> {
            let app = axum::Router::new()
                .route("/hooks/{endpoint}", post(receive))
                .with_state(self.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            tokio::spawn(async move { axum::serve(listener, app).await });
            Ok(base)
        }

        /// The endpoint is back: it answers 200 from now on.
        pub(crate) fn recover(&self, endpoint: &str) {
            println!("  [{endpoint}] recovered");
            self.lock().recovered.insert(endpoint.to_owned());
        }

        /// Prints how many requests carried `run`'s id as their delivery id.
        pub(crate) fn check_deliveries(&self, run: &RunId) {
            let inner = self.lock();
            let requests = inner.received.iter().filter(|(_, id, _)| id == run).count();
            println!(
                "    the endpoint received {} with x-jobs-delivery-id {run}",
                examples::plural(requests as u64, "request")
            );
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
            self.inner.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    /// `POST /hooks/{endpoint}`: checks the headers, then answers as the endpoint does.
    async fn receive(
        State(receivers): State<Receivers>,
        Path(endpoint): Path<String>,
        headers: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> (StatusCode, HeaderMap) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(event_id), Some(delivery_id)) = (
            header("x-jobs-event-id"),
            header("x-jobs-delivery-id").and_then(|id| id.parse::<RunId>().ok()),
        ) else {
            println!("  [{endpoint}] rejected a request without event or delivery id");
            return (StatusCode::BAD_REQUEST, HeaderMap::new());
        };
        let mut inner = receivers.lock();
        inner
            .received
            .push((endpoint.clone(), delivery_id, event_id.to_owned()));
        let calls = inner.calls.entry(endpoint.clone()).or_default();
        *calls += 1;
        let calls = *calls;
        let status = match endpoint.as_str() {
            "ep_flaky" if calls <= 2 => StatusCode::INTERNAL_SERVER_ERROR,
            "ep_gone" => StatusCode::GONE,
            "ep_down" if !inner.recovered.contains("ep_down") => StatusCode::SERVICE_UNAVAILABLE,
            "ep_busy" if calls == 1 => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::OK,
        };
        println!(
            "  [{endpoint}] {} {event_id} delivery {delivery_id} -> {status}",
            body["type"].as_str().unwrap_or("?")
        );
        let mut answer = HeaderMap::new();
        if status == StatusCode::TOO_MANY_REQUESTS {
            answer.insert("retry-after", HeaderValue::from_static("90"));
        }
        (status, answer)
    }
}

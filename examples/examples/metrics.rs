//! The worker's metrics in Prometheus' text format, at `GET /metrics`.
//!
//! `jobs` records through the `metrics` facade; this app installs the Prometheus recorder
//! of `metrics-exporter-prometheus` and serves what it renders. Workers count attempts by
//! task and outcome (`jobs_attempts_total`), and time attempts
//! (`jobs_attempt_duration_seconds`) and the wait from due to start
//! (`jobs_queue_wait_seconds`); rescues and stale results are counted too.
//!
//! By default the example runs a few invoices (one of which fails once and is retried,
//! one of which is declined for good), scrapes its own `/metrics` and prints the `jobs_`
//! lines. With `--serve` it keeps serving for a scraper until Ctrl-C.
//!
//! ```sh
//! cargo run --example metrics
//! PORT=9000 cargo run --example metrics -- --serve   # then: curl localhost:9000/metrics
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use jobs::{Jobs, TaskError};
use metrics_exporter_prometheus::PrometheusBuilder;

static FLAKED: AtomicBool = AtomicBool::new(false);

#[jobs::task(retry(attempts = 3, backoff = "fixed", initial_delay = "50ms"))]
async fn send_invoice(invoice_id: String) -> Result<(), TaskError> {
    if invoice_id == "inv_3" && !FLAKED.swap(true, Ordering::AcqRel) {
        return Err(TaskError::retryable("mail server busy"));
    }
    if invoice_id == "inv_4" {
        return Err(TaskError::permanent("customer has no email address"));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), examples::Report> {
    let serve = std::env::args().skip(1).any(|arg| arg == "--serve");
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("could not install the Prometheus recorder: {e}"))?;

    let jobs = Jobs::builder()
        .namespace("billing")
        .storage(examples::system_storage("metrics").await?)
        .build()?;
    let worker = jobs.worker().concurrency(4).start();

    let app = Router::new().route("/metrics", get(move || async move { prometheus.render() }));
    let (listener, base) = examples::listen().await?;
    println!("metrics at {base}/metrics");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut ids = Vec::new();
    for n in 1..=5 {
        let invoice_id = format!("inv_{n}");
        ids.push(jobs.enqueue(SendInvoice { invoice_id }).await?.id());
    }
    for id in &ids {
        let run = examples::wait_until_finished(&jobs, id).await?;
        println!("{} {}: {}", run.id, run.payload["invoice_id"], run.status);
    }

    if serve {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c().await?;
    } else {
        let text = reqwest::get(format!("{base}/metrics"))
            .await?
            .error_for_status()?
            .text()
            .await?;
        println!("GET /metrics:");
        for line in text.lines().filter(|line| line.starts_with("jobs_")) {
            println!("  {line}");
        }
    }
    server.abort();
    let report = worker.shutdown().await;
    println!("worker stopped: {} completed", report.completed);
    Ok(())
}

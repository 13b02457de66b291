//! What a worker reports: one tracing span per attempt with its run, task, attempt and
//! namespace; events for retries, dead letters, cancellations and rescues; and metrics
//! (counters per outcome and task, histograms of attempt duration and queue wait)
//! through the `metrics` facade.
//!
//! One test in this binary: it installs the process's metrics recorder. The runtime is
//! single-threaded so that the tracing subscriber set for the test sees every task.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs::metrics::{ATTEMPT_DURATION, ATTEMPTS, QUEUE_WAIT, RESCUED};
use jobs::storage::ClaimRequest;
use jobs::{Jobs, ManualClock, MemoryStorage, RunStatus, Storage, TaskError};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

static FAILURES_LEFT: AtomicU32 = AtomicU32::new(1);

#[jobs::task(
    name = "obs-flaky",
    retry(attempts = 3, backoff = "fixed", initial_delay = "1ms")
)]
async fn flaky() -> Result<(), TaskError> {
    if FAILURES_LEFT
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(TaskError::retryable("the provider timed out"));
    }
    Ok(())
}

#[jobs::task(name = "obs-doomed")]
async fn doomed() -> Result<(), TaskError> {
    Err(TaskError::permanent("the card was declined"))
}

#[jobs::task(name = "obs-later")]
async fn later() {}

#[tokio::test]
async fn workers_report_spans_events_and_metrics() {
    let recorder = Captured::default();
    metrics::set_global_recorder(recorder.clone()).unwrap();
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let clock = ManualClock::new();
    let storage = MemoryStorage::with_clock(clock.clone());
    let jobs = Jobs::builder()
        .namespace("obs")
        .storage(storage.clone())
        .build()
        .unwrap();

    // A run whose worker "died": claimed by hand, its lease then expires.
    let orphan = jobs.enqueue(Later {}).await.unwrap().id();
    let claimed = storage
        .claim(ClaimRequest::new(
            "obs",
            vec!["obs-later".to_owned()],
            1,
            Duration::from_secs(30),
            "gone",
        ))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // Due now, started 31 s later: the queue wait.
    let doomed = jobs.enqueue(Doomed {}).await.unwrap().id();
    clock.advance(Duration::from_secs(31));

    let flaky = jobs.enqueue(Flaky {}).await.unwrap().id();
    let cancelled = jobs
        .enqueue(Later {})
        .delay(Duration::from_secs(3600))
        .await
        .unwrap()
        .id();
    jobs.runs().cancel(&cancelled).await.unwrap();

    let worker = jobs
        .worker()
        .concurrency(4)
        .rescue_interval(Duration::from_millis(10))
        .poll_interval(Duration::from_millis(5))
        .start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let done =
            [flaky, doomed, orphan].len() == finished_count(&jobs, &[flaky, doomed, orphan]).await;
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runs did not finish:\n{}",
            logs.text()
        );
        // The fixed 1 ms retry delay is on the manual clock.
        clock.advance(Duration::from_millis(5));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.shutdown().await;

    let text = logs.text();
    let flaky_span = format!("attempt{{run_id={flaky} task=obs-flaky attempt=1 namespace=obs}}");
    assert!(
        text.contains(&flaky_span),
        "a span per attempt, with its fields:\n{text}"
    );
    let second = format!("attempt{{run_id={flaky} task=obs-flaky attempt=2 namespace=obs}}");
    assert!(
        text.contains(&second),
        "the retry has its own span:\n{text}"
    );
    for event in [
        "attempt failed; retry scheduled",
        "run dead-lettered",
        "run cancelled",
        "rescued runs whose lease expired",
    ] {
        assert!(text.contains(event), "event {event:?} reported:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("run dead-lettered") && l.contains("the card was declined")),
        "the dead letter names its error:\n{text}"
    );

    let counter = |labels: &[(&str, &str)]| recorder.counter(ATTEMPTS, labels);
    assert_eq!(counter(&[("task", "obs-flaky"), ("outcome", "retried")]), 1);
    assert_eq!(
        counter(&[("task", "obs-flaky"), ("outcome", "succeeded")]),
        1
    );
    assert_eq!(
        counter(&[("task", "obs-doomed"), ("outcome", "dead_lettered")]),
        1
    );
    assert_eq!(
        counter(&[("task", "obs-later"), ("outcome", "succeeded")]),
        1
    );
    assert_eq!(recorder.counter(RESCUED, &[]), 1);
    let durations = recorder.histogram(ATTEMPT_DURATION, &[("task", "obs-flaky")]);
    assert_eq!(durations.len(), 2, "one duration per attempt");
    assert!(
        durations.iter().all(|d| *d >= 0.0 && *d < 10.0),
        "{durations:?}"
    );
    let waits = recorder.histogram(QUEUE_WAIT, &[("task", "obs-doomed")]);
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(
        (31.0..40.0).contains(&waits[0]),
        "waited from due to start, 31 s of the manual clock and a little more: {waits:?}"
    );
    // The rescued run was due again when rescued, and started at once.
    let rescued = recorder.histogram(QUEUE_WAIT, &[("task", "obs-later")]);
    assert_eq!(rescued.len(), 1, "{rescued:?}");
}

/// How many of `ids` have finished.
async fn finished_count(jobs: &Jobs, ids: &[jobs::RunId]) -> usize {
    let mut finished = 0;
    for id in ids {
        let run = jobs.runs().get(id).await.unwrap().unwrap();
        if matches!(run.status, RunStatus::Succeeded | RunStatus::DeadLettered) {
            finished += 1;
        }
    }
    finished
}

/// Everything written to the log, as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// A recorder that keeps every counter total and histogram value, by name and labels.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Values>>);

#[derive(Default)]
struct Values {
    counters: HashMap<String, u64>,
    histograms: HashMap<String, Vec<f64>>,
}

/// `name{a=1,b=2}`, labels sorted.
fn id(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

fn key_id(key: &Key) -> String {
    let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
    id(key.name(), &labels)
}

impl Captured {
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let values = self.0.lock().unwrap();
        values.counters.get(&id(name, labels)).copied().unwrap_or(0)
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        let values = self.0.lock().unwrap();
        values
            .histograms
            .get(&id(name, labels))
            .cloned()
            .unwrap_or_default()
    }
}

struct Handle {
    values: Arc<Mutex<Values>>,
    id: String,
}

impl metrics::CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self
            .values
            .lock()
            .unwrap()
            .counters
            .entry(self.id.clone())
            .or_default() += value;
    }

    fn absolute(&self, value: u64) {
        self.values
            .lock()
            .unwrap()
            .counters
            .insert(self.id.clone(), value);
    }
}

impl metrics::HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.values
            .lock()
            .unwrap()
            .histograms
            .entry(self.id.clone())
            .or_default()
            .push(value);
    }
}

impl Recorder for Captured {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle {
            values: self.0.clone(),
            id: key_id(key),
        }))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Handle {
            values: self.0.clone(),
            id: key_id(key),
        }))
    }
}

//! A storage wrapper that times every call the worker makes (`--timings`): per-phase
//! counters computed from outside the framework, without touching it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jobs::storage::{
    ClaimRequest, Enqueued, Finished, Heartbeat, Lease, NewRun, Outcome, StorageEvent,
};
use jobs::{Attempt, Error, ListRuns, Page, Run, RunId, Storage};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Enqueue,
    Claim,
    Finish,
    Other,
}

/// One storage call: when it started and ended (since the wrapper was made), rows moved.
#[derive(Debug, Clone, Copy)]
struct Call {
    phase: Phase,
    start: Duration,
    end: Duration,
    rows: usize,
}

/// Times the calls to `inner`.
pub(crate) struct Timed {
    inner: Arc<dyn Storage>,
    origin: Instant,
    calls: Mutex<Vec<Call>>,
}

impl Timed {
    pub(crate) fn new(inner: Arc<dyn Storage>) -> Arc<Timed> {
        Arc::new(Timed {
            inner,
            origin: Instant::now(),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn record(&self, phase: Phase, start: Instant, rows: usize) {
        let call = Call {
            phase,
            start: start.duration_since(self.origin),
            end: self.origin.elapsed(),
            rows,
        };
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
    }

    /// [`report`](Self::report) of every call so far.
    pub(crate) fn report_all(&self) -> (serde_json::Value, String) {
        self.report(self.origin, Instant::now())
    }

    /// The per-phase figures of the calls that started in `[from, to]` (instants of this
    /// process), as JSON and as lines of text.
    pub(crate) fn report(&self, from: Instant, to: Instant) -> (serde_json::Value, String) {
        let from = from.saturating_duration_since(self.origin);
        let to = to.saturating_duration_since(self.origin);
        let calls: Vec<Call> = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .filter(|c| c.start >= from && c.start <= to)
            .collect();
        let wall = (to - from).as_secs_f64().max(1e-9);
        let claims = intervals(&calls, Phase::Claim);
        let finishes = intervals(&calls, Phase::Finish);
        let claim_busy = total(&claims);
        let finish_busy = total(&finishes);
        let both = overlap(&claims, &finishes);
        let either = claim_busy + finish_busy - both;
        let mut json = serde_json::Map::new();
        let mut text = String::new();
        for (phase, name) in [
            (Phase::Enqueue, "enqueue"),
            (Phase::Claim, "claim"),
            (Phase::Finish, "finish"),
        ] {
            let mine: Vec<&Call> = calls.iter().filter(|c| c.phase == phase).collect();
            if mine.is_empty() {
                continue;
            }
            let mut ms: Vec<f64> = mine
                .iter()
                .map(|c| (c.end - c.start).as_secs_f64() * 1000.0)
                .collect();
            ms.sort_by(f64::total_cmp);
            let rows: usize = mine.iter().map(|c| c.rows).sum();
            let mut sizes: Vec<f64> = mine.iter().map(|c| c.rows as f64).collect();
            sizes.sort_by(f64::total_cmp);
            let size_p = |p: f64| crate::stats::percentile(&sizes, p);
            let n = mine.len();
            let mean_ms = if n == 0 {
                0.0
            } else {
                ms.iter().sum::<f64>() / n as f64
            };
            let rows_per_call = if n == 0 { 0.0 } else { rows as f64 / n as f64 };
            let busy = total(&intervals(&calls, phase));
            let per_1000 = if rows == 0 {
                0.0
            } else {
                ms.iter().sum::<f64>() / rows as f64 * 1000.0
            };
            json.insert(
                name.to_owned(),
                serde_json::json!({
                    "calls": n,
                    "rows": rows,
                    "rows_per_call": round2(rows_per_call),
                    "rows_per_call_p10_p50_p90": [size_p(10.0), size_p(50.0), size_p(90.0)],
                    "mean_ms": round2(mean_ms),
                    "p50_ms": round2(crate::stats::percentile(&ms, 50.0)),
                    "p99_ms": round2(crate::stats::percentile(&ms, 99.0)),
                    "ms_per_1000_rows": round2(per_1000),
                    "in_flight_share": round2(busy / wall),
                }),
            );
            text.push_str(&format!(
                "    {name:<7} {n:>6} calls  {rows_per_call:>7.1} rows/call (p10 {:.0}, p50 {:.0}, p90 {:.0})  mean {mean_ms:>7.2} ms  p50 {:>7.2} ms  p99 {:>7.2} ms  {per_1000:>7.2} ms per 1000 rows  in flight {:>5.1}% of the run\n",
                size_p(10.0),
                size_p(50.0),
                size_p(90.0),
                crate::stats::percentile(&ms, 50.0),
                crate::stats::percentile(&ms, 99.0),
                100.0 * busy / wall,
            ));
        }
        // Claimed runs whose result was not yet handed to a finish: the worker's backlog.
        let mut events: Vec<(Duration, i64)> = calls
            .iter()
            .filter_map(|c| match c.phase {
                Phase::Claim => Some((c.end, c.rows as i64)),
                Phase::Finish => Some((c.start, -(c.rows as i64))),
                _ => None,
            })
            .collect();
        events.sort();
        let (mut backlog, mut max_backlog) = (0i64, 0i64);
        for (_, delta) in events {
            backlog += delta;
            max_backlog = max_backlog.max(backlog);
        }
        json.insert("max_claimed_unfinished".to_owned(), max_backlog.into());
        text.push_str(&format!(
            "    at most {max_backlog} claimed runs were waiting for their result to be written\n"
        ));
        let others = calls.iter().filter(|c| c.phase == Phase::Other).count();
        json.insert(
            "both_in_flight_share".to_owned(),
            round2(both / wall).into(),
        );
        json.insert(
            "neither_in_flight_share".to_owned(),
            round2(1.0 - either / wall).into(),
        );
        json.insert("other_calls".to_owned(), others.into());
        text.push_str(&format!(
            "    claim and finish both in flight {:.1}% of the run; neither {:.1}%; {others} other calls\n",
            100.0 * both / wall,
            100.0 * (1.0 - either / wall).max(0.0),
        ));
        (serde_json::Value::Object(json), text)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The merged (start, end) intervals, in seconds, during which a call of `phase` ran.
fn intervals(calls: &[Call], phase: Phase) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = calls
        .iter()
        .filter(|c| c.phase == phase)
        .map(|c| (c.start.as_secs_f64(), c.end.as_secs_f64()))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn total(spans: &[(f64, f64)]) -> f64 {
    spans.iter().map(|(a, b)| b - a).sum()
}

/// The time covered by both sets of merged intervals.
fn overlap(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        let start = a[i].0.max(b[j].0);
        let end = a[i].1.min(b[j].1);
        if end > start {
            sum += end - start;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    sum
}

#[async_trait]
impl Storage for Timed {
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, Error> {
        let start = Instant::now();
        let out = self.inner.enqueue(runs).await;
        self.record(Phase::Enqueue, start, out.as_ref().map_or(0, Vec::len));
        out
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<Run>, Error> {
        let start = Instant::now();
        let out = self.inner.claim(request).await;
        self.record(Phase::Claim, start, out.as_ref().map_or(0, Vec::len));
        out
    }

    async fn heartbeat(&self, request: Heartbeat) -> Result<Vec<Lease>, Error> {
        let start = Instant::now();
        let out = self.inner.heartbeat(request).await;
        self.record(Phase::Other, start, out.as_ref().map_or(0, Vec::len));
        out
    }

    async fn finish(&self, namespace: &str, outcomes: Vec<Outcome>) -> Result<Finished, Error> {
        let start = Instant::now();
        let rows = outcomes.len();
        let out = self.inner.finish(namespace, outcomes).await;
        self.record(Phase::Finish, start, rows);
        out
    }

    async fn release(&self, namespace: &str, leases: Vec<Lease>) -> Result<usize, Error> {
        let start = Instant::now();
        let out = self.inner.release(namespace, leases).await;
        self.record(Phase::Other, start, *out.as_ref().unwrap_or(&0));
        out
    }

    async fn rescue_expired(&self, namespace: &str) -> Result<Vec<RunId>, Error> {
        let start = Instant::now();
        let out = self.inner.rescue_expired(namespace).await;
        self.record(Phase::Other, start, out.as_ref().map_or(0, Vec::len));
        out
    }

    async fn get(&self, namespace: &str, id: RunId) -> Result<Option<Run>, Error> {
        self.inner.get(namespace, id).await
    }

    async fn list(&self, namespace: &str, filter: &ListRuns) -> Result<Page, Error> {
        self.inner.list(namespace, filter).await
    }

    async fn attempts(&self, namespace: &str, id: RunId) -> Result<Vec<Attempt>, Error> {
        self.inner.attempts(namespace, id).await
    }

    async fn cancel(&self, namespace: &str, id: RunId) -> Result<Run, Error> {
        self.inner.cancel(namespace, id).await
    }

    async fn replay(
        &self,
        namespace: &str,
        request: jobs::storage::ReplayRequest,
    ) -> Result<Run, Error> {
        self.inner.replay(namespace, request).await
    }

    fn subscribe(&self) -> broadcast::Receiver<StorageEvent> {
        self.inner.subscribe()
    }

    async fn now(&self) -> Result<chrono::DateTime<chrono::Utc>, jobs::Error> {
        self.inner.now().await
    }

    async fn prune(
        &self,
        namespace: &str,
        retention: &jobs::Retention,
        limit: usize,
    ) -> Result<jobs::Pruned, jobs::Error> {
        self.inner.prune(namespace, retention, limit).await
    }

    async fn stats(
        &self,
        namespace: &str,
        window: std::time::Duration,
    ) -> Result<jobs::Stats, jobs::Error> {
        self.inner.stats(namespace, window).await
    }
}

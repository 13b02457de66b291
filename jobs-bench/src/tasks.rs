//! The two tasks the benchmark runs, and what their handlers record.
//!
//! `bench-noop` only counts that it ran (processing throughput); `bench-ping` records how
//! long after its enqueue it started (pickup latency). Both keep their records in process
//! globals, read by the benchmark that started the worker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Handler starts of `bench-noop` since the last [`reset_noop`].
static NOOP_RUNS: AtomicU64 = AtomicU64::new(0);

/// `(seq, enqueue-to-start in ns)` of every `bench-ping` since the last [`reset_pings`].
static PINGS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// A no-op: counts its execution and returns.
#[jobs::task(name = "bench-noop")]
pub(crate) async fn noop(n: u64) {
    let _ = n;
    NOOP_RUNS.fetch_add(1, Ordering::Relaxed);
}

/// Records the time from `sent_ns` (wall clock, taken just before the enqueue) to now, the
/// start of this handler. Wall time, so the enqueuer may be another process on the host.
#[jobs::task(name = "bench-ping")]
pub(crate) async fn ping(seq: u64, sent_ns: u64) {
    let latency = unix_ns().saturating_sub(sent_ns);
    PINGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((seq, latency));
}

/// Nanoseconds since the Unix epoch, by the wall clock.
pub(crate) fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Starts counting `bench-noop` executions from zero.
pub(crate) fn reset_noop() {
    NOOP_RUNS.store(0, Ordering::Relaxed);
}

/// `bench-noop` executions since the last reset.
pub(crate) fn noop_runs() -> u64 {
    NOOP_RUNS.load(Ordering::Relaxed)
}

/// Forgets every recorded ping.
pub(crate) fn reset_pings() {
    PINGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}

/// The pings recorded since the last reset.
pub(crate) fn pings() -> Vec<(u64, u64)> {
    PINGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

//! One worker's pool for one queue: the state its roles share, its life from start to
//! shutdown, and the accounting of slots and unwritten results. Each role is a file of
//! its own:
//!
//! - `claim`: the claim loop, sized to free slots, woken by storage events;
//! - `start`: claimed runs become attempts, one tokio task each;
//! - `complete`: results written in batches, given up after a lease of refusals;
//! - `heartbeat`: leases extended, lost ones stop their attempt;
//! - `rescue`: runs of vanished workers taken back;
//! - `prune`: finished runs and old keys deleted;
//! - `schedule`: the ticks of periodic schedules enqueued ahead;
//! - `shutdown`: attempts told, waited for, then aborted and handed back.

mod claim;
mod complete;
mod heartbeat;
mod prune;
mod rescue;
mod schedule;
mod shutdown;
mod start;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Config;
use super::ShutdownReport;
use super::metrics;
use crate::model::limits::KeyLimit;
use crate::model::run::RunId;
use crate::storage::Outcome;
use crate::task::context::Cancel;
use crate::task::handle::Jobs;

/// A map keyed by run id (the leases this worker holds), hashed with [`IdHasher`].
type IdMap<V> = HashMap<RunId, V, BuildHasherDefault<IdHasher>>;

/// Hashes run ids for [`IdMap`], several times per attempt: cheaper than the default
/// SipHash, whose defence against chosen keys is not needed here. Ids are UUID v7, so
/// their low bytes are random and a multiplicative fold spreads them well.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
}

/// A lease this worker holds: until its result is written or the run is handed back.
struct Held {
    attempt: u32,
    cancel: Cancel,
    abort: AbortHandle,
    /// The handler has returned; only the result write is pending.
    returned: bool,
}

pub(crate) struct Pool {
    jobs: Jobs,
    config: Config,
    id: String,
    tasks: Vec<String>,
    /// What each claim asks for: see [`Jobs::claim_groups`].
    groups: Vec<(Vec<String>, Option<KeyLimit>)>,
    held: Mutex<IdMap<Held>>,
    /// Handlers executing now; the free slots are `concurrency - running`.
    running: AtomicUsize,
    slot_freed: Notify,
    /// Results on their way to storage, each counted in `unwritten` until it is written.
    results: mpsc::UnboundedSender<(Outcome, Unwritten)>,
    results_rx: Mutex<Option<mpsc::UnboundedReceiver<(Outcome, Unwritten)>>>,
    /// Results not yet written. Claims stop while `running + unwritten` reaches twice the
    /// concurrency: one batch may be written while the next one runs, but a worker never
    /// runs far ahead of what it can record (and never holds leases it cannot honour).
    unwritten: AtomicUsize,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    completed: AtomicUsize,
    stale: AtomicUsize,
}

impl Pool {
    /// The pool of `config.queue`, one of worker `id`'s.
    pub(crate) fn new(jobs: Jobs, config: Config, id: String) -> Self {
        let (results, results_rx) = mpsc::unbounded_channel();
        let tasks = jobs.registry().names_in(&config.queue);
        let groups = jobs.claim_groups(&config.queue);
        Pool {
            jobs,
            config,
            id,
            tasks,
            groups,
            held: Mutex::new(IdMap::default()),
            running: AtomicUsize::new(0),
            unwritten: AtomicUsize::new(0),
            slot_freed: Notify::new(),
            results,
            results_rx: Mutex::new(Some(results_rx)),
            counts: Counts::default(),
        }
    }

    fn held(&self) -> MutexGuard<'_, IdMap<Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn namespace(&self) -> &str {
        self.jobs.namespace()
    }

    /// The worker's life: claim until told to stop, then shut down gracefully.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) -> ShutdownReport {
        tracing::info!(worker = %self.id, namespace = %self.namespace(), queue = %self.config.queue, slots = self.config.concurrency, tasks = ?self.tasks, "worker started");
        metrics::describe();
        let background = CancellationToken::new();
        let results_rx = self
            .results_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let completer =
            results_rx.map(|rx| tokio::spawn(self.clone().complete(rx, background.clone())));
        let heartbeat = tokio::spawn(self.clone().heartbeat(background.clone()));
        let rescuer = self
            .config
            .rescue
            .then(|| tokio::spawn(self.clone().rescue(stop.clone())));
        let pruner = self
            .config
            .rescue
            .then(|| tokio::spawn(self.clone().prune(stop.clone())));
        let scheduler = (self.config.rescue && !self.jobs.periodic_schedules().is_empty())
            .then(|| tokio::spawn(self.clone().schedule(stop.clone())));

        self.claim_loop(&stop).await;
        self.tell_attempts_to_stop();
        self.wait_for_attempts().await;
        // What is left to write (pending results, hand-backs) gets a bounded time too, so a
        // storage that is down cannot hold the process: whatever is not written by then
        // is retried by another worker once its lease expires.
        let write_deadline = Instant::now() + self.config.write_grace();
        let (handed_back, not_handed_back) = self.hand_back(write_deadline).await;

        // Write what is pending, then stop the heartbeat that kept those leases alive.
        background.cancel();
        if let Some(mut completer) = completer {
            if tokio::time::timeout_at(write_deadline, &mut completer)
                .await
                .is_err()
            {
                completer.abort();
                tracing::warn!(worker = %self.id, "results still unwritten at the deadline; their runs will be retried after their lease expires");
            }
        }
        heartbeat.abort();
        if let Some(rescuer) = rescuer {
            rescuer.abort();
        }
        if let Some(pruner) = pruner {
            pruner.abort();
        }
        if let Some(scheduler) = scheduler {
            scheduler.abort();
        }
        let unwritten = self.held().len() + not_handed_back;
        let report = ShutdownReport {
            completed: self.counts.completed.load(Ordering::Relaxed),
            stale: self.counts.stale.load(Ordering::Relaxed),
            handed_back,
            unwritten,
        };
        tracing::info!(worker = %self.id, ?report, "worker stopped");
        report
    }
}

/// A busy slot: freed when the attempt's task ends, whether it finished or was aborted.
struct SlotGuard(Arc<Pool>);

/// Slots taken for claimed runs not started yet. Each start turns one into a
/// [`SlotGuard`]; the ones left when this is dropped (a chunk task dropped before it
/// ran, at runtime shutdown) are freed, so `running` never counts a run nobody runs.
struct Reserved {
    pool: Arc<Pool>,
    count: usize,
}

impl Reserved {
    fn new(pool: &Arc<Pool>, count: usize) -> Self {
        pool.running.fetch_add(count, Ordering::AcqRel);
        Reserved {
            pool: pool.clone(),
            count,
        }
    }

    /// Moves `count` of these slots (at most all) into a reservation of their own.
    fn split(&mut self, count: usize) -> Reserved {
        let count = count.min(self.count);
        self.count -= count;
        Reserved {
            pool: self.pool.clone(),
            count,
        }
    }

    /// One slot, for one attempt; `None` once all are taken.
    fn take(&mut self) -> Option<SlotGuard> {
        self.count = self.count.checked_sub(1)?;
        Some(SlotGuard(self.pool.clone()))
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if self.count > 0 {
            self.pool.running.fetch_sub(self.count, Ordering::AcqRel);
            self.pool.slot_freed.notify_one();
        }
    }
}

/// A result not yet written; counted in `Pool::unwritten` until dropped.
struct Unwritten(Arc<Pool>);

impl Unwritten {
    fn new(pool: &Arc<Pool>) -> Self {
        pool.unwritten.fetch_add(1, Ordering::AcqRel);
        Unwritten(pool.clone())
    }
}

impl Drop for Unwritten {
    fn drop(&mut self) {
        self.0.unwritten.fetch_sub(1, Ordering::AcqRel);
        self.0.slot_freed.notify_one();
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.slot_freed.notify_one();
    }
}

/// 100 ms, 200 ms, ... up to 5 s: waits between tries against a failing storage.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_millis(100 << exp).min(Duration::from_secs(5))
}

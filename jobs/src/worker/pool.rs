//! The moving parts of one worker, sharing one `Pool`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, mpsc};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Config;
use super::ShutdownReport;
use super::execute::{Verdict, execute};
use super::metrics;
use crate::client::Jobs;
use crate::context::{Cancel, CancelReason, Context};
use crate::run::{Run, RunId};
use crate::storage::{AttemptResult, ClaimRequest, Heartbeat, Lease, Outcome, StorageEvent};

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
    groups: Vec<(Vec<String>, Option<crate::KeyLimit>)>,
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

    async fn claim_loop(self: &Arc<Self>, stop: &CancellationToken) {
        let mut events = Some(self.jobs.storage().subscribe());
        let mut failures = 0u32;
        while !stop.is_cancelled() {
            let free = self.free_slots();
            let mut claimed = 0;
            if free > 0 && !self.tasks.is_empty() {
                match self.claim(free).await {
                    Ok(count) => {
                        failures = 0;
                        claimed = count;
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        let wait = backoff(failures);
                        tracing::warn!(worker = %self.id, %error, retry_in = ?wait, "claim failed");
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(wait) => continue,
                        }
                    }
                }
            }
            if free > 0 && claimed == free {
                // A full batch: more may be due. Let the attempts just started run first,
                // so the next claim counts the slots they free and fetches a batch too.
                tokio::task::yield_now().await;
                continue;
            }
            self.wait_for_work(stop, &mut events, free == 0).await;
        }
    }

    /// How many runs to claim now: free slots, as long as running attempts and results
    /// not yet written stay within twice the concurrency.
    fn free_slots(&self) -> usize {
        let concurrency = self.config.concurrency;
        let running = self.running.load(Ordering::Acquire);
        let unwritten = self.unwritten.load(Ordering::Acquire);
        concurrency
            .saturating_sub(running)
            .min((2 * concurrency).saturating_sub(running + unwritten))
    }

    /// Claims up to `free` runs, group by group (the unlimited tasks together, each task
    /// with per-key limits on its own), and starts them; returns how many.
    async fn claim(self: &Arc<Self>, free: usize) -> Result<usize, crate::Error> {
        let mut claimed = 0;
        for (tasks, limit) in &self.groups {
            let room = free.saturating_sub(claimed);
            if room == 0 {
                break;
            }
            let mut request = ClaimRequest::new(
                self.namespace(),
                tasks.clone(),
                room,
                self.config.lease,
                self.id.clone(),
            )
            .queue(self.config.queue.clone());
            if let Some(limit) = limit {
                request = request.key_limit(limit.clone());
            }
            let runs = self.jobs.storage().claim(request).await?;
            claimed += runs.len();
            self.start_batch(runs);
        }
        Ok(claimed)
    }

    /// Sleeps until a storage event, a freed slot, the poll interval or `stop`.
    async fn wait_for_work(
        &self,
        stop: &CancellationToken,
        events: &mut Option<broadcast::Receiver<StorageEvent>>,
        full: bool,
    ) {
        let poll = tokio::time::sleep(self.config.poll_interval);
        tokio::pin!(poll);
        loop {
            let event = async {
                match events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = self.slot_freed.notified(), if full => {
                    // Let the attempts finishing alongside this one free their slots too,
                    // so the next claim fetches a batch rather than one run.
                    tokio::task::yield_now().await;
                    return;
                }
                event = event => match event {
                    Ok(StorageEvent::RunsAvailable { namespace }) => {
                        if !full && namespace == self.namespace() {
                            return;
                        }
                    }
                    Ok(StorageEvent::Cancelled { namespace, id }) => {
                        if namespace == self.namespace() {
                            self.cancel_local(id);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => *events = None,
                },
                _ = &mut poll => return,
            }
        }
    }

    fn cancel_local(&self, id: RunId) {
        if let Some(held) = self.held().get(&id) {
            tracing::info!(worker = %self.id, run_id = %id, "run cancelled while running");
            held.cancel.cancel(CancelReason::Cancelled);
        }
    }

    /// Starts the attempts of a claimed batch: the first few here, the rest in chunks on
    /// tasks of their own.
    ///
    /// Starting an attempt (a spawn, its context, its lease entry) costs about as much as
    /// claiming it. Done all in the claim loop, it would make that one task the ceiling of
    /// the worker's throughput; handed to chunk tasks, it runs on every thread while the
    /// loop claims the next batch. A small batch starts here, without the extra hop.
    fn start_batch(self: &Arc<Self>, mut runs: Vec<Run>) {
        // Slots are taken now, so the next count of free slots already sees this batch.
        let mut slots = Reserved::new(self, runs.len());
        while runs.len() > START_CHUNK {
            let chunk = runs.split_off(runs.len() - START_CHUNK);
            let chunk_slots = slots.split(chunk.len());
            let pool = self.clone();
            tokio::spawn(async move { pool.start_chunk(chunk, chunk_slots) });
        }
        self.start_chunk(runs, slots);
    }

    fn start_chunk(self: &Arc<Self>, runs: Vec<Run>, mut slots: Reserved) {
        for run in runs {
            if let Some(slot) = slots.take() {
                self.start_attempt(run, slot);
            }
        }
    }

    fn start_attempt(self: &Arc<Self>, run: Run, slot: SlotGuard) {
        let Some(registration) = self.jobs.registry().get(&run.task) else {
            // Claims name only registered tasks, so a storage returned something else.
            tracing::error!(worker = %self.id, run_id = %run.id, task = %run.task, "claimed a run of an unknown task; handing it back");
            let storage = self.jobs.storage().clone();
            let namespace = self.namespace().to_owned();
            tokio::spawn(async move { storage.release(&namespace, vec![Lease::of(&run)]).await });
            return;
        };
        let mut run = run;
        let payload = std::mem::take(&mut run.payload);
        let (id, attempt) = (run.id, run.attempt);
        let lease = Lease { id, attempt };
        let task_name = registration.name();
        metrics::attempt_started(task_name, run.run_at, run.started_at.unwrap_or(run.run_at));
        let span = tracing::info_span!(
            "attempt",
            run_id = %id,
            task = %run.task,
            attempt,
            namespace = %self.namespace(),
        );
        let cancel = Cancel::new();
        let ctx = Context::new(&run, cancel.clone(), self.jobs.clone());
        // Held locked across the spawn, so the attempt cannot report before it is held.
        let mut held = self.held();
        let handle = tokio::spawn(
            async move {
                let began = std::time::Instant::now();
                let result = match execute(registration, payload, ctx).await {
                    Verdict::Record(result) => result,
                    Verdict::HandBack(error) => {
                        // Left held and not returned: the shutdown hands it back.
                        tracing::info!(%error, "the attempt stopped early at shutdown; its run is handed back");
                        return;
                    }
                };
                metrics::attempt_ended(task_name, &result, began.elapsed());
                log_result(attempt, &result);
                let pool = &slot.0;
                if let Some(held) = pool.held().get_mut(&id) {
                    held.returned = true;
                }
                // If the completer is gone the lease simply expires and the run is retried.
                let unwritten = Unwritten::new(pool);
                let _ = pool.results.send((Outcome::new(lease, result), unwritten));
                drop(slot);
            }
            .instrument(span),
        );
        held.insert(
            id,
            Held {
                attempt,
                cancel,
                abort: handle.abort_handle(),
                returned: false,
            },
        );
    }

    /// After claiming stopped: tells every attempt in flight that the worker is shutting
    /// down (its `Context` is cancelled with [`CancelReason::Shutdown`]), so a handler
    /// that watches it can finish or return before the deadline.
    fn tell_attempts_to_stop(&self) {
        let held = self.held();
        let running = held.values().filter(|h| !h.returned);
        let mut told = 0;
        for attempt in running {
            attempt.cancel.cancel(CancelReason::Shutdown);
            told += 1;
        }
        if told > 0 {
            tracing::info!(worker = %self.id, attempts = told, "shutting down: told the attempts in flight");
        }
    }

    /// After claiming stopped: waits for running attempts, up to the shutdown timeout.
    async fn wait_for_attempts(&self) {
        let deadline = Instant::now() + self.config.shutdown_timeout;
        while self.running.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            tokio::select! {
                _ = self.slot_freed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Aborts the attempts still running and hands their runs back, trying until
    /// `deadline`. Returns how many were handed back and how many could not be.
    async fn hand_back(&self, deadline: Instant) -> (usize, usize) {
        let stragglers: Vec<Lease> = {
            let mut held = self.held();
            let ids: Vec<RunId> = held
                .iter()
                .filter(|(_, h)| !h.returned)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| held.remove(&id).map(|h| (id, h)))
                .map(|(id, h)| {
                    h.abort.abort();
                    h.cancel.cancel(CancelReason::Shutdown);
                    Lease {
                        id,
                        attempt: h.attempt,
                    }
                })
                .collect()
        };
        if stragglers.is_empty() {
            return (0, 0);
        }
        let count = stragglers.len();
        let mut failures = 0u32;
        loop {
            let release = self
                .jobs
                .storage()
                .release(self.namespace(), stragglers.clone());
            let error = match tokio::time::timeout_at(deadline, release).await {
                Ok(Ok(released)) => {
                    tracing::info!(worker = %self.id, released, "handed unfinished runs back");
                    // A run not released had already left this worker (cancelled, rescued).
                    return (released, 0);
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => "the shutdown deadline passed".to_owned(),
            };
            failures = failures.saturating_add(1);
            let wait = backoff(failures);
            if Instant::now() + wait >= deadline {
                tracing::warn!(worker = %self.id, count, %error, "runs not handed back; they are retried once their lease expires");
                return (0, count);
            }
            tracing::warn!(worker = %self.id, %error, retry_in = ?wait, "could not hand runs back");
            tokio::time::sleep(wait).await;
        }
    }

    /// Writes results in batches until `stop`, then writes what is left and returns.
    async fn complete(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<(Outcome, Unwritten)>,
        stop: CancellationToken,
    ) {
        let mut batch = Vec::new();
        let mut pending = Vec::new();
        loop {
            let stopping = tokio::select! {
                biased;
                received = rx.recv() => match received {
                    Some((outcome, unwritten)) => {
                        batch.push(outcome);
                        pending.push(unwritten);
                        false
                    }
                    None => true,
                },
                _ = stop.cancelled() => true,
            };
            if !stopping {
                // The first result woke us; let the attempts finishing alongside it send
                // theirs too, so one write carries a batch rather than one result.
                tokio::task::yield_now().await;
            }
            while batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok((outcome, unwritten)) => {
                        batch.push(outcome);
                        pending.push(unwritten);
                    }
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.write(&mut batch).await;
            }
            // Written: room for new claims.
            pending.clear();
            if stopping && rx.is_empty() {
                return;
            }
        }
    }

    /// Writes one batch of results, retrying while the storage fails, for at most one
    /// lease length: past that, the batch is given up (see [`abandon`](Self::abandon)).
    async fn write(&self, batch: &mut Vec<Outcome>) {
        let give_up = Instant::now() + self.config.lease;
        let mut failures = 0u32;
        loop {
            match self
                .jobs
                .storage()
                .finish(self.namespace(), batch.clone())
                .await
            {
                Ok(report) => {
                    self.counts
                        .completed
                        .fetch_add(report.applied, Ordering::Relaxed);
                    self.counts
                        .stale
                        .fetch_add(report.stale.len(), Ordering::Relaxed);
                    if !report.stale.is_empty() {
                        metrics::stale(report.stale.len());
                    }
                    for lease in &report.stale {
                        tracing::info!(worker = %self.id, run_id = %lease.id, attempt = lease.attempt, "result dropped: the run was cancelled or rescued meanwhile");
                    }
                    self.let_go(batch);
                    return;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let now = Instant::now();
                    if now >= give_up {
                        self.abandon(batch, &error);
                        return;
                    }
                    let wait = backoff(failures).min(give_up - now);
                    tracing::warn!(worker = %self.id, %error, pending = batch.len(), retry_in = ?wait, "could not write results");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Gives up a batch of results the storage would not take for a whole lease: stops
    /// renewing their leases, so they lapse and the runs are rescued (by any worker) and
    /// run again, rather than being held for ever by a worker that cannot finish them.
    /// The worker goes on claiming and running other work meanwhile.
    fn abandon(&self, batch: &mut Vec<Outcome>, error: &crate::Error) {
        let count = batch.len();
        metrics::results_abandoned(count);
        tracing::error!(worker = %self.id, count, %error, lease = ?self.config.lease, "results could not be written for a whole lease: letting their leases lapse, so the runs are rescued and run again");
        self.let_go(batch);
    }

    /// Forgets the leases of `batch` (written or given up): no more heartbeats for them.
    fn let_go(&self, batch: &mut Vec<Outcome>) {
        let mut held = self.held();
        for outcome in batch.drain(..) {
            if let Entry::Occupied(entry) = held.entry(outcome.lease.id) {
                if entry.get().attempt == outcome.lease.attempt {
                    entry.remove();
                }
            }
        }
    }

    /// Extends this worker's leases; cancels attempts whose lease was lost.
    async fn heartbeat(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.heartbeat_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tick.tick() => {}
            }
            let leases: Vec<Lease> = self
                .held()
                .iter()
                .map(|(id, h)| Lease {
                    id: *id,
                    attempt: h.attempt,
                })
                .collect();
            if !leases.is_empty() {
                let request = Heartbeat::new(self.namespace(), leases.clone(), self.config.lease);
                match self.jobs.storage().heartbeat(request).await {
                    Ok(kept) => {
                        let kept: HashSet<Lease> = kept.into_iter().collect();
                        let held = self.held();
                        for lease in leases.iter().filter(|l| !kept.contains(l)) {
                            if let Some(h) =
                                held.get(&lease.id).filter(|h| h.attempt == lease.attempt)
                            {
                                if h.cancel
                                    .reason()
                                    .is_none_or(|r| r == CancelReason::Shutdown)
                                {
                                    tracing::info!(worker = %self.id, run_id = %lease.id, "lease lost (cancelled or rescued); stopping the attempt");
                                    h.cancel.cancel(CancelReason::LeaseLost);
                                }
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(worker = %self.id, %error, "heartbeat failed");
                    }
                }
            }
            if stop.is_cancelled() {
                // Keep beating while results are being written at shutdown.
                tokio::time::sleep(self.config.heartbeat_interval()).await;
            }
        }
    }

    /// Returns the runs of workers whose lease expired.
    async fn rescue(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.rescue_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.jobs.storage().rescue_expired(self.namespace()).await {
                Ok(rescued) if !rescued.is_empty() => {
                    metrics::rescued(rescued.len());
                    tracing::warn!(worker = %self.id, count = rescued.len(), runs = ?rescued, "rescued runs whose lease expired");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(worker = %self.id, %error, "rescue failed"),
            }
        }
    }

    /// Every prune interval (the first after one interval): prune batches of
    /// [`PRUNE_BATCH`] until a batch finds less than a full one, each its own short
    /// statement, so no lock is held for long and a large backlog goes in steps.
    async fn prune(self: Arc<Self>, stop: CancellationToken) {
        let every = self.config.prune_interval;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let mut total = (0, 0);
            loop {
                let storage = self.jobs.storage();
                match storage
                    .prune(self.namespace(), &self.config.retention, PRUNE_BATCH)
                    .await
                {
                    Ok(pruned) => {
                        total = (total.0 + pruned.runs, total.1 + pruned.keys);
                        if pruned.runs < PRUNE_BATCH && pruned.keys < PRUNE_BATCH {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(worker = %self.id, %error, "prune failed");
                        break;
                    }
                }
                if stop.is_cancelled() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            if total != (0, 0) {
                metrics::pruned(total.0);
                tracing::info!(worker = %self.id, runs = total.0, keys = total.1, "pruned finished runs and expired idempotency keys");
            }
        }
    }
}

impl Pool {
    /// Every poll interval: every tick of every periodic schedule up to two poll
    /// intervals ahead gets its run, due at the tick, including ticks a late pass would
    /// otherwise have missed (see [`Periodic`](crate::Periodic)). Every worker does it;
    /// the tick's idempotency key keeps one run.
    async fn schedule(self: Arc<Self>, stop: CancellationToken) {
        let every = self.config.poll_interval;
        let mut scheduler = crate::periodic::Scheduler::new(
            &self.jobs,
            every.saturating_mul(2),
            self.config.retention.key_window_for(),
        );
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match scheduler.pass(&self.jobs).await {
                Ok(0) => {}
                Ok(created) => {
                    tracing::debug!(worker = %self.id, created, "enqueued the next ticks of periodic schedules");
                }
                Err(error) => {
                    tracing::warn!(worker = %self.id, %error, "periodic schedules: could not enqueue the next ticks")
                }
            }
        }
    }
}

/// Runs deleted (and keys forgotten) per prune statement.
const PRUNE_BATCH: usize = 1000;

/// Claimed runs started per chunk task (see [`Pool::start_batch`]).
const START_CHUNK: usize = 32;

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

fn log_result(attempt: u32, result: &AttemptResult) {
    match result {
        AttemptResult::Succeeded => tracing::debug!("attempt succeeded"),
        AttemptResult::Retry { error, delay } => {
            tracing::info!(%error, retry_in = ?delay, "attempt failed; retry scheduled");
        }
        AttemptResult::DeadLetter { error } => {
            tracing::warn!(%error, attempts = attempt, "run dead-lettered");
        }
        AttemptResult::Snooze { reason, delay } => {
            tracing::info!(%reason, retry_in = ?delay, "attempt snoozed");
        }
    }
}

/// 100 ms, 200 ms, ... up to 5 s: waits between tries against a failing storage.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_millis(100 << exp).min(Duration::from_secs(5))
}

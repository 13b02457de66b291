//! The storage contract: where runs live. Policy lives in the runtime, persistence here.
//!
//! This module is the specification a backend is written from: the [`Storage`] trait's
//! docs say, method by method, what each does to every field of a run, which [`Error`] it
//! returns when, and which [`StorageEvent`] it emits; the conformance suite in
//! `jobs::testing` (feature `testing`) checks every one of those promises, races and
//! faults included. A backend is done when its docs-driven implementation passes the
//! suite: `jobs::storage_conformance!(|clock| async move { Arc::new(MyStorage::new(clock)) as Arc<dyn Storage> });`.
//!
//! # The rules every method follows
//!
//! - **One verb, plain data.** Each method takes plain values (most of them a batch) and
//!   should be one round trip (one statement or one transaction) to the backend.
//! - **The storage's clock decides.** Every time a storage writes (`created_at`,
//!   `run_at`, `started_at`, `finished_at`, lease ends) is its own clock's "now" (the
//!   database's, or the [`Clock`] it was given), read once per call. The runtime hands
//!   storage *durations* (delays, backoffs, lease lengths), never times it computed;
//!   the only absolute times that come in are a run's [`Schedule::At`] and its periodic
//!   `tick`, stored as given. [`Storage::now`] exposes that clock.
//! - **Leases fence results.** A worker holds attempt `n` of a run while the run is
//!   `running` with `attempt == n`. Every write of an attempt's outcome
//!   ([`finish`](Storage::finish), [`release`](Storage::release),
//!   [`heartbeat`](Storage::heartbeat)) names its [`Lease`] and is applied only while that
//!   holds; otherwise it changes nothing. A worker that lost its run (cancelled, rescued,
//!   claimed again) can never overwrite a newer state.
//! - **Boundaries.** A run is *due* when `run_at <= now`. A lease *holds* through its
//!   last instant: it has *expired* when `lease_until < now`. A run stored `queued` with
//!   `attempt == 0` and `run_at > now` is *seen* as [`RunStatus::Scheduled`] by every read
//!   ([`RunStatus::as_seen_at`]); `scheduled` is never stored. Limit windows count the
//!   starts in `(now - per, now]`.
//! - **The budget.** `max_attempts` never changes once stored. `failures` counts attempts
//!   that failed or lost their lease, `snoozes` and `handbacks` the others that did not
//!   finish the run; `attempt` counts every attempt started.
//! - **Namespaces never cross.** Every method acts within the namespace it is given;
//!   an id of another namespace is "not found".
//! - **Concurrency.** Every method may be called at once from many workers and
//!   processes. Two claims never return the same run; two rescuers never rescue one run
//!   twice; one idempotency key never makes two runs.
//! - **Errors.** Bad arguments and missing runs are the caller's errors
//!   ([`Error::RunNotFound`], [`Error::NotCancellable`], [`Error::NotReplayable`],
//!   [`Error::Config`]); a backend that failed (unreachable, timed out, a constraint it
//!   did not expect) returns [`Error::Storage`] naming what it was doing, with the cause
//!   as its source. A call that returns an error changed nothing it reports: a batch is
//!   applied whole or not at all.
//! - **Events are hints.** [`Storage::subscribe`] gives workers [`StorageEvent`]s so they
//!   react at once; a storage emits them after its change is visible (committed), to
//!   subscribers in this process and, where it can (PostgreSQL's NOTIFY), in other
//!   processes. Workers also poll, so a lost or spurious event costs latency, never a run.
//! - **Text is stored verbatim**, payloads as the JSON given, as long as every storage
//!   can keep it: values none can (text with NUL, which PostgreSQL cannot hold; times
//!   outside the years 0 to 9999; delays past a century) are refused with
//!   [`Error::InvalidInput`] naming the field, before anything is stored, the same on
//!   every backend: call [`check_new_runs`] in `enqueue` and [`check_text`] on `list`'s
//!   task filter and `replay`'s reason. Error messages written by the runtime (results,
//!   snooze reasons) may have NUL replaced (U+FFFD) rather than fail a batch of results.
//!
//! [`Clock`]: crate::Clock
//! [`RunStatus::Scheduled`]: crate::RunStatus::Scheduled
//! [`RunStatus::as_seen_at`]: crate::RunStatus::as_seen_at
//! [`Error::RunNotFound`]: crate::Error::RunNotFound
//! [`Error::NotCancellable`]: crate::Error::NotCancellable
//! [`Error::NotReplayable`]: crate::Error::NotReplayable
//! [`Error::Config`]: crate::Error::Config
//! [`Error::Storage`]: crate::Error::Storage
//! [`Error::InvalidInput`]: crate::Error::InvalidInput

mod check;
mod memory;
mod records;

pub use check::{MAX_DELAY, check_new_runs, check_text, check_time};
pub use memory::MemoryStorage;
pub use records::{
    AttemptResult, CANCELLED, ClaimRequest, Enqueued, Finished, Heartbeat, INTERRUPTED,
    LEASE_EXPIRED, Lease, NewRun, Outcome, ReplayRequest, Schedule, StorageEvent,
};

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::model::error::Error;
use crate::model::list::{ListRuns, Page};
use crate::model::retention::{Pruned, Retention};
use crate::model::run::{Attempt, Run, RunId};
use crate::model::stats::Stats;

/// A place where runs live: memory, SQLite, PostgreSQL, or a backend of your own.
///
/// Read the [module docs](self) first: the rules there (clock, leases, boundaries,
/// budget, namespaces, concurrency, errors, events) hold for every method. Each method
/// below says what it changes; a field it does not name is left as it was.
///
/// Object-safe: the runtime holds an `Arc<dyn Storage>`. Every method is required but
/// [`now`](Self::now); none has a default that silently does nothing.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Stores new runs, in the order given, and returns one [`Enqueued`] per input, in
    /// that order.
    ///
    /// A run whose `idempotency_key` is already held in its namespace (by a stored run,
    /// or by an earlier run of this batch) is not stored: its entry is the holder, as
    /// seen now, with `created: false`. Under concurrent enqueues of one key, exactly one
    /// call creates the run and every caller gets its id. A key is held until
    /// [`prune`](Self::prune) forgets it.
    ///
    /// Every other run is stored with: the given `id`, `namespace`, `task`, `queue`,
    /// `payload`, `priority`, `idempotency_key` and `tick`; `status` `queued`; `attempt`,
    /// `failures`, `snoozes`, `handbacks` 0; `max_attempts` the given one, at least 1;
    /// `created_at` now; `run_at` the schedule resolved at now ([`Schedule::resolve`]: a
    /// time in the past means now); every other field empty. Its entry is the run as
    /// seen now (`scheduled` when not due), with `created: true`.
    ///
    /// Emits [`StorageEvent::RunsAvailable`] for each namespace where a run was created
    /// due now.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a value no storage can keep
    /// ([`check_new_runs`]); [`Error::Storage`] when the backend fails. Either way nothing
    /// of the batch is stored.
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, Error>;

    /// Claims up to `request.limit` due runs and returns them, in claim order:
    /// `(priority, run_at, id)` ascending.
    ///
    /// Claimable: a run of `request.namespace`, in `request.queue`, of one of
    /// `request.tasks`, stored `queued` or `retrying`, due (`run_at <= now`). A run
    /// another claim is taking at the same moment is skipped, never returned twice.
    ///
    /// Each claimed run gets: `status` `running`; `attempt` + 1 (the new attempt, which
    /// reads `running` in [`attempts`](Self::attempts)); `started_at` now; a lease until
    /// now + `request.lease`, held by `request.worker`. `run_at` and everything else stay;
    /// the returned runs show the new values.
    ///
    /// With `request.key_limit` (the request then names one task): a run is claimed only
    /// if the runs of the task running with its key ([`KeyLimit::key_of`](crate::KeyLimit::key_of) of the payload),
    /// plus the runs of that key taken earlier in this claim, stay under
    /// [`KeyLimit::in_flight_max`](crate::KeyLimit::in_flight_max), and the starts of that key in the last `per`
    /// (this claim's included) stay under [`KeyLimit::starts_max`](crate::KeyLimit::starts_max); each run claimed under
    /// a start limit records a start. Runs held back are left untouched (they use no
    /// attempt) and do not stop runs of other keys behind them. Claims of one limited task
    /// must be serialized across processes so those counts are exact.
    ///
    /// A limit of 0 or no task claims nothing. Emits nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails; then nothing was claimed.
    async fn claim(&self, request: ClaimRequest) -> Result<Vec<Run>, Error>;

    /// Extends the leases of `request` that still hold to now + `request.lease`, and
    /// returns those (in any order). A lease that does not come back was lost (the run was
    /// cancelled, rescued, or claimed again after a rescue): its attempt should stop.
    /// Nothing else changes; emits nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails.
    async fn heartbeat(&self, request: Heartbeat) -> Result<Vec<Lease>, Error>;

    /// Records the results of attempts, each only if its lease still holds; the others
    /// are returned in [`Finished::stale`] and change nothing. For each applied result
    /// the lease is released and:
    ///
    /// - [`AttemptResult::Succeeded`]: `status` `succeeded`, `finished_at` now; the attempt
    ///   reads `succeeded`, finished now.
    /// - [`AttemptResult::Retry`]: `status` `retrying`, `run_at` now + `delay`,
    ///   `last_error` the error, `failures` + 1; the attempt reads `failed` with the error.
    /// - [`AttemptResult::DeadLetter`]: `status` `dead_lettered`, `finished_at` now,
    ///   `last_error` the error, `failures` + 1; the attempt reads `failed` with the error.
    /// - [`AttemptResult::Snooze`]: `status` `retrying`, `run_at` now + `delay`,
    ///   `snoozes` + 1, `last_error` unchanged; the attempt reads `snoozed` with the
    ///   reason as its error.
    ///
    /// Emits [`StorageEvent::RunsAvailable`] when a retry or snooze is due now.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails; then no result of the batch was
    /// recorded, and the caller may send the same batch again (the fence makes that safe).
    async fn finish(&self, namespace: &str, outcomes: Vec<Outcome>) -> Result<Finished, Error>;

    /// Hands runs back unfinished (a worker shutting down), each only if its lease still
    /// holds, and returns how many were. Each: `status` `queued`, lease released,
    /// `handbacks` + 1, `run_at` kept (so it keeps its place in line, due at once); the
    /// attempt reads `interrupted` with [`INTERRUPTED`]. The budget is untouched.
    ///
    /// Emits [`StorageEvent::RunsAvailable`] when any was handed back.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails; then none was handed back.
    async fn release(&self, namespace: &str, leases: Vec<Lease>) -> Result<usize, Error>;

    /// Takes back the runs of the namespace whose lease expired (their worker died or
    /// stalled) and returns their ids, in id order. Each: lease released, `failures` + 1,
    /// `last_error` [`LEASE_EXPIRED`]; the attempt reads `lease_expired` with that error;
    /// then, if `failures` has reached `max_attempts`, `status` `dead_lettered` and
    /// `finished_at` now, else `status` `retrying` with `run_at` kept (it keeps its place
    /// in line and owes no backoff). Runs another rescuer is taking at the same moment
    /// are skipped.
    ///
    /// Emits [`StorageEvent::RunsAvailable`] when any run was returned to the queue.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails; then no run was taken back.
    async fn rescue_expired(&self, namespace: &str) -> Result<Vec<RunId>, Error>;

    /// The run `id` of the namespace as seen now, or `None` when the namespace has no
    /// such run.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails.
    async fn get(&self, namespace: &str, id: RunId) -> Result<Option<Run>, Error>;

    /// A page of the namespace's runs, newest first (by id): those of `filter`'s task and
    /// status (the status as seen now, so `scheduled` and `queued` are told apart), older
    /// than its cursor when it has one, at most its limit. Storages read one run more
    /// than the limit and build the page with [`Page::from_overfetch`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a task filter no storage
    /// can hold ([`check_text`], field `task`); [`Error::Storage`] when the backend fails.
    async fn list(&self, namespace: &str, filter: &ListRuns) -> Result<Page, Error>;

    /// Every attempt of run `id`, oldest first: one per attempt started, numbered from 1
    /// to the run's `attempt`, each with how it ended (`running` and no `finished_at`
    /// while it runs) and its error, if any. A run never attempted has none.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`] when the namespace has no such
    /// run; [`Error::Storage`] when the backend fails.
    async fn attempts(&self, namespace: &str, id: RunId) -> Result<Vec<Attempt>, Error>;

    /// Cancels run `id`, which has not finished, and returns it as it is now: `status`
    /// `cancelled`, `finished_at` now, any lease released. A run cancelled while running
    /// has its attempt read `cancelled` with [`CANCELLED`], and its worker's result is
    /// then stale. A cancel and a claim of one run never both win: the run is either not
    /// started, or started and then cancelled, or finished first (and the cancel fails).
    ///
    /// Emits [`StorageEvent::Cancelled`], which the worker running the run must receive,
    /// in whatever process it is, or learn at its next heartbeat.
    ///
    /// # Errors
    ///
    /// [`Error::NotCancellable`] for a finished run, which is
    /// left as it was; [`Error::RunNotFound`]; [`Error::Storage`].
    async fn cancel(&self, namespace: &str, id: RunId) -> Result<Run, Error>;

    /// Makes `request.new_id` a new run from finished run `request.id` and returns it:
    /// the original's `task`, `queue`, `payload`, `priority` and `tick`; `status` `queued`,
    /// due now; no attempt made, every counter 0; `max_attempts` `request.max_attempts`,
    /// or the original's when `None`; no idempotency key; `created_at` now; `replay_of`
    /// the original's id and `replay_reason` `request.reason`. The original is untouched.
    ///
    /// Emits [`StorageEvent::RunsAvailable`].
    ///
    /// # Errors
    ///
    /// [`Error::NotReplayable`] (with its status as seen now)
    /// for a run that has not finished; [`Error::RunNotFound`];
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a reason no storage can keep
    /// (field `reason`), before anything else is looked at; [`Error::Storage`].
    async fn replay(&self, namespace: &str, request: ReplayRequest) -> Result<Run, Error>;

    /// A receiver of the storage's [`StorageEvent`]s (see the module docs: hints, emitted
    /// after the change is visible, to this process's subscribers and where possible to
    /// other processes'). Never blocks; a storage may start its listener here, on a
    /// thread of its own rather than on the caller's runtime, which may end first.
    fn subscribe(&self) -> broadcast::Receiver<StorageEvent>;

    /// How many runs of the namespace each task has in each status as seen now, and how
    /// many finished (by final status) in each minute of the last `window`, cut to
    /// [`MAX_STATS_WINDOW`](crate::stats::MAX_STATS_WINDOW), by the storage's clock.
    /// [`Stats::from_counts`] and [`Stats::from_runs`] lay the figures out.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails.
    async fn stats(&self, namespace: &str, window: Duration) -> Result<Stats, Error>;

    /// The storage's time: the one its statements use for due times and leases, and so
    /// the one periodic schedules compute their ticks with. The default is the system's,
    /// right for a storage whose clock is the process's.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails to tell its time.
    async fn now(&self) -> Result<DateTime<Utc>, Error> {
        Ok(Utc::now())
    }

    /// One prune batch of the namespace, and what it did:
    ///
    /// 1. forgets the idempotency keys of up to `limit` finished runs created longer ago
    ///    than [`Retention::key_window_for`] (their `idempotency_key` becomes empty, and
    ///    the key may make a new run);
    /// 2. deletes, with their attempts, up to `limit` finished runs whose `finished_at`
    ///    is older than `retention` keeps their status and whose key is forgotten or was
    ///    never set.
    ///
    /// Rows another pruner is working on are skipped; other runs are untouched. Emits
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the backend fails.
    async fn prune(
        &self,
        namespace: &str,
        retention: &Retention,
        limit: usize,
    ) -> Result<Pruned, Error>;
}

//! Workers: claim due runs, run their attempts, and record the results. The top layer:
//! it depends on every other, and nothing but the crate root depends on it.
//!
//! A worker runs one pool per queue it serves (`pool/`): a handful of tokio tasks sharing
//! one `Pool`, each role in a file of its own (claim loop, attempt starter, completer,
//! heartbeat, rescuer, pruner, periodic scheduler, shutdown). `execute.rs` runs one
//! attempt and applies the task's policy; `drain.rs` is `Jobs::drain`; `scheduler.rs` the
//! periodic scheduler both use; `metrics.rs` what workers record.

mod drain;
mod execute;
pub mod metrics;
mod pool;
pub(crate) mod scheduler;

pub use drain::DrainReport;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::retention::Retention;
use crate::model::run::DEFAULT_QUEUE;
use crate::model::run::RunId;
use crate::task::handle::Jobs;

/// Configures a worker. Get it from [`Jobs::worker`], then [`start`](Self::start) it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), jobs::Error> {
/// use std::time::Duration;
/// # let jobs = jobs::Jobs::builder().storage(jobs::MemoryStorage::new()).build()?;
///
/// let worker = jobs.worker().concurrency(16).shutdown_timeout(Duration::from_secs(10)).start();
/// // ... the app runs ...
/// let report = worker.shutdown().await;
/// assert_eq!(report.handed_back, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a worker does nothing until started"]
pub struct WorkerBuilder {
    jobs: Jobs,
    config: Config,
    /// The queues named with [`WorkerBuilder::queue`], with their slots; none: every
    /// queue of the registered tasks, with `config.concurrency` slots each.
    queues: Vec<(String, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The queue this pool serves.
    pub(crate) queue: String,
    /// Whether this pool runs the rescuer and the pruner (one pool of a worker does).
    pub(crate) rescue: bool,
    pub(crate) retention: Retention,
    pub(crate) prune_interval: Duration,
    pub(crate) concurrency: usize,
    pub(crate) lease: Duration,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) poll_interval: Duration,
    pub(crate) rescue_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) max_batch: usize,
}

impl Config {
    /// After the shutdown timeout, how long pending results and hand-backs may still take:
    /// the shutdown timeout again, at least 1 s and at most 10 s.
    pub(crate) fn write_grace(&self) -> Duration {
        self.shutdown_timeout
            .clamp(Duration::from_secs(1), Duration::from_secs(10))
    }

    pub(crate) fn heartbeat_interval(&self) -> Duration {
        self.heartbeat
            .unwrap_or(self.lease / 3)
            .max(Duration::from_millis(1))
    }
}

impl Jobs {
    /// Configures a worker that runs this namespace's runs of every registered task.
    pub fn worker(&self) -> WorkerBuilder {
        WorkerBuilder::new(self.clone())
    }
}

impl WorkerBuilder {
    pub(crate) fn new(jobs: Jobs) -> Self {
        WorkerBuilder {
            jobs,
            queues: Vec::new(),
            config: Config {
                queue: DEFAULT_QUEUE.to_owned(),
                rescue: true,
                retention: Retention::default(),
                prune_interval: Duration::from_secs(60),
                concurrency: 10,
                lease: Duration::from_secs(30),
                heartbeat: None,
                poll_interval: Duration::from_secs(1),
                rescue_interval: Duration::from_secs(15),
                shutdown_timeout: Duration::from_secs(30),
                max_batch: 1000,
            },
        }
    }

    /// Attempts run at once in each queue served (at least 1). Default 10.
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.config.concurrency = slots.max(1);
        self
    }

    /// Serves `queue` with `slots` attempts at once (at least 1), claimed and run apart
    /// from the other queues, so slow runs of one queue never take the slots of another.
    /// Once a queue is named, the worker serves only the named ones; without any, it
    /// serves every queue of the tasks linked into the binary, with
    /// [`concurrency`](Self::concurrency) slots each.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), jobs::Error> {
    /// # let jobs = jobs::Jobs::builder().storage(jobs::MemoryStorage::new()).build()?;
    /// let worker = jobs.worker().queue("webhooks", 5).queue("default", 20).start();
    /// # worker.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn queue(mut self, queue: impl Into<String>, slots: usize) -> Self {
        let queue = queue.into();
        self.queues.retain(|(name, _)| *name != queue);
        self.queues.push((queue, slots.max(1)));
        self
    }

    /// How long a claimed run stays this worker's without a heartbeat. If the worker dies,
    /// its runs are retried once this has passed. Default 30 s.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease.max(Duration::from_millis(10));
        self
    }

    /// How often leases are extended (and cancellations learned). Default: a third of
    /// the lease.
    pub fn heartbeat_interval(mut self, every: Duration) -> Self {
        self.config.heartbeat = Some(every);
        self
    }

    /// How often an idle worker looks for due runs when no storage event woke it
    /// (scheduled runs becoming due, missed wakeups). Default 1 s.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.config.poll_interval = every.max(Duration::from_millis(1));
        self
    }

    /// How often this worker looks for runs whose lease expired. Default 15 s.
    pub fn rescue_interval(mut self, every: Duration) -> Self {
        self.config.rescue_interval = every.max(Duration::from_millis(1));
        self
    }

    /// How long finished runs and idempotency keys are kept (see [`Retention`]: by
    /// default succeeded and cancelled runs 7 days, dead letters 30 days, keys 24 hours).
    /// The worker prunes what is older every [`prune_interval`](Self::prune_interval),
    /// in batches of 1,000; every worker of the namespace does, skipping each other's rows.
    /// [`Retention::keep_forever`] turns pruning off.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.config.retention = retention;
        self
    }

    /// How often the worker prunes (see [`retention`](Self::retention)). Default 60 s.
    pub fn prune_interval(mut self, every: Duration) -> Self {
        self.config.prune_interval = every.max(Duration::from_millis(1));
        self
    }

    /// How long [`WorkerHandle::shutdown`] gives attempts in flight, once told, to finish
    /// or return before it aborts them and hands their runs back. Default 30 s. Writing pending results and the hand-back then get
    /// up to this long again (at least 1 s, at most 10 s), so a shutdown ends within
    /// about twice this timeout even when the storage is unreachable.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Starts the worker on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub fn start(self) -> WorkerHandle {
        let stop = CancellationToken::new();
        let id = format!(
            "{}:{}:{}",
            self.jobs.name(),
            std::process::id(),
            &RunId::new().as_uuid().simple().to_string()[20..]
        );
        let queues = if self.queues.is_empty() {
            let mut all: Vec<(String, usize)> = self
                .jobs
                .registry()
                .queues()
                .into_iter()
                .map(|queue| (queue.to_owned(), self.config.concurrency))
                .collect();
            if all.is_empty() {
                all.push((DEFAULT_QUEUE.to_owned(), self.config.concurrency));
            }
            all
        } else {
            self.queues
        };
        let joins = queues
            .into_iter()
            .enumerate()
            .map(|(index, (queue, slots))| {
                let config = Config {
                    queue,
                    rescue: index == 0,
                    concurrency: slots,
                    ..self.config.clone()
                };
                let pool = Arc::new(pool::Pool::new(self.jobs.clone(), config, id.clone()));
                tokio::spawn(pool.run(stop.clone()))
            })
            .collect();
        WorkerHandle { id, stop, joins }
    }
}

/// A running worker. Call [`shutdown`](Self::shutdown) to stop it gracefully; dropping
/// the handle leaves it running until the runtime ends.
#[derive(Debug)]
pub struct WorkerHandle {
    id: String,
    stop: CancellationToken,
    /// One pool per queue served.
    joins: Vec<JoinHandle<ShutdownReport>>,
}

impl WorkerHandle {
    /// This worker's id, as recorded on the runs it claims.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops claiming, tells every attempt in flight (its [`Context`](crate::Context) is
    /// cancelled with [`CancelReason::Shutdown`](crate::CancelReason::Shutdown)), waits for
    /// them up to the shutdown timeout, aborts and hands back the runs of the ones still
    /// running (and of the ones that stopped early with a retryable error), and writes
    /// every pending result, within a bounded time (see
    /// [`WorkerBuilder::shutdown_timeout`]). A handed-back run uses none of its budget.
    pub async fn shutdown(self) -> ShutdownReport {
        self.stop.cancel();
        let mut total = ShutdownReport::default();
        for join in self.joins {
            match join.await {
                Ok(report) => total.add(report),
                Err(error) => {
                    tracing::error!(worker = %self.id, %error, "worker task failed");
                }
            }
        }
        total
    }
}

/// What a worker did, reported when it shuts down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Attempts whose results were recorded.
    pub completed: usize,
    /// Results the storage refused because the lease was lost meanwhile.
    pub stale: usize,
    /// Runs handed back unfinished at shutdown.
    pub handed_back: usize,
    /// Results and hand-backs that could not be written before the deadline (the storage
    /// was unreachable); those runs stay `running` until their lease expires, then are
    /// retried by another worker.
    pub unwritten: usize,
}

impl ShutdownReport {
    fn add(&mut self, other: ShutdownReport) {
        self.completed += other.completed;
        self.stale += other.stale;
        self.handed_back += other.handed_back;
        self.unwritten += other.unwritten;
    }
}

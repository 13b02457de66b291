//! Reading and managing runs: `jobs.runs()`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::error::Error;
use crate::model::list::{ListRuns, Page};
use crate::model::run::{Attempt, Run, RunId};
use crate::model::stats::Stats;
use crate::storage::{ReplayRequest, check_text};
use crate::task::definition::Task;
use crate::task::handle::Jobs;

impl Jobs {
    /// Reads and manages runs: get, list, attempts, cancel, replay.
    pub fn runs(&self) -> Runs<'_> {
        Runs::new(self)
    }
}

impl ListRuns {
    /// Only runs of task `T`.
    pub fn task<T: Task>(self) -> Self {
        self.task_name(T::NAME)
    }
}

/// Reads and manages the runs of one namespace. Get it from [`Jobs::runs`].
///
/// # Examples
///
/// ```rust,standalone_crate
/// # #[jobs::task]
/// # async fn sync_provider(account_id: String) {}
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), jobs::Error> {
/// # let jobs = jobs::Jobs::builder().storage(jobs::MemoryStorage::new()).build()?;
/// use jobs::{ListRuns, RunStatus};
///
/// let run = jobs.enqueue(SyncProvider { account_id: "acct_1".into() }).await?.run;
/// let recent = jobs.runs().list(ListRuns::new().task::<SyncProvider>().limit(25)).await?;
/// assert_eq!(recent.runs[0].id, run.id);
///
/// let cancelled = jobs.runs().cancel(&run.id).await?;
/// assert_eq!(cancelled.status, RunStatus::Cancelled);
/// let replay = jobs.runs().replay(&run.id, "provider recovered").await?;
/// assert_eq!(replay.replay_of, Some(run.id));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Runs<'a> {
    jobs: &'a Jobs,
}

impl<'a> Runs<'a> {
    /// The most runs one [`replay_matching`](Self::replay_matching) call replays.
    pub const MAX_REPLAY: usize = 10_000;

    pub(crate) fn new(jobs: &'a Jobs) -> Self {
        Runs { jobs }
    }

    /// One run, or `None` if no run has this id in this namespace.
    ///
    /// # Errors
    ///
    /// A storage failure.
    pub async fn get(&self, id: &RunId) -> Result<Option<Run>, Error> {
        self.jobs.storage().get(self.jobs.namespace(), *id).await
    }

    /// A page of runs, newest first, filtered by task and status.
    ///
    /// # Errors
    ///
    /// A storage failure.
    pub async fn list(&self, filter: ListRuns) -> Result<Page, Error> {
        self.jobs
            .storage()
            .list(self.jobs.namespace(), &filter)
            .await
    }

    /// Every attempt of a run, oldest first, with start, end, outcome and error.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`]; a storage failure.
    pub async fn attempts(&self, id: &RunId) -> Result<Vec<Attempt>, Error> {
        self.jobs
            .storage()
            .attempts(self.jobs.namespace(), *id)
            .await
    }

    /// Cancels a run that has not finished. A waiting run never runs; a running run's
    /// [`Context`](crate::Context) sees the cancellation and its result is discarded.
    ///
    /// # Errors
    ///
    /// [`Error::NotCancellable`] for a finished run; [`Error::RunNotFound`]; a storage
    /// failure.
    pub async fn cancel(&self, id: &RunId) -> Result<Run, Error> {
        let run = self
            .jobs
            .storage()
            .cancel(self.jobs.namespace(), *id)
            .await?;
        tracing::info!(run_id = %run.id, task = %run.task, namespace = %run.namespace, attempt = run.attempt, "run cancelled");
        Ok(run)
    }

    /// Enqueues a new run with the task, payload and priority of finished run `id`,
    /// linked to it and carrying `reason`. The original run is left as it is.
    ///
    /// The replay starts afresh: no attempt made, and the attempt budget of its task as
    /// compiled into this binary now (a task this binary does not know keeps the
    /// original's budget).
    ///
    /// # Errors
    ///
    /// [`Error::NotReplayable`] for a run that has not finished; [`Error::RunNotFound`];
    /// a storage failure.
    pub async fn replay(&self, id: &RunId, reason: impl Into<String>) -> Result<Run, Error> {
        let namespace = self.jobs.namespace();
        let storage = self.jobs.storage();
        let original = storage
            .get(namespace, *id)
            .await?
            .ok_or_else(|| Error::run_not_found(namespace, *id))?;
        let mut request = ReplayRequest::new(*id, RunId::new(), reason);
        if let Some(task) = self.jobs.registry().get(&original.task) {
            request = request.max_attempts((task.retry)().attempts);
        }
        storage.replay(namespace, request).await
    }

    /// Replays every finished run matching `filter`'s task and status (its cursor and
    /// limit are ignored), newest first, up to `max` runs (at most
    /// [`MAX_REPLAY`](Self::MAX_REPLAY)): "replay the last hour's dead letters". Runs
    /// that are still active are skipped and counted. The report says how many were
    /// replayed and whether more matched than `max` allowed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a reason no storage can keep (before anything is
    /// replayed); a storage failure, after which the runs replayed before it stay replayed.
    pub async fn replay_matching(
        &self,
        filter: &ListRuns,
        reason: &str,
        max: usize,
    ) -> Result<ReplayReport, Error> {
        self.replay_matching_with_progress(filter, reason, max, |_| {})
            .await
    }

    /// [`replay_matching`](Self::replay_matching), calling `progress` with the report so
    /// far after every run looked at: for progress bars.
    ///
    /// # Errors
    ///
    /// As [`replay_matching`](Self::replay_matching).
    pub async fn replay_matching_with_progress(
        &self,
        filter: &ListRuns,
        reason: &str,
        max: usize,
        mut progress: impl FnMut(&ReplayReport),
    ) -> Result<ReplayReport, Error> {
        // Refused up front, not only when a run matches: the same answer whatever is stored.
        check_text("reason", reason)?;
        let max = max.min(Self::MAX_REPLAY);
        let mut report = ReplayReport::default();
        let mut page_filter = ListRuns::new().limit(ListRuns::MAX_LIMIT);
        if let Some(task) = filter.task_value() {
            page_filter = page_filter.task_name(task);
        }
        if let Some(status) = filter.status_value() {
            page_filter = page_filter.status(status);
        }
        loop {
            let page = self.list(page_filter.clone()).await?;
            for run in &page.runs {
                if report.looked_at() >= max {
                    report.more = true;
                    return Ok(report);
                }
                match self.replay(&run.id, reason).await {
                    Ok(new) => report.replayed.push(new.id),
                    Err(Error::NotReplayable { .. }) => report.skipped += 1,
                    Err(e) => return Err(e),
                }
                progress(&report);
            }
            match page.next_cursor {
                Some(cursor) => page_filter = page_filter.cursor(cursor),
                None => return Ok(report),
            }
        }
    }

    /// Counts by task and status, and the runs finished in each minute of the last
    /// `window` (at most a day): what a dashboard shows.
    ///
    /// # Errors
    ///
    /// A storage failure, or a storage that does not report stats.
    pub async fn stats(&self, window: Duration) -> Result<Stats, Error> {
        self.jobs
            .storage()
            .stats(self.jobs.namespace(), window)
            .await
    }
}

/// What [`Runs::replay_matching`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReplayReport {
    /// The new runs, one per run replayed, newest original first.
    pub replayed: Vec<RunId>,
    /// Runs that matched but had not finished, left alone.
    pub skipped: usize,
    /// Whether more runs matched than the limit allowed: call again for the rest.
    pub more: bool,
}

impl ReplayReport {
    /// Runs looked at: replayed or skipped.
    pub fn looked_at(&self) -> usize {
        self.replayed.len() + self.skipped
    }
}

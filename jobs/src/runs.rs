//! Reading and managing runs: `jobs.runs()`.

use crate::client::Jobs;
use crate::error::Error;
use crate::list::{ListRuns, Page};
use crate::run::{Attempt, Run, RunId};

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
        self.jobs.storage().cancel(self.jobs.namespace(), *id).await
    }

    /// Enqueues a new run with the task and payload of finished run `id`, linked to it
    /// and carrying `reason`. The original run is left as it is.
    ///
    /// # Errors
    ///
    /// [`Error::NotReplayable`] for a run that has not finished; [`Error::RunNotFound`];
    /// a storage failure.
    pub async fn replay(&self, id: &RunId, reason: impl Into<String>) -> Result<Run, Error> {
        self.jobs
            .storage()
            .replay(self.jobs.namespace(), *id, RunId::new(), reason.into())
            .await
    }
}

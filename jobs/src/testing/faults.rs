//! A storage that fails or hangs on demand, call by call: for fault tests of workers.
//!
//! [`FaultyStorage`] delegates every call to the storage it wraps, unless a fault is set
//! for that kind of call: then the call fails with a storage error, or hangs (never
//! answers) until the fault ends. Faults end by themselves after the time they were set
//! for, so a test describes an outage ("finish fails for 60 s") and then checks that the
//! worker recovers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::Error;
use crate::Stats;
use crate::storage::{
    ClaimRequest, Enqueued, Finished, Heartbeat, Lease, NewRun, Outcome, ReplayRequest, Storage,
    StorageEvent,
};
use crate::{Attempt, Run, RunId};
use crate::{ListRuns, Page};
use crate::{Pruned, Retention};

/// A kind of storage call, to set a fault on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Call {
    /// [`Storage::enqueue`].
    Enqueue,
    /// [`Storage::claim`].
    Claim,
    /// [`Storage::heartbeat`].
    Heartbeat,
    /// [`Storage::finish`].
    Finish,
    /// [`Storage::release`].
    Release,
    /// [`Storage::rescue_expired`].
    Rescue,
    /// [`Storage::prune`].
    Prune,
    /// [`Storage::now`].
    Now,
}

/// What a faulty call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Fails at once with a storage error.
    Fail,
    /// Answers nothing until the fault ends, then goes through.
    Hang,
    /// Goes through after waiting this long.
    Slow(Duration),
}

/// A storage that delegates to another, with faults set per kind of call.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use jobs::testing::{Call, FaultyStorage};
/// use jobs::{MemoryStorage, Storage};
///
/// let storage = Arc::new(FaultyStorage::new(MemoryStorage::new()));
/// storage.fail(Call::Finish, Duration::from_secs(60));
/// let result = storage.finish("app", Vec::new()).await;
/// assert!(result.is_err());
/// assert_eq!(storage.calls(Call::Finish), 1);
/// # }
/// ```
pub struct FaultyStorage {
    inner: Arc<dyn Storage>,
    faults: Mutex<HashMap<Call, (Fault, Instant)>>,
    calls: Mutex<HashMap<Call, usize>>,
}

impl FaultyStorage {
    /// Wraps `inner`, with no fault set.
    pub fn new(inner: impl Storage) -> Self {
        Self::shared(Arc::new(inner))
    }

    /// Wraps a storage already shared.
    pub fn shared(inner: Arc<dyn Storage>) -> Self {
        FaultyStorage {
            inner,
            faults: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// From now on and for `how_long`, every `call` fails with a storage error.
    pub fn fail(&self, call: Call, how_long: Duration) {
        self.set(call, Fault::Fail, how_long);
    }

    /// From now on and for `how_long`, every `call` hangs until `how_long` has passed
    /// since this was set, then goes through (as a stalled connection that recovers).
    pub fn hang(&self, call: Call, how_long: Duration) {
        self.set(call, Fault::Hang, how_long);
    }

    /// From now on and for `how_long`, every `call` waits `each` before it goes through
    /// (a slow disk, a loaded server).
    pub fn slow(&self, call: Call, each: Duration, how_long: Duration) {
        self.set(call, Fault::Slow(each), how_long);
    }

    /// Ends the fault on `call` now.
    pub fn heal(&self, call: Call) {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&call);
    }

    /// How many times `call` was made, faulty or not.
    pub fn calls(&self, call: Call) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&call)
            .copied()
            .unwrap_or(0)
    }

    fn set(&self, call: Call, fault: Fault, how_long: Duration) {
        let until = Instant::now() + how_long;
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(call, (fault, until));
    }

    /// Counts `call` and applies its fault, if one is set and has not ended.
    async fn enter(&self, call: Call) -> Result<(), Error> {
        *self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(call)
            .or_default() += 1;
        let fault = self
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&call)
            .copied()
            .filter(|(_, until)| Instant::now() < *until);
        match fault {
            None => Ok(()),
            Some((Fault::Fail, _)) => Err(Error::storage(
                format!("{call:?} (a fault set by the test)"),
                "the storage is unavailable",
            )),
            Some((Fault::Hang, until)) => {
                tokio::time::sleep_until(until).await;
                Ok(())
            }
            Some((Fault::Slow(each), _)) => {
                tokio::time::sleep(each).await;
                Ok(())
            }
        }
    }
}

impl std::fmt::Debug for FaultyStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStorage").finish_non_exhaustive()
    }
}

#[async_trait]
impl Storage for FaultyStorage {
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, Error> {
        self.enter(Call::Enqueue).await?;
        self.inner.enqueue(runs).await
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<Run>, Error> {
        self.enter(Call::Claim).await?;
        self.inner.claim(request).await
    }

    async fn heartbeat(&self, request: Heartbeat) -> Result<Vec<Lease>, Error> {
        self.enter(Call::Heartbeat).await?;
        self.inner.heartbeat(request).await
    }

    async fn finish(&self, namespace: &str, outcomes: Vec<Outcome>) -> Result<Finished, Error> {
        self.enter(Call::Finish).await?;
        self.inner.finish(namespace, outcomes).await
    }

    async fn release(&self, namespace: &str, leases: Vec<Lease>) -> Result<usize, Error> {
        self.enter(Call::Release).await?;
        self.inner.release(namespace, leases).await
    }

    async fn rescue_expired(&self, namespace: &str) -> Result<Vec<RunId>, Error> {
        self.enter(Call::Rescue).await?;
        self.inner.rescue_expired(namespace).await
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

    async fn replay(&self, namespace: &str, request: ReplayRequest) -> Result<Run, Error> {
        self.inner.replay(namespace, request).await
    }

    fn subscribe(&self) -> broadcast::Receiver<StorageEvent> {
        self.inner.subscribe()
    }

    async fn stats(&self, namespace: &str, window: Duration) -> Result<Stats, Error> {
        self.inner.stats(namespace, window).await
    }

    async fn now(&self) -> Result<DateTime<Utc>, Error> {
        self.enter(Call::Now).await?;
        self.inner.now().await
    }

    async fn prune(
        &self,
        namespace: &str,
        retention: &Retention,
        limit: usize,
    ) -> Result<Pruned, Error> {
        self.enter(Call::Prune).await?;
        self.inner.prune(namespace, retention, limit).await
    }
}

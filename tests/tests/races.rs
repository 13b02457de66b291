//! Races, each repeated many times, on both storages: enqueues sharing a key, cancel
//! against claim, replay against finish, and claimers sharing a small queue.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod postgres_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jobs::storage::{AttemptResult, ClaimRequest, Lease, NewRun, Outcome, ReplayRequest};
use jobs::{AttemptOutcome, Error, ManualClock, MemoryStorage, RunId, RunStatus, Storage};
use postgres_support::{SchemaGuard, schema_name};

const NS: &str = "races";
const TASK: &str = "race-task";

async fn memory() -> (Arc<dyn Storage>, Option<SchemaGuard>) {
    (
        Arc::new(MemoryStorage::with_clock(ManualClock::new())),
        None,
    )
}

async fn postgres(tag: &str) -> (Arc<dyn Storage>, Option<SchemaGuard>) {
    let schema = schema_name(tag);
    let storage = postgres_support::storage(&schema, None, 8).await;
    (Arc::new(storage), Some(SchemaGuard(schema)))
}

fn new_run(key: Option<String>) -> NewRun {
    let mut run = NewRun::new(NS, TASK, serde_json::json!({ "n": 1 }), 3);
    run.idempotency_key = key;
    run
}

async fn enqueue_one(storage: &dyn Storage) -> RunId {
    storage.enqueue(vec![new_run(None)]).await.unwrap()[0].id()
}

fn claim(limit: usize) -> ClaimRequest {
    ClaimRequest::new(
        NS,
        vec![TASK.into()],
        limit,
        Duration::from_secs(60),
        "racer",
    )
}

/// Many enqueues with one key, from many tasks at once: one run, every caller its id.
async fn one_key_one_run(storage: Arc<dyn Storage>, rounds: usize, callers: usize) {
    for round in 0..rounds {
        let key = format!("race:{round}:{}", RunId::new());
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..callers {
            let storage = storage.clone();
            let key = key.clone();
            tasks.spawn(async move { storage.enqueue(vec![new_run(Some(key))]).await });
        }
        let mut ids = HashSet::new();
        let mut created = 0;
        while let Some(result) = tasks.join_next().await {
            let enqueued = result.unwrap().unwrap().pop().unwrap();
            ids.insert(enqueued.id());
            created += usize::from(enqueued.created);
        }
        assert_eq!(ids.len(), 1, "round {round}: every caller gets the one run");
        assert_eq!(created, 1, "round {round}: exactly one caller created it");
    }
}

/// Cancel against claim (and the claimer's result): a run is either never started, or
/// started and then cancelled with its result dropped, or finished before the cancel came
/// (which then fails). Never both succeeded and cancelled.
async fn cancel_against_claim(storage: Arc<dyn Storage>, rounds: usize) {
    let mut seen = [0usize; 3];
    for round in 0..rounds {
        let id = enqueue_one(storage.as_ref()).await;
        let claimer = {
            let storage = storage.clone();
            tokio::spawn(async move {
                let runs = storage.claim(claim(1)).await.unwrap();
                let run = runs.into_iter().find(|r| r.id == id)?;
                // Vary the interleavings: some rounds finish at once, some let the cancel in.
                if round % 2 == 0 {
                    tokio::task::yield_now().await;
                }
                let outcome = Outcome::new(Lease::of(&run), AttemptResult::Succeeded);
                Some(storage.finish(NS, vec![outcome]).await.unwrap())
            })
        };
        let canceller = {
            let storage = storage.clone();
            tokio::spawn(async move { storage.cancel(NS, id).await })
        };
        let finished = claimer.await.unwrap();
        let cancelled = canceller.await.unwrap();
        let run = storage.get(NS, id).await.unwrap().unwrap();
        let attempts = storage.attempts(NS, id).await.unwrap();
        match (&cancelled, &finished) {
            (Ok(_), None) => {
                // Cancelled before the claim: never started.
                assert_eq!(run.status, RunStatus::Cancelled, "round {round}");
                assert!(attempts.is_empty(), "round {round}: {attempts:?}");
                seen[0] += 1;
            }
            (Ok(_), Some(report)) => {
                // Claimed, then cancelled: the result was dropped.
                assert_eq!(run.status, RunStatus::Cancelled, "round {round}");
                assert_eq!(
                    report.applied, 0,
                    "round {round}: a cancelled run's result is dropped"
                );
                assert_eq!(attempts.len(), 1);
                assert_eq!(attempts[0].outcome, AttemptOutcome::Cancelled);
                seen[1] += 1;
            }
            (Err(Error::NotCancellable { status, .. }), Some(report)) => {
                // Finished first; the cancel saw a final run and changed nothing.
                assert_eq!(*status, RunStatus::Succeeded, "round {round}");
                assert_eq!(run.status, RunStatus::Succeeded, "round {round}");
                assert_eq!(report.applied, 1);
                seen[2] += 1;
            }
            other => panic!("round {round}: impossible combination {other:?}"),
        }
    }
    println!(
        "cancel vs claim over {rounds} rounds: never started {}, cancelled while running {}, finished first {}",
        seen[0], seen[1], seen[2]
    );
}

/// Replay against the finish of the run replayed: either the run was still active (a clear
/// error, nothing made) or it had finished (one linked replay).
async fn replay_against_finish(storage: Arc<dyn Storage>, rounds: usize) {
    for round in 0..rounds {
        let id = enqueue_one(storage.as_ref()).await;
        let run = storage.claim(claim(1)).await.unwrap().pop().unwrap();
        assert_eq!(run.id, id);
        let finisher = {
            let storage = storage.clone();
            tokio::spawn(async move {
                let outcome = Outcome::new(Lease::of(&run), AttemptResult::Succeeded);
                storage.finish(NS, vec![outcome]).await.unwrap()
            })
        };
        let replay = storage
            .replay(NS, ReplayRequest::new(id, RunId::new(), "race"))
            .await;
        finisher.await.unwrap();
        match replay {
            Ok(new) => {
                assert_eq!(new.replay_of, Some(id));
                assert_eq!(new.status, RunStatus::Queued);
                // Tidy the replay away so the next round claims its own run.
                storage.cancel(NS, new.id).await.unwrap();
            }
            Err(Error::NotReplayable { status, .. }) => {
                assert_eq!(status, RunStatus::Running, "round {round}");
            }
            Err(other) => panic!("round {round}: unexpected error {other}"),
        }
        assert_eq!(
            storage.get(NS, id).await.unwrap().unwrap().status,
            RunStatus::Succeeded
        );
    }
}

/// Four claimers on a queue smaller than their appetite: no run is in two claims.
async fn claimers_share_a_small_queue(storage: Arc<dyn Storage>, rounds: usize) {
    for round in 0..rounds {
        let runs: Vec<NewRun> = (0..5).map(|_| new_run(None)).collect();
        let ids: HashSet<RunId> = storage
            .enqueue(runs)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id())
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let storage = storage.clone();
            tasks.spawn(async move { storage.claim(claim(3)).await.unwrap() });
        }
        let mut claimed = Vec::new();
        while let Some(result) = tasks.join_next().await {
            claimed.extend(result.unwrap());
        }
        let unique: HashSet<RunId> = claimed.iter().map(|r| r.id).collect();
        assert_eq!(
            unique.len(),
            claimed.len(),
            "round {round}: a run was claimed twice"
        );
        // Whatever was not claimed in the race is still there for the next claim.
        claimed.extend(storage.claim(claim(10)).await.unwrap());
        let all: HashSet<RunId> = claimed.iter().map(|r| r.id).collect();
        assert_eq!(all, ids, "round {round}: every run claimed exactly once");
        let outcomes = claimed
            .iter()
            .map(|r| Outcome::new(Lease::of(r), AttemptResult::Succeeded))
            .collect();
        assert_eq!(storage.finish(NS, outcomes).await.unwrap().applied, 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_races() {
    let (storage, _guard) = memory().await;
    one_key_one_run(storage.clone(), 50, 32).await;
    cancel_against_claim(storage.clone(), 300).await;
    replay_against_finish(storage.clone(), 200).await;
    claimers_share_a_small_queue(storage, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_enqueues_with_one_key() {
    let (storage, _guard) = postgres("race_key").await;
    one_key_one_run(storage, 20, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_cancel_against_claim() {
    let (storage, _guard) = postgres("race_cancel").await;
    cancel_against_claim(storage, 150).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replay_against_finish() {
    let (storage, _guard) = postgres("race_replay").await;
    replay_against_finish(storage, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_claimers_share_a_small_queue() {
    let (storage, _guard) = postgres("race_claim").await;
    claimers_share_a_small_queue(storage, 100).await;
}

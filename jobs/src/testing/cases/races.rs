//! Races, each repeated over many rounds on the storage itself: enqueues sharing a key,
//! cancel against claim, replay against finish, claimers sharing a small queue.
//!
//! The harness runs every case on a two-thread runtime, so the racers spawned here do run
//! at the same time; how often each interleaving comes up depends on the storage.

use std::collections::HashSet;
use std::time::Duration;

use super::ok;
use crate::Task;
use crate::storage::{
    AttemptResult, ClaimRequest, Finished, Lease, NewRun, Outcome, ReplayRequest, Storage,
};
use crate::testing::Harness;
use crate::testing::tasks::Succeed;
use crate::{AttemptOutcome, Error, RunId, RunStatus};

const NS: &str = "conformance";

/// A run of [`Succeed`] (3 attempts), with `key` if given.
fn new_run(key: Option<String>) -> NewRun {
    let mut run = NewRun::new(NS, Succeed::NAME, serde_json::json!({ "token": "race" }), 3);
    run.idempotency_key = key;
    run
}

/// A claim of up to `limit` runs of [`Succeed`] under a 60 s lease.
fn claim_request(limit: usize) -> ClaimRequest {
    ClaimRequest::new(
        NS,
        vec![Succeed::NAME.to_owned()],
        limit,
        Duration::from_secs(60),
        "racer",
    )
}

async fn enqueue_one(storage: &dyn Storage, what: &str) -> RunId {
    let mut enqueued = ok(what, storage.enqueue(vec![new_run(None)]).await);
    match enqueued.pop() {
        Some(enqueued) => enqueued.id(),
        None => panic!("{what}: an enqueue of one run returned none"),
    }
}

/// The value of a spawned racer; its panic, if it panicked, goes on unwinding here.
fn joined<T>(what: &str, result: Result<T, tokio::task::JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("{what} did not finish: {error}"),
        },
    }
}

/// Many enqueues racing with one key, round after round with a fresh key each time: each
/// round makes exactly one run, and every caller gets its id.
pub async fn enqueues_racing_on_one_key_make_one_run(h: Harness) {
    const ROUNDS: usize = 40;
    const CALLERS: usize = 16;
    for round in 0..ROUNDS {
        let key = format!("race:{round}:{}", RunId::new());
        let mut racers = tokio::task::JoinSet::new();
        for _ in 0..CALLERS {
            let storage = h.storage.clone();
            let key = key.clone();
            racers.spawn(async move { storage.enqueue(vec![new_run(Some(key))]).await });
        }
        let mut ids = HashSet::new();
        let mut created = 0;
        while let Some(result) = racers.join_next().await {
            let what = format!("round {round}: enqueue");
            let enqueued = match ok(&what, joined(&what, result)).pop() {
                Some(enqueued) => enqueued,
                None => panic!("round {round}: an enqueue of one run returned none"),
            };
            ids.insert(enqueued.id());
            created += usize::from(enqueued.created);
        }
        assert_eq!(ids.len(), 1, "round {round}: every caller gets the one run");
        assert_eq!(created, 1, "round {round}: exactly one caller created it");
    }
}

/// Cancel racing a claim (and the claimer's result): the run is either never started, or
/// started and then cancelled with its result dropped, or finished before the cancel came
/// (which then fails and changes nothing). Never both succeeded and cancelled. A storage
/// may serialize the two so that only some of these orders ever happen.
pub async fn cancel_and_claim_never_both_win(h: Harness) {
    const ROUNDS: usize = 150;
    // Rounds that ended never started, cancelled while running, finished first.
    let mut seen = [0usize; 3];
    for round in 0..ROUNDS {
        let context = |seen: &[usize; 3]| {
            format!(
                "round {round} of {ROUNDS} (orders seen before it: never started {}, \
                 cancelled while running {}, finished first {})",
                seen[0], seen[1], seen[2]
            )
        };
        let id = enqueue_one(h.storage.as_ref(), &context(&seen)).await;
        let claimer = {
            let storage = h.storage.clone();
            tokio::spawn(async move {
                let runs = storage.claim(claim_request(1)).await?;
                let Some(run) = runs.into_iter().find(|r| r.id == id) else {
                    return Ok::<Option<Finished>, Error>(None);
                };
                // Vary the interleavings: some rounds finish at once, some let the cancel in.
                if round % 2 == 0 {
                    tokio::task::yield_now().await;
                }
                let outcome = Outcome::new(Lease::of(&run), AttemptResult::Succeeded);
                Ok(Some(storage.finish(NS, vec![outcome]).await?))
            })
        };
        let canceller = {
            let storage = h.storage.clone();
            tokio::spawn(async move { storage.cancel(NS, id).await })
        };
        let finished = ok(
            &format!("claim and finish in {}", context(&seen)),
            joined("the claimer", claimer.await),
        );
        let cancelled = joined("the canceller", canceller.await);
        let at = context(&seen);
        let run = match ok(&format!("get in {at}"), h.storage.get(NS, id).await) {
            Some(run) => run,
            None => panic!("{at}: the run is gone"),
        };
        let attempts = ok(
            &format!("attempts in {at}"),
            h.storage.attempts(NS, id).await,
        );
        match (&cancelled, &finished) {
            (Ok(_), None) => {
                // Cancelled before the claim: never started.
                assert_eq!(run.status, RunStatus::Cancelled, "{at}");
                assert!(attempts.is_empty(), "{at}: {attempts:?}");
                seen[0] += 1;
            }
            (Ok(_), Some(report)) => {
                // Claimed, then cancelled: the result was dropped.
                assert_eq!(run.status, RunStatus::Cancelled, "{at}");
                assert_eq!(
                    report.applied, 0,
                    "{at}: a cancelled run's result is dropped"
                );
                assert_eq!(attempts.len(), 1, "{at}: {attempts:?}");
                assert_eq!(attempts[0].outcome, AttemptOutcome::Cancelled, "{at}");
                seen[1] += 1;
            }
            (Err(Error::NotCancellable { status, .. }), Some(report)) => {
                // Finished first; the cancel saw a final run and changed nothing.
                assert_eq!(*status, RunStatus::Succeeded, "{at}");
                assert_eq!(run.status, RunStatus::Succeeded, "{at}");
                assert_eq!(report.applied, 1, "{at}");
                seen[2] += 1;
            }
            other => panic!("{at}: impossible combination {other:?}"),
        }
    }
    println!(
        "cancel vs claim over {ROUNDS} rounds: never started {}, cancelled while running {}, \
         finished first {}",
        seen[0], seen[1], seen[2]
    );
}

/// Replay racing the finish of the run it replays: either the run was still active (a
/// clear error, nothing made) or it had finished (one linked, queued replay). The
/// original's own result stands either way.
pub async fn replay_racing_finish_is_refused_or_linked(h: Harness) {
    const ROUNDS: usize = 100;
    for round in 0..ROUNDS {
        let what = format!("round {round}");
        let id = enqueue_one(h.storage.as_ref(), &what).await;
        let run = match ok(&what, h.storage.claim(claim_request(1)).await).pop() {
            Some(run) => run,
            None => panic!("round {round}: the run just enqueued was not claimed"),
        };
        assert_eq!(run.id, id, "round {round}");
        let finisher = {
            let storage = h.storage.clone();
            tokio::spawn(async move {
                let outcome = Outcome::new(Lease::of(&run), AttemptResult::Succeeded);
                storage.finish(NS, vec![outcome]).await
            })
        };
        let replay = h
            .storage
            .replay(NS, ReplayRequest::new(id, RunId::new(), "race"))
            .await;
        ok(
            &format!("round {round}: finish"),
            joined("the finisher", finisher.await),
        );
        match replay {
            Ok(new) => {
                assert_eq!(new.replay_of, Some(id), "round {round}");
                assert_eq!(new.status, RunStatus::Queued, "round {round}");
                // Tidy the replay away so the next round claims its own run.
                ok(
                    &format!("round {round}: cancel of the replay"),
                    h.storage.cancel(NS, new.id).await,
                );
            }
            Err(Error::NotReplayable { status, .. }) => {
                assert_eq!(status, RunStatus::Running, "round {round}");
            }
            Err(other) => panic!("round {round}: unexpected error {other}"),
        }
        let status = match ok(&what, h.storage.get(NS, id).await) {
            Some(run) => run.status,
            None => panic!("round {round}: the run is gone"),
        };
        assert_eq!(status, RunStatus::Succeeded, "round {round}");
    }
}

/// Four claimers racing on a queue smaller than their appetite: no run is in two claims,
/// and whatever the race left is claimed next, so every run is claimed exactly once.
pub async fn claimers_racing_on_a_small_queue_never_share_a_run(h: Harness) {
    const ROUNDS: usize = 100;
    for round in 0..ROUNDS {
        let what = format!("round {round}");
        let runs: Vec<NewRun> = (0..5).map(|_| new_run(None)).collect();
        let ids: HashSet<RunId> = ok(&what, h.storage.enqueue(runs).await)
            .iter()
            .map(|e| e.id())
            .collect();
        let mut claimers = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let storage = h.storage.clone();
            claimers.spawn(async move { storage.claim(claim_request(3)).await });
        }
        let mut claimed = Vec::new();
        while let Some(result) = claimers.join_next().await {
            claimed.extend(ok(&what, joined("a claimer", result)));
        }
        let unique: HashSet<RunId> = claimed.iter().map(|r| r.id).collect();
        assert_eq!(
            unique.len(),
            claimed.len(),
            "round {round}: a run was claimed twice"
        );
        // Whatever was not claimed in the race is still there for the next claim.
        claimed.extend(ok(&what, h.storage.claim(claim_request(10)).await));
        let all: HashSet<RunId> = claimed.iter().map(|r| r.id).collect();
        assert_eq!(all, ids, "round {round}: every run claimed exactly once");
        let outcomes = claimed
            .iter()
            .map(|r| Outcome::new(Lease::of(r), AttemptResult::Succeeded))
            .collect();
        assert_eq!(ok(&what, h.storage.finish(NS, outcomes).await).applied, 5);
    }
}

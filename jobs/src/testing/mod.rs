//! The storage conformance suite: every promise of the storage interface, runnable against
//! any backend. Enabled by the `testing` feature.
//!
//! One line makes one `#[tokio::test]` per case, each with a fresh storage on a
//! [`ManualClock`], so the suite never sleeps to wait out a delay:
//!
//! ```ignore
//! jobs::storage_conformance!(|clock: jobs::ManualClock| async move {
//!     std::sync::Arc::new(jobs::MemoryStorage::with_clock(clock)) as std::sync::Arc<dyn jobs::Storage>
//! });
//! ```
//!
//! A backend of your own passes the same suite by handing its own factory to the macro.
//! Cases live in [`cases`], grouped by area; the tasks they run are in [`tasks`].

pub mod cases;
mod faults;
pub mod tasks;

pub use faults::{Call, FaultyStorage};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::Jobs;
use crate::ManualClock;
use crate::storage::Storage;
use crate::{Run, RunId, RunStatus};

/// A fresh storage on a manual clock, and a `Jobs` over it. What every case starts from.
pub struct Harness {
    /// The clock the storage reads; advance it to make delays pass.
    pub clock: ManualClock,
    /// The storage under test.
    pub storage: Arc<dyn Storage>,
    /// A `Jobs` in namespace `conformance` over that storage.
    pub jobs: Jobs,
}

impl Harness {
    /// Makes a storage with `make` and wraps it.
    pub async fn new<F, Fut>(make: &F) -> Harness
    where
        F: Fn(ManualClock) -> Fut,
        Fut: Future<Output = Arc<dyn Storage>>,
    {
        let clock = ManualClock::new();
        let storage = make(clock.clone()).await;
        let jobs = Self::jobs_over(&storage, "conformance");
        Harness {
            clock,
            storage,
            jobs,
        }
    }

    /// Another `Jobs` over the same storage, in another namespace.
    pub fn namespace(&self, namespace: &str) -> Jobs {
        Self::jobs_over(&self.storage, namespace)
    }

    fn jobs_over(storage: &Arc<dyn Storage>, namespace: &str) -> Jobs {
        match Jobs::builder()
            .name("conformance")
            .namespace(namespace)
            .shared_storage(storage.clone())
            .build()
        {
            Ok(jobs) => jobs,
            Err(error) => panic!("the conformance harness could not build Jobs: {error}"),
        }
    }

    /// The run, which must exist.
    pub async fn run(&self, id: RunId) -> Run {
        match self.jobs.runs().get(&id).await {
            Ok(Some(run)) => run,
            Ok(None) => panic!("run {id} should exist"),
            Err(error) => panic!("get {id} failed: {error}"),
        }
    }

    /// Waits (polling, bounded) until `id` has `status`; panics with the run otherwise.
    /// For cases that use a real worker, which runs on real time.
    pub async fn wait_for(&self, id: RunId, status: RunStatus) -> Run {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let run = self.run(id).await;
            if run.status == status {
                return run;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("run {id} did not become {status} within 10 s: {run:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Makes one `#[tokio::test]` per conformance case, each on a fresh storage from the
/// given factory: `Fn(ManualClock) -> impl Future<Output = Arc<dyn Storage>>`.
#[macro_export]
macro_rules! storage_conformance {
    ($make:expr) => {
        $crate::__conformance_cases! { $make;
            enqueue_stores_a_queued_run,
            idempotency_key_makes_one_run,
            concurrent_enqueues_with_one_key_make_one_run,
            idempotency_keys_are_per_namespace,
            delay_schedules_the_first_attempt,
            run_at_in_the_past_runs_now,
            run_at_in_the_future_waits,
            enqueue_many_stores_every_run_in_order,
            oversized_payload_is_rejected_with_the_limit,
            hostile_text_is_stored_verbatim,
            namespaces_never_cross,
            get_of_an_unknown_run_is_none,
            list_filters_by_task_and_status,
            list_pages_never_skip_or_repeat_while_runs_are_added,
            claim_takes_only_free_slots_in_priority_order,
            claims_take_only_their_queue,
            success_is_recorded_with_its_attempt,
            attempt_reads_running_then_finished,
            retryable_error_retries_then_succeeds,
            snooze_waits_without_using_an_attempt,
            snoozes_are_bounded,
            permanent_error_dead_letters_at_once,
            spent_attempts_dead_letter,
            custom_backoff_follows_the_delays,
            exponential_backoff_doubles_up_to_the_cap,
            fixed_backoff_waits_the_same,
            panic_is_a_failed_attempt,
            timeout_is_a_failed_attempt,
            undecodable_payload_dead_letters_naming_the_field,
            runs_of_unknown_tasks_are_left_alone,
            cancel_queued_run_never_runs,
            cancel_running_run_signals_context_and_discards_result,
            cancel_finished_run_is_an_error,
            cancel_unknown_run_is_not_found,
            replay_makes_a_linked_run,
            replay_of_an_active_run_is_an_error,
            stale_result_is_fenced_out,
            heartbeat_extends_only_held_leases,
            expired_lease_is_rescued_and_retried,
            rescue_dead_letters_when_attempts_are_spent,
            release_hands_runs_back_without_using_an_attempt,
            worker_processes_runs_and_shuts_down_cleanly,
            worker_shutdown_hands_back_unfinished_runs,
            context_enqueues_follow_up_runs,
            stats_count_by_task_status_and_minute,
            replay_matching_replays_up_to_the_limit,
            retention_prunes_finished_runs_and_forgets_keys,
            periodic_schedule_runs_once_per_tick,
            key_limits_hold_runs_back_without_using_attempts,
            backoff_counts_only_failed_attempts,
            replay_starts_with_the_compiled_budget,
            lost_attempts_keep_their_place_in_line,
            periodic_ticks_are_never_skipped,
            shutdown_tells_attempts_before_handing_them_back,
            drain_holds_only_what_it_runs_and_is_safe_to_drop,
            periodic_catch_up_is_bounded,
            enqueues_racing_on_one_key_make_one_run,
            cancel_and_claim_never_both_win,
            replay_racing_finish_is_refused_or_linked,
            claimers_racing_on_a_small_queue_never_share_a_run,
            refused_results_are_given_up_after_a_lease_and_run_again,
            values_no_storage_can_keep_are_refused,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($make:expr; $($case:ident),* $(,)?) => {
        $(
            #[$crate::__private::tokio::test(flavor = "multi_thread", worker_threads = 2, crate = "::jobs::__private::tokio")]
            async fn $case() {
                let harness = $crate::testing::Harness::new(&$make).await;
                $crate::testing::cases::$case(harness).await;
            }
        )*
    };
}

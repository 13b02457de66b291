//! Managed runs: read one run, list the recent runs of a task, cancel a queued run, and
//! replay a finished one with a reason.
//!
//! Three accounts are synced; one sync is cancelled before any worker starts; the provider
//! is down for one account, whose run is dead-lettered after its 5 attempts; once the
//! provider has recovered, that run is replayed and the replay succeeds.
//!
//! The backoff between attempts (exponential from 30 s) is the brief's; the storage reads
//! time from a `ManualClock` that the example moves forward instead of waiting.
//!
//! In memory, or on PostgreSQL when `DATABASE_URL` is set:
//!
//! ```sh
//! cargo run --example managed_runs
//! DATABASE_URL=postgres://localhost/app cargo run --example managed_runs
//! ```

use std::time::Duration;

use jobs::{Jobs, ListRuns, Run, RunStatus, TaskError};

#[jobs::task(retry(
    attempts = 5,
    backoff = "exponential",
    initial_delay = "30s",
    max_delay = "900s"
))]
async fn sync_provider(account_id: String) -> Result<(), TaskError> {
    provider::sync_account(&account_id).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), examples::Report> {
    // The application, its storage on a clock that the example moves by hand.
    let (jobs, timeline) = examples::app_on_manual_clock("managed_runs").await?;

    let sync = |account_id: &str| {
        jobs.enqueue(SyncProvider {
            account_id: account_id.into(),
        })
    };
    let acct_1 = sync("acct_1").await?.id();
    let acct_2 = sync("acct_2").await?.id();
    let acct_3 = sync("acct_3").await?.id();
    for (account, id) in [("acct_1", acct_1), ("acct_2", acct_2), ("acct_3", acct_3)] {
        println!("enqueued sync-provider for {account}: {id}");
    }

    println!("\nread one run:");
    let run = jobs.runs().get(&acct_2).await?.ok_or("the run vanished")?;
    println!("  {}", line(&run));

    println!("\ncancel it while it is still queued:");
    let cancelled = jobs.runs().cancel(&acct_2).await?;
    println!("  {}", line(&cancelled));

    println!("\nthe provider is down for acct_3; a worker starts:");
    provider::set_down("acct_3", true);
    let worker = jobs
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    timeline.run_until_done(&jobs).await?;

    print_recent(&jobs).await?;

    println!("\na finished run cannot be cancelled:");
    if let Err(error) = jobs.runs().cancel(&acct_1).await {
        println!("  cancel {acct_1}: {error}");
    }

    println!("\nthe provider recovered; replay the dead-lettered run:");
    provider::set_down("acct_3", false);
    let replay = jobs.runs().replay(&acct_3, "provider recovered").await?;
    println!("  {}", line(&replay));
    let replay = examples::wait_until_finished(&jobs, &replay.id).await?;
    println!("  {}", line(&replay));
    worker.shutdown().await;

    print_recent(&jobs).await?;
    assert_eq!(replay.status, RunStatus::Succeeded);
    Ok(())
}

/// Lists the recent runs of sync-provider, one line each.
async fn print_recent(jobs: &Jobs) -> Result<(), jobs::Error> {
    println!("\nrecent runs of sync-provider (limit 25):");
    let recent = jobs
        .runs()
        .list(ListRuns::new().task::<SyncProvider>().limit(25))
        .await?;
    for run in &recent.runs {
        println!("  {}", line(run));
    }
    Ok(())
}

/// One run on one line: id, account, status, attempts, and where it came from.
fn line(run: &Run) -> String {
    let mut line = format!(
        "{} {} {:<13} attempts {}/{}",
        run.id,
        run.payload["account_id"].as_str().unwrap_or("?"),
        run.status.as_str(),
        run.attempt,
        run.max_attempts
    );
    if let Some(error) = &run.last_error {
        line.push_str(&format!(", last error: {error}"));
    }
    if let (Some(of), Some(reason)) = (&run.replay_of, &run.replay_reason) {
        line.push_str(&format!(", replay of {of} ({reason})"));
    }
    line
}

/// A provider that is down for some accounts.
mod provider {
    use std::collections::HashSet;
    use std::sync::{Mutex, PoisonError};

    use examples::Unavailable;

    static DOWN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

    /// Takes the provider down for `account_id`, or brings it back.
    pub(crate) fn set_down(account_id: &str, down: bool) {
        let mut accounts = DOWN.lock().unwrap_or_else(PoisonError::into_inner);
        let accounts = accounts.get_or_insert_with(HashSet::new);
        if down {
            accounts.insert(account_id.to_owned());
        } else {
            accounts.remove(account_id);
        }
    }

    pub(crate) async fn sync_account(account_id: &str) -> Result<(), Unavailable> {
        let accounts = DOWN.lock().unwrap_or_else(PoisonError::into_inner);
        match accounts.as_ref() {
            Some(down) if down.contains(account_id) => Err(Unavailable),
            _ => Ok(()),
        }
    }
}

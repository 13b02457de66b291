//! Delayed jobs: a reminder one hour from now, and one at an absolute time (tomorrow at
//! 09:00 UTC). Both are `scheduled` until due; a worker runs each when its time comes.
//!
//! The example does not wait an hour: the storage reads time from a `ManualClock`, which
//! the example moves forward (and says so), and the worker, polling every 20 ms, picks a
//! run up as soon as the clock has passed its due time.
//!
//! In memory, or on PostgreSQL when `DATABASE_URL` is set:
//!
//! ```sh
//! cargo run --example reminders
//! DATABASE_URL=postgres://localhost/app cargo run --example reminders
//! ```

use std::time::Duration;

use chrono::{Days, NaiveTime};
use examples::Timeline;
use jobs::{Jobs, TaskError};

/// Reminds a user of something. Three attempts, the default backoff between them.
#[jobs::task(retry(attempts = 3))]
async fn send_reminder(ctx: jobs::Context, user_id: String) -> Result<(), TaskError> {
    notifications::send(&user_id, "reminder").await?;
    println!("  [worker] run {} sent the reminder", ctx.run_id());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), examples::Report> {
    // Time moves only when the example says so.
    let (jobs, timeline) = examples::app_on_manual_clock("reminders").await?;
    let worker = jobs
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    println!("now is {}\n", timeline.now());

    // Run after a relative delay.
    let in_an_hour = jobs
        .enqueue(SendReminder {
            user_id: "user_123".into(),
        })
        .delay(Duration::from_secs(3600))
        .await?
        .run;

    // Run at an absolute time: tomorrow at 09:00 UTC, on the storage's clock.
    let tomorrow_nine = (timeline.now().date_naive() + Days::new(1))
        .and_time(NaiveTime::from_hms_opt(9, 0, 0).ok_or("09:00 is a time")?)
        .and_utc();
    let tomorrow = jobs
        .enqueue(SendReminder {
            user_id: "user_123".into(),
        })
        .run_at(tomorrow_nine)
        .await?
        .run;

    for (what, run) in [("delay 1h", &in_an_hour), ("run_at", &tomorrow)] {
        println!(
            "enqueued {} ({what}): {}, due {} ({})",
            run.id,
            run.status,
            run.run_at,
            timeline.offset(run.run_at)
        );
    }

    println!("\nan hour passes");
    timeline.advance(Duration::from_secs(3600));
    let done = examples::wait_until_finished(&jobs, &in_an_hour.id).await?;
    show(&jobs, &timeline, &[&in_an_hour.id, &tomorrow.id]).await?;
    assert_eq!(done.status, jobs::RunStatus::Succeeded);

    println!("\nthe night passes");
    timeline.advance_to(tomorrow_nine);
    let done = examples::wait_until_finished(&jobs, &tomorrow.id).await?;
    show(&jobs, &timeline, &[&in_an_hour.id, &tomorrow.id]).await?;
    assert_eq!(done.status, jobs::RunStatus::Succeeded);

    worker.shutdown().await;
    Ok(())
}

/// Prints where each run stands.
async fn show(
    jobs: &Jobs,
    timeline: &Timeline,
    ids: &[&jobs::RunId],
) -> Result<(), examples::BoxError> {
    for id in ids {
        let run = jobs.runs().get(id).await?.ok_or("the run vanished")?;
        match run.started_at {
            Some(started) => println!(
                "  {}: {}, due {}, ran at {}",
                run.id,
                run.status,
                timeline.offset(run.run_at),
                timeline.offset(started)
            ),
            None => println!(
                "  {}: {}, due {} ({} from now)",
                run.id,
                run.status,
                timeline.offset(run.run_at),
                examples::human((run.run_at - timeline.now()).to_std().unwrap_or_default())
            ),
        }
    }
    Ok(())
}

/// The application's notification service (here: a line on stdout).
mod notifications {
    /// Sends `template` to `user_id`.
    pub(crate) async fn send(user_id: &str, template: &str) -> Result<(), std::io::Error> {
        println!("  [notifications] `{template}` to {user_id}");
        Ok(())
    }
}

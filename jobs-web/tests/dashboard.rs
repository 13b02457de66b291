//! The dashboard in a real browser: headless Chromium loads the page, finds a
//! dead-lettered run, replays it with mouse clicks, and sees the new run queued.
//!
//! Needs Debian's Chromium at `/usr/bin/chromium`; `scripts/test.sh` installs it. Leaves a
//! screenshot in `target/dashboard.png` (and the run page in `target/dashboard-run.png`).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "support/cdp.rs"]
mod cdp;

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use jobs::{Jobs, ListRuns, MemoryStorage, RunStatus, TaskError};

use cdp::{Browser, Page};

/// How long the page may take to show what a step awaits.
const WAIT: Duration = Duration::from_secs(15);

/// Always fails for good, so its run is dead-lettered after one attempt.
#[jobs::task(name = "charge-card")]
async fn charge_card(order_id: String, amount_cents: u64) -> Result<(), TaskError> {
    Err(TaskError::permanent(format!(
        "card declined for order {order_id} ({amount_cents} cents)"
    )))
}

/// A JavaScript expression: the `data-status` of the first element `selector` matches,
/// or `null`.
fn status_of(selector: &str) -> String {
    let selector = serde_json::to_string(selector).unwrap();
    format!("(document.querySelector({selector})?.dataset.status ?? null)")
}

fn row(id: &impl std::fmt::Display) -> String {
    format!("[data-testid=run-row][data-run-id=\"{id}\"]")
}

async fn wait_for_status(page: &mut Page, what: &str, selector: &str, status: &str) {
    let expression = format!("{} === {status:?}", status_of(selector));
    page.wait_for(&format!("{what} to be {status}"), &expression, WAIT)
        .await;
}

#[tokio::test]
async fn a_dead_lettered_run_is_replayed_from_the_dashboard() {
    // First, so a machine without Chromium fails at once and says what to do.
    let browser = Browser::launch();

    let jobs = Jobs::builder()
        .storage(MemoryStorage::new())
        .build()
        .unwrap();
    let original = jobs
        .enqueue(ChargeCard {
            order_id: "ord_1042".into(),
            amount_cents: 4_999,
        })
        .await
        .unwrap()
        .id();
    jobs.drain().await.unwrap();
    let dead = jobs.runs().get(&original).await.unwrap().unwrap();
    assert_eq!(dead.status, RunStatus::DeadLettered);

    let app = Router::new().nest("/jobs", jobs_web::router(jobs.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut page = browser.new_page(1280, 900).await;
    page.navigate(&format!("http://{addr}/jobs")).await;

    // The overview lists the run as dead-lettered.
    let original_row = row(&original);
    wait_for_status(
        &mut page,
        "the original run's row",
        &format!("{original_row} [data-testid=run-status]"),
        "dead_lettered",
    )
    .await;

    // Its page shows the payload and the failed attempt with its error.
    page.click(&format!("{original_row} [data-testid=run-link]"), WAIT)
        .await;
    wait_for_status(
        &mut page,
        "the run page's status",
        "[data-testid=run-page-status]",
        "dead_lettered",
    )
    .await;
    page.wait_for(
        "the payload and the failed attempt",
        "document.querySelector('[data-testid=run-payload]').textContent.includes('\"ord_1042\"') \
         && document.querySelectorAll('[data-testid=attempt-row]').length === 1 \
         && document.querySelector('[data-testid=attempts]').textContent.includes('card declined for order ord_1042')",
        WAIT,
    )
    .await;
    assert_eq!(
        page.eval("document.querySelector('[data-testid=run-page-id]').textContent")
            .await,
        original.to_string()
    );

    // Replay: the button opens the confirmation with a default reason; confirm it.
    page.click("[data-testid=replay]", WAIT).await;
    let reason = page
        .wait_for(
            "the replay reason",
            "document.querySelector('[data-testid=replay-reason]')?.value",
            WAIT,
        )
        .await;
    assert_eq!(reason, "replayed from the dashboard");
    page.click("[data-testid=confirm]", WAIT).await;

    // The page moves to the new run, queued.
    let new_id = page
        .wait_for(
            "the new run's page",
            &format!(
                "(() => {{
                    const id = document.querySelector('[data-testid=run-page-id]').textContent;
                    const status = document.querySelector('[data-testid=run-page-status]').dataset.status;
                    return id && id !== '{original}' && status === 'queued' ? id : null;
                }})()"
            ),
            WAIT,
        )
        .await;
    let new_id = new_id.as_str().unwrap().to_owned();
    page.wait_for(
        "the new run to link to the one it replays",
        &format!("document.querySelector('[data-testid=replay-of]')?.textContent === '{original}'"),
        WAIT,
    )
    .await;

    // The API agrees: a queued replay of the original, with the reason.
    let runs = jobs.runs().list(ListRuns::new()).await.unwrap().runs;
    let replays: Vec<_> = runs
        .iter()
        .filter(|run| run.replay_of == Some(original))
        .collect();
    assert_eq!(replays.len(), 1, "one replay of {original}: {runs:#?}");
    assert_eq!(replays[0].id.to_string(), new_id);
    assert_eq!(replays[0].status, RunStatus::Queued);
    assert_eq!(
        replays[0].replay_reason.as_deref(),
        Some("replayed from the dashboard")
    );
    page.screenshot(&target_dir().join("dashboard-run.png"))
        .await;

    // Back on the overview, both runs are listed: the replay queued, the original still
    // dead-lettered.
    page.click("[data-testid=back]", WAIT).await;
    wait_for_status(
        &mut page,
        "the replay's row",
        &format!("{} [data-testid=run-status]", row(&new_id)),
        "queued",
    )
    .await;
    wait_for_status(
        &mut page,
        "the original run's row",
        &format!("{original_row} [data-testid=run-status]"),
        "dead_lettered",
    )
    .await;
    // The counts by task and status and the throughput chart come from `GET stats`: the
    // task's row totals its two runs, and the chart has drawn the minute of the failure.
    page.wait_for(
        "the counts row of charge-card to total 2, and the chart to be drawn",
        "document.querySelector('[data-testid=count-row][data-task=\"charge-card\"]')?.lastElementChild?.textContent === '2' \
         && document.querySelector('#chart svg') !== null",
        WAIT,
    )
    .await;
    page.screenshot(&target_dir().join("dashboard.png")).await;
    assert_eq!(
        page.exceptions(),
        &[] as &[String],
        "the dashboard's script threw"
    );
}

/// The workspace's `target/`.
fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target")
}

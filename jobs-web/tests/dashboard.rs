//! The dashboard in a real browser: headless Chromium loads the page, finds a
//! dead-lettered run, replays it with mouse clicks, and sees the new run queued; then the
//! edges: the runs table's columns, the chart's labels, a phone-sized window, time zones,
//! and long payloads and errors.
//!
//! Needs Debian's Chromium at `/usr/bin/chromium`; `scripts/test.sh` installs it. Leaves
//! screenshots in `target/tmp/dashboard/` (cargo's `CARGO_TARGET_TMPDIR`).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "support/cdp.rs"]
mod cdp;

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use jobs::storage::ClaimRequest;
use jobs::{Jobs, ListRuns, ManualClock, MemoryStorage, RunId, RunStatus, TaskError};
use serde_json::{Value, json};

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

/// Always succeeds.
#[jobs::task(name = "send-receipt")]
async fn send_receipt(order_id: String) -> Result<(), TaskError> {
    if order_id.is_empty() {
        return Err(TaskError::permanent("no order"));
    }
    Ok(())
}

/// A catalog import with a payload of about 20 KB; fails for good with a long error that
/// lists the rejected rows.
#[jobs::task(name = "import-catalog")]
async fn import_catalog(rows: Vec<String>) -> Result<(), TaskError> {
    let rejected: Vec<String> = rows
        .iter()
        .enumerate()
        .take(60)
        .map(|(i, row)| format!("  row {}: no price for {row}", i + 1))
        .collect();
    Err(TaskError::permanent(format!(
        "catalog import failed: {} of {} rows rejected\n{}",
        rejected.len(),
        rows.len(),
        rejected.join("\n")
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
    page.screenshot(&shots_dir().join("replay-run.png")).await;

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
    page.screenshot(&shots_dir().join("replay-overview.png"))
        .await;
    assert_eq!(
        page.exceptions(),
        &[] as &[String],
        "the dashboard's script threw"
    );
}

/// Where the screenshots go: `target/tmp/dashboard/`.
fn shots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard")
}

// ---- The edges: the runs table, the chart, a phone-sized window, time zones, long text ----

/// A dashboard over runs in every state a page shows differently, on a clock stopped
/// 30 s past a ten-minute mark (so the chart's last minute carries an axis label).
struct Fixture {
    url: String,
    succeeded: RunId,
    dead: RunId,
    import: RunId,
    running: RunId,
    queued: RunId,
    scheduled: RunId,
}

impl Fixture {
    async fn start() -> Fixture {
        let clock = ManualClock::at(stopped_at());
        let jobs = Jobs::builder()
            .storage(MemoryStorage::with_clock(clock))
            .build()
            .unwrap();
        let succeeded = jobs
            .enqueue(SendReceipt {
                order_id: "ord_1041".into(),
            })
            .await
            .unwrap()
            .id();
        let dead = jobs
            .enqueue(ChargeCard {
                order_id: "ord_1042".into(),
                amount_cents: 4_999,
            })
            .await
            .unwrap()
            .id();
        let rows = catalog_rows();
        assert!(serde_json::to_string(&rows).unwrap().len() >= 20_000);
        let import = jobs.enqueue(ImportCatalog { rows }).await.unwrap().id();
        jobs.drain().await.unwrap();

        // Runs that are not finished: one running (claimed as a worker would), one
        // queued, one due in an hour.
        let running = jobs
            .enqueue(SendReceipt {
                order_id: "ord_1043".into(),
            })
            .await
            .unwrap()
            .id();
        let claimed = jobs
            .storage()
            .claim(ClaimRequest::new(
                jobs.namespace(),
                vec!["send-receipt".into()],
                1,
                Duration::from_secs(3600),
                "worker-1",
            ))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, running);
        let queued = jobs
            .enqueue(SendReceipt {
                order_id: "ord_1044".into(),
            })
            .await
            .unwrap()
            .id();
        let scheduled = jobs
            .enqueue(SendReceipt {
                order_id: "ord_1045".into(),
            })
            .delay(Duration::from_secs(3600))
            .await
            .unwrap()
            .id();
        for (id, status) in [
            (succeeded, RunStatus::Succeeded),
            (dead, RunStatus::DeadLettered),
            (import, RunStatus::DeadLettered),
            (running, RunStatus::Running),
            (queued, RunStatus::Queued),
            (scheduled, RunStatus::Scheduled),
        ] {
            assert_eq!(jobs.runs().get(&id).await.unwrap().unwrap().status, status);
        }

        let app = Router::new().nest("/jobs", jobs_web::router(jobs));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fixture {
            url: format!("http://{addr}/jobs"),
            succeeded,
            dead,
            import,
            running,
            queued,
            scheduled,
        }
    }

    /// Opens the overview and waits until the runs, the counts and the chart are drawn.
    async fn overview(&self, page: &mut Page) {
        page.navigate(&self.url).await;
        page.wait_for(
            "the six runs, the counts and the chart",
            "document.querySelectorAll('[data-testid=run-row]').length === 6 \
             && document.querySelectorAll('[data-testid=count-row]').length === 3 \
             && document.querySelector('#chart svg text') !== null",
            WAIT,
        )
        .await;
    }

    /// Opens the catalog import's page and waits until its payload and attempt show.
    async fn import_page(&self, page: &mut Page) {
        page.navigate(&format!("{}#/runs/{}", self.url, self.import))
            .await;
        page.wait_for(
            "the import's payload and its failed attempt",
            "document.querySelector('[data-testid=run-payload]')?.textContent.includes('sku-00400') \
             && document.querySelectorAll('[data-testid=attempt-row]').length === 1",
            WAIT,
        )
        .await;
    }
}

/// The fixture's clock: 30 s past the last ten-minute mark (UTC) before now, so the
/// relative times read as minutes ago.
fn stopped_at() -> DateTime<Utc> {
    let now = Utc::now().timestamp();
    DateTime::from_timestamp(
        now - now % 600 + 30 - if now % 600 < 30 { 600 } else { 0 },
        0,
    )
    .unwrap()
}

/// 400 rows of about 60 bytes: a payload over 20 KB as JSON.
fn catalog_rows() -> Vec<String> {
    (1..=400)
        .map(|n| format!("sku-{n:05}: organic cotton t-shirt, size M, colour {n:03}"))
        .collect()
}

/// A JavaScript expression: every rendered element whose box leaves its parent's (or, in
/// the chart, the chart's), whose content is wider than its box without scrolling or an
/// ellipsis, and whether the page itself scrolls sideways; an empty array when none.
const OVERFLOWS: &str = r#"(() => {
    const problems = [];
    const name = (el) => {
        let s = el.tagName.toLowerCase();
        if (el.id) s += '#' + el.id;
        if (el.classList.length) s += '.' + [...el.classList].join('.');
        if (el.dataset && el.dataset.testid) s += '[data-testid=' + el.dataset.testid + ']';
        const text = (el.textContent || '').trim().slice(0, 30);
        return text ? s + ' "' + text + '"' : s;
    };
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
        problems.push('the page scrolls sideways: ' + root.scrollWidth + ' px wide in ' + root.clientWidth + ' px');
    }
    const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    for (const el of document.body.querySelectorAll('*')) {
        if (el.getClientRects().length === 0) continue;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || ['script', 'style', 'option'].includes(el.tagName.toLowerCase())) continue;
        const inSvg = el instanceof SVGElement && el.ownerSVGElement;
        if (!inSvg && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1
            && !scrolls(el) && style.textOverflow !== 'ellipsis') {
            problems.push(name(el) + ': content ' + el.scrollWidth + ' px wide in a box of ' + el.clientWidth + ' px');
        }
        const parent = inSvg ? el.ownerSVGElement : el.parentElement;
        if (!parent || scrolls(parent)) continue;
        const r = el.getBoundingClientRect();
        const p = parent.getBoundingClientRect();
        if (r.left < p.left - 1 || r.right > p.right + 1) {
            problems.push(name(el) + ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + '] leaves '
                + name(parent) + ' [' + Math.round(p.left) + ', ' + Math.round(p.right) + ']');
        }
    }
    return problems.slice(0, 40);
})()"#;

/// A JavaScript expression: the chart's labels that leave the chart or overlap another
/// label; an empty array when none.
const CHART_LABEL_PROBLEMS: &str = r#"(() => {
    const chart = document.querySelector('#chart svg');
    const box = chart.getBoundingClientRect();
    const labels = [...chart.querySelectorAll('text')].map((t) => [t.textContent, t.getBoundingClientRect()]);
    const problems = [];
    for (const [text, r] of labels) {
        if (r.left < box.left || r.right > box.right || r.top < box.top || r.bottom > box.bottom) {
            problems.push('"' + text + '" [' + Math.round(r.left) + ', ' + Math.round(r.right) + '] leaves the chart ['
                + Math.round(box.left) + ', ' + Math.round(box.right) + ']');
        }
    }
    labels.forEach(([a, ra], i) => labels.slice(i + 1).forEach(([b, rb]) => {
        if (ra.left < rb.right && rb.left < ra.right && ra.top < rb.bottom && rb.top < ra.bottom) {
            problems.push('"' + a + '" overlaps "' + b + '"');
        }
    }));
    return problems;
})()"#;

/// A JavaScript expression: the x-axis labels of the chart, left to right.
const AXIS_LABELS: &str = r#"[...document.querySelectorAll('#chart svg text')]
    .filter((t) => t.getAttribute('text-anchor') === 'middle')
    .sort((a, b) => a.getBoundingClientRect().left - b.getBoundingClientRect().left)
    .map((t) => t.textContent)"#;

fn cell(run: &RunId, testid: &str) -> String {
    format!("{} [data-testid={testid}]", row(run))
}

fn text_of(selector: &str) -> String {
    let selector = serde_json::to_string(selector).unwrap();
    format!("(document.querySelector({selector})?.textContent.trim() ?? null)")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

/// The "Finished" column says when a run finished, and nothing else.
#[tokio::test]
async fn the_finished_column_shows_only_finish_times() {
    let browser = Browser::launch();
    let fx = Fixture::start().await;
    let mut page = browser.new_page(1280, 900).await;
    fx.overview(&mut page).await;

    let header = page
        .eval("[...document.querySelectorAll('[data-testid=runs] thead th')].map((th) => th.textContent)")
        .await;
    let header = strings(&header);
    let finished_column = header
        .iter()
        .position(|h| h == "Finished")
        .unwrap_or_else(|| panic!("no Finished column in {header:?}"));
    for (run, status) in [
        (&fx.queued, "queued"),
        (&fx.running, "running"),
        (&fx.scheduled, "scheduled"),
    ] {
        let text = page
            .eval(&format!(
                "document.querySelector('{} > td:nth-child({})').textContent",
                row(run),
                finished_column + 1
            ))
            .await;
        assert_eq!(
            text, "—",
            "the Finished cell of a {status} run shows a dash, not {text}"
        );
    }
    for run in [&fx.succeeded, &fx.dead, &fx.import] {
        let text = page
            .eval(&format!(
                "document.querySelector('{} > td:nth-child({})').textContent",
                row(run),
                finished_column + 1
            ))
            .await;
        let text = text.as_str().unwrap();
        assert!(
            text.ends_with(" ago") && !text.contains("due"),
            "the Finished cell of a finished run says when: {text:?}"
        );
    }
    // When a run not yet finished is due shows on hover over its status.
    let due = page
        .eval(&format!(
            "document.querySelector('{}').title",
            cell(&fx.scheduled, "run-status")
        ))
        .await;
    assert!(
        due.as_str().unwrap().starts_with("due in "),
        "the status of a scheduled run says when it is due: {due}"
    );
    assert_eq!(page.exceptions(), &[] as &[String]);
}

/// No label of the throughput chart is cut, the last one included.
#[tokio::test]
async fn the_chart_labels_stay_inside_the_chart() {
    let browser = Browser::launch();
    let fx = Fixture::start().await;
    for width in [1280, 900, 420] {
        let mut page = browser.new_page(width, 900).await;
        fx.overview(&mut page).await;
        let problems = strings(&page.eval(CHART_LABEL_PROBLEMS).await);
        assert!(
            problems.is_empty(),
            "at {width} px, chart labels cut or overlapping: {problems:#?}"
        );
        // Not by leaving the last label out: the last minute is on a ten-minute mark.
        let labels = strings(&page.eval(AXIS_LABELS).await);
        let last = stopped_at().format("%H:%M").to_string();
        assert_eq!(
            labels.last(),
            Some(&last),
            "at {width} px the chart labels its last minute, {last} (UTC): {labels:?}"
        );
    }
}

/// At 420 px (a phone), nothing leaves its box and the page does not scroll
/// sideways; tables scroll in their own box. At 1280 px neither.
#[tokio::test]
async fn the_dashboard_fits_a_phone_sized_window() {
    let browser = Browser::launch();
    let fx = Fixture::start().await;
    for (width, name) in [(420, "narrow"), (1280, "wide")] {
        let mut page = browser.new_page(width, 900).await;
        fx.overview(&mut page).await;
        page.screenshot(&shots_dir().join(format!("overview-{width}.png")))
            .await;
        let problems = strings(&page.eval(OVERFLOWS).await);
        assert!(
            problems.is_empty(),
            "{name} ({width} px) overview overflows: {problems:#?}"
        );
        let labels = strings(&page.eval(CHART_LABEL_PROBLEMS).await);
        assert!(
            labels.is_empty(),
            "{name} ({width} px) chart labels: {labels:#?}"
        );

        fx.import_page(&mut page).await;
        page.screenshot(&shots_dir().join(format!("run-{width}.png")))
            .await;
        let problems = strings(&page.eval(OVERFLOWS).await);
        assert!(
            problems.is_empty(),
            "{name} ({width} px) run page overflows: {problems:#?}"
        );
        assert_eq!(page.exceptions(), &[] as &[String]);
    }
}

/// Every time shown says its zone: UTC, with the local time on hover.
#[tokio::test]
async fn times_show_their_zone() {
    let browser = Browser::launch();
    let fx = Fixture::start().await;
    let mut page = browser.new_page(1280, 900).await;
    page.call(
        "Emulation.setTimezoneOverride",
        json!({ "timezoneId": "Asia/Kolkata" }),
    )
    .await;
    fx.overview(&mut page).await;

    // Any text or tooltip with a clock time (12:34) says UTC, except the chart's axis
    // labels, whose zone the axis itself names, and local times on hover, which say
    // "local". The browser is told it is in India, so local and UTC differ.
    const UNZONED: &str = r#"(() => {
        const clock = /\b\d{1,2}:\d{2}\b/;
        const found = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const el = node.parentElement;
            if (!el.getClientRects().length || el.closest('#chart svg')) continue;
            const text = el.textContent;
            if (clock.test(node.textContent) && !text.includes('UTC')) found.push(text.trim());
        }
        for (const el of document.querySelectorAll('[title], title')) {
            const text = (el.title || el.textContent).replace(/local: [^)]*/g, '');
            if (clock.test(text) && !text.includes('UTC')) found.push('tooltip: ' + text);
        }
        return found.slice(0, 20);
    })()"#;
    page.wait_for(
        "the time of the last update",
        &format!("{}?.includes(':')", text_of("[data-testid=updated]")),
        WAIT,
    )
    .await;
    let unzoned = strings(&page.eval(UNZONED).await);
    assert!(
        unzoned.is_empty(),
        "times on the overview without a zone: {unzoned:#?}"
    );
    let axis = page
        .eval("[...document.querySelectorAll('#chart svg text')].some((t) => t.textContent === 'UTC')")
        .await;
    assert_eq!(axis, Value::Bool(true), "the chart's time axis says UTC");
    // The created time on hover: UTC, then local.
    let created = page
        .eval(&format!(
            "document.querySelector('{} > td:nth-child(5)').title",
            row(&fx.dead)
        ))
        .await;
    let expected = stopped_at().format("%Y-%m-%d %H:%M:%S UTC").to_string();
    assert!(
        created.as_str().unwrap().starts_with(&expected)
            && created.as_str().unwrap().contains("local: ")
            && created.as_str().unwrap().contains("GMT+5:30"),
        "created on hover: {created}, expected {expected} and the local time"
    );

    fx.import_page(&mut page).await;
    let unzoned = strings(&page.eval(UNZONED).await);
    assert!(
        unzoned.is_empty(),
        "times on the run page without a zone: {unzoned:#?}"
    );
    let started = page
        .eval("document.querySelector('[data-testid=attempt-row] > td:nth-child(3)').textContent")
        .await;
    assert_eq!(started, expected, "an attempt's start, in UTC");
    assert_eq!(page.exceptions(), &[] as &[String]);
}

/// A 20 KB payload and long errors are folded, with a button to show them whole
/// and one to copy them; copying without a clipboard selects the text instead.
#[tokio::test]
async fn long_payloads_and_errors_are_folded() {
    let browser = Browser::launch();
    let fx = Fixture::start().await;
    let mut page = browser.new_page(1280, 900).await;
    fx.import_page(&mut page).await;

    const PAYLOAD: &str = "document.querySelector('[data-testid=run-payload]')";
    let folded = page
        .eval(&format!(
            "(() => {{ const p = {PAYLOAD}; return [p.clientHeight, p.scrollHeight]; }})()"
        ))
        .await;
    let (shown, whole) = (folded[0].as_f64().unwrap(), folded[1].as_f64().unwrap());
    assert!(
        shown <= 400.0 && whole > 2.0 * shown,
        "the 20 KB payload is folded: {shown} px shown of {whole} px"
    );
    let fold = "[data-testid=payload-fold]";
    let expand = format!("{fold} [data-testid=expand]");
    assert_eq!(
        page.eval(&format!(
            "document.querySelector('{expand}')?.getAttribute('aria-expanded') ?? null"
        ))
        .await,
        "false"
    );
    let label = page.eval(&text_of(&expand)).await;
    assert!(
        label.as_str().unwrap().starts_with("Show all"),
        "the expand button: {label}"
    );
    page.click(&expand, WAIT).await;
    page.wait_for(
        "the payload to unfold",
        &format!(
            "(() => {{ const p = {PAYLOAD}; return p.scrollHeight <= p.clientHeight + 1 \
              && document.querySelector('{expand}').getAttribute('aria-expanded') === 'true'; }})()"
        ),
        WAIT,
    )
    .await;
    // Unfolded it stays when the page redraws the run (on the next refresh once the
    // minute of its relative times has changed: here, the page's clock is moved on).
    page.eval(&format!(
        "(() => {{ {PAYLOAD}.dataset.drawn = 'before'; const now = Date.now; \
           Date.now = () => now() + 60000; return true; }})()"
    ))
    .await;
    page.wait_for(
        "the run page to be redrawn with the payload still unfolded",
        &format!(
            "{PAYLOAD}.dataset.drawn === undefined \
             && document.querySelector('{expand}').getAttribute('aria-expanded') === 'true'"
        ),
        WAIT,
    )
    .await;
    page.click(&expand, WAIT).await;
    page.wait_for(
        "the payload to fold again",
        &format!(
            "(() => {{ const p = {PAYLOAD}; return p.scrollHeight > 2 * p.clientHeight; }})()"
        ),
        WAIT,
    )
    .await;

    // Copy puts the whole payload on the clipboard.
    page.eval(
        "(() => { window.copied = null; \
          Object.defineProperty(navigator, 'clipboard', { configurable: true, \
            value: { writeText: (text) => { window.copied = text; return Promise.resolve(); } } }); \
          return true; })()",
    )
    .await;
    page.click(&format!("{fold} [data-testid=copy]"), WAIT)
        .await;
    let copied = page
        .wait_for("the copied payload", "window.copied", WAIT)
        .await;
    let payload = page.eval(&format!("{PAYLOAD}.textContent")).await;
    assert_eq!(copied, payload, "the whole payload is copied");
    assert!(copied.as_str().unwrap().contains("sku-00400"));
    page.wait_for(
        "the copy button to say it copied",
        &format!(
            "{}?.startsWith('Copied')",
            text_of(&format!("{fold} [data-testid=copy]"))
        ),
        WAIT,
    )
    .await;

    // With no clipboard (a page over plain HTTP, or a denied permission) the text is
    // selected for the user to copy, and said so; nothing throws.
    page.eval(
        "(() => { Object.defineProperty(navigator, 'clipboard', { configurable: true, value: undefined }); \
          return true; })()",
    )
    .await;
    page.click(&format!("{fold} [data-testid=copy]"), WAIT)
        .await;
    page.wait_for(
        "the payload to be selected for copying by hand",
        &format!(
            "window.getSelection().toString().replace(/\\s/g, '') === {PAYLOAD}.textContent.replace(/\\s/g, '') \
             && {}?.includes('selected') && {} === 'Copy'",
            text_of(&format!("{fold} [data-testid=copy-status]")),
            text_of(&format!("{fold} [data-testid=copy]"))
        ),
        WAIT,
    )
    .await;
    page.screenshot(&shots_dir().join("run-no-clipboard.png"))
        .await;

    // The long error, in the attempts and in the run's fields, is folded too.
    for fold in ["[data-testid=attempt-error]", "[data-testid=run-fields]"] {
        let shown = page
            .eval(&format!(
                "(() => {{ const e = document.querySelector('{fold} [data-testid=error-fold] .fold-body'); \
                   return e && [e.clientHeight, e.scrollHeight, \
                     !!document.querySelector('{fold} [data-testid=error-fold] [data-testid=expand]'), \
                     !!document.querySelector('{fold} [data-testid=error-fold] [data-testid=copy]')]; }})()"
            ))
            .await;
        assert!(
            shown.is_array()
                && shown[0].as_f64().unwrap() <= 120.0
                && shown[1].as_f64().unwrap() > 2.0 * shown[0].as_f64().unwrap()
                && shown[2] == Value::Bool(true)
                && shown[3] == Value::Bool(true),
            "the long error in {fold} is folded with expand and copy buttons: {shown}"
        );
    }
    // A short error is shown whole, with no buttons.
    page.navigate(&format!("{}#/runs/{}", fx.url, fx.dead))
        .await;
    page.wait_for(
        "the short error",
        "document.querySelector('[data-testid=attempts]')?.textContent.includes('card declined')",
        WAIT,
    )
    .await;
    assert_eq!(
        page.eval("document.querySelectorAll('[data-testid=attempts] button').length")
            .await,
        0
    );
    page.screenshot(&shots_dir().join("run-short-error.png"))
        .await;
    assert_eq!(page.exceptions(), &[] as &[String]);
}

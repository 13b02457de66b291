//! Reading runs: get, list, filters, pages, namespaces.

use std::collections::HashSet;

use super::ok;
use crate::Error;
use crate::ListRuns;
use crate::Task;
use crate::testing::Harness;
use crate::testing::tasks::{FailPermanently, Succeed};
use crate::{RunId, RunStatus};

/// Get, list, attempts, cancel and replay never see another namespace's runs.
pub async fn namespaces_never_cross(h: Harness) {
    let other = h.namespace("other");
    let mine = ok(
        "enqueue",
        h.jobs
            .enqueue(Succeed {
                token: "mine".into(),
            })
            .await,
    )
    .id();
    let theirs = ok(
        "enqueue",
        other
            .enqueue(Succeed {
                token: "theirs".into(),
            })
            .await,
    )
    .id();

    assert!(ok("get", other.runs().get(&mine).await).is_none());
    assert!(ok("get", h.jobs.runs().get(&theirs).await).is_none());
    let listed: Vec<RunId> = ok("list", other.runs().list(ListRuns::new()).await)
        .runs
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![theirs]);
    assert!(matches!(
        other.runs().cancel(&mine).await,
        Err(Error::RunNotFound { .. })
    ));
    assert!(matches!(
        other.runs().attempts(&mine).await,
        Err(Error::RunNotFound { .. })
    ));
    assert!(matches!(
        other.runs().replay(&mine, "x").await,
        Err(Error::RunNotFound { .. })
    ));

    // Draining one namespace leaves the other's runs alone.
    assert_eq!(ok("drain", other.drain().await).succeeded, 1);
    assert_eq!(h.run(mine).await.status, RunStatus::Queued);
}

/// An id that is not stored reads as `None`, and its attempts as not found.
pub async fn get_of_an_unknown_run_is_none(h: Harness) {
    let id = RunId::new();
    assert!(ok("get", h.jobs.runs().get(&id).await).is_none());
    match h.jobs.runs().attempts(&id).await {
        Err(Error::RunNotFound { id: missing, .. }) => assert_eq!(missing, id),
        other => panic!("expected RunNotFound, got {other:?}"),
    }
}

/// Listing filters by task (by type and by name) and by status, newest first.
pub async fn list_filters_by_task_and_status(h: Harness) {
    let a = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "a".into() }).await,
    )
    .id();
    let b = ok("enqueue", h.jobs.enqueue(FailPermanently {}).await).id();
    let c = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "c".into() }).await,
    )
    .id();
    ok("drain", h.jobs.drain().await);
    let d = ok(
        "enqueue",
        h.jobs.enqueue(Succeed { token: "d".into() }).await,
    )
    .id();

    let ids = |page: crate::Page| page.runs.iter().map(|r| r.id).collect::<Vec<_>>();
    let all = ok("list", h.jobs.runs().list(ListRuns::new()).await);
    assert_eq!(ids(all), vec![d, c, b, a], "newest first");

    let by_type = ok(
        "list",
        h.jobs.runs().list(ListRuns::new().task::<Succeed>()).await,
    );
    assert_eq!(ids(by_type), vec![d, c, a]);
    let by_name = ok(
        "list",
        h.jobs
            .runs()
            .list(ListRuns::new().task_name(Succeed::NAME).limit(2))
            .await,
    );
    assert_eq!(ids(by_name), vec![d, c]);

    let dead = ListRuns::new()
        .task::<FailPermanently>()
        .status(RunStatus::DeadLettered);
    assert_eq!(ids(ok("list", h.jobs.runs().list(dead).await)), vec![b]);
    let queued = ListRuns::new().status(RunStatus::Queued);
    assert_eq!(ids(ok("list", h.jobs.runs().list(queued).await)), vec![d]);
    let succeeded = ListRuns::new().status(RunStatus::Succeeded);
    assert_eq!(
        ids(ok("list", h.jobs.runs().list(succeeded).await)),
        vec![c, a]
    );
    let none = ListRuns::new().task_name("no-such-task");
    assert!(ok("list", h.jobs.runs().list(none).await).runs.is_empty());
}

/// Cursor pages cover every run exactly once, even while new runs are being added.
pub async fn list_pages_never_skip_or_repeat_while_runs_are_added(h: Harness) {
    let mut before = HashSet::new();
    for i in 0..23 {
        before.insert(
            ok(
                "enqueue",
                h.jobs
                    .enqueue(Succeed {
                        token: format!("p{i}"),
                    })
                    .await,
            )
            .id(),
        );
    }
    let mut seen = Vec::new();
    let mut filter = ListRuns::new().limit(5);
    let mut pages = 0;
    loop {
        let page = ok("list", h.jobs.runs().list(filter.clone()).await);
        pages += 1;
        seen.extend(page.runs.iter().map(|r| r.id));
        // New runs arrive between pages; they are newer than the cursor, so they neither
        // push older runs onto a later page nor appear twice.
        ok(
            "enqueue",
            h.jobs
                .enqueue(Succeed {
                    token: format!("new{pages}"),
                })
                .await,
        );
        match page.next_cursor {
            Some(cursor) => filter = filter.cursor(cursor),
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    let unique: HashSet<RunId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no run is repeated");
    assert_eq!(
        unique, before,
        "every run present at the start is seen once"
    );
    assert_eq!(pages, 5);
}

//! Real processes on one SQLite file (`jobs-sqlite-worker`), as `jobs-sqlite` promises to
//! support them.
//!
//! - A worker process killed with SIGKILL in the middle of its attempts loses nothing: once
//!   the leases it held run out, the worker process started after it (the restart) rescues
//!   its runs and attempts them again; each such run's history reads `[lease_expired,
//!   succeeded]` and counts 2 attempts, every other run (never claimed by the killed
//!   process) succeeds in one, every handler runs to its end exactly once (none of the
//!   killed process's did), and the file passes `PRAGMA integrity_check`.
//! - Two worker processes on one file, while this process enqueues 2,000 runs in batches:
//!   every run succeeds in one attempt and its handler runs exactly once, both processes
//!   do part of the work, and no write ever fails (no "database is locked", nor any other
//!   warning, on either worker's stderr).
//!
//! The handlers append one line per execution that ran to its end to a log file next to
//! the database (see `src/bin/jobs-sqlite-worker.rs`); the tests read it, the `runs` and
//! `attempts` tables and the storage's own view of each run.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod sqlite_support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jobs::{AttemptOutcome, RunId, RunStatus, Storage};
use sqlite_support::{
    Deadline, NAMESPACE, WorkerProcess, enqueue, executions, integrity_check, log_path,
    remove_files, scalar, unexpected, worker_pattern,
};

/// The warning a worker logs when it rescues runs of a vanished worker: expected of the
/// restarted worker, and of no one else.
const RESCUED: &str = "rescued runs whose lease expired";

/// A run id as the `runs` table stores it.
fn run_id(text: &str) -> RunId {
    RunId::from_uuid(uuid::Uuid::parse_str(text).unwrap())
}

/// The pid in a worker id (`name:pid:hex`).
fn pid_of(worker: &str) -> u32 {
    worker
        .split(':')
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in worker id {worker:?}"))
}

/// Runs enqueued; the killed worker holds `HELD` of them (its concurrency).
const KILL_RUNS: u32 = 12;
const HELD: usize = 4;
/// The killed worker's lease, renewed every 500 ms while it lives.
const VICTIM_LEASE_US: i64 = 2_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_attempt_then_restart_attempts_its_runs_again() {
    let started = Instant::now();
    let storage = sqlite_support::storage("sigkill", None).await;
    let file = storage.path().to_path_buf();
    let log = log_path(&file);
    let pool = storage.read_pool().clone();
    let ids = enqueue(&storage, 0..KILL_RUNS, 5).await;

    // The victim: its handlers sleep 10 minutes, so none can end before the kill; a 2 s
    // lease renewed every 0.5 s, so only its death lets the leases lapse; it rescues
    // nobody meanwhile.
    let mut victim = WorkerProcess::spawn(
        "victim",
        &file,
        &log,
        &format!(
            "--concurrency {HELD} --lease-ms 2000 --heartbeat-ms 500 --rescue-ms 600000 \
             --poll-ms 100 --sleep-ms 600000"
        ),
    );
    let victim_id = victim.ready(Duration::from_secs(30)).await;
    let pattern = worker_pattern(victim.pid());
    assert!(
        victim_id.starts_with(&pattern[..pattern.len() - 1]),
        "{victim_id} vs {pattern}"
    );
    // Mid-attempt: it holds its runs and a heartbeat has renewed each lease since the
    // attempt started.
    let renewed_sql = format!(
        "SELECT count(*) FROM runs
         WHERE status = 'running' AND worker = '{victim_id}'
           AND lease_until > started_at + {VICTIM_LEASE_US}"
    );
    let deadline = Deadline::new(
        Duration::from_secs(30),
        format!("the victim to hold {HELD} runs and renew their leases"),
    );
    while scalar(&pool, &renewed_sql).await < HELD as i64 {
        victim.assert_alive();
        deadline.tick().await;
    }
    victim.signal("KILL");
    let killed = victim.wait_exit(Duration::from_secs(10)).await;
    assert!(!killed.status.success(), "SIGKILL: {}", killed.status);
    assert!(killed.report.is_none(), "a killed worker reports nothing");
    assert!(
        unexpected(&killed.stderr, &[]).is_empty(),
        "the victim warned before it died:\n{}",
        killed.stderr
    );
    let killed_at = started.elapsed();

    // What it left: its runs still `running` under its name, the others never claimed,
    // no handler that ran to its end, and a sound file.
    let held: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, lease_until FROM runs WHERE status = 'running' AND worker = ?1")
            .bind(&victim_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(held.len(), HELD, "the victim died holding its runs");
    let held: HashMap<RunId, DateTime<Utc>> = held
        .into_iter()
        .map(|(id, until)| (run_id(&id), DateTime::from_timestamp_micros(until).unwrap()))
        .collect();
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM runs WHERE status = 'running'").await,
        HELD as i64,
        "only the victim's runs are running"
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM runs WHERE status = 'queued' AND attempt = 0 AND worker IS NULL"
        )
        .await,
        i64::from(KILL_RUNS) - HELD as i64,
        "the other runs were never claimed"
    );
    assert_eq!(
        executions(&log),
        Vec::new(),
        "none of the victim's handlers ran to its end"
    );
    assert_eq!(integrity_check(&pool).await, ["ok"], "after the kill");

    // The restart: a new worker process on the same file, rescuing often. Its own lease is
    // long, so only the victim's leases can lapse, however slow the machine.
    let mut restarted = WorkerProcess::spawn(
        "restarted",
        &file,
        &log,
        "--concurrency 8 --lease-ms 20000 --rescue-ms 250 --poll-ms 100 --sleep-ms 100",
    );
    let restarted_id = restarted.ready(Duration::from_secs(30)).await;
    let done_sql = "SELECT count(*) FROM runs WHERE status = 'succeeded'";
    let deadline = Deadline::new(Duration::from_secs(60), "every run to succeed");
    while scalar(&pool, done_sql).await < i64::from(KILL_RUNS) {
        restarted.assert_alive();
        deadline.tick().await;
    }
    let (report, exit) = restarted.stop_exit(Duration::from_secs(30)).await;
    assert_eq!(report.completed, KILL_RUNS as usize, "{report:?}");
    assert_eq!(
        (report.stale, report.handed_back, report.unwritten),
        (0, 0, 0),
        "{report:?}"
    );
    assert!(
        exit.stderr.contains(RESCUED),
        "the restarted worker rescued the victim's runs:\n{}",
        exit.stderr
    );
    assert!(
        unexpected(&exit.stderr, &[RESCUED]).is_empty(),
        "the restarted worker warned of something else:\n{}",
        exit.stderr
    );

    let executed = executions(&log);
    assert_eq!(
        executed.len(),
        KILL_RUNS as usize,
        "one execution per run: {executed:?}"
    );
    for (n, id) in (0u32..).zip(&ids) {
        let run = storage.get(NAMESPACE, *id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        let attempts = storage.attempts(NAMESPACE, *id).await.unwrap();
        let mine: Vec<_> = executed.iter().filter(|e| e.run_id == *id).collect();
        assert_eq!(mine.len(), 1, "run {id} ran to its end once: {mine:?}");
        assert_eq!(mine[0].n, n, "{mine:?}");
        assert_eq!(mine[0].pid, restarted.pid(), "by the restarted worker");
        assert_eq!(mine[0].attempt, run.attempt, "in its last attempt: {run:?}");
        if let Some(lease_until) = held.get(id) {
            assert_eq!(run.attempt, 2, "the lost attempt counts: {run:?}");
            let outcomes: Vec<_> = attempts.iter().map(|a| (a.number, a.outcome)).collect();
            assert_eq!(
                outcomes,
                [
                    (1, AttemptOutcome::LeaseExpired),
                    (2, AttemptOutcome::Succeeded)
                ],
                "{attempts:?}"
            );
            assert!(
                attempts[0]
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("lease expired")),
                "{attempts:?}"
            );
            assert!(
                attempts[0].finished_at.is_some_and(|at| at >= *lease_until),
                "rescued only once its lease ran out ({lease_until}): {attempts:?}"
            );
            assert!(
                attempts[1].started_at >= *lease_until,
                "attempted again only after its lease ({lease_until}): {attempts:?}"
            );
        } else {
            assert_eq!(run.attempt, 1, "{run:?}");
            let outcomes: Vec<_> = attempts.iter().map(|a| (a.number, a.outcome)).collect();
            assert_eq!(outcomes, [(1, AttemptOutcome::Succeeded)], "{attempts:?}");
        }
    }
    let by_restarted = scalar(
        &pool,
        &format!("SELECT count(*) FROM runs WHERE worker = '{restarted_id}'"),
    )
    .await;
    assert_eq!(
        by_restarted,
        i64::from(KILL_RUNS),
        "the restarted worker claimed every run last"
    );
    assert_eq!(integrity_check(&pool).await, ["ok"], "at the end");
    storage.close().await;
    remove_files(&file);
    println!(
        "SIGKILL on SQLite: {KILL_RUNS} runs, victim killed holding {HELD} at {killed_at:?}; \
         {} executions, all by the restarted worker; {:?} in all",
        executed.len(),
        started.elapsed()
    );
}

/// Runs enqueued while two worker processes work, in batches of `BATCH`.
const SHARED_RUNS: u32 = 2000;
const BATCH: u32 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_one_file_while_runs_are_enqueued() {
    let started = Instant::now();
    let storage = sqlite_support::storage("twoprocs", None).await;
    let file = storage.path().to_path_buf();
    let log = log_path(&file);
    let pool = storage.read_pool().clone();

    // Both rescue often and beat every second: more writers contending for the file's
    // lock. The 10 s lease keeps every rescue a no-op unless something really is wrong.
    let args = "--concurrency 16 --lease-ms 10000 --heartbeat-ms 1000 --rescue-ms 500 \
                --poll-ms 100 --sleep-ms 5";
    let mut workers = [
        WorkerProcess::spawn("a", &file, &log, args),
        WorkerProcess::spawn("b", &file, &log, args),
    ];
    for worker in &mut workers {
        worker.ready(Duration::from_secs(30)).await;
    }

    // Enqueue while they work: after the first batch, wait until they have started on it,
    // so the enqueues that follow contend with their claims and results.
    let mut ids = Vec::with_capacity(SHARED_RUNS as usize);
    for start in (0..SHARED_RUNS).step_by(BATCH as usize) {
        ids.extend(enqueue(&storage, start..start + BATCH, 5).await);
        if start == 0 {
            let deadline = Deadline::new(Duration::from_secs(30), "a worker to claim a run");
            while scalar(&pool, "SELECT count(*) FROM runs WHERE attempt > 0").await == 0 {
                deadline.tick().await;
            }
        }
        for worker in &mut workers {
            worker.assert_alive();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let enqueued_in = started.elapsed();
    let done_while_enqueuing = scalar(
        &pool,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
    )
    .await;

    let done_sql = "SELECT count(*) FROM runs WHERE status = 'succeeded'";
    let deadline = Deadline::new(Duration::from_secs(120), "every run to succeed");
    loop {
        let done = scalar(&pool, done_sql).await;
        if done == i64::from(SHARED_RUNS) {
            break;
        }
        for worker in &mut workers {
            worker.assert_alive();
        }
        deadline.tick().await;
    }
    let all_done_in = started.elapsed();

    let mut completed = HashMap::new();
    for worker in &mut workers {
        let (report, exit) = worker.stop_exit(Duration::from_secs(30)).await;
        assert!(
            !exit.stderr.contains("locked"),
            "worker {} hit a locked database:\n{}",
            worker.name(),
            exit.stderr
        );
        assert!(
            unexpected(&exit.stderr, &[]).is_empty(),
            "worker {} warned:\n{}",
            worker.name(),
            exit.stderr
        );
        assert_eq!(
            (report.stale, report.handed_back, report.unwritten),
            (0, 0, 0),
            "worker {}: {report:?}",
            worker.name()
        );
        assert!(
            report.completed > 0,
            "worker {} did part of the work: {report:?}",
            worker.name()
        );
        completed.insert(worker.pid(), report.completed);
    }
    assert_eq!(
        completed.values().sum::<usize>(),
        SHARED_RUNS as usize,
        "{completed:?}"
    );

    // Each run executed exactly once, by the process that claimed it.
    let executed = executions(&log);
    assert_eq!(
        executed.len(),
        SHARED_RUNS as usize,
        "one execution per run"
    );
    let enqueued: HashSet<RunId> = ids.iter().copied().collect();
    let logged: HashSet<RunId> = executed.iter().map(|e| e.run_id).collect();
    assert_eq!(logged.len(), SHARED_RUNS as usize, "no run executed twice");
    assert_eq!(
        logged, enqueued,
        "every run enqueued, and only those, executed"
    );
    let claimed_by: HashMap<RunId, u32> =
        sqlx::query_as::<_, (String, String)>("SELECT id, worker FROM runs WHERE namespace = ?1")
            .bind(NAMESPACE)
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, worker)| (run_id(&id), pid_of(&worker)))
            .collect();
    let mut per_process: HashMap<u32, usize> = HashMap::new();
    for execution in &executed {
        assert_eq!(execution.attempt, 1, "{execution:?}");
        assert_eq!(
            claimed_by.get(&execution.run_id),
            Some(&execution.pid),
            "executed by the process that claimed it: {execution:?}"
        );
        *per_process.entry(execution.pid).or_default() += 1;
    }
    assert_eq!(per_process, completed, "each report counts its executions");
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM runs WHERE status <> 'succeeded' OR attempt <> 1"
        )
        .await,
        0,
        "nothing left, nothing retried"
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM attempts").await,
        0,
        "no attempt failed, expired or was handed back"
    );
    assert_eq!(integrity_check(&pool).await, ["ok"]);
    storage.close().await;
    remove_files(&file);
    println!(
        "2 processes on one SQLite file: {SHARED_RUNS} runs enqueued in {enqueued_in:?} \
         ({done_while_enqueuing} done by then), all done at {all_done_in:?}; \
         executions per pid: {per_process:?}; {:?} in all",
        started.elapsed()
    );
}

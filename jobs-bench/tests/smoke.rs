//! Runs the benchmark program at its smoke sizes on every storage, so it cannot rot: it
//! must exit successfully and print one well-formed JSON line per result. Needs the
//! PostgreSQL of `DATABASE_URL` (default `postgres://root@127.0.0.1:5432/jobs_test`), like
//! the other PostgreSQL tests; SQLite files go to a directory of the test's own, which
//! must be empty again afterwards.

use std::process::Command;
use std::time::Instant;

#[test]
fn smoke_run_prints_every_result_as_json() {
    let start = Instant::now();
    let sqlite_dir = std::env::temp_dir().join(format!("jobs-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&sqlite_dir).expect("create the SQLite directory");
    let output = Command::new(env!("CARGO_BIN_EXE_jobs-bench"))
        .args(["--smoke", "--storage", "all", "--sqlite-dir"])
        .arg(&sqlite_dir)
        .output()
        .expect("start jobs-bench");
    let left: Vec<_> = std::fs::read_dir(&sqlite_dir)
        .expect("read the SQLite directory")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    let _ = std::fs::remove_dir_all(&sqlite_dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "jobs-bench --smoke failed with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );

    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
        })
        .collect();
    for result in &results {
        assert!(result["name"].is_string(), "no name: {result}");
        assert!(result["params"].is_object(), "no params: {result}");
        assert!(result["unit"].is_string(), "no unit: {result}");
        let value = result["value"].as_f64();
        assert!(
            value.is_some_and(|v| v.is_finite() && v > 0.0),
            "no positive value: {result}"
        );
    }
    let has = |name: &str, storage: &str| {
        results
            .iter()
            .any(|r| r["name"] == name && r["storage"] == storage)
    };
    assert!(left.is_empty(), "SQLite files left behind: {left:?}");
    for storage in ["memory", "postgres", "sqlite"] {
        for name in [
            "insert_one_per_call",
            "insert_batch",
            "process",
            "latency_p50",
            "latency_p99",
        ] {
            assert!(has(name, storage), "no {name} on {storage}:\n{stdout}");
        }
    }
    for name in ["commit_rate", "process_history", "history_ratio"] {
        assert!(has(name, "postgres"), "no {name}:\n{stdout}");
    }
    // SQLite: every figure with each flushing, labelled.
    for fsync in [true, false] {
        for name in [
            "commit_rate",
            "insert_one_per_call",
            "insert_batch",
            "process",
            "latency_p50",
            "process_history",
            "history_ratio",
        ] {
            let found = results.iter().any(|r| {
                r["name"] == name
                    && r["storage"] == "sqlite"
                    && r["params"]["fsync_every_commit"] == fsync
            });
            assert!(
                found,
                "no {name} on sqlite with fsync_every_commit={fsync}:\n{stdout}"
            );
        }
    }
    let processes = |storage: &str, fsync: Option<bool>| -> Vec<u64> {
        results
            .iter()
            .filter(|r| r["name"] == "process" && r["storage"] == storage)
            .filter(|r| fsync.is_none_or(|f| r["params"]["fsync_every_commit"] == f))
            .filter_map(|r| r["params"]["processes"].as_u64())
            .collect()
    };
    assert_eq!(
        processes("postgres", None),
        [1, 2, 4],
        "worker processes measured:\n{stdout}"
    );
    let cross = |storage: &str, fsync: Option<bool>| {
        results.iter().any(|r| {
            r["name"] == "latency_p50"
                && r["storage"] == storage
                && r["params"]["enqueuer"] == "other process"
                && fsync.is_none_or(|f| r["params"]["fsync_every_commit"] == f)
        })
    };
    assert!(
        cross("postgres", None),
        "no cross-process latency:\n{stdout}"
    );
    // SQLite's cross-process cases, with each flushing: the worker processes share the
    // runs (every run once: the program checks the children's reports add up), and both
    // carry the watch interval they depend on.
    for fsync in [true, false] {
        assert_eq!(
            processes("sqlite", Some(fsync)),
            [1, 2],
            "SQLite worker processes measured with fsync_every_commit={fsync}:\n{stdout}"
        );
        assert!(
            cross("sqlite", Some(fsync)),
            "no cross-process latency on SQLite with fsync_every_commit={fsync}:\n{stdout}"
        );
    }
    for result in results.iter().filter(|r| r["storage"] == "sqlite") {
        let crosses = result["params"]["enqueuer"] == "other process"
            || result["params"]["processes"]
                .as_u64()
                .is_some_and(|p| p > 1);
        assert_eq!(
            result["params"]["watch_interval_ms"].is_u64(),
            crosses,
            "watch_interval_ms is in the params of exactly the cross-process cases: {result}"
        );
    }
    let shares = results
        .iter()
        .filter(|r| r["name"] == "process" && r["params"]["processes"] == 2)
        .flat_map(|r| r["details"].as_array().cloned().unwrap_or_default())
        .all(|d| {
            d["completed_per_process"]
                .as_array()
                .is_some_and(|c| c.len() == 2)
        });
    assert!(
        shares,
        "no completed_per_process per worker process:\n{stdout}"
    );
    assert!(
        stdout.contains("benchmark") && stdout.contains("median"),
        "no table:\n{stdout}"
    );
    eprintln!("smoke run took {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn bad_options_are_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_jobs-bench"))
        .args(["--only", "everything"])
        .output()
        .expect("start jobs-bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--only everything"), "{stderr}");
}

//! CPU time, read from `/proc`: this process (and its worker children), the PostgreSQL
//! server processes, and the whole machine, so a result says who was busy while it ran.
//!
//! On a system without `/proc` every figure reads as zero.

use std::collections::HashMap;
use std::time::Instant;

/// CPU counters at one moment.
pub(crate) struct Snapshot {
    at: Instant,
    /// Nanoseconds run by this process and the given children, all threads.
    bench_ns: u64,
    /// Nanoseconds run by each process named `postgres`, by pid.
    postgres_ns: HashMap<u32, u64>,
    /// Busy and total ticks (USER_HZ, 100 per second) of the whole machine.
    machine_busy: u64,
}

/// What happened between two snapshots, in seconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    pub(crate) wall: f64,
    /// This process and its worker children.
    pub(crate) bench: f64,
    /// Every PostgreSQL process (backends, WAL writer, checkpointer, autovacuum, ...).
    pub(crate) postgres: f64,
    /// Everything else the machine ran meanwhile (another build, another test).
    pub(crate) other: f64,
}

impl Usage {
    /// As JSON fields, in CPU seconds (`*_cpu_s`) and cores (`*_cores`).
    pub(crate) fn json(&self) -> serde_json::Value {
        let cores = |s: f64| if self.wall > 0.0 { s / self.wall } else { 0.0 };
        serde_json::json!({
            "wall_s": round3(self.wall),
            "bench_cpu_s": round3(self.bench),
            "postgres_cpu_s": round3(self.postgres),
            "other_cpu_s": round3(self.other),
            "bench_cores": round3(cores(self.bench)),
            "postgres_cores": round3(cores(self.postgres)),
            "other_cores": round3(cores(self.other)),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Snapshot {
    /// Reads the counters now; `children` are worker processes this one started.
    pub(crate) fn take(children: &[u32]) -> Snapshot {
        let mut bench_ns = threads_ns("/proc/self/task");
        for pid in children {
            bench_ns += threads_ns(&format!("/proc/{pid}/task"));
        }
        Snapshot {
            at: Instant::now(),
            bench_ns,
            postgres_ns: postgres_processes(),
            machine_busy: machine_busy_ticks(),
        }
    }

    /// The usage from `self` to `later`. A PostgreSQL process that started meanwhile
    /// counts whole; one that ended meanwhile is lost (connections live through a run).
    pub(crate) fn until(&self, later: &Snapshot) -> Usage {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        let bench = later.bench_ns.saturating_sub(self.bench_ns) as f64 / 1e9;
        let postgres_ns: u64 = later
            .postgres_ns
            .iter()
            .map(|(pid, ns)| ns.saturating_sub(self.postgres_ns.get(pid).copied().unwrap_or(0)))
            .sum();
        let postgres = postgres_ns as f64 / 1e9;
        let machine = later.machine_busy.saturating_sub(self.machine_busy) as f64 / 100.0;
        Usage {
            wall,
            bench,
            postgres,
            other: (machine - bench - postgres).max(0.0),
        }
    }
}

/// The run time of every thread under `/proc/<pid>/task`, from `schedstat` (ns).
fn threads_ns(dir: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Run time (ns) of each process whose command is `postgres`.
fn postgres_processes() -> HashMap<u32, u64> {
    let mut found = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let is_postgres = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|comm| comm.trim_end() == "postgres");
        if !is_postgres {
            continue;
        }
        if let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        {
            found.insert(pid, ns);
        }
    }
    found
}

/// Busy ticks of the whole machine (`/proc/stat`, everything but idle and iowait).
fn machine_busy_ticks() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum()
}

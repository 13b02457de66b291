//! `jobs-bench`: how fast `jobs` inserts, processes and picks up runs, in memory, on
//! PostgreSQL and on SQLite, measured by a program anyone can rerun.
//!
//! ```text
//! cargo run --release -p jobs-bench -- [options]
//!
//!   --storage memory|postgres|sqlite|all
//!                                   which storages (default all: the three)
//!   --only LIST                     insert,process,latency,commit,history (default all)
//!   --repeat K                      run every measurement K times; report median and range
//!   --runs N                        runs drained by the processing benchmark
//!                                   (default 500000 in memory, 50000 on PostgreSQL and
//!                                   on SQLite)
//!   --concurrency N[,N...]          the worker's concurrency for processing (default 1000)
//!   --processes N[,N...]            worker processes for processing on PostgreSQL and on
//!                                   SQLite (default 1,2,4 on PostgreSQL, 1,2 on SQLite);
//!                                   1 is a worker in this process, more are children
//!   --insert-single N               runs enqueued one per call
//!                                   (default 200000 / 2000 / 5000 on SQLite)
//!   --insert-batches N              batches enqueued with enqueue_many (default 500 / 100)
//!   --batch-size N                  runs per batch (default 1000)
//!   --latency-samples N             pickup-latency samples per case (default 500)
//!   --history N                     finished runs in the table for the history case
//!                                   (default 1000000, PostgreSQL and SQLite)
//!   --commit-secs S                 seconds per commit-rate probe (default 3)
//!   --timings                       time every storage call of the worker (per-phase
//!                                   counters); adds a little overhead
//!   --pg-setup SQL                  SQL run on each fresh schema after the migrations,
//!                                   `{s}` standing for the schema (experiments only)
//!   --url URL                       PostgreSQL (default $DATABASE_URL, else
//!                                   postgres://root@127.0.0.1:5432/jobs_test)
//!   --sqlite-dir DIR                where SQLite measurements make their files (default
//!                                   the system's temporary directory): pick the disk
//!   --sqlite-fsync yes|no|both      SQLite with fsync_every_commit(true) (the default,
//!                                   synchronous=FULL), (false) (NORMAL), or both
//!                                   (default both)
//!   --sqlite-watch MS               SQLite's watch_interval: how often idle workers look
//!                                   for other processes' writes (default 50, the storage's
//!                                   default)
//!   --smoke                         tiny sizes, for CI: a few seconds in all
//! ```
//!
//! Every PostgreSQL measurement runs in a fresh schema (`jb_<what>_<random>`) that is
//! dropped afterwards; every SQLite measurement in a fresh file,
//! `<dir>/jobs-bench-<random>/jobs.db`, whose directory (with the `-wal` and `-shm`
//! files) is removed afterwards. SQLite figures carry `fsync_every_commit` in their
//! parameters, and the cross-process ones (pickup latency with the enqueuer in another
//! process, processing with several worker processes on one file) `watch_interval_ms`
//! too: there a worker learns of other processes' writes through the storage's watch of
//! the file. SQLite's commit-rate probe is one connection's single-row transactions on the
//! file.
//!
//! Progress goes to stderr; stdout gets one JSON line per result (`name`, `storage`,
//! `params`, `value`, `unit`, ...) as it is measured, and a table at the end.
//! `BENCHMARKS.md` at the root of the workspace explains the method and the figures of
//! the reference machine.
//!
//! The same binary is also the child process of the multi-process cases, on PostgreSQL
//! and on SQLite: `jobs-bench worker ...` (a worker process) and `jobs-bench enqueue ...`
//! (the remote enqueuer of the cross-process latency case). They take orders on stdin.

mod bench;
mod child;
mod cpu;
mod pg;
mod raw;
mod sqlite;
mod stats;
mod tasks;
mod timed;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// SQLite's `watch_interval` unless `--sqlite-watch` says otherwise: the storage's default.
pub(crate) const DEFAULT_SQLITE_WATCH: Duration = Duration::from_millis(50);

/// Every error the benchmark can meet, boxed.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// A benchmark family, as `--only` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bench {
    Insert,
    Process,
    Latency,
    Commit,
    History,
}

impl Bench {
    fn parse(name: &str) -> Result<Bench, Error> {
        Ok(match name {
            "insert" => Bench::Insert,
            "process" => Bench::Process,
            "latency" => Bench::Latency,
            "commit" => Bench::Commit,
            "history" => Bench::History,
            other => {
                return Err(format!(
                    "--only {other}: expected insert, process, latency, commit or history"
                )
                .into());
            }
        })
    }
}

/// What the command line asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) memory: bool,
    pub(crate) postgres: bool,
    pub(crate) sqlite: bool,
    pub(crate) url: String,
    /// Where SQLite measurements make their directories.
    pub(crate) sqlite_dir: PathBuf,
    /// The `fsync_every_commit` settings SQLite is measured with.
    pub(crate) sqlite_fsync: Vec<bool>,
    /// SQLite's `watch_interval`, set explicitly on every storage the program opens.
    pub(crate) sqlite_watch: Duration,
    pub(crate) only: Vec<Bench>,
    pub(crate) repeat: usize,
    pub(crate) smoke: bool,
    pub(crate) timings: bool,
    pub(crate) runs: Option<usize>,
    pub(crate) concurrency: Vec<usize>,
    /// `--processes`; `None`: each storage's default ([`Options::processes`]).
    pub(crate) processes: Option<Vec<usize>>,
    pub(crate) insert_single: Option<usize>,
    pub(crate) insert_batches: Option<usize>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) latency_samples: Option<usize>,
    pub(crate) history: Option<usize>,
    pub(crate) commit_secs: Option<f64>,
}

/// Where runs live in one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Memory,
    Postgres,
    /// One file, opened with `fsync_every_commit(fsync)`.
    Sqlite {
        fsync: bool,
    },
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Postgres => "postgres",
            Kind::Sqlite { .. } => "sqlite",
        }
    }

    /// `name`, with the flushing for SQLite (for the progress log).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Sqlite { fsync: true } => "sqlite (fsync every commit)",
            Kind::Sqlite { fsync: false } => "sqlite (no fsync per commit)",
            other => other.name(),
        }
    }

    /// `params` (a JSON object) with what tells this storage's settings apart: on SQLite,
    /// `fsync_every_commit`.
    pub(crate) fn params(self, mut params: serde_json::Value) -> serde_json::Value {
        if let (Kind::Sqlite { fsync }, serde_json::Value::Object(map)) = (self, &mut params) {
            map.insert("fsync_every_commit".into(), fsync.into());
        }
        params
    }
}

/// The sizes of one storage's measurements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) process_runs: usize,
    pub(crate) insert_single: usize,
    pub(crate) insert_batches: usize,
    pub(crate) batch_size: usize,
    pub(crate) latency_samples: usize,
    /// Pings sent first and not counted (connections and caches warm up).
    pub(crate) latency_warmup: usize,
    pub(crate) history: usize,
    pub(crate) commit_secs: f64,
}

impl Options {
    pub(crate) fn wants(&self, bench: Bench) -> bool {
        self.only.is_empty() || self.only.contains(&bench)
    }

    /// The numbers of worker processes the processing case is measured with on `kind`:
    /// `--processes`, else 1, 2 and 4 on PostgreSQL, 1 and 2 on SQLite (one writer per
    /// file: more processes take turns at its lock), and 1 in memory (a storage of one
    /// process).
    pub(crate) fn processes(&self, kind: Kind) -> Vec<usize> {
        match (kind, &self.processes) {
            (Kind::Memory, _) => vec![1],
            (_, Some(list)) => list.clone(),
            (Kind::Postgres, None) => vec![1, 2, 4],
            (Kind::Sqlite { .. }, None) => vec![1, 2],
        }
    }

    pub(crate) fn sizes(&self, kind: Kind) -> Sizes {
        let smoke = self.smoke;
        let (process, single, batches) = match (smoke, kind) {
            (true, _) => (200, 50, 2),
            (false, Kind::Memory) => (500_000, 200_000, 500),
            (false, Kind::Postgres) => (50_000, 2_000, 100),
            (false, Kind::Sqlite { .. }) => (50_000, 5_000, 100),
        };
        Sizes {
            process_runs: self.runs.unwrap_or(process),
            insert_single: self.insert_single.unwrap_or(single),
            insert_batches: self.insert_batches.unwrap_or(batches),
            batch_size: self.batch_size.unwrap_or(if smoke { 100 } else { 1000 }),
            latency_samples: self.latency_samples.unwrap_or(if smoke { 20 } else { 500 }),
            latency_warmup: if smoke { 3 } else { 20 },
            history: self
                .history
                .unwrap_or(if smoke { 2_000 } else { 1_000_000 }),
            commit_secs: self.commit_secs.unwrap_or(if smoke { 0.3 } else { 3.0 }),
        }
    }
}

fn parse_list(flag: &str, value: &str) -> Result<Vec<usize>, Error> {
    value
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} {value}: expected positive numbers").into())
        })
        .collect()
}

fn parse_count(flag: &str, value: &str) -> Result<usize, Error> {
    value
        .replace('_', "")
        .parse::<usize>()
        .map_err(|e| format!("{flag} {value}: {e}").into())
}

/// `DATABASE_URL`, else the local test database.
pub(crate) fn default_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/jobs_test".to_owned())
}

fn parse(args: Vec<String>) -> Result<Options, Error> {
    let mut options = Options {
        memory: true,
        postgres: true,
        sqlite: true,
        url: default_url(),
        sqlite_dir: std::env::temp_dir(),
        sqlite_fsync: vec![true, false],
        sqlite_watch: DEFAULT_SQLITE_WATCH,
        only: Vec::new(),
        repeat: 1,
        smoke: false,
        timings: false,
        runs: None,
        concurrency: vec![1000],
        processes: None,
        insert_single: None,
        insert_batches: None,
        batch_size: None,
        latency_samples: None,
        history: None,
        commit_secs: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--smoke" {
            options.smoke = true;
            continue;
        }
        if flag == "--timings" {
            options.timings = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(usage().into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))?;
        match flag.as_str() {
            "--storage" => {
                (options.memory, options.postgres, options.sqlite) = match value.as_str() {
                    "memory" => (true, false, false),
                    "postgres" => (false, true, false),
                    "sqlite" => (false, false, true),
                    "all" => (true, true, true),
                    other => {
                        return Err(format!(
                            "--storage {other}: expected memory, postgres, sqlite or all"
                        )
                        .into());
                    }
                };
            }
            "--sqlite-dir" => options.sqlite_dir = PathBuf::from(value),
            "--sqlite-fsync" => {
                options.sqlite_fsync = match value.as_str() {
                    "yes" => vec![true],
                    "no" => vec![false],
                    "both" => vec![true, false],
                    other => {
                        return Err(
                            format!("--sqlite-fsync {other}: expected yes, no or both").into()
                        );
                    }
                };
            }
            "--sqlite-watch" => {
                options.sqlite_watch = value
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis)
                    .ok_or_else(|| format!("--sqlite-watch {value}: expected milliseconds"))?;
            }
            "--only" => {
                options.only = value
                    .split(',')
                    .map(|b| Bench::parse(b.trim()))
                    .collect::<Result<_, _>>()?;
            }
            "--repeat" => options.repeat = parse_count(&flag, &value)?.max(1),
            "--runs" => options.runs = Some(parse_count(&flag, &value)?.max(1)),
            "--concurrency" => options.concurrency = parse_list(&flag, &value)?,
            "--processes" => options.processes = Some(parse_list(&flag, &value)?),
            "--insert-single" => options.insert_single = Some(parse_count(&flag, &value)?),
            "--insert-batches" => options.insert_batches = Some(parse_count(&flag, &value)?),
            "--batch-size" => options.batch_size = Some(parse_count(&flag, &value)?.max(1)),
            "--latency-samples" => {
                options.latency_samples = Some(parse_count(&flag, &value)?.max(1));
            }
            "--history" => options.history = Some(parse_count(&flag, &value)?),
            "--commit-secs" => {
                options.commit_secs = Some(
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| *s > 0.0)
                        .ok_or_else(|| format!("--commit-secs {value}: expected seconds"))?,
                );
            }
            "--url" => options.url = value,
            "--pg-setup" => {
                let _ = pg::SETUP.set(value);
            }
            other => return Err(format!("unknown option {other}\n{}", usage()).into()),
        }
    }
    Ok(options)
}

fn usage() -> &'static str {
    "usage: jobs-bench [--storage memory|postgres|sqlite|all] \
     [--only insert,process,latency,commit,history] [--repeat K] [--runs N] \
     [--concurrency N[,N..]] [--processes N[,N..]] [--insert-single N] [--insert-batches N] \
     [--batch-size N] [--latency-samples N] [--history N] [--commit-secs S] [--timings] \
     [--pg-setup SQL] [--url URL] [--sqlite-dir DIR] [--sqlite-fsync yes|no|both] \
     [--sqlite-watch MS] [--smoke]"
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("worker") => {
            args.remove(0);
            child::worker(args).await
        }
        Some("enqueue") => {
            args.remove(0);
            child::enqueue(args).await
        }
        _ => match parse(args) {
            Ok(options) => bench::run(options).await,
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jobs-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

//! The measurements, and the table and JSON lines they print.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jobs::{Jobs, MemoryStorage, Storage, Task};
use serde_json::{Map, Value, json};

use crate::child::{Gaps, Proc, jobs_on, send_pings};
use crate::cpu::Snapshot;
use crate::pg::Env;
use crate::sqlite::{SqliteEnv, file_system};
use crate::stats::{Figure, median, percentile, round};
use crate::tasks::{self, Noop};
use crate::timed::Timed;
use crate::{Bench, Error, Kind, Options, Sizes};

/// Concurrency of the idle worker in the latency cases.
const LATENCY_CONCURRENCY: usize = 10;
/// Spacing of latency pings, in microseconds.
const GAP_US: (u64, u64) = (5_000, 10_000);

/// Prints each figure as it is measured and keeps it for the table.
struct Output {
    /// The median 2-connection commit rate, once measured: the yardstick of ratios.
    commit_rate: Option<f64>,
    /// The median rate of the raw baseline on PostgreSQL (the storage's claim and finish
    /// statements in tight loops, [`crate::raw`]), once measured: what PostgreSQL
    /// processing figures are a fraction of.
    raw_rate: Option<f64>,
    /// The median commit rate of a SQLite file on one connection, by `fsync_every_commit`,
    /// once measured: the yardstick of SQLite's ratios.
    sqlite_commit_rate: Vec<(bool, f64)>,
    figures: Vec<Figure>,
}

impl Output {
    /// The commit rate a figure of `runs/s` is compared with, and its JSON name.
    fn yardstick(&self, figure: &Figure) -> Option<(f64, &'static str)> {
        if figure.unit != "runs/s" {
            return None;
        }
        match figure.storage {
            "postgres" => self.commit_rate.map(|rate| (rate, "commit_rate_2c")),
            "sqlite" => {
                let fsync = figure.params.get("fsync_every_commit")?.as_bool()?;
                self.sqlite_commit_rate
                    .iter()
                    .find(|(f, _)| *f == fsync)
                    .map(|(_, rate)| (*rate, "commit_rate_1c"))
            }
            _ => None,
        }
    }

    fn extra(&self, figure: &Figure) -> Map<String, Value> {
        let mut extra = Map::new();
        if let Some((rate, name)) = self.yardstick(figure) {
            extra.insert(name.into(), round(rate).into());
            extra.insert(
                "x_commit_rate".into(),
                ((figure.value() / rate * 100.0).round() / 100.0).into(),
            );
        }
        if let Some(raw) = self.raw_rate.filter(|_| is_pg_processing(figure)) {
            extra.insert("raw_rate".into(), round(raw).into());
            extra.insert(
                "x_raw".into(),
                ((figure.value() / raw * 100.0).round() / 100.0).into(),
            );
        }
        extra
    }

    fn emit(&mut self, figure: Figure) {
        println!("{}", figure.json(self.extra(&figure)));
        self.figures.push(figure);
    }

    fn table(&self) {
        println!();
        println!(
            "{:<20} {:<9} {:<92} {:>10} {:>19} {:<10} {:>8} {:>6}",
            "benchmark", "storage", "parameters", "median", "range", "unit", "x commit", "x raw"
        );
        println!("{}", "-".repeat(181));
        for figure in &self.figures {
            let params = figure
                .params
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(" ");
            let extra = self.extra(figure);
            let ratio = |name: &str, digits: usize| {
                extra
                    .get(name)
                    .and_then(Value::as_f64)
                    .map_or(String::new(), |r| format!("{r:.digits$}x"))
            };
            println!(
                "{:<20} {:<9} {:<92} {:>10} {:>19} {:<10} {:>8} {:>6}",
                figure.name,
                figure.storage,
                params,
                show(figure.value()),
                format!("{} - {}", show(figure.min()), show(figure.max())),
                figure.unit,
                ratio("x_commit_rate", 1),
                ratio("x_raw", 2)
            );
        }
        if let Some(rate) = self.commit_rate {
            println!(
                "\nx commit: the median divided by this run's PostgreSQL commit rate with 2 connections ({})",
                show(rate)
            );
        }
        if let Some(raw) = self.raw_rate {
            println!(
                "x raw: the median divided by this run's raw baseline on PostgreSQL, the storage's own claim and finish statements driven in {} loops of {} from sqlx ({})",
                crate::raw::LOOPS,
                crate::raw::BATCH,
                show(raw)
            );
        }
        for (fsync, rate) in &self.sqlite_commit_rate {
            println!(
                "x commit (sqlite, fsync_every_commit={fsync}): the median divided by this run's commit rate of a SQLite file on 1 connection with the same flushing ({})",
                show(*rate)
            );
        }
    }
}

/// Whether `figure` is a PostgreSQL processing figure, compared with the raw baseline.
fn is_pg_processing(figure: &Figure) -> bool {
    figure.storage == "postgres" && figure.name == "process"
}

fn show(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Runs what `options` asks for.
pub(crate) async fn run(options: Options) -> Result<(), Error> {
    let mut out = Output {
        commit_rate: None,
        raw_rate: None,
        sqlite_commit_rate: Vec::new(),
        figures: Vec::new(),
    };
    let mut kinds = Vec::new();
    if options.memory {
        kinds.push(Kind::Memory);
    }
    if options.postgres {
        kinds.push(Kind::Postgres);
    }
    if options.sqlite {
        for &fsync in &options.sqlite_fsync {
            kinds.push(Kind::Sqlite { fsync });
        }
    }
    eprintln!(
        "jobs-bench: storages {:?}, repeat {}, {} cpus{}",
        kinds.iter().map(|k| k.label()).collect::<Vec<_>>(),
        options.repeat,
        std::thread::available_parallelism().map_or(0, usize::from),
        if options.smoke { ", smoke sizes" } else { "" }
    );
    if options.sqlite {
        eprintln!(
            "jobs-bench: SQLite files under {} ({})",
            options.sqlite_dir.display(),
            file_system(&options.sqlite_dir)
        );
    }
    if options.wants(Bench::Commit) {
        if options.postgres {
            commit(&options, &mut out).await?;
        }
        for &kind in &kinds {
            if let Kind::Sqlite { fsync } = kind {
                sqlite_commit(&options, fsync, &mut out).await?;
            }
        }
    }
    if options.wants(Bench::Insert) {
        for &kind in &kinds {
            insert(&options, kind, &mut out).await?;
        }
    }
    if options.wants(Bench::Process) {
        for &kind in &kinds {
            process(&options, kind, &mut out).await?;
        }
    }
    if options.wants(Bench::Latency) {
        for &kind in &kinds {
            latency(&options, kind, false, &mut out).await?;
            if kind != Kind::Memory {
                latency(&options, kind, true, &mut out).await?;
            }
        }
    }
    if options.wants(Bench::History) {
        for &kind in &kinds {
            if kind != Kind::Memory {
                history(&options, kind, &mut out).await?;
            }
        }
    }
    out.table();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Commit rate

async fn commit(options: &Options, out: &mut Output) -> Result<(), Error> {
    let sizes = options.sizes(Kind::Postgres);
    let mut env = Env::fresh(&options.url, "commit").await?;
    let result = async {
        let mut figures = Vec::new();
        for clients in [1usize, 2] {
            let mut figure = Figure::new(
                "commit_rate",
                "postgres",
                json!({ "clients": clients, "secs": sizes.commit_secs }),
                "commits/s",
            );
            for round in 1..=options.repeat {
                let mut tries = 1;
                let (rate, usage) = loop {
                    let before = Snapshot::take(&[]);
                    let rate =
                        crate::pg::commit_rate(&mut env, clients, sizes.commit_secs).await?;
                    let usage = before.until(&Snapshot::take(&[]));
                    if usage.other / usage.wall <= BUSY_CORES || tries >= BUSY_TRIES {
                        break (rate, usage);
                    }
                    eprintln!(
                        "  (commit rate: other processes used {:.2} cores meanwhile ({rate:.0}/s); measuring again)",
                        usage.other / usage.wall
                    );
                    tries += 1;
                };
                eprintln!(
                    "  commit rate, {clients} connection(s) #{round}: {rate:.0}/s (cpu: bench {:.2} cores, postgres {:.2}, other {:.2})",
                    usage.bench / usage.wall,
                    usage.postgres / usage.wall,
                    usage.other / usage.wall
                );
                figure.push(rate, usage.json());
            }
            figures.push(figure);
        }
        Ok::<_, Error>(figures)
    }
    .await;
    env.drop_schema().await?;
    for figure in result? {
        if figure.params.get("clients") == Some(&json!(2)) {
            out.commit_rate = Some(figure.value());
        }
        out.emit(figure);
    }
    Ok(())
}

/// The commit rate of a fresh SQLite file (single-row transactions on one connection),
/// with `fsync_every_commit(fsync)`'s flushing.
async fn sqlite_commit(options: &Options, fsync: bool, out: &mut Output) -> Result<(), Error> {
    let kind = Kind::Sqlite { fsync };
    let sizes = options.sizes(kind);
    let mut figure = Figure::new(
        "commit_rate",
        kind.name(),
        kind.params(json!({ "clients": 1, "secs": sizes.commit_secs })),
        "commits/s",
    );
    for round in 1..=options.repeat {
        let mut tries = 1;
        let (rate, usage) = loop {
            let env = SqliteEnv::fresh(options, fsync).await?;
            let before = Snapshot::take(&[]);
            let rate = env.commit_rate(sizes.commit_secs).await;
            let usage = before.until(&Snapshot::take(&[]));
            env.remove().await?;
            let rate = rate?;
            if usage.other / usage.wall <= BUSY_CORES || tries >= BUSY_TRIES {
                break (rate, usage);
            }
            eprintln!(
                "  (commit rate: other processes used {:.2} cores meanwhile ({rate:.0}/s); measuring again)",
                usage.other / usage.wall
            );
            tries += 1;
        };
        eprintln!(
            "  {} commit rate, 1 connection #{round}: {rate:.0}/s (cpu: bench {:.2} cores, other {:.2})",
            kind.label(),
            usage.bench / usage.wall,
            usage.other / usage.wall
        );
        figure.push(rate, usage.json());
    }
    out.sqlite_commit_rate.push((fsync, figure.value()));
    out.emit(figure);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Insert

async fn insert(options: &Options, kind: Kind, out: &mut Output) -> Result<(), Error> {
    let sizes = options.sizes(kind);
    let mut single = Figure::new(
        "insert_one_per_call",
        kind.name(),
        kind.params(json!({ "runs": sizes.insert_single })),
        "runs/s",
    );
    let mut batch = Figure::new(
        "insert_batch",
        kind.name(),
        kind.params(json!({ "batch_size": sizes.batch_size, "batches": sizes.insert_batches })),
        "runs/s",
    );
    for round in 1..=options.repeat {
        let one = unless_busy("insert", || insert_once(options, kind, false, sizes)).await?;
        eprintln!(
            "  {} insert one per call #{round}: {:.0} runs/s {}",
            kind.label(),
            one.rate,
            one.summary
        );
        single.push(one.rate, one.detail);
        let many = unless_busy("insert", || insert_once(options, kind, true, sizes)).await?;
        eprintln!(
            "  {} insert batches of {} #{round}: {:.0} runs/s {}",
            kind.label(),
            sizes.batch_size,
            many.rate,
            many.summary
        );
        batch.push(many.rate, many.detail);
    }
    out.emit(single);
    out.emit(batch);
    Ok(())
}

async fn insert_once(
    options: &Options,
    kind: Kind,
    batched: bool,
    sizes: Sizes,
) -> Result<Sample, Error> {
    match kind {
        Kind::Memory => {
            let jobs = jobs_on(Arc::new(MemoryStorage::new()))?;
            insert_timed(&jobs, batched, sizes).await
        }
        Kind::Postgres => {
            let env = Env::fresh(&options.url, "insert").await?;
            let result = match jobs_on(Arc::new(env.storage.clone())) {
                Ok(jobs) => insert_timed(&jobs, batched, sizes).await,
                Err(error) => Err(error),
            };
            env.drop_schema().await?;
            result
        }
        Kind::Sqlite { fsync } => {
            let env = SqliteEnv::fresh(options, fsync).await?;
            let result = match jobs_on(Arc::new(env.storage.clone())) {
                Ok(jobs) => insert_timed(&jobs, batched, sizes).await,
                Err(error) => Err(error),
            };
            env.remove().await?;
            result
        }
    }
}

async fn insert_timed(jobs: &Jobs, batched: bool, sizes: Sizes) -> Result<Sample, Error> {
    // Payloads are made before the clock starts; serializing them is part of the enqueue.
    let batches: Vec<Vec<Noop>> = if batched {
        (0..sizes.insert_batches)
            .map(|b| {
                (0..sizes.batch_size)
                    .map(|i| Noop {
                        n: (b * sizes.batch_size + i) as u64,
                    })
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let before = Snapshot::take(&[]);
    let start = Instant::now();
    let count = if batched {
        for batch in batches {
            jobs.enqueue_many(batch).await?;
        }
        sizes.insert_batches * sizes.batch_size
    } else {
        for n in 0..sizes.insert_single {
            jobs.enqueue(Noop { n: n as u64 }).await?;
        }
        sizes.insert_single
    };
    let elapsed = start.elapsed();
    let usage = before.until(&Snapshot::take(&[]));
    Ok(Sample {
        rate: count as f64 / elapsed.as_secs_f64(),
        summary: format!(
            "(wall {:.2} s; cpu: bench {:.2} cores, postgres {:.2}, other {:.2})",
            elapsed.as_secs_f64(),
            usage.bench / usage.wall,
            usage.postgres / usage.wall,
            usage.other / usage.wall,
        ),
        detail: usage.json(),
        other: usage.other / usage.wall,
    })
}

// ---------------------------------------------------------------------------------------
// Processing

async fn process(options: &Options, kind: Kind, out: &mut Output) -> Result<(), Error> {
    let sizes = options.sizes(kind);
    if kind == Kind::Postgres {
        raw(options, sizes.process_runs, out).await?;
    }
    for &concurrency in &options.concurrency {
        for procs in options.processes(kind) {
            let mut params = json!({ "runs": sizes.process_runs, "concurrency": concurrency, "processes": procs });
            if procs > 1 {
                cross_process_params(options, kind, &mut params);
            }
            let mut figure = Figure::new("process", kind.name(), kind.params(params), "runs/s");
            for round in 1..=options.repeat {
                let run = unless_busy("process", || async {
                    if procs == 1 {
                        process_in_process(options, kind, sizes.process_runs, concurrency, 0).await
                    } else {
                        process_processes(options, kind, sizes.process_runs, concurrency, procs)
                            .await
                    }
                })
                .await?;
                eprintln!(
                    "  {} process {} runs, concurrency {concurrency}, {procs} process(es) #{round}: {:.0} runs/s {}",
                    kind.label(),
                    sizes.process_runs,
                    run.rate,
                    run.summary
                );
                figure.push(run.rate, run.detail);
            }
            out.emit(figure);
        }
    }
    Ok(())
}

/// The raw baseline on PostgreSQL ([`crate::raw`]), `repeat` times, each in a fresh schema
/// holding `n` due runs: the figure `process_raw`, and the yardstick of `x raw`.
async fn raw(options: &Options, n: usize, out: &mut Output) -> Result<(), Error> {
    let params = json!({ "runs": n, "loops": crate::raw::LOOPS, "batch": crate::raw::BATCH });
    let mut figure = Figure::new("process_raw", "postgres", params, "runs/s");
    for round in 1..=options.repeat {
        let run = unless_busy("raw baseline", || async {
            let mut env = Env::fresh(&options.url, "raw").await?;
            let result = async {
                let storage: Arc<dyn Storage> = Arc::new(env.storage.clone());
                preinsert(&jobs_on(storage)?, n, 5_000).await?;
                env.vacuum_analyze().await?;
                eprintln!("    measuring from now: {n} runs, the raw claim and finish loops");
                let raw = crate::raw::drain(&env.storage, n).await?;
                Ok::<_, Error>(Sample {
                    rate: raw.rate,
                    summary: raw.summary,
                    detail: raw.detail,
                    other: raw.other,
                })
            }
            .await;
            env.drop_schema().await?;
            result
        })
        .await?;
        eprintln!(
            "  postgres raw baseline {n} runs #{round}: {:.0} runs/s {}",
            run.rate, run.summary
        );
        figure.push(run.rate, run.detail);
    }
    out.raw_rate = Some(figure.value());
    out.emit(figure);
    Ok(())
}

/// On SQLite, adds to `params` the `watch_interval_ms` a case that crosses processes
/// depends on: a worker learns of other processes' writes through that watch of the file.
fn cross_process_params(options: &Options, kind: Kind, params: &mut Value) {
    if let (Kind::Sqlite { .. }, Value::Object(map)) = (kind, params) {
        map.insert(
            "watch_interval_ms".into(),
            u64::try_from(options.sqlite_watch.as_millis())
                .unwrap_or(u64::MAX)
                .into(),
        );
    }
}

/// One measurement: its rate, a line for the progress log, details, and the cores other
/// processes of the machine used meanwhile.
struct Sample {
    rate: f64,
    summary: String,
    detail: Value,
    other: f64,
}

/// Cores used by unrelated processes (another build, another test suite) above which a
/// throughput measurement is disturbed and taken again, at most [`BUSY_TRIES`] times.
const BUSY_CORES: f64 = 0.25;
const BUSY_TRIES: usize = 4;

/// Takes `measure` again while other processes kept the machine busy.
async fn unless_busy<F, Fut>(what: &str, mut measure: F) -> Result<Sample, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Sample, Error>>,
{
    let mut tries = 1;
    loop {
        let mut sample = measure().await?;
        if sample.other <= BUSY_CORES || tries >= BUSY_TRIES {
            if let Value::Object(map) = &mut sample.detail {
                map.insert("tries".into(), tries.into());
            }
            return Ok(sample);
        }
        eprintln!(
            "  ({what}: other processes used {:.2} cores meanwhile ({:.0}/s); measuring again)",
            sample.other, sample.rate
        );
        tries += 1;
    }
}

/// Fills `jobs`'s storage with `n` due runs of `bench-noop`, `chunk` per statement.
async fn preinsert(jobs: &Jobs, n: usize, chunk: usize) -> Result<(), Error> {
    let mut next = 0;
    while next < n {
        let size = chunk.min(n - next);
        let batch: Vec<Noop> = (next..next + size).map(|n| Noop { n: n as u64 }).collect();
        jobs.enqueue_many(batch).await?;
        next += size;
    }
    Ok(())
}

/// Waits until `n` handlers of `bench-noop` have run; an error after a minute without
/// progress.
async fn wait_handlers(n: u64) -> Result<(), Error> {
    let mut last = 0;
    let mut since = Instant::now();
    loop {
        let done = tasks::noop_runs();
        if done >= n {
            return Ok(());
        }
        if done != last {
            last = done;
            since = Instant::now();
        } else if since.elapsed() > Duration::from_secs(60) {
            return Err(format!("processing stalled at {done} of {n} runs").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `n` runs drained by one worker in this process; on PostgreSQL, in a fresh schema, and
/// on SQLite, in a fresh file, that first get `history` finished runs.
async fn process_in_process(
    options: &Options,
    kind: Kind,
    n: usize,
    concurrency: usize,
    history: usize,
) -> Result<Sample, Error> {
    match kind {
        Kind::Memory => {
            let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
            preinsert(&jobs_on(storage.clone())?, n, 10_000).await?;
            drain(options, storage, n, concurrency, Left::Shutdown).await
        }
        Kind::Postgres => {
            let mut env = Env::fresh(&options.url, "proc").await?;
            let result = async {
                if history > 0 {
                    let start = Instant::now();
                    env.insert_history(history, Noop::NAME).await?;
                    eprintln!(
                        "    ({history} finished runs inserted in {:.1} s)",
                        start.elapsed().as_secs_f64()
                    );
                }
                let storage: Arc<dyn Storage> = Arc::new(env.storage.clone());
                preinsert(&jobs_on(storage.clone())?, n, 5_000).await?;
                env.vacuum_analyze().await?;
                let run = drain(
                    options,
                    storage,
                    n,
                    concurrency,
                    Left::Storage(Db::Postgres(&mut env)),
                )
                .await?;
                let succeeded = usize::try_from(env.succeeded().await?).unwrap_or(0);
                if succeeded != n + history {
                    return Err(
                        format!("{succeeded} runs succeeded, expected {}", n + history).into(),
                    );
                }
                Ok(run)
            }
            .await;
            env.drop_schema().await?;
            result
        }
        Kind::Sqlite { fsync } => {
            let env = SqliteEnv::fresh(options, fsync).await?;
            let result = async {
                if history > 0 {
                    let start = Instant::now();
                    env.insert_history(history, Noop::NAME).await?;
                    eprintln!(
                        "    ({history} finished runs inserted in {:.1} s; file {:.0} MB)",
                        start.elapsed().as_secs_f64(),
                        env.bytes() as f64 / 1e6
                    );
                }
                let storage: Arc<dyn Storage> = Arc::new(env.storage.clone());
                preinsert(&jobs_on(storage.clone())?, n, 5_000).await?;
                let mut run = drain(
                    options,
                    storage,
                    n,
                    concurrency,
                    Left::Storage(Db::Sqlite(&env)),
                )
                .await?;
                let succeeded = usize::try_from(env.succeeded().await?).unwrap_or(0);
                if succeeded != n + history {
                    return Err(
                        format!("{succeeded} runs succeeded, expected {}", n + history).into(),
                    );
                }
                if let Value::Object(map) = &mut run.detail {
                    map.insert("file_bytes".into(), env.bytes().into());
                }
                Ok(run)
            }
            .await;
            env.remove().await?;
            result
        }
    }
}

/// The database of a measurement, for the benchmark's own cheap queries.
enum Db<'a> {
    /// A PostgreSQL schema, on the benchmark's own connection.
    Postgres(&'a mut Env),
    /// A SQLite file, on the storage's read pool (beside the writer).
    Sqlite(&'a SqliteEnv),
}

impl Db<'_> {
    /// Whether any run of the namespace is waiting.
    async fn any_waiting(&mut self) -> Result<bool, Error> {
        match self {
            Db::Postgres(env) => env.any_waiting().await,
            Db::Sqlite(env) => env.any_waiting().await,
        }
    }

    /// How many runs of the namespace are running.
    async fn running(&mut self) -> Result<i64, Error> {
        match self {
            Db::Postgres(env) => env.running().await,
            Db::Sqlite(env) => env.running().await,
        }
    }

    /// Whether every run of the namespace has finished: none waiting, none running.
    async fn all_finished(&mut self) -> Result<bool, Error> {
        match self {
            Db::Postgres(env) => env.all_finished().await,
            Db::Sqlite(env) => env.all_finished().await,
        }
    }

    /// Runs of the namespace that succeeded.
    async fn succeeded(&mut self) -> Result<i64, Error> {
        match self {
            Db::Postgres(env) => env.succeeded().await,
            Db::Sqlite(env) => env.succeeded().await,
        }
    }
}

/// How a drain learns that every run is finished.
enum Left<'a> {
    /// When the worker's shutdown returns, every result is written (memory).
    Shutdown,
    /// When the storage says no run is waiting or running (PostgreSQL, SQLite).
    Storage(Db<'a>),
}

impl Left<'_> {
    async fn all_finished(&mut self) -> Result<bool, Error> {
        match self {
            Left::Shutdown => Ok(true),
            Left::Storage(db) => db.all_finished().await,
        }
    }
}

/// Starts a worker on `storage` (already holding `n` due runs) and measures until every
/// run is finished: on PostgreSQL and SQLite until the storage says none is waiting or
/// running, in memory until the worker's shutdown has written every result.
async fn drain(
    options: &Options,
    storage: Arc<dyn Storage>,
    n: usize,
    concurrency: usize,
    left: Left<'_>,
) -> Result<Sample, Error> {
    let timed = options.timings.then(|| Timed::new(storage.clone()));
    let worker_storage = match &timed {
        Some(timed) => timed.clone() as Arc<dyn Storage>,
        None => storage,
    };
    let jobs = jobs_on(worker_storage)?;
    tasks::reset_noop();
    eprintln!("    measuring from now: {n} runs, one worker of {concurrency} slots");
    let before = Snapshot::take(&[]);
    let start = Instant::now();
    let worker = jobs.worker().concurrency(concurrency).start();
    wait_handlers(n as u64).await?;
    let handlers_done = start.elapsed();
    let (report, elapsed, after) = match left {
        Left::Shutdown => {
            let report = worker.shutdown().await;
            let elapsed = start.elapsed();
            (report, elapsed, Snapshot::take(&[]))
        }
        mut left => {
            while !left.all_finished().await? {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let elapsed = start.elapsed();
            let after = Snapshot::take(&[]);
            (worker.shutdown().await, elapsed, after)
        }
    };
    if report.completed != n {
        return Err(format!(
            "the worker recorded {} results, expected {n} ({report:?})",
            report.completed
        )
        .into());
    }
    let usage = before.until(&after);
    let mut detail = usage.json();
    let mut summary = format!(
        "(wall {:.2} s, handlers done at {:.2} s; cpu: bench {:.2} cores, postgres {:.2}, other {:.2})",
        elapsed.as_secs_f64(),
        handlers_done.as_secs_f64(),
        usage.bench / usage.wall,
        usage.postgres / usage.wall,
        usage.other / usage.wall,
    );
    if let Value::Object(map) = &mut detail {
        map.insert(
            "handlers_done_s".into(),
            round(handlers_done.as_secs_f64()).into(),
        );
        if let Some(timed) = &timed {
            let (json, text) = timed.report(start, start + elapsed);
            map.insert("timings".into(), json);
            summary.push('\n');
            summary.push_str(text.trim_end());
        }
    }
    Ok(Sample {
        rate: n as f64 / elapsed.as_secs_f64(),
        summary,
        detail,
        other: usage.other / usage.wall,
    })
}

/// `n` runs drained by `procs` worker processes (children of this one) started together,
/// on a fresh PostgreSQL schema or SQLite file.
async fn process_processes(
    options: &Options,
    kind: Kind,
    n: usize,
    concurrency: usize,
    procs: usize,
) -> Result<Sample, Error> {
    let mut args = vec!["--concurrency".to_owned(), concurrency.to_string()];
    match kind {
        Kind::Memory => Err("memory has no multi-process case".into()),
        Kind::Postgres => {
            let mut env = Env::fresh(&options.url, "procs").await?;
            let result = async {
                preinsert(&jobs_on(Arc::new(env.storage.clone()))?, n, 5_000).await?;
                env.vacuum_analyze().await?;
                args.extend([
                    "--url".to_owned(),
                    env.url.clone(),
                    "--schema".to_owned(),
                    env.schema.clone(),
                ]);
                drain_processes(Db::Postgres(&mut env), &args, n, procs).await
            }
            .await;
            env.drop_schema().await?;
            result
        }
        Kind::Sqlite { fsync } => {
            let env = SqliteEnv::fresh(options, fsync).await?;
            let result = async {
                preinsert(&jobs_on(Arc::new(env.storage.clone()))?, n, 5_000).await?;
                args.extend(env.child_args(options.sqlite_watch));
                let mut run = drain_processes(Db::Sqlite(&env), &args, n, procs).await?;
                if let Value::Object(map) = &mut run.detail {
                    map.insert("file_bytes".into(), env.bytes().into());
                }
                Ok(run)
            }
            .await;
            env.remove().await?;
            result
        }
    }
}

/// Starts `procs` worker processes (`jobs-bench worker <args>`) on a database holding `n`
/// due runs, tells them all to go, and measures until `db` says no run is waiting or
/// running; then stops them and checks that their reports add up to `n`. The sample's
/// details say how many runs each process completed (`completed_per_process`, `shares`)
/// and what each worker's shutdown reported (`worker_reports`).
async fn drain_processes(
    mut db: Db<'_>,
    args: &[String],
    n: usize,
    procs: usize,
) -> Result<Sample, Error> {
    let mut children = Vec::with_capacity(procs);
    for _ in 0..procs {
        children.push(Proc::start("worker", args).await?);
    }
    let pids: Vec<u32> = children.iter().map(Proc::pid).collect();
    let before = Snapshot::take(&pids);
    let start = Instant::now();
    for child in &mut children {
        child.say("go").await?;
    }
    let deadline = start + Duration::from_secs(600);
    let mut waiting = true;
    while waiting || db.running().await? > 0 {
        if Instant::now() > deadline {
            return Err("processing did not finish within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(if waiting { 5 } else { 1 })).await;
        if waiting {
            waiting = db.any_waiting().await?;
        }
    }
    let elapsed = start.elapsed();
    let after = Snapshot::take(&pids);
    let mut per_process = Vec::with_capacity(procs);
    let mut reports = Vec::with_capacity(procs);
    for child in &mut children {
        child.say("stop").await?;
        let line = child.line(Duration::from_secs(60)).await?;
        let report: Value =
            serde_json::from_str(&line).map_err(|e| format!("a worker's report {line:?}: {e}"))?;
        per_process.push(report["completed"].as_u64().unwrap_or(0));
        reports.push(report);
    }
    for child in children {
        child.finish().await?;
    }
    let completed: u64 = per_process.iter().sum();
    let succeeded = usize::try_from(db.succeeded().await?).unwrap_or(0);
    if completed as usize != n || succeeded != n {
        return Err(format!(
            "{procs} workers recorded {completed} results and {succeeded} runs succeeded, expected {n}"
        )
        .into());
    }
    let usage = before.until(&after);
    let shares: Vec<f64> = per_process
        .iter()
        .map(|c| *c as f64 / n.max(1) as f64)
        .collect();
    let mut detail = usage.json();
    if let Value::Object(map) = &mut detail {
        map.insert("completed_per_process".into(), json!(per_process));
        let rounded: Vec<f64> = shares.iter().map(|s| round3(*s)).collect();
        map.insert("shares".into(), json!(rounded));
        map.insert("worker_reports".into(), Value::Array(reports));
    }
    Ok(Sample {
        rate: n as f64 / elapsed.as_secs_f64(),
        summary: format!(
            "(wall {:.2} s; shares {}; cpu: bench {:.2} cores, postgres {:.2}, other {:.2})",
            elapsed.as_secs_f64(),
            shares
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
                .join("/"),
            usage.bench / usage.wall,
            usage.postgres / usage.wall,
            usage.other / usage.wall,
        ),
        detail,
        other: usage.other / usage.wall,
    })
}

// ---------------------------------------------------------------------------------------
// Pickup latency

async fn latency(
    options: &Options,
    kind: Kind,
    other_process: bool,
    out: &mut Output,
) -> Result<(), Error> {
    let sizes = options.sizes(kind);
    let enqueuer = if other_process {
        "other process"
    } else {
        "same process"
    };
    let mut params = json!({
        "samples": sizes.latency_samples,
        "gap_ms": format!("{}-{}", GAP_US.0 / 1000, GAP_US.1 / 1000),
        "enqueuer": enqueuer,
    });
    if other_process {
        cross_process_params(options, kind, &mut params);
    }
    let mut figures: Vec<Figure> = [50.0, 90.0, 99.0]
        .iter()
        .map(|p| {
            Figure::new(
                format!("latency_p{p}"),
                kind.name(),
                kind.params(params.clone()),
                "ms",
            )
        })
        .collect();
    for round in 1..=options.repeat {
        let mut tries = 1;
        let (ms, usage) = loop {
            let before = Snapshot::take(&[]);
            let ms = latency_once(options, kind, other_process, sizes).await?;
            let usage = before.until(&Snapshot::take(&[]));
            if usage.other / usage.wall <= BUSY_CORES || tries >= BUSY_TRIES {
                break (ms, usage);
            }
            eprintln!(
                "  (latency: other processes used {:.2} cores meanwhile (p50 {:.2} ms); measuring again)",
                usage.other / usage.wall,
                percentile(&ms, 50.0)
            );
            tries += 1;
        };
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        let max = ms.last().copied().unwrap_or(0.0);
        let detail = json!({
            "mean_ms": round3(mean),
            "max_ms": round3(max),
            "samples": ms.len(),
            "other_cores": round3(usage.other / usage.wall),
            "tries": tries,
        });
        for (figure, p) in figures.iter_mut().zip([50.0, 90.0, 99.0]) {
            figure.push(percentile(&ms, p), detail.clone());
        }
        eprintln!(
            "  {} pickup latency, enqueuer in the {enqueuer} #{round}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {max:.2} ms",
            kind.label(),
            percentile(&ms, 50.0),
            percentile(&ms, 90.0),
            percentile(&ms, 99.0),
        );
    }
    for figure in figures {
        out.emit(figure);
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One latency measurement: the samples after warm-up, in ms, ascending.
async fn latency_once(
    options: &Options,
    kind: Kind,
    other_process: bool,
    sizes: Sizes,
) -> Result<Vec<f64>, Error> {
    let total = sizes.latency_warmup + sizes.latency_samples;
    tasks::reset_pings();
    let mut remote_args = vec![
        "--count".to_owned(),
        total.to_string(),
        "--gap-us".to_owned(),
        format!("{},{}", GAP_US.0, GAP_US.1),
    ];
    // With --timings, the worker's (and the local enqueuer's) storage calls are timed.
    let timed_jobs = |storage: Arc<dyn Storage>| {
        let timed = options.timings.then(|| Timed::new(storage.clone()));
        let storage = match &timed {
            Some(timed) => timed.clone() as Arc<dyn Storage>,
            None => storage,
        };
        jobs_on(storage).map(|jobs| (jobs, timed))
    };
    let mut timed = None;
    match kind {
        Kind::Memory => {
            let (jobs, t) = timed_jobs(Arc::new(MemoryStorage::new()))?;
            timed = t;
            ping_idle_worker(&jobs, total, None).await?;
        }
        Kind::Postgres => {
            let env = Env::fresh(&options.url, "latency").await?;
            let result = async {
                let (jobs, t) = timed_jobs(Arc::new(env.storage.clone()))?;
                timed = t;
                if other_process {
                    remote_args.extend([
                        "--url".to_owned(),
                        env.url.clone(),
                        "--schema".to_owned(),
                        env.schema.clone(),
                    ]);
                    let child = Proc::start("enqueue", &remote_args).await?;
                    ping_idle_worker(&jobs, total, Some(child)).await
                } else {
                    ping_idle_worker(&jobs, total, None).await
                }
            }
            .await;
            env.drop_schema().await?;
            result?;
        }
        Kind::Sqlite { fsync } => {
            let env = SqliteEnv::fresh(options, fsync).await?;
            let result = async {
                let (jobs, t) = timed_jobs(Arc::new(env.storage.clone()))?;
                timed = t;
                if other_process {
                    // The enqueuer opens the same file with the same settings; this
                    // process's idle worker learns of its runs through the storage's
                    // watch of the file.
                    remote_args.extend(env.child_args(options.sqlite_watch));
                    let child = Proc::start("enqueue", &remote_args).await?;
                    ping_idle_worker(&jobs, total, Some(child)).await
                } else {
                    ping_idle_worker(&jobs, total, None).await
                }
            }
            .await;
            env.remove().await?;
            result?;
        }
    }
    if let Some(timed) = timed {
        eprintln!("{}", timed.report_all().1.trim_end());
    }
    let mut ms: Vec<f64> = tasks::pings()
        .into_iter()
        .filter(|(seq, _)| *seq as usize >= sizes.latency_warmup)
        .map(|(_, ns)| ns as f64 / 1e6)
        .collect();
    ms.sort_by(f64::total_cmp);
    if ms.len() != sizes.latency_samples {
        return Err(format!(
            "{} of {} latency samples recorded",
            ms.len(),
            sizes.latency_samples
        )
        .into());
    }
    Ok(ms)
}

/// Starts an idle worker, lets `total` pings be enqueued one at a time (here, or by
/// `remote`), and waits for every handler to have started.
async fn ping_idle_worker(jobs: &Jobs, total: usize, remote: Option<Proc>) -> Result<(), Error> {
    let worker = jobs.worker().concurrency(LATENCY_CONCURRENCY).start();
    // Let the worker reach its idle wait (and, on PostgreSQL, its LISTEN connection; on
    // SQLite, its watch of the file).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = match remote {
        None => send_pings(jobs, total, &mut Gaps::new(GAP_US.0, GAP_US.1)).await,
        Some(mut child) => {
            let told = async {
                child.say("go").await?;
                let limit = Duration::from_millis(GAP_US.1 / 1000 * total as u64 + 60_000);
                let line = child.line(limit).await?;
                if line != "done" {
                    return Err(format!("the enqueuer said {line:?}").into());
                }
                Ok::<(), Error>(())
            }
            .await;
            told.and(child.finish().await)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent.is_ok() && tasks::pings().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.shutdown().await;
    sent
}

// ---------------------------------------------------------------------------------------
// History

/// Processing on an empty table and on one that first got `--history` finished runs,
/// interleaved; on PostgreSQL or SQLite.
async fn history(options: &Options, kind: Kind, out: &mut Output) -> Result<(), Error> {
    let sizes = options.sizes(kind);
    let concurrency = options.concurrency.first().copied().unwrap_or(1000);
    let n = sizes.process_runs;
    let params = |history: usize| {
        kind.params(json!({ "runs": n, "concurrency": concurrency, "processes": 1, "finished_runs_before": history }))
    };
    let mut empty = Figure::new("process_history", kind.name(), params(0), "runs/s");
    let mut full = Figure::new(
        "process_history",
        kind.name(),
        params(sizes.history),
        "runs/s",
    );
    let mut ratio = Figure::new(
        "history_ratio",
        kind.name(),
        kind.params(json!({ "finished_runs_before": sizes.history, "runs": n })),
        "ratio",
    );
    for round in 1..=options.repeat {
        let a = unless_busy("history, empty", || {
            process_in_process(options, kind, n, concurrency, 0)
        })
        .await?;
        eprintln!(
            "  {} process {n} runs, empty table #{round}: {:.0} runs/s {}",
            kind.label(),
            a.rate,
            a.summary
        );
        let b = unless_busy("history, full", || {
            process_in_process(options, kind, n, concurrency, sizes.history)
        })
        .await?;
        eprintln!(
            "  {} process {n} runs after {} finished runs #{round}: {:.0} runs/s {}",
            kind.label(),
            sizes.history,
            b.rate,
            b.summary
        );
        ratio.push(b.rate / a.rate, Value::Null);
        empty.push(a.rate, a.detail);
        full.push(b.rate, b.detail);
    }
    eprintln!(
        "  {} history: median ratio {:.3} (goal: at least 0.85)",
        kind.label(),
        median(&ratio.samples)
    );
    out.emit(empty);
    out.emit(full);
    out.emit(ratio);
    Ok(())
}

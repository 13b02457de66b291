//! Shared helpers for the examples: where runs live, a clock the examples move by hand,
//! and printing.
//!
//! Every example runs on memory by default, and on PostgreSQL or SQLite when
//! `DATABASE_URL` is set to a `postgres://` or `sqlite:` URL; [`storage`] and
//! [`system_storage`] make that choice in one place. The brief's delays
//! are minutes and hours: the examples keep those policies and run them quickly on a
//! [`jobs::ManualClock`] that [`Timeline`] moves forward, instead of sleeping.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs::{Attempt, Clock as _, Jobs, ListRuns, ManualClock, Run, RunId, RunStatus, Storage};
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// The error the helpers return: anything, with a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What an example's `main` returns: any error, shown as its message and its causes
/// (`Error: storage error while trying to connect ...: ...`) rather than as a struct dump.
pub struct Report(BoxError);

impl<E: Into<BoxError>> From<E> for Report {
    fn from(error: E) -> Self {
        Report(error.into())
    }
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Some errors already print their cause in their message: show each text once.
        let mut message = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !message.contains(&cause_text) {
                message = format!("{message}: {cause_text}");
            }
            source = cause.source();
        }
        f.write_str(&message)
    }
}

/// The longest an example waits, in real time, for a worker to finish what is due.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The storage for example `name`, reading time from `clock`: in memory, or what
/// `DATABASE_URL` names when it is set (see [`system_storage`]). Prints which.
///
/// # Errors
///
/// `DATABASE_URL` is not a PostgreSQL or SQLite URL, names a file that is not a
/// jobs-sqlite file, or its database cannot be reached or migrated.
pub async fn storage(name: &str, clock: ManualClock) -> Result<Arc<dyn Storage>, BoxError> {
    open(name, Some(clock)).await
}

/// [`storage`] for examples that run in real time: the system's clock in memory and on
/// SQLite, the database's on PostgreSQL.
///
/// With `DATABASE_URL` unset the runs are in memory. Set, it is one of:
///
/// - `postgres://user:password@host:port/database`: the example uses its own schema,
///   `example_<name>`, dropped and created again first;
/// - `sqlite://jobs.db` (relative to the current directory), `sqlite:///abs/path.db` or
///   `sqlite:jobs.db`: the example uses that file, created if it is missing, else emptied
///   first. Only a file made by jobs-sqlite (or an empty one) is emptied: any other file
///   is refused and left as it is.
///
/// # Errors
///
/// As [`storage`].
pub async fn system_storage(name: &str) -> Result<Arc<dyn Storage>, BoxError> {
    open(name, None).await
}

async fn open(name: &str, clock: Option<ManualClock>) -> Result<Arc<dyn Storage>, BoxError> {
    let Some(url) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        println!("storage: memory (set DATABASE_URL to run on SQLite or PostgreSQL)");
        return Ok(match clock {
            Some(clock) => Arc::new(jobs::MemoryStorage::with_clock(clock)),
            None => Arc::new(jobs::MemoryStorage::new()),
        });
    };
    // The scheme alone: the rest of a URL may hold a password.
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => postgres(name, &url, clock).await,
        Some("sqlite") => sqlite(&url, clock).await,
        other => Err(format!(
            "DATABASE_URL {}; expected postgres://user:password@host:port/database \
             (PostgreSQL), sqlite://jobs.db, sqlite:///abs/path/jobs.db or sqlite:jobs.db \
             (SQLite), or DATABASE_URL unset (memory)",
            match other {
                Some(scheme) => format!("has the scheme `{scheme}:`, which no storage here takes"),
                None => "is not a URL".to_owned(),
            }
        )
        .into()),
    }
}

/// PostgreSQL, in a schema of the example's own that starts empty on every run.
async fn postgres(
    name: &str,
    url: &str,
    clock: Option<ManualClock>,
) -> Result<Arc<dyn Storage>, BoxError> {
    let schema = format!("example_{name}");
    let mut builder = jobs_postgres::PgStorage::builder().schema(&schema);
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    let storage = builder.connect(url).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(storage.pool())
        .await?;
    storage.migrate().await?;
    println!("storage: PostgreSQL, schema {schema} (emptied first)");
    Ok(Arc::new(storage))
}

/// The tables of a jobs-sqlite file, all of which hold runs: what emptying one clears.
const SQLITE_TABLES: [&str; 3] = ["runs", "attempts", "limit_starts"];

/// SQLite, in the file `url` names, which starts empty on every run.
///
/// The file is never deleted: a missing or empty file is made a jobs-sqlite file by
/// opening it; a jobs-sqlite file has the rows of its tables deleted; any other file
/// (another application's database, or not a database at all) is refused untouched.
async fn sqlite(url: &str, clock: Option<ManualClock>) -> Result<Arc<dyn Storage>, BoxError> {
    // The file as `SqliteStorage::connect` reads the URL. A URL it refuses (options,
    // `:memory:`, no file) is refused below, with the forms it takes.
    let named = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(Path::new);
    let holds_runs = match named {
        Some(path) => sqlite_file_is_ours(path).await?,
        None => false,
    };
    let mut builder = jobs_sqlite::SqliteStorage::builder();
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    // Opening applies the migrations, and refuses a file of a newer jobs-sqlite before
    // anything is deleted.
    let storage = builder.connect(url).await?;
    let path = storage.path().to_path_buf();
    if holds_runs {
        empty_sqlite_file(&path).await?;
        println!("storage: SQLite, file {} (emptied first)", path.display());
    } else {
        println!("storage: SQLite, file {} (new)", path.display());
    }
    Ok(Arc::new(storage))
}

/// Whether `path` is a jobs-sqlite file to empty (`true`) or a new one (`false`: missing,
/// or an empty database); an error, leaving the file untouched, for anything else. The
/// file is only read, on a read-only connection.
async fn sqlite_file_is_ours(path: &Path) -> Result<bool, BoxError> {
    let refuse = |what: String| -> BoxError {
        format!(
            "DATABASE_URL names {}, which {what}; the examples empty the file they run on, \
             so they take only a missing file, an empty one or one jobs-sqlite made: \
             name another file, e.g. DATABASE_URL=sqlite://jobs.db",
            path.display()
        )
        .into()
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(refuse(format!("cannot be read ({e})"))),
    };
    if !metadata.is_file() {
        return Err(refuse("is not a file".to_owned()));
    }
    if metadata.len() == 0 {
        return Ok(false);
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| refuse(format!("cannot be opened as a SQLite file ({e})")))?;
    let tables: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut connection)
    .await;
    let version: Result<i64, sqlx::Error> = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut connection)
        .await;
    // Only read from: nothing to keep if closing fails.
    let _ = connection.close().await;
    let (tables, version) = match (tables, version) {
        (Ok(tables), Ok(version)) => (tables, version),
        (Err(e), _) | (_, Err(e)) => {
            return Err(refuse(format!("is not a SQLite file ({e})")));
        }
    };
    if tables.is_empty() && version == 0 {
        return Ok(false);
    }
    let ours = version >= 1
        && SQLITE_TABLES
            .iter()
            .all(|table| tables.iter().any(|t| t == table));
    if ours {
        Ok(true)
    } else {
        Err(refuse(format!(
            "is a SQLite file that jobs-sqlite did not make (its tables: {})",
            tables.join(", ")
        )))
    }
}

/// Deletes every row of a jobs-sqlite file's tables, in one transaction.
async fn empty_sqlite_file(path: &Path) -> Result<(), BoxError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(5));
    let mut connection = SqliteConnection::connect_with(&options).await?;
    let statements: String = SQLITE_TABLES
        .iter()
        .map(|table| format!("DELETE FROM {table}; "))
        .collect();
    sqlx::raw_sql(&format!("BEGIN IMMEDIATE; {statements}COMMIT;"))
        .execute(&mut connection)
        .await
        .map_err(|e| format!("cannot empty {}: {e}", path.display()))?;
    connection.close().await?;
    Ok(())
}

/// The application of an example whose brief speaks in minutes and hours: a `Jobs` named
/// `background` in namespace `app`, as in `quickstart`, on [`storage`] for example `name`
/// reading time from a new [`ManualClock`]; and the [`Timeline`] that moves that clock.
///
/// # Errors
///
/// As [`storage`].
pub async fn app_on_manual_clock(name: &str) -> Result<(Jobs, Timeline), BoxError> {
    let clock = ManualClock::new();
    let timeline = Timeline::new(clock.clone());
    let jobs = Jobs::builder()
        .name("background")
        .namespace("app")
        .storage(storage(name, clock).await?)
        .build()?;
    Ok((jobs, timeline))
}

/// What the examples' fake providers answer while they are down.
#[derive(Debug)]
pub struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("provider answered 503 Service Unavailable")
    }
}

impl std::error::Error for Unavailable {}

/// The time of an example's manual clock, as offsets from when the example started.
///
/// Advancing prints what it does, so the output says plainly that time was moved by
/// hand rather than waited for.
#[derive(Debug, Clone)]
pub struct Timeline {
    clock: ManualClock,
    start: DateTime<Utc>,
}

impl Timeline {
    /// A timeline starting at the clock's current time.
    pub fn new(clock: ManualClock) -> Self {
        let start = clock.now();
        Timeline { clock, start }
    }

    /// The clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// `at` as an offset from the start, e.g. `+2m 40s`.
    pub fn offset(&self, at: DateTime<Utc>) -> String {
        let delta = at - self.start;
        match delta.to_std() {
            Ok(elapsed) => format!("+{}", human(elapsed)),
            Err(_) => format!("-{}", human((-delta).to_std().unwrap_or_default())),
        }
    }

    /// Moves the clock forward by `by` and says so.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        println!(
            "  ... advancing the clock {} (now {})",
            human(by),
            self.offset(self.now())
        );
    }

    /// Moves the clock forward to `at` and says so. A time in the past leaves it be.
    pub fn advance_to(&self, at: DateTime<Utc>) {
        if let Ok(by) = (at - self.now()).to_std() {
            self.advance(by);
        }
    }

    /// Lets the worker finish every run that is due, then moves the clock to the next
    /// retry or scheduled run, until every run of the namespace has finished.
    ///
    /// # Errors
    ///
    /// A storage failure, or the worker did not finish what was due within 20 s.
    pub async fn run_until_done(&self, jobs: &Jobs) -> Result<(), BoxError> {
        loop {
            settle(jobs, self.now()).await?;
            let waiting = all_runs(jobs).await?;
            let next = waiting
                .iter()
                .filter(|run| !run.status.is_final())
                .map(|run| run.run_at)
                .min();
            match next {
                Some(at) => self.advance_to(at),
                None => return Ok(()),
            }
        }
    }
}

/// Waits (in real time, polling) until no run of the namespace is running or due at
/// `now`: the worker has done everything it can until the clock moves.
///
/// # Errors
///
/// A storage failure, or runs were still due after 20 s.
pub async fn settle(jobs: &Jobs, now: DateTime<Utc>) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        let busy = all_runs(jobs)
            .await?
            .into_iter()
            .filter(|run| match run.status {
                RunStatus::Queued | RunStatus::Running => true,
                RunStatus::Retrying => run.run_at <= now,
                _ => false,
            })
            .count();
        if busy == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("{busy} runs were still due after {SETTLE_TIMEOUT:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (in real time, polling) until run `id` has finished, and returns it.
///
/// # Errors
///
/// A storage failure, the run does not exist, or it had not finished after 20 s.
pub async fn wait_until_finished(jobs: &Jobs, id: &RunId) -> Result<Run, BoxError> {
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        let run = jobs
            .runs()
            .get(id)
            .await?
            .ok_or_else(|| format!("run {id} vanished"))?;
        if run.status.is_final() {
            return Ok(run);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(
                format!("run {id} was still {} after {SETTLE_TIMEOUT:?}", run.status).into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn all_runs(jobs: &Jobs) -> Result<Vec<Run>, jobs::Error> {
    let page = jobs
        .runs()
        .list(ListRuns::new().limit(ListRuns::MAX_LIMIT))
        .await?;
    Ok(page.runs)
}

/// Prints a run's attempts, each with its start as an offset from the run's creation.
///
/// # Errors
///
/// A storage failure.
pub async fn print_attempts(jobs: &Jobs, run: &Run) -> Result<(), BoxError> {
    let attempts = jobs.runs().attempts(&run.id).await?;
    let mut previous = None;
    for attempt in &attempts {
        println!("    {}", attempt_line(run, attempt, previous));
        previous = Some(attempt.started_at);
    }
    Ok(())
}

fn attempt_line(run: &Run, attempt: &Attempt, previous: Option<DateTime<Utc>>) -> String {
    let since =
        |earlier: DateTime<Utc>| human((attempt.started_at - earlier).to_std().unwrap_or_default());
    let waited = previous
        .map(|earlier| format!("(waited {})", since(earlier)))
        .unwrap_or_default();
    let mut line = format!(
        "attempt {} at +{:<10} {waited:<16} {}",
        attempt.number,
        since(run.created_at),
        attempt.outcome
    );
    if let Some(error) = &attempt.error {
        line.push_str(": ");
        line.push_str(error);
    }
    line
}

/// `1 attempt`, `3 attempts`.
pub fn plural(count: impl Into<u64>, noun: &str) -> String {
    match count.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// A duration as people write it: `500ms`, `40s`, `2m 40s`, `7h 22m 40s`, `1d 2h`.
pub fn human(duration: Duration) -> String {
    let total = duration.as_secs();
    if total == 0 {
        return match duration.as_millis() {
            0 => "0s".to_owned(),
            millis => format!("{millis}ms"),
        };
    }
    let units = [
        (total / 86_400, "d"),
        (total / 3600 % 24, "h"),
        (total / 60 % 60, "m"),
        (total % 60, "s"),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    parts.join(" ")
}

/// Listens on 127.0.0.1 at `$PORT` (any free port when it is unset) and returns the
/// listener with its base URL, `http://127.0.0.1:<port>`.
///
/// # Errors
///
/// `PORT` is not a port number, or the address cannot be bound.
pub async fn listen() -> Result<(tokio::net::TcpListener, String), BoxError> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT={port} is not a port"))?,
        Err(_) => 0,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::ZERO), "0s");
        assert_eq!(human(Duration::from_millis(20)), "20ms");
        assert_eq!(human(Duration::from_secs(40)), "40s");
        assert_eq!(human(Duration::from_secs(160)), "2m 40s");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(
            human(Duration::from_secs(7 * 3600 + 22 * 60 + 40)),
            "7h 22m 40s"
        );
        assert_eq!(human(Duration::from_secs(86_400 + 7200)), "1d 2h");
    }
}

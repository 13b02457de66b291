//! The `jobs` binary against a real PostgreSQL: `DATABASE_URL`, or the local test database.
//! Each test works in a schema of its own, dropped at the end even when the test fails.
//! The runs are made through the library, with tasks defined here; the binary does not
//! know these tasks and does not need to. The SQLite tests (at the end) run the same
//! commands on a file of their own under cargo's scratch directory.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use jobs::stats::Stats;
use jobs::{Attempt, Jobs, Page, ReplayReport, Run, RunId, RunStatus, TaskError};
use jobs_postgres::PgStorage;
use jobs_postgres::sqlx::{self, Connection};
use jobs_sqlite::SqliteStorage;

#[jobs::task(name = "cli-fails")]
async fn cli_fails(n: u32) -> Result<(), TaskError> {
    Err(TaskError::permanent(format!(
        "boom {n}: the provider answered 500 with a rather long explanation that goes on and on"
    )))
}

#[jobs::task(name = "cli-works")]
async fn cli_works(n: u32) {
    let _ = n;
}

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/jobs_test".to_owned())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh schema name, dropped with everything in it when the guard goes.
struct Schema(String);

impl Schema {
    fn new() -> Self {
        let random = RunId::new().as_uuid().simple().to_string();
        Schema(format!("jcli_{}", &random[16..]))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let schema = self.0.clone();
        runtime().block_on(async move {
            match sqlx::PgConnection::connect(&database_url()).await {
                Ok(mut conn) => {
                    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                    if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
                        eprintln!("could not drop schema {schema}: {e}");
                    }
                    let _ = conn.close().await;
                }
                Err(e) => eprintln!("could not connect to drop schema {schema}: {e}"),
            }
        });
    }
}

/// What one run of the binary did.
#[derive(Debug)]
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not the JSON expected ({e}): {self:#?}"))
    }

    fn failed_with(&self, code: i32, needle: &str) {
        assert_eq!(self.code, code, "{self:#?}");
        assert!(self.stderr.starts_with("error: "), "{self:#?}");
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        assert!(self.stdout.is_empty(), "nothing on stdout: {self:#?}");
    }
}

/// Runs `jobs ARGS --schema SCHEMA` with `DATABASE_URL` set and no other setting from
/// the environment.
fn jobs(schema: &Schema, args: &[&str]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
    command
        .args(args)
        .args(["--schema", &schema.0])
        .env("DATABASE_URL", database_url());
    run(command)
}

fn run(mut command: Command) -> Ran {
    command
        .env_remove("JOBS_SCHEMA")
        .env_remove("JOBS_NAMESPACE");
    let output = command.output().unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A `Jobs` over the (migrated) schema, in the default namespace.
async fn library(schema: &Schema) -> Jobs {
    let storage = PgStorage::builder()
        .schema(schema.0.clone())
        .connect(&database_url())
        .await
        .unwrap();
    storage.migrate().await.unwrap();
    Jobs::builder().storage(storage).build().unwrap()
}

/// The runs of the workflow test, by what happened to them.
struct Runs {
    dead: Vec<RunId>,
    succeeded: RunId,
    queued: RunId,
}

/// Three dead letters of `cli-fails`, one success and one queued run of `cli-works`.
async fn make_runs(jobs: &Jobs) -> Runs {
    let mut dead = Vec::new();
    for n in 0..3 {
        dead.push(jobs.enqueue(CliFails { n }).await.unwrap().id());
    }
    let succeeded = jobs.enqueue(CliWorks { n: 0 }).await.unwrap().id();
    let report = jobs.drain().await.unwrap();
    assert_eq!((report.succeeded, report.dead_lettered), (1, 3));
    let queued = jobs.enqueue(CliWorks { n: 1 }).await.unwrap().id();
    Runs {
        dead,
        succeeded,
        queued,
    }
}

#[test]
fn an_operator_lists_inspects_cancels_and_replays_runs() {
    let schema = Schema::new();
    let rt = runtime();

    // The tool creates and migrates the schema, and may do it again.
    let first = jobs(&schema, &["migrate"]).ok();
    assert!(first.stdout.contains(&schema.0), "{first:#?}");
    let again: serde_json::Value = jobs(&schema, &["migrate", "--json"]).ok().json();
    assert_eq!(again["migrated"], true);

    let lib = rt.block_on(library(&schema));
    let runs = rt.block_on(make_runs(&lib));

    // list: a table with every run, and the same as JSON.
    let table = jobs(&schema, &["runs", "list"]).ok().stdout;
    assert!(table.starts_with("ID "), "{table}");
    for id in runs.dead.iter().chain([&runs.succeeded, &runs.queued]) {
        assert!(
            table.contains(&id.to_string()),
            "{id} missing from\n{table}"
        );
    }
    assert!(
        table.contains("dead_lettered") && table.contains("1/3"),
        "{table}"
    );
    assert!(
        table.contains("boom 0: the provider") && table.contains('…'),
        "{table}"
    );
    assert!(!table.contains("--cursor"), "one page only:\n{table}");
    let page: Page = jobs(&schema, &["runs", "list", "--json"]).ok().json();
    assert_eq!(page.runs.len(), 5);
    assert_eq!(page.runs[0].id, runs.queued, "newest first");
    assert!(page.next_cursor.is_none());

    // Filters and paging.
    let dead: Page = jobs(
        &schema,
        &["runs", "list", "--status", "dead_lettered", "--json"],
    )
    .ok()
    .json();
    assert_eq!(dead.runs.len(), 3);
    let first_page = jobs(&schema, &["runs", "list", "--limit", "2"]).ok().stdout;
    let cursor = first_page
        .split("--cursor ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no cursor in\n{first_page}"));
    let second: Page = jobs(
        &schema,
        &["runs", "list", "--limit", "2", "--cursor", cursor, "--json"],
    )
    .ok()
    .json();
    assert_eq!(second.runs[0].id, page.runs[2].id);
    let elsewhere: Page = jobs(&schema, &["runs", "list", "--namespace", "other", "--json"])
        .ok()
        .json();
    assert!(elsewhere.runs.is_empty());

    // get and attempts.
    let dead_id = runs.dead[0].to_string();
    let shown = jobs(&schema, &["runs", "get", &dead_id]).ok().stdout;
    assert!(shown.contains("dead_lettered"), "{shown}");
    assert!(shown.contains("payload:\n{\n  \"n\": 0\n}"), "{shown}");
    let run: Run = jobs(&schema, &["runs", "get", &dead_id, "--json"])
        .ok()
        .json();
    assert_eq!(
        (run.id, run.status),
        (runs.dead[0], RunStatus::DeadLettered)
    );
    let attempts_table = jobs(&schema, &["runs", "attempts", &dead_id]).ok().stdout;
    assert!(
        attempts_table.contains("OUTCOME") && attempts_table.contains("failed"),
        "{attempts_table}"
    );
    let attempts: Vec<Attempt> = jobs(&schema, &["runs", "attempts", &dead_id, "--json"])
        .ok()
        .json();
    assert_eq!(attempts.len(), 1);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("boom 0"))
    );

    // cancel, then cancel again: a conflict.
    let queued_id = runs.queued.to_string();
    let cancelled: Run = jobs(&schema, &["runs", "cancel", &queued_id, "--json"])
        .ok()
        .json();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    jobs(&schema, &["runs", "cancel", &queued_id]).failed_with(4, "can no longer be cancelled");

    // replay one run by id.
    let succeeded_id = runs.succeeded.to_string();
    let replay: Run = jobs(
        &schema,
        &[
            "runs",
            "replay",
            &succeeded_id,
            "--reason",
            "check again",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(replay.replay_of, Some(runs.succeeded));
    assert_eq!(replay.status, RunStatus::Queued);
    assert_eq!(replay.replay_reason.as_deref(), Some("check again"));
    let human = jobs(&schema, &["runs", "replay", &dead_id, "--reason", "once"])
        .ok()
        .stdout;
    assert!(
        human.starts_with(&format!("replayed {dead_id} as run_")),
        "{human}"
    );

    // Bulk replay of the dead letters: first at most 2, then all 3.
    let report: ReplayReport = jobs(
        &schema,
        &[
            "runs",
            "replay",
            "--task",
            "cli-fails",
            "--status",
            "dead_lettered",
            "--reason",
            "provider fixed",
            "--max",
            "2",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!((report.replayed.len(), report.skipped), (2, 0));
    assert!(report.more);
    let bulk = jobs(
        &schema,
        &[
            "runs",
            "replay",
            "--task",
            "cli-fails",
            "--status",
            "dead_lettered",
            "--reason",
            "provider fixed",
        ],
    )
    .ok();
    assert!(
        bulk.stderr.is_empty(),
        "no progress bar off a terminal: {bulk:#?}"
    );
    let summary = bulk.stdout;
    assert!(
        summary.starts_with("replayed 3 dead_lettered runs, skipped 0"),
        "{summary}"
    );
    assert!(summary.contains("no more runs matched"), "{summary}");
    let replays: Page = jobs(
        &schema,
        &[
            "runs",
            "list",
            "--task",
            "cli-fails",
            "--status",
            "queued",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(replays.runs.len(), 6, "1 by id, 2 then 3 in bulk");
    assert!(replays.runs.iter().all(|r| r.replay_of.is_some()));

    // stats: counts by task and status.
    let stats: Stats = jobs(&schema, &["stats", "--json", "--minutes", "5"])
        .ok()
        .json();
    assert_eq!(stats.count("cli-fails", RunStatus::DeadLettered), 3);
    assert_eq!(stats.count("cli-fails", RunStatus::Queued), 6);
    assert_eq!(stats.count("cli-works", RunStatus::Succeeded), 1);
    assert_eq!(stats.count("cli-works", RunStatus::Cancelled), 1);
    assert_eq!(stats.count("cli-works", RunStatus::Queued), 1);
    assert_eq!(stats.throughput.len(), 5);
    let finished: u64 = stats
        .throughput
        .iter()
        .map(|m| m.succeeded + m.dead_lettered + m.cancelled)
        .sum();
    assert_eq!(finished, 5);
    let text = jobs(&schema, &["stats"]).ok().stdout;
    assert!(
        text.contains("cli-fails") && text.contains("dead_lettered"),
        "{text}"
    );
    assert!(text.contains("finished in the last 15 min: 5"), "{text}");
}

#[test]
fn bad_input_and_missing_runs_have_their_own_exit_codes() {
    let schema = Schema::new();
    jobs(&schema, &["migrate"]).ok();
    let rt = runtime();
    let lib = rt.block_on(library(&schema));
    let queued = rt
        .block_on(async { lib.enqueue(CliWorks { n: 7 }).await })
        .unwrap()
        .id()
        .to_string();

    // 5: invalid input, before anything is looked up.
    jobs(&schema, &["runs", "get", "run_123"]).failed_with(5, "invalid run id `run_123`");
    jobs(&schema, &["runs", "cancel", "nope", "--json"]).failed_with(5, "invalid run id");
    jobs(&schema, &["runs", "list", "--status", "done"]).failed_with(5, "unknown run status");
    jobs(&schema, &["runs", "list", "--cursor", "zz"]).failed_with(5, "invalid cursor");
    jobs(
        &schema,
        &["runs", "replay", "--status", "queued", "--reason", "r"],
    )
    .failed_with(5, "cannot be replayed");
    let bad_schema = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command
            .args(["runs", "list", "--schema", "Bad-Name"])
            .env("DATABASE_URL", database_url());
        command
    });
    bad_schema.failed_with(5, "invalid schema name");

    // 3: no such run.
    let unknown = RunId::new().to_string();
    for command in ["get", "attempts", "cancel"] {
        jobs(&schema, &["runs", command, &unknown]).failed_with(3, "not found");
    }
    jobs(&schema, &["runs", "replay", &unknown, "--reason", "r"]).failed_with(3, "not found");

    // 4: a run that has not finished cannot be replayed.
    jobs(
        &schema,
        &["runs", "replay", &queued, "--reason", "r", "--json"],
    )
    .failed_with(4, "only a finished run");

    // 2: usage errors, clap's and ours.
    jobs(
        &schema,
        &[
            "runs",
            "replay",
            &queued,
            "--status",
            "dead_lettered",
            "--reason",
            "r",
        ],
    )
    .failed_with(2, "cannot be used with");
    jobs(&schema, &["runs", "replay", "--reason", "r"]).failed_with(2, "--status");
    jobs(&schema, &["runs", "list", "--limit", "0"]).failed_with(2, "--limit");
    let no_url = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command
            .args(["runs", "list", "--json"])
            .env_remove("DATABASE_URL");
        command
    });
    no_url.failed_with(2, "DATABASE_URL");

    // 1: the database cannot be reached.
    let unreachable = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command
            .args(["stats", "--schema", &schema.0])
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none");
        command
    });
    unreachable.failed_with(1, "connect to PostgreSQL at 127.0.0.1:1");

    // The queued run was left alone by all of this.
    let run: Run = jobs(&schema, &["runs", "get", &queued, "--json"])
        .ok()
        .json();
    assert_eq!(run.status, RunStatus::Queued);
}

#[test]
fn help_documents_the_exit_codes() {
    let help = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command.arg("--help");
        command
    })
    .ok()
    .stdout;
    for line in [
        "Exit codes:",
        "  3  not found",
        "  5  invalid input",
        "DATABASE_URL",
    ] {
        assert!(help.contains(line), "{line:?} missing from\n{help}");
    }
}

// ---------------------------------------------------------------------------------------
// The same commands on a SQLite file: `DATABASE_URL=sqlite://...`.
// ---------------------------------------------------------------------------------------

/// Where the SQLite tests put their files: cargo's scratch directory for integration
/// tests (`target/tmp/jobs-cli`).
fn sqlite_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jobs-cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A SQLite file name no other test uses, removed with its `-wal` and `-shm` files when
/// the guard goes. The file itself is created by `jobs migrate`.
struct DbFile(PathBuf);

impl DbFile {
    fn new(tag: &str) -> Self {
        let random = RunId::new().as_uuid().simple().to_string();
        DbFile(sqlite_dir().join(format!("{tag}-{}.db", &random[16..])))
    }

    /// `sqlite:///abs/path.db`: the directory is absolute.
    fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }

    fn shown(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for DbFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// Runs `jobs ARGS` with `DATABASE_URL` naming the file and no other setting from the
/// environment.
fn sqlite_jobs(db: &DbFile, args: &[&str]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
    command.args(args).env("DATABASE_URL", db.url());
    run(command)
}

/// The file (migrated by the tool) as the application opens it, and a `Jobs` over it
/// in the default namespace.
async fn sqlite_library(db: &DbFile) -> (SqliteStorage, Jobs) {
    let storage = SqliteStorage::open(&db.0).await.unwrap();
    let jobs = Jobs::builder().storage(storage.clone()).build().unwrap();
    (storage, jobs)
}

#[test]
fn an_operator_manages_the_runs_of_a_sqlite_file() {
    let db = DbFile::new("workflow");
    let rt = runtime();

    // Before `jobs migrate`, no command creates the file.
    let missing = sqlite_jobs(&db, &["runs", "list"]);
    missing.failed_with(1, "does not exist");
    assert!(
        missing.stderr.contains(&db.shown())
            && missing.stderr.contains("hint: ")
            && missing.stderr.contains("run `jobs migrate`"),
        "{missing:#?}"
    );
    assert!(!db.0.exists(), "a read must not create the file");

    // The tool creates the file, and may migrate it again.
    let first = sqlite_jobs(&db, &["migrate"]).ok();
    assert!(
        first.stdout.starts_with("created SQLite file") && first.stdout.contains(&db.shown()),
        "{first:#?}"
    );
    assert!(db.0.is_file());
    let again: serde_json::Value = sqlite_jobs(&db, &["migrate", "--json"]).ok().json();
    assert_eq!(again["migrated"], true);
    assert_eq!(again["created"], false);
    assert_eq!(again["file"], db.shown().as_str());
    let human = sqlite_jobs(&db, &["migrate"]).ok().stdout;
    assert!(human.contains("is migrated and up to date"), "{human}");

    let (storage, lib) = rt.block_on(sqlite_library(&db));
    let runs = rt.block_on(make_runs(&lib));

    // list: a table with every run, and the same as JSON, newest first.
    let table = sqlite_jobs(&db, &["runs", "list"]).ok().stdout;
    assert!(table.starts_with("ID "), "{table}");
    for id in runs.dead.iter().chain([&runs.succeeded, &runs.queued]) {
        assert!(
            table.contains(&id.to_string()),
            "{id} missing from\n{table}"
        );
    }
    assert!(
        table.contains("dead_lettered") && table.contains("1/3"),
        "{table}"
    );
    let page: Page = sqlite_jobs(&db, &["runs", "list", "--json"]).ok().json();
    assert_eq!(page.runs.len(), 5);
    assert_eq!(page.runs[0].id, runs.queued, "newest first");
    assert!(page.next_cursor.is_none());

    // Filters and paging.
    let dead: Page = sqlite_jobs(
        &db,
        &["runs", "list", "--status", "dead_lettered", "--json"],
    )
    .ok()
    .json();
    assert_eq!(dead.runs.len(), 3);
    let first_page = sqlite_jobs(&db, &["runs", "list", "--limit", "2"])
        .ok()
        .stdout;
    let cursor = first_page
        .split("--cursor ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no cursor in\n{first_page}"));
    let second: Page = sqlite_jobs(
        &db,
        &["runs", "list", "--limit", "2", "--cursor", cursor, "--json"],
    )
    .ok()
    .json();
    assert_eq!(second.runs[0].id, page.runs[2].id);
    let elsewhere: Page = sqlite_jobs(&db, &["runs", "list", "--namespace", "other", "--json"])
        .ok()
        .json();
    assert!(elsewhere.runs.is_empty());

    // get and attempts.
    let dead_id = runs.dead[0].to_string();
    let shown = sqlite_jobs(&db, &["runs", "get", &dead_id]).ok().stdout;
    assert!(shown.contains("dead_lettered"), "{shown}");
    assert!(shown.contains("payload:\n{\n  \"n\": 0\n}"), "{shown}");
    let run: Run = sqlite_jobs(&db, &["runs", "get", &dead_id, "--json"])
        .ok()
        .json();
    assert_eq!(
        (run.id, run.status),
        (runs.dead[0], RunStatus::DeadLettered)
    );
    let attempts_table = sqlite_jobs(&db, &["runs", "attempts", &dead_id])
        .ok()
        .stdout;
    assert!(
        attempts_table.contains("OUTCOME") && attempts_table.contains("failed"),
        "{attempts_table}"
    );
    let attempts: Vec<Attempt> = sqlite_jobs(&db, &["runs", "attempts", &dead_id, "--json"])
        .ok()
        .json();
    assert_eq!(attempts.len(), 1);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("boom 0"))
    );

    // cancel, then cancel again: a conflict. The application sees the cancellation.
    let queued_id = runs.queued.to_string();
    let cancelled: Run = sqlite_jobs(&db, &["runs", "cancel", &queued_id, "--json"])
        .ok()
        .json();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    sqlite_jobs(&db, &["runs", "cancel", &queued_id]).failed_with(4, "can no longer be cancelled");
    let seen = rt.block_on(lib.runs().get(&runs.queued)).unwrap().unwrap();
    assert_eq!(seen.status, RunStatus::Cancelled);

    // replay one run by id; the new run has not finished, so it cannot be replayed.
    let succeeded_id = runs.succeeded.to_string();
    let replay: Run = sqlite_jobs(
        &db,
        &[
            "runs",
            "replay",
            &succeeded_id,
            "--reason",
            "check again",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(replay.replay_of, Some(runs.succeeded));
    assert_eq!(replay.status, RunStatus::Queued);
    assert_eq!(replay.replay_reason.as_deref(), Some("check again"));
    sqlite_jobs(
        &db,
        &["runs", "replay", &replay.id.to_string(), "--reason", "r"],
    )
    .failed_with(4, "only a finished run");
    let human = sqlite_jobs(&db, &["runs", "replay", &dead_id, "--reason", "once"])
        .ok()
        .stdout;
    assert!(
        human.starts_with(&format!("replayed {dead_id} as run_")),
        "{human}"
    );

    // Bulk replay of the dead letters: first at most 2, then all 3.
    let report: ReplayReport = sqlite_jobs(
        &db,
        &[
            "runs",
            "replay",
            "--task",
            "cli-fails",
            "--status",
            "dead_lettered",
            "--reason",
            "provider fixed",
            "--max",
            "2",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!((report.replayed.len(), report.skipped), (2, 0));
    assert!(report.more);
    let bulk = sqlite_jobs(
        &db,
        &[
            "runs",
            "replay",
            "--task",
            "cli-fails",
            "--status",
            "dead_lettered",
            "--reason",
            "provider fixed",
        ],
    )
    .ok();
    assert!(bulk.stderr.is_empty(), "{bulk:#?}");
    assert!(
        bulk.stdout
            .starts_with("replayed 3 dead_lettered runs, skipped 0"),
        "{bulk:#?}"
    );
    assert!(bulk.stdout.contains("no more runs matched"), "{bulk:#?}");
    let replays: Page = sqlite_jobs(
        &db,
        &[
            "runs",
            "list",
            "--task",
            "cli-fails",
            "--status",
            "queued",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(replays.runs.len(), 6, "1 by id, 2 then 3 in bulk");
    assert!(replays.runs.iter().all(|r| r.replay_of.is_some()));

    // stats: counts by task and status.
    let stats: Stats = sqlite_jobs(&db, &["stats", "--json", "--minutes", "5"])
        .ok()
        .json();
    assert_eq!(stats.count("cli-fails", RunStatus::DeadLettered), 3);
    assert_eq!(stats.count("cli-fails", RunStatus::Queued), 6);
    assert_eq!(stats.count("cli-works", RunStatus::Succeeded), 1);
    assert_eq!(stats.count("cli-works", RunStatus::Cancelled), 1);
    assert_eq!(stats.count("cli-works", RunStatus::Queued), 1);
    assert_eq!(stats.throughput.len(), 5);
    let finished: u64 = stats
        .throughput
        .iter()
        .map(|m| m.succeeded + m.dead_lettered + m.cancelled)
        .sum();
    assert_eq!(finished, 5);
    let text = sqlite_jobs(&db, &["stats"]).ok().stdout;
    assert!(
        text.contains("cli-fails") && text.contains("dead_lettered"),
        "{text}"
    );
    assert!(text.contains("finished in the last 15 min: 5"), "{text}");

    rt.block_on(storage.close());
}

#[test]
fn sqlite_errors_have_their_exit_codes_and_hints() {
    let db = DbFile::new("errors");
    let rt = runtime();

    // 1: a missing file, for every command but migrate; nothing is created.
    let unknown = RunId::new().to_string();
    for args in [
        &["runs", "get", unknown.as_str()][..],
        &["runs", "attempts", unknown.as_str()],
        &["runs", "cancel", unknown.as_str()],
        &["runs", "replay", unknown.as_str(), "--reason", "r"],
        &[
            "runs",
            "replay",
            "--status",
            "dead_lettered",
            "--reason",
            "r",
        ],
        &["stats", "--json"],
    ] {
        let ran = sqlite_jobs(&db, args);
        ran.failed_with(
            1,
            &format!("the SQLite file `{}` does not exist", db.shown()),
        );
        assert!(ran.stderr.contains("jobs migrate"), "{ran:#?}");
    }
    assert!(!db.0.exists());

    // A relative path is resolved from the current directory, which the message names.
    let relative = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command
            .args(["runs", "list"])
            .current_dir(sqlite_dir())
            .env("DATABASE_URL", "sqlite:no-such-file.db");
        command
    });
    relative.failed_with(1, "`no-such-file.db`");
    let absolute = sqlite_dir().join("no-such-file.db");
    assert!(
        relative.stderr.contains(&absolute.display().to_string()),
        "{relative:#?}"
    );
    assert!(!absolute.exists());

    // 1: migrate creates the file, not its directory.
    let nowhere = sqlite_dir().join("no-such-dir").join("jobs.db");
    let no_dir = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command
            .arg("migrate")
            .env("DATABASE_URL", format!("sqlite://{}", nowhere.display()));
        command
    });
    no_dir.failed_with(1, "does not exist");
    assert!(no_dir.stderr.contains("hint: the directory"), "{no_dir:#?}");

    // 1: a directory is not a file.
    let directory = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command.args(["stats"]).env(
            "DATABASE_URL",
            format!("sqlite://{}", sqlite_dir().display()),
        );
        command
    });
    directory.failed_with(1, "is a directory");

    sqlite_jobs(&db, &["migrate"]).ok();
    let (storage, lib) = rt.block_on(sqlite_library(&db));
    let queued = rt
        .block_on(async { lib.enqueue(CliWorks { n: 7 }).await })
        .unwrap()
        .id()
        .to_string();

    // 3: no such run; the hint names the file, not a schema.
    for command in ["get", "attempts", "cancel"] {
        let ran = sqlite_jobs(&db, &["runs", command, &unknown]);
        ran.failed_with(3, "not found");
        assert!(
            ran.stderr.contains(&format!("file `{}`", db.shown()))
                && !ran.stderr.contains("schema"),
            "{ran:#?}"
        );
    }
    sqlite_jobs(&db, &["runs", "replay", &unknown, "--reason", "r"]).failed_with(3, "not found");

    // 4: a queued run cannot be replayed.
    sqlite_jobs(&db, &["runs", "replay", &queued, "--reason", "r", "--json"])
        .failed_with(4, "only a finished run");

    // 5: bad input, as on PostgreSQL; and URLs of no known form.
    sqlite_jobs(&db, &["runs", "get", "run_123"]).failed_with(5, "invalid run id `run_123`");
    sqlite_jobs(&db, &["runs", "list", "--status", "done"]).failed_with(5, "unknown run status");
    for url in ["sqlite::memory:", "sqlite://jobs.db?mode=ro"] {
        let ran = run({
            let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
            command.args(["runs", "list"]).env("DATABASE_URL", url);
            command
        });
        ran.failed_with(5, "invalid SQLite URL");
        assert!(ran.stderr.contains("hint: check DATABASE_URL"), "{ran:#?}");
    }
    let other = run({
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
        command
            .args(["runs", "list"])
            .env("DATABASE_URL", "mysql://root:secret@127.0.0.1/app");
        command
    });
    other.failed_with(5, "unsupported database URL scheme `mysql:`");
    assert!(
        other.stderr.contains("postgres://") && other.stderr.contains("sqlite://"),
        "the hint names both forms: {other:#?}"
    );
    assert!(!other.stderr.contains("secret"), "{other:#?}");

    // 2: --schema on the command line; JOBS_SCHEMA in the environment is ignored.
    sqlite_jobs(&db, &["runs", "list", "--schema", "jobs"])
        .failed_with(2, "--schema is for PostgreSQL");
    sqlite_jobs(&db, &["migrate", "--schema", "jobs"]).failed_with(2, "--schema");
    let output = Command::new(env!("CARGO_BIN_EXE_jobs"))
        .args(["runs", "get", &queued, "--json"])
        .env("DATABASE_URL", db.url())
        .env("JOBS_SCHEMA", "elsewhere")
        .env_remove("JOBS_NAMESPACE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let run: Run = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(run.status, RunStatus::Queued);

    // 1: another process holds the write lock longer than the busy timeout.
    rt.block_on(async {
        let mut holder = storage.read_pool().acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *holder)
            .await
            .unwrap();
        let locked = sqlite_jobs(&db, &["runs", "cancel", &queued]);
        sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
        locked.failed_with(1, "database is locked");
        assert!(
            locked.stderr.contains("held the write lock") && locked.stderr.contains("busy timeout"),
            "{locked:#?}"
        );
    });

    // The queued run was left alone by all of this.
    let run: Run = sqlite_jobs(&db, &["runs", "get", &queued, "--json"])
        .ok()
        .json();
    assert_eq!(run.status, RunStatus::Queued);
    rt.block_on(storage.close());
}

//! Runs every example, in memory, on PostgreSQL and on SQLite, and checks what it prints,
//! so an example can never rot.
//!
//! The examples are built once with the cargo that runs this test, into the same target
//! directory, and run from there, each bounded by [`TIMEOUT`]. The PostgreSQL runs use
//! `DATABASE_URL` when it is a PostgreSQL URL, else
//! `postgres://root@127.0.0.1:5432/jobs_test`. The SQLite runs use one file per example
//! under cargo's temporary directory for tests, `target/tmp/examples-sqlite/<name>.db`,
//! kept between runs: each run starts by emptying it, as on PostgreSQL it drops its schema.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The longest one example may run before it is killed and the test fails.
const TIMEOUT: Duration = Duration::from_secs(60);

const DEFAULT_DATABASE_URL: &str = "postgres://root@127.0.0.1:5432/jobs_test";

/// Where the examples run: memory, PostgreSQL, or SQLite.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Memory,
    Postgres,
    Sqlite,
}

/// What an example printed, with helpers that fail the test showing all of it.
struct Output {
    name: String,
    text: String,
}

impl Output {
    /// The first line containing every one of `needles`.
    fn line(&self, needles: &[&str]) -> &str {
        self.text
            .lines()
            .find(|line| needles.iter().all(|needle| line.contains(needle)))
            .unwrap_or_else(|| {
                panic!(
                    "{}: no line contains {needles:?}; the output was:\n{}",
                    self.name, self.text
                )
            })
    }

    /// How many lines contain every one of `needles`.
    fn count(&self, needles: &[&str]) -> usize {
        self.text
            .lines()
            .filter(|line| needles.iter().all(|needle| line.contains(needle)))
            .count()
    }

    fn expect_count(&self, needles: &[&str], expected: usize) {
        let count = self.count(needles);
        assert_eq!(
            count, expected,
            "{}: expected {expected} lines containing {needles:?}, found {count}; the output was:\n{}",
            self.name, self.text
        );
    }

    /// The run id (`run_` and 32 hex digits) on the first line containing `needles`.
    fn run_id(&self, needles: &[&str]) -> String {
        run_ids(self.line(needles))
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{}: no run id in {needles:?}", self.name))
    }
}

/// Every run id in `text`, in order.
fn run_ids(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("run_") {
        let candidate = &rest[at..];
        let hex = candidate[4..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        if hex == 32 {
            ids.push(candidate[..36].to_owned());
        }
        rest = &candidate[4..];
    }
    ids
}

/// `target/<profile>/examples`, after building every example once.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test runs as target/<profile>/deps/examples-<hash>.
        let exe = std::env::current_exe().expect("the test binary has a path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--package", "examples", "--examples"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the examples failed");
        profile_dir.join("examples")
    })
}

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

/// A file in cargo's temporary directory for tests (`target/tmp/examples-sqlite`).
fn sqlite_path(file: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("examples-sqlite");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir.join(file)
}

/// The SQLite URL of example `name`'s file: `sqlite:///.../examples-sqlite/<name>.db`.
fn sqlite_url(name: &str) -> String {
    format!("sqlite://{}", sqlite_path(&format!("{name}.db")).display())
}

/// Starts example `name` with `args` in `mode`, its output piped.
fn spawn(name: &str, args: &[&str], mode: Mode, envs: &[(&str, &str)]) -> Child {
    let mut command = Command::new(examples_dir().join(name));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match mode {
        Mode::Memory => command.env_remove("DATABASE_URL"),
        Mode::Postgres => command.env("DATABASE_URL", database_url()),
        Mode::Sqlite => command.env("DATABASE_URL", sqlite_url(name)),
    };
    for (key, value) in envs {
        command.env(key, value);
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"))
}

/// Collects a child's stdout and stderr on threads, so a chatty child never blocks.
fn collect(child: &mut Child) -> (ReadAll, ReadAll) {
    (
        ReadAll::start(child.stdout.take().expect("stdout is piped")),
        ReadAll::start(child.stderr.take().expect("stderr is piped")),
    )
}

struct ReadAll(std::thread::JoinHandle<String>);

impl ReadAll {
    fn start(mut from: impl Read + Send + 'static) -> Self {
        ReadAll(std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = from.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        }))
    }

    fn text(self) -> String {
        self.0.join().unwrap_or_default()
    }
}

/// Waits for `child` up to [`TIMEOUT`], killing it past that (no status then), and
/// returns how it exited with its stdout and stderr.
fn wait(mut child: Child, out: ReadAll, err: ReadAll) -> (Option<ExitStatus>, String, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the example") {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, out.text(), err.text())
}

/// Waits for `child` up to [`TIMEOUT`], killing it past that; fails unless it exited 0.
fn finish(name: &str, child: Child, out: ReadAll, err: ReadAll) -> Output {
    let (status, stdout, stderr) = wait(child, out, err);
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!("{name} failed ({status}):\n{stdout}\n--- stderr:\n{stderr}"),
        None => panic!("{name} ran longer than {TIMEOUT:?}:\n{stdout}\n--- stderr:\n{stderr}"),
    }
    Output {
        name: name.to_owned(),
        text: stdout,
    }
}

/// Runs example `name` to its end in `mode` and checks that it used that storage.
fn run(name: &str, mode: Mode) -> Output {
    let mut child = spawn(name, &[], mode, &[]);
    let (out, err) = collect(&mut child);
    let output = finish(&format!("{name} ({mode:?})"), child, out, err);
    match mode {
        Mode::Memory => output.line(&["storage: memory"]),
        Mode::Postgres => output.line(&["storage: PostgreSQL", &format!("example_{name}")]),
        Mode::Sqlite => output.line(&["storage: SQLite, file ", &format!("{name}.db")]),
    };
    output
}

fn quickstart(mode: Mode) {
    let out = run("quickstart", mode);
    let first = out.run_id(&["(created: true)"]);
    let again = out.run_id(&["enqueued again", "(created: false)"]);
    assert_eq!(first, again, "one idempotency key, one run");
    out.expect_count(&["[worker] attempt 1 of run"], 1);
    out.line(&["attempt 1: started", "succeeded"]);
    out.line(&["status   succeeded"]);
}

fn signup(mode: Mode) {
    let out = run("signup", mode);
    out.line(&["listening on http://127.0.0.1:"]);
    out.expect_count(
        &[r#"POST /signup {"plan":"pro","userId":"user_123"} -> 200 OK"#],
        2,
    );
    let posts: Vec<String> = out
        .text
        .lines()
        .filter(|line| line.contains(r#"-> 200 OK {"queued":true,"runId":"run_"#))
        .flat_map(run_ids)
        .collect();
    assert_eq!(posts.len(), 2, "two signups answered:\n{}", out.text);
    assert_eq!(
        posts[0], posts[1],
        "the second signup returns the same runId"
    );
    out.line(&["the second signup returned the same runId", &posts[0]]);
    out.expect_count(&["[notifications] `welcome` to user_123"], 1);
    out.line(&[&format!("GET /runs/{} -> 200 OK", posts[0])]);
    out.line(&[r#""status": "succeeded""#]);
    out.line(&[r#""idempotency_key": "welcome:user_123""#]);
    out.line(&[r#"POST /signup {"userId":123} -> 422"#, r#"{"error":"#]);
    out.line(&[
        "GET /runs/run_123 -> 400 Bad Request",
        r#"{"error":"invalid run id"#,
    ]);
    out.line(&["-> 404 Not Found", r#"{"error":"run run_"#, "not found"]);
    out.line(&[r#"GET /jobs/stats -> "notify-user" "succeeded": 1"#]);
    out.line(&["GET /jobs -> 200 OK (the dashboard, text/html"]);
    out.line(&["worker stopped: 1 attempt completed, 0 handed back"]);

    // After the demo (not beside it: both use the schema `example_signup`, or the file
    // `signup.db`).
    #[cfg(unix)]
    signup_serve(mode);
}

fn reminders(mode: Mode) {
    let out = run("reminders", mode);
    let delayed = out.run_id(&["(delay 1h): scheduled", "(+1h)"]);
    let at_nine = out.run_id(&["(run_at): scheduled", "09:00:00 UTC"]);
    out.line(&["advancing the clock 1h (now +1h)"]);
    // After an hour the delayed run ran; the one for tomorrow is still scheduled.
    let (hour, night) = out
        .text
        .split_once("the night passes")
        .unwrap_or_else(|| panic!("no night passed:\n{}", out.text));
    for (part, expected) in [
        (hour, format!("{delayed}: succeeded, due +1h, ran at +1h")),
        (hour, format!("{at_nine}: scheduled")),
        (night, format!("{at_nine}: succeeded")),
    ] {
        assert!(
            part.contains(&expected),
            "no `{expected}` in:\n{}",
            out.text
        );
    }
    out.expect_count(&["[notifications] `reminder` to user_123"], 2);
}

fn retries(mode: Mode) {
    let out = run("retries", mode);
    out.line(&["sync-provider", "5 attempts, waiting 30s, 1m, 2m, 4m"]);
    out.line(&["send-notification", "4 attempts, waiting 1m, 1m, 1m"]);
    out.line(&[
        "deliver-webhook",
        "8 attempts, waiting 10s, 30s, 2m, 5m, 15m, 1h, 6h",
    ]);
    out.line(&["advancing the clock"]);
    out.line(&["sync-provider run_", "succeeded after 4 of 5 attempts"]);
    out.line(&[
        "send-notification run_",
        "dead_lettered after 4 of 4 attempts",
    ]);
    out.line(&["deliver-webhook run_", "succeeded after 6 of 8 attempts"]);
    out.line(&["attempt 4 at +3m 30s", "(waited 2m)", "succeeded"]);
    out.line(&[
        "attempt 4 at +3m",
        "(waited 1m)",
        "failed: provider answered 503",
    ]);
    out.line(&["attempt 6 at +22m 40s", "(waited 15m)", "succeeded"]);
    out.expect_count(&["failed: provider answered 503"], 3 + 4 + 5);
}

fn managed_runs(mode: Mode) {
    let out = run("managed_runs", mode);
    let acct_2 = out.run_id(&["enqueued sync-provider for acct_2"]);
    let acct_3 = out.run_id(&["enqueued sync-provider for acct_3"]);
    out.line(&[&acct_2, "queued", "attempts 0/5"]);
    out.line(&[&acct_2, "cancelled", "attempts 0/5"]);
    out.line(&["advancing the clock 4m (now +7m 30s)"]);
    out.line(&[
        &acct_3,
        "dead_lettered",
        "attempts 5/5",
        "provider answered 503",
    ]);
    out.line(&["can no longer be cancelled"]);
    let replay = out.line(&[
        &format!("replay of {acct_3} (provider recovered)"),
        "succeeded",
    ]);
    assert!(replay.contains("attempts 1/5"), "{replay}");
    // Listed twice (before and after the replay), newest first, 25 at most.
    out.expect_count(&["recent runs of sync-provider (limit 25)"], 2);
}

fn webhooks(mode: Mode) {
    let out = run("webhooks", mode);
    let flaky = out.run_id(&["delivery of evt_123 to ep_flaky"]);
    let gone = out.run_id(&["delivery of evt_123 to ep_gone"]);
    let down = out.run_id(&["delivery of evt_123 to ep_down"]);

    // 500 twice, then 200: retried with the custom delays, then succeeded.
    out.expect_count(&["[ep_flaky]", &flaky, "-> 500 Internal Server Error"], 2);
    out.expect_count(&["[ep_flaky]", &flaky, "-> 200 OK"], 1);
    out.line(&[&format!("{flaky} to ep_flaky: succeeded after 3 attempts")]);
    out.line(&["attempt 3 at +40s", "(waited 30s)", "succeeded"]);
    out.line(&[&format!("3 requests with x-jobs-delivery-id {flaky}")]);

    // 410: the endpoint is disabled and the run succeeded.
    out.line(&["[ep_gone]", &gone, "-> 410 Gone"]);
    out.line(&["endpoint ep_gone answered 410 Gone: disabled"]);
    out.line(&[&format!("{gone} to ep_gone: succeeded after 1 attempt")]);
    out.line(&[r#"disabled endpoints: ["ep_gone"]"#]);

    // Always failing: dead-lettered after 8 attempts, the last 7h 22m 40s in.
    out.expect_count(&["[ep_down]", &down, "-> 503 Service Unavailable"], 8);
    out.line(&[&format!(
        "{down} to ep_down: dead_lettered after 8 attempts"
    )]);
    out.line(&[
        "attempt 8 at +7h 22m 40s",
        "(waited 6h)",
        "failed: webhook delivery failed: 503",
    ]);
    out.line(&[&format!("8 requests with x-jobs-delivery-id {down}")]);

    // 429 with Retry-After: 90: snoozed for 90 s without using an attempt, then delivered.
    let busy = out.run_id(&["delivery of evt_123 to ep_busy"]);
    out.expect_count(&["[ep_busy]", &busy, "-> 429 Too Many Requests"], 1);
    out.expect_count(&["[ep_busy]", &busy, "-> 200 OK"], 1);
    out.line(&[&format!("{busy} to ep_busy: succeeded after 2 attempts")]);
    out.line(&[
        "attempt 1 at +0s",
        "snoozed: 429 Too Many Requests, Retry-After: 90",
    ]);
    out.line(&["attempt 2 at +1m 30s", "(waited 1m 30s)", "succeeded"]);

    // Replaying the dead letters succeeds.
    out.line(&["1 delivery dead-lettered"]);
    let replay = run_ids(out.line(&[&format!("replaying {down} as")]))
        .pop()
        .expect("the replay's id");
    out.line(&["[ep_down]", &replay, "-> 200 OK"]);
    out.line(&[
        &format!("replay {replay} to ep_down: succeeded after 1 attempt"),
        &format!("replay of {down} (endpoint recovered)"),
    ]);
    out.line(&[&format!("1 request with x-jobs-delivery-id {replay}")]);
}

/// Sends `request` and reads its answer as JSON; any failure as its message.
#[cfg(unix)]
async fn json(request: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
    request
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

/// `signup --serve` keeps serving until Ctrl-C, then stops its worker gracefully.
#[cfg(unix)]
fn signup_serve(mode: Mode) {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;

    let mut child = spawn("signup", &["--serve"], mode, &[("PORT", "0")]);
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let err = ReadAll::start(child.stderr.take().expect("stderr is piped"));
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    // Read up to the line printed just before it waits for Ctrl-C.
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = String::new();
    let mut base = None;
    while !seen.contains("serving until Ctrl-C") {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = received.recv_timeout(timeout) else {
            let _ = child.kill();
            panic!(
                "signup --serve did not start serving:\n{seen}\n--- stderr:\n{}",
                err.text()
            );
        };
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            base = Some(url.to_owned());
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    let base = base.unwrap_or_else(|| panic!("signup --serve printed no address:\n{seen}"));
    let out = ReadAll(std::thread::spawn(move || {
        received.iter().fold(seen, |text, line| text + &line + "\n")
    }));

    // A client signs up and reads the run until the in-process worker has run it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = runtime.block_on(async {
        let http = reqwest::Client::new();
        let answer = json(
            http.post(format!("{base}/signup"))
                .json(&serde_json::json!({ "userId": "user_9", "plan": "team" })),
        )
        .await?;
        let run_id = match (&answer["queued"], answer["runId"].as_str()) {
            (serde_json::Value::Bool(true), Some(id)) if id.starts_with("run_") => id.to_owned(),
            _ => return Err(format!("unexpected answer {answer}")),
        };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let run = json(http.get(format!("{base}/runs/{run_id}"))).await?;
            if run["status"] == "succeeded" {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the run did not succeed: {run}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    if let Err(error) = client {
        let _ = child.kill();
        let _ = child.wait();
        panic!("signup --serve: {error}\n{}", out.text());
    }

    // Ctrl-C.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let output = finish("signup --serve", child, out, err);
    output.line(&["[notifications] `welcome` to user_9 with {\"plan\":\"team\"}"]);
    output.line(&["Ctrl-C: stopping"]);
    output.line(&["worker stopped: 1 attempt completed, 0 handed back"]);
}

fn metrics(mode: Mode) {
    let out = run("metrics", mode);
    out.expect_count(&["\"inv_", ": succeeded"], 4);
    out.line(&["\"inv_4\": dead_lettered"]);
    out.line(&["GET /metrics:"]);
    out.line(&[r#"jobs_attempts_total{task="send-invoice",outcome="succeeded"} 4"#]);
    out.line(&[r#"jobs_attempts_total{task="send-invoice",outcome="retried"} 1"#]);
    out.line(&[r#"jobs_attempts_total{task="send-invoice",outcome="dead_lettered"} 1"#]);
    out.line(&[r#"jobs_attempt_duration_seconds_count{task="send-invoice"} 6"#]);
    out.line(&[r#"jobs_queue_wait_seconds_count{task="send-invoice"} 6"#]);
}

macro_rules! every_mode {
    ($($example:ident),* $(,)?) => {
        mod memory {
            $(
                #[test]
                fn $example() {
                    super::$example(super::Mode::Memory);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $example() {
                    super::$example(super::Mode::Postgres);
                }
            )*
        }
        mod sqlite {
            $(
                #[test]
                fn $example() {
                    super::$example(super::Mode::Sqlite);
                }
            )*
        }
    };
}

every_mode!(
    quickstart,
    signup,
    reminders,
    retries,
    managed_runs,
    webhooks,
    metrics
);

/// Runs the quickstart with `DATABASE_URL=url`, expecting it to fail; returns its stderr.
fn quickstart_fails_on(url: &str) -> String {
    let mut child = spawn(
        "quickstart",
        &[],
        Mode::Memory,
        &[("DATABASE_URL", url), ("RUST_BACKTRACE", "0")],
    );
    let (out, err) = collect(&mut child);
    let (status, stdout, stderr) = wait(child, out, err);
    match status {
        Some(status) if !status.success() => stderr,
        _ => panic!(
            "quickstart on {url} should have failed ({status:?}):\n{stdout}\n--- stderr:\n{stderr}"
        ),
    }
}

/// On SQLite a run starts from an empty file, whether the file is new or has runs.
#[test]
fn sqlite_file_is_created_then_emptied() {
    let path = sqlite_path("starts-empty.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    let url = format!("sqlite://{}", path.display());
    for (turn, expected) in [(1, "(new)"), (2, "(emptied first)")] {
        let mut child = spawn("quickstart", &[], Mode::Sqlite, &[("DATABASE_URL", &url)]);
        let (out, err) = collect(&mut child);
        let out = finish(
            &format!("quickstart on SQLite, turn {turn}"),
            child,
            out,
            err,
        );
        out.line(&["storage: SQLite, file ", "starts-empty.db", expected]);
        out.line(&["enqueued run_", "(created: true)"]);
        out.line(&["status   succeeded"]);
    }
}

/// A file jobs-sqlite did not make is refused and left as it was.
#[test]
fn sqlite_refuses_other_files() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let app = sqlite_path("not-jobs.db");
    let _ = std::fs::remove_file(&app);
    runtime.block_on(async {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&app)
            .create_if_missing(true);
        let mut connection = sqlx::sqlite::SqliteConnection::connect_with(&options)
            .await
            .expect("a new SQLite file");
        sqlx::raw_sql("CREATE TABLE users (id TEXT); INSERT INTO users VALUES ('user_123')")
            .execute(&mut connection)
            .await
            .expect("a table of the application's");
        connection.close().await.expect("closed");
    });
    let text = sqlite_path("notes.db");
    std::fs::write(&text, "not a database\n").expect("a text file");

    for (path, reason) in [
        (
            &app,
            "a SQLite file that jobs-sqlite did not make (its tables: users)",
        ),
        (&text, "is not a SQLite file"),
    ] {
        let before = std::fs::read(path).expect("the file");
        let stderr = quickstart_fails_on(&format!("sqlite://{}", path.display()));
        assert!(
            stderr.contains(reason) && stderr.contains("name another file"),
            "{}: {stderr}",
            path.display()
        );
        let after = std::fs::read(path).expect("the file is still there");
        assert!(before == after, "{} was changed", path.display());
    }
}

/// A URL of no storage the examples run on names the forms they take, and no password.
#[test]
fn other_urls_are_refused_with_the_accepted_forms() {
    let stderr = quickstart_fails_on("mysql://app:secret@localhost/app");
    for needle in ["`mysql:`", "postgres://", "sqlite://jobs.db", "unset"] {
        assert!(stderr.contains(needle), "no {needle} in: {stderr}");
    }
    assert!(!stderr.contains("secret"), "{stderr}");
    let stderr = quickstart_fails_on("sqlite://jobs.db?mode=ro");
    assert!(stderr.contains("invalid SQLite URL"), "{stderr}");
}

#[test]
fn run_ids_are_found_in_text() {
    let id = "run_01a225ac3c2d72e597f6f115c70ba439";
    assert_eq!(run_ids(&format!("x {id} to run_123 and {id}.")), [id, id]);
    assert!(run_ids("run_123").is_empty());
}

//! Worker processes for the multi-process tests, whatever their storage: start one, wait
//! for it to be ready, signal it, stop it and read its shutdown report. Included by
//! `fault_support` (PostgreSQL) and `sqlite_support`, which start their own binaries.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Fails the test once `timeout` has passed, naming what it waited for.
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
    what: String,
}

impl Deadline {
    pub(crate) fn new(timeout: Duration, what: impl Into<String>) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
            what: what.into(),
        }
    }

    /// Sleeps a little, or fails the test if the deadline has passed.
    pub(crate) async fn tick(&self) {
        assert!(
            Instant::now() < self.at,
            "timed out after {:?} waiting for {}",
            self.timeout,
            self.what
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a worker process printed when it stopped (its `ShutdownReport`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) completed: usize,
    pub(crate) stale: usize,
    pub(crate) handed_back: usize,
    pub(crate) unwritten: usize,
    pub(crate) shutdown_ms: u64,
}

impl Report {
    /// Parses the `pid=P stopped (...): completed=N ...` line of a worker's output.
    pub(crate) fn parse(stdout: &str) -> Option<Report> {
        let line = stdout.lines().find(|line| line.contains(" stopped ("))?;
        let field = |name: &str| -> Option<u64> {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{name}=")))
                .and_then(|value| value.parse().ok())
        };
        let count = |name: &str| field(name).and_then(|n| usize::try_from(n).ok());
        Some(Report {
            completed: count("completed")?,
            stale: count("stale")?,
            handed_back: count("handed_back")?,
            unwritten: count("unwritten")?,
            shutdown_ms: field("shutdown_ms")?,
        })
    }
}

/// How a worker process ended.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Its report, if it printed one (not after SIGKILL).
    pub(crate) report: Option<Report>,
}

/// A worker process. Killed (SIGKILL) when dropped if still running, so no
/// process outlives a failed test. Its stdout and stderr are collected by threads, so a
/// chatty child never blocks on a full pipe.
pub(crate) struct WorkerProcess {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut text = sink.lock().unwrap_or_else(PoisonError::into_inner);
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

fn read(text: &Arc<Mutex<String>>) -> String {
    text.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

impl WorkerProcess {
    /// Starts `binary` with `args`; `name` is how messages call it.
    pub(crate) fn start<I, S>(binary: &str, name: &str, args: I) -> WorkerProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start worker {name}: {e}"));
        let stdin = child.stdin.take();
        let stdout = collect(child.stdout.take().unwrap_or_else(|| panic!("no stdout")));
        let stderr = collect(child.stderr.take().unwrap_or_else(|| panic!("no stderr")));
        WorkerProcess {
            name: name.to_owned(),
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its name in messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// What it printed on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        read(&self.stderr)
    }

    /// What it printed so far, stdout then stderr.
    pub(crate) fn output(&self) -> String {
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    /// Waits until it printed its `ready` line (its worker runs); returns its worker id.
    pub(crate) async fn ready(&mut self, timeout: Duration) -> String {
        let deadline = Deadline::new(timeout, format!("worker {} to start", self.name));
        loop {
            let stdout = read(&self.stdout);
            if let Some(line) = stdout.lines().find(|l| l.starts_with("ready pid=")) {
                return line
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix("worker="))
                    .unwrap_or_else(|| panic!("no worker id in {line:?}"))
                    .to_owned();
            }
            self.assert_alive();
            deadline.tick().await;
        }
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`, `TERM`, ...) with `kill(1)`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -s {signal}: {e}"));
        assert!(
            status.success(),
            "kill -s {signal} {} failed: {status}",
            self.pid()
        );
    }

    /// Closes its stdin, which asks it to shut down gracefully.
    pub(crate) fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Fails the test if it has exited.
    pub(crate) fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "worker {} exited early with {status}:\n{}",
                self.name,
                self.output()
            );
        }
    }

    /// Waits for it to exit, at most `timeout`, and returns how it ended.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> Exit {
        let deadline = Deadline::new(timeout, format!("worker {} to exit", self.name));
        let status = loop {
            if let Some(status) = self
                .child
                .try_wait()
                .unwrap_or_else(|e| panic!("wait for worker {}: {e}", self.name))
            {
                break status;
            }
            deadline.tick().await;
        };
        // The reader threads finish once the pipes close; give them a moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stdout = read(&self.stdout);
        Exit {
            status,
            report: Report::parse(&stdout),
            stdout,
            stderr: read(&self.stderr),
        }
    }

    /// Asks it to stop (stdin closed), waits at most `timeout`, checks it exited 0 with a
    /// report, and returns the report.
    pub(crate) async fn stop(&mut self, timeout: Duration) -> Report {
        self.stop_exit(timeout).await.0
    }

    /// [`stop`](Self::stop), also returning how it ended (its output).
    pub(crate) async fn stop_exit(&mut self, timeout: Duration) -> (Report, Exit) {
        self.close_stdin();
        let exit = self.wait_exit(timeout).await;
        println!("worker {}: {}", self.name, exit.stdout.trim());
        assert!(
            exit.status.success(),
            "worker {} exited with {}:\n{}{}",
            self.name,
            exit.status,
            exit.stdout,
            exit.stderr
        );
        let report = exit.report.unwrap_or_else(|| {
            panic!(
                "worker {} printed no report:\n{}{}",
                self.name, exit.stdout, exit.stderr
            )
        });
        (report, exit)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill(); // SIGKILL ends a stopped process too
            let _ = self.child.wait();
        }
    }
}

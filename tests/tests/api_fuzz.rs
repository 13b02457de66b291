//! The HTTP API answers as its OpenAPI document says, whatever the input: runs
//! `scripts/fuzz-api.sh` (Schemathesis, every check and phase, fixed seed) against
//! `jobs-api-server` on PostgreSQL, and fails when Schemathesis finds anything.
//!
//! A test rather than a step of `scripts/test.sh`, so that `cargo test` alone runs it, on
//! the server binary cargo has just built, and its result is one named test among the
//! others. Needs `python3` (the script installs Schemathesis with pip when it is
//! missing) and the test database, as the other PostgreSQL tests do.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn the_http_api_answers_as_its_openapi_document_says() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fuzz-api.sh");
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(&script)
        .env("JOBS_API_SERVER", env!("CARGO_BIN_EXE_jobs-api-server"))
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown by the test runner on failure, or with --nocapture.
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "scripts/fuzz-api.sh failed ({}) after {:.0?}: Schemathesis' report is above",
        output.status,
        started.elapsed()
    );
}

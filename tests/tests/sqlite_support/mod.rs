//! What the SQLite tests share: a fresh database file per test, under cargo's scratch
//! directory for integration tests (`target/tmp`).

#![allow(dead_code)] // each test crate uses its own part of this module

use std::path::PathBuf;

use jobs::{ManualClock, RunId};
use jobs_sqlite::SqliteStorage;

/// A path no other test uses: `target/tmp/jobs-sqlite/<tag>-<random hex>.db`.
pub(crate) fn fresh_path(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jobs-sqlite");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let random = RunId::new().as_uuid().simple().to_string();
    dir.join(format!("{tag}-{}.db", &random[16..]))
}

/// A storage on a fresh file, reading time from `clock` when one is given.
pub(crate) async fn storage(tag: &str, clock: Option<ManualClock>) -> SqliteStorage {
    let path = fresh_path(tag);
    let mut builder = SqliteStorage::builder();
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    builder
        .open(&path)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

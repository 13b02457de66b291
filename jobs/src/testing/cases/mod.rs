//! The conformance cases, one `pub async fn` per promise, grouped by area.

mod budget;
mod cancel_replay;
mod enqueue;
mod faults;
mod input;
mod leases;
mod lifecycle;
mod listing;
mod operate;
mod periodic;
mod races;
mod worker;

pub use budget::*;
pub use cancel_replay::*;
pub use enqueue::*;
pub use faults::*;
pub use input::*;
pub use leases::*;
pub use lifecycle::*;
pub use listing::*;
pub use operate::*;
pub use periodic::*;
pub use races::*;
pub use worker::*;

use crate::Run;
use crate::storage::{ClaimRequest, Storage};
use std::time::Duration;

/// Claims up to `limit` runs of `tasks` in the harness namespace with a 30 s lease.
pub(crate) async fn claim(storage: &dyn Storage, tasks: &[&str], limit: usize) -> Vec<Run> {
    let request = ClaimRequest::new(
        "conformance",
        tasks.iter().map(|t| (*t).to_owned()).collect(),
        limit,
        Duration::from_secs(30),
        "conformance-worker",
    );
    match storage.claim(request).await {
        Ok(runs) => runs,
        Err(error) => panic!("claim failed: {error}"),
    }
}

/// Unwraps a result in a case, naming what failed.
pub(crate) fn ok<T>(what: &str, result: Result<T, crate::Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what} failed: {error}"),
    }
}

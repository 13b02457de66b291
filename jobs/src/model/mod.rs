//! The data model: runs and their attempts, listings, stats, limits, retention, retry
//! policies, clocks and errors. Plain data with no runtime in it: what a storage stores
//! and returns, and what a backend author needs besides the storage contract.
//!
//! The bottom layer: it depends on nothing else in the crate.

pub(crate) mod clock;
pub(crate) mod error;
pub(crate) mod limits;
pub(crate) mod list;
mod parse;
pub(crate) mod retention;
pub(crate) mod retry;
pub(crate) mod run;
pub mod stats;

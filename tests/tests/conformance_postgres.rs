//! The storage conformance suite on `PgStorage`: each case in a fresh schema (dropped at
//! its end) on a pool of 5 connections, with the suite's manual clock.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://root@127.0.0.1:5432/jobs_test`).

mod postgres_support;

jobs::storage_conformance!(|clock: jobs::ManualClock| async move {
    postgres_support::conformance_storage(clock).await
});

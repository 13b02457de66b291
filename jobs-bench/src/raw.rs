//! The raw baseline: the PostgreSQL storage's own claim and finish statements, driven in
//! tight loops straight from sqlx, with no worker, no task, no decoding of runs and no
//! framework between them. It is what the SQL can do on this machine in this run: the
//! ceiling every PostgreSQL processing figure is divided by (`x raw`), so a figure from a
//! slower or busier machine still says how much of the SQL's capacity `jobs` uses.
//!
//! [`LOOPS`] loops each claim [`BATCH`] runs and finish them as succeeded, one batch after
//! the other, until none is left: the pipelining a worker with a thousand slots could do
//! at best, minus everything a worker does besides the two statements.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jobs::Task;
use jobs_postgres::PgStorage;
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use crate::Error;
use crate::cpu::Snapshot;
use crate::pg::NAMESPACE;
use crate::tasks::Noop;

/// Claim-and-finish loops running at once.
pub(crate) const LOOPS: usize = 2;

/// Runs claimed (and finished) per statement.
pub(crate) const BATCH: usize = 1000;

/// What one raw drain measured: runs per second, the CPU it used, and the cores other
/// processes of the machine used meanwhile.
pub(crate) struct RawRun {
    pub(crate) rate: f64,
    pub(crate) summary: String,
    pub(crate) detail: Value,
    pub(crate) other: f64,
}

/// Drains the `n` due runs of `bench-noop` that `storage`'s schema holds with [`LOOPS`]
/// loops of the storage's claim and finish statements.
pub(crate) async fn drain(storage: &PgStorage, n: usize) -> Result<RawRun, Error> {
    let (claim, finish) = storage.claim_and_finish_sql();
    let (claim, finish) = (claim.to_owned(), finish.to_owned());
    let before = Snapshot::take(&[]);
    let start = Instant::now();
    let mut loops = tokio::task::JoinSet::new();
    for index in 0..LOOPS {
        let pool = storage.pool().clone();
        let (claim, finish) = (claim.clone(), finish.clone());
        loops.spawn(async move { one_loop(&pool, &claim, &finish, index).await });
    }
    let mut done = 0;
    while let Some(joined) = loops.join_next().await {
        done += joined??;
    }
    let elapsed = start.elapsed();
    let usage = before.until(&Snapshot::take(&[]));
    if done != n {
        return Err(format!("the raw loops finished {done} runs, expected {n}").into());
    }
    let summary = format!(
        "(wall {:.2} s; cpu: bench {:.2} cores, postgres {:.2}, other {:.2})",
        elapsed.as_secs_f64(),
        usage.bench / usage.wall,
        usage.postgres / usage.wall,
        usage.other / usage.wall,
    );
    Ok(RawRun {
        rate: n as f64 / elapsed.as_secs_f64(),
        summary,
        detail: usage.json(),
        other: usage.other / usage.wall,
    })
}

/// One loop: claim a batch, finish it, until a claim comes back empty; how many it
/// finished.
async fn one_loop(
    pool: &sqlx::PgPool,
    claim: &str,
    finish: &str,
    index: usize,
) -> Result<usize, Error> {
    let worker = format!("raw-{index}");
    let lease = i64::try_from(Duration::from_secs(60).as_micros()).unwrap_or(i64::MAX);
    let tasks = vec![Noop::NAME.to_owned()];
    let batch = i64::try_from(BATCH).unwrap_or(i64::MAX);
    let mut done = 0;
    loop {
        // `$1` the clock (NULL: the database's), `$2` namespace, `$3` tasks, `$4` limit,
        // `$5` lease (µs), `$6` worker, `$7` queue.
        let rows = sqlx::query(claim)
            .bind(None::<DateTime<Utc>>)
            .bind(NAMESPACE)
            .bind(&tasks)
            .bind(batch)
            .bind(lease)
            .bind(&worker)
            .bind(jobs::DEFAULT_QUEUE)
            .fetch_all(pool)
            .await?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut leases: Vec<(Uuid, i32)> = rows
            .iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("attempt")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        // In id order, as the worker sends them, so finishes lock rows in one order.
        leases.sort_unstable();
        let count = leases.len();
        let (ids, attempts): (Vec<Uuid>, Vec<i32>) = leases.into_iter().unzip();
        // `$1` clock, `$2` namespace, `$3` ids, `$4` attempts, `$5` new statuses, `$6`
        // errors, `$7` retry delays (µs), `$8` origin.
        sqlx::query(finish)
            .bind(None::<DateTime<Utc>>)
            .bind(NAMESPACE)
            .bind(ids)
            .bind(attempts)
            .bind(vec!["succeeded"; count])
            .bind(vec![None::<String>; count])
            .bind(vec![0i64; count])
            .bind("raw")
            .execute(pool)
            .await?;
        done += count;
    }
}

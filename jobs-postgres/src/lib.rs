//! PostgreSQL storage for [`jobs`]: runs survive restarts, and many worker processes on
//! many machines share one queue.
//!
//! [`PgStorage`] implements [`jobs::Storage`] on [sqlx]. Every state change is one SQL
//! statement that checks the state it expects, so there is no read-then-write race
//! anywhere: workers claim due runs with `FOR UPDATE SKIP LOCKED` on a partial index of
//! claimable rows, results are written in batches fenced by (run id, attempt number), a
//! batch of runs is inserted with one `UNNEST` statement, and `LISTEN`/`NOTIFY` wakes idle
//! workers within milliseconds of an enqueue (they also poll, so nothing waits on a lost
//! notification).
//!
//! ```no_run
//! use jobs::Jobs;
//! use jobs_postgres::PgStorage;
//!
//! #[jobs::task(retry(attempts = 5, backoff = "exponential", initial_delay = "5s", max_delay = "300s"))]
//! async fn notify_user(user_id: String, template: String) -> Result<(), jobs::TaskError> {
//!     println!("sending {template} to {user_id}");
//!     Ok(())
//! }
//!
//! # async fn run() -> Result<(), jobs::Error> {
//! let storage = PgStorage::connect("postgres://app@localhost/app").await?;
//! storage.migrate().await?; // creates schema `jobs` and its tables; safe to run from every process
//!
//! let jobs = Jobs::builder().name("background").namespace("app").storage(storage).build()?;
//! jobs.enqueue(NotifyUser { user_id: "user_123".into(), template: "welcome".into() })
//!     .idempotency_key("welcome:user_123")
//!     .await?;
//!
//! let worker = jobs.worker().concurrency(16).start();
//! // ... until the process is asked to stop:
//! worker.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Schema
//!
//! Everything lives in one PostgreSQL schema, `jobs` unless
//! [`PgStorageBuilder::schema`] says otherwise: the tables `runs` and `attempts`, and the
//! `_sqlx_migrations` table of this crate's embedded migrations, kept apart from the
//! application's own migrations. [`PgStorage::migrate`] creates the schema if it is
//! missing and applies the migrations; it takes sqlx's advisory lock, so every process
//! may call it at start-up. Statements name the schema explicitly, so the storage works
//! on an application's pool whatever its `search_path` ([`PgStorage::from_pool`]).
//!
//! # Enqueue inside your transaction
//!
//! [`PgStorage::enqueue_in`] stores runs through the application's own connection or
//! transaction, so a run exists if and only if the application's write committed. Its
//! wakeup is a `NOTIFY`, which PostgreSQL delivers on commit.
//!
//! ```no_run
//! # use jobs::Jobs;
//! # use jobs_postgres::PgStorage;
//! # #[jobs::task]
//! # async fn send_welcome(user_id: String) {}
//! # async fn signup(jobs: &Jobs, storage: &PgStorage, pool: &sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! let mut tx = pool.begin().await?;
//! sqlx::query("INSERT INTO users (id) VALUES ($1)").bind("user_123").execute(&mut *tx).await?;
//! let run = jobs.enqueue(SendWelcome { user_id: "user_123".into() }).into_new_run()?;
//! storage.enqueue_in(&mut *tx, vec![run]).await?;
//! tx.commit().await?; // the user and the job exist together, or neither does
//! # Ok(())
//! # }
//! ```
//!
//! # Wakeups
//!
//! The first subscriber (the first worker to start) starts the storage's listener: one
//! connection of its own that `LISTEN`s on the schema's channel, on a thread of its own
//! (`jobs-pg-listen`) with a small current-thread tokio runtime of its own. It depends on
//! no caller's runtime: every worker of the storage, on any runtime, is woken through it,
//! even after the runtime that started it has ended (a test's, a sub-command's, one built
//! for a single job), and subscribing outside any runtime starts it too. It reconnects by
//! itself after any failure, and ends when the last handle to the storage is dropped. If
//! the thread cannot be started, that is logged and workers poll.
//!
//! # Whose clock decides
//!
//! The database's. Every statement reads `now()` on the server: due times, leases, lease
//! expiry and timestamps all come from one clock, so workers whose machines' clocks
//! disagree still agree on which runs are due and whose lease has expired. Tests can hand
//! the storage a [`jobs::ManualClock`] with [`PgStorageBuilder::clock`]; its time is then
//! passed to every statement instead.
//!
//! # Features
//!
//! - `rustls`: TLS connections through rustls (sqlx's `tls-rustls`), for `sslmode=require`
//!   and stronger. Off by default; without it only unencrypted connections are possible.
//!
//! [sqlx]: https://docs.rs/sqlx

/// The sqlx this crate is built on, for [`PgStorage::from_pool`] and
/// [`PgStorage::enqueue_in`] (its `PgPool` and `PgConnection`).
pub use sqlx;

mod events;
mod rows;
mod sql;
mod storage;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jobs::storage::{ClaimRequest, Enqueued, NewRun, Outcome};
use jobs::{Clock, Error};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::events::Events;
use crate::sql::Sql;

/// The embedded migrations (`migrations/` in this crate).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Runs stored in PostgreSQL. Cheap to clone; clones share the pool and the wakeups.
///
/// Make one with [`PgStorage::connect`], [`PgStorage::from_pool`] or
/// [`PgStorage::builder`], call [`migrate`](Self::migrate) once at start-up, and hand it
/// to [`jobs::JobsBuilder::storage`].
#[derive(Clone)]
pub struct PgStorage {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    schema: String,
    channel: String,
    sql: Sql,
    clock: Option<Arc<dyn Clock>>,
    events: Events,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Ends the LISTEN thread, if one was started.
        self.events.stop.cancel();
    }
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("schema", &self.inner.schema)
            .field("manual_clock", &self.inner.clock.is_some())
            .finish_non_exhaustive()
    }
}

impl PgStorage {
    /// The schema used unless [`PgStorageBuilder::schema`] names another.
    pub const DEFAULT_SCHEMA: &'static str = "jobs";

    /// Options: schema, clock, pool size.
    pub fn builder() -> PgStorageBuilder {
        PgStorageBuilder::default()
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`)
    /// with a pool of its own, in schema `jobs`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that does not parse; [`Error::Storage`] naming the
    /// server when it cannot be reached or refuses the connection.
    pub async fn connect(url: &str) -> Result<PgStorage, Error> {
        PgStorage::builder().connect(url).await
    }

    /// Uses the application's pool, in schema `jobs`. The pool's `search_path` does not
    /// matter: statements name the schema. Wakeups (once a worker subscribes) use one more
    /// connection, opened with the pool's options but outside it, so the LISTEN never
    /// holds one of the application's connections.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use jobs_postgres::PgStorage;
    ///
    /// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
    /// let storage = PgStorage::from_pool(pool.clone());
    /// storage.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_pool(pool: PgPool) -> PgStorage {
        PgStorage::new(pool, Self::DEFAULT_SCHEMA.to_owned(), None)
    }

    fn new(pool: PgPool, schema: String, clock: Option<Arc<dyn Clock>>) -> PgStorage {
        let channel = events::channel(&schema);
        PgStorage {
            inner: Arc::new(Inner {
                sql: Sql::new(&schema, &channel),
                pool,
                schema,
                channel,
                clock,
                events: Events::new(),
            }),
        }
    }

    /// The pool the storage runs its statements on.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The text of this storage's claim and finish statements, formatted for its schema
    /// (their parameters are listed in `sql.rs`): for a benchmark that drives the storage's
    /// own SQL with no framework around it, the ceiling the worker is measured against.
    /// Not a stable API.
    #[doc(hidden)]
    pub fn claim_and_finish_sql(&self) -> (&str, &str) {
        (&self.inner.sql.claim, &self.inner.sql.finish)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Creates the schema if it is missing and applies the embedded migrations to it.
    ///
    /// Safe to call from many processes at once: creating the schema is serialised by an
    /// advisory lock, and sqlx's migrator takes its own (one per database, so it also
    /// waits for the application's own sqlx migrations, which are kept in their own
    /// `_sqlx_migrations` table). Runs on a connection of its own (with `search_path` set
    /// to the schema), never on one the application's pool hands out afterwards.
    ///
    /// # Errors
    ///
    /// The database cannot be reached, the role may not create the schema or tables, or
    /// the schema holds migrations this version does not know.
    pub async fn migrate(&self) -> Result<(), Error> {
        let options = (*self.inner.pool.connect_options()).clone();
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(|e| Error::storage("connect to PostgreSQL to apply migrations", e))?;
        let result = self.migrate_on(&mut conn).await;
        if let Err(error) = conn.close().await {
            tracing::debug!(%error, "closing the migration connection failed");
        }
        result
    }

    async fn migrate_on(&self, conn: &mut PgConnection) -> Result<(), Error> {
        let schema = self.inner.schema.as_str();
        self.create_schema(conn)
            .await
            .map_err(|e| Error::storage(format!("create schema `{schema}`"), e))?;
        let action = format!("apply the migrations of schema `{schema}`");
        if let Err(e) = sqlx::query(&format!("SET search_path TO \"{schema}\""))
            .execute(&mut *conn)
            .await
        {
            return Err(Error::storage(action, e));
        }
        if let Err(e) = MIGRATOR.run_direct(conn).await {
            return Err(Error::storage(action, e));
        }
        Ok(())
    }

    /// Creates the schema unless it exists. Two processes creating it at once would
    /// collide on the catalog's unique index, so this is serialised by an advisory lock;
    /// checking first also spares roles that may use but not create schemas.
    async fn create_schema(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let schema = self.inner.schema.as_str();
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("jobs-postgres migrate {schema}"))
            .execute(&mut *tx)
            .await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Stores runs through `conn`: a connection or, to enqueue atomically with the
    /// application's own writes, a transaction (`&mut *tx`). Build the runs with
    /// [`jobs::Enqueue::into_new_run`] or [`jobs::EnqueueMany::into_new_runs`].
    ///
    /// Returns what [`jobs::Storage::enqueue`] returns. Workers are woken by a `NOTIFY`,
    /// which PostgreSQL delivers when the transaction commits (and drops on rollback).
    ///
    /// # Errors
    ///
    /// A database error; the transaction is then aborted, as after any failed statement.
    pub async fn enqueue_in(
        &self,
        conn: &mut PgConnection,
        runs: Vec<NewRun>,
    ) -> Result<Vec<Enqueued>, Error> {
        self.enqueue_on(conn, runs, events::NO_ORIGIN).await
    }

    /// The query plan PostgreSQL chooses for the claim of `request` (`EXPLAIN`, without
    /// running it): for checking that claims use the claimable partial index.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn explain_claim(&self, request: &ClaimRequest) -> Result<String, Error> {
        let sql = format!("EXPLAIN {}", self.inner.sql.claim);
        let args = storage::claim_args(self.now(), request)?;
        let lines: Vec<String> = sqlx::query_scalar_with(&sql, args)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| Error::storage("explain the claim", e))?;
        Ok(lines.join("\n"))
    }

    /// The query plan PostgreSQL chooses for recording `outcomes` (`EXPLAIN`, without
    /// running it): for checking that results are written through the primary key.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn explain_finish(
        &self,
        namespace: &str,
        outcomes: &[Outcome],
    ) -> Result<String, Error> {
        let sql = format!("EXPLAIN {}", self.inner.sql.finish);
        let args =
            storage::finish_args(self.now(), namespace, outcomes, &self.inner.events.origin)?;
        let lines: Vec<String> = sqlx::query_scalar_with(&sql, args)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| Error::storage("explain the finish", e))?;
        Ok(lines.join("\n"))
    }

    /// The generic plan of the claim of `request`: the plan PostgreSQL caches and reuses
    /// after a few executions of the prepared statement, made without looking at the
    /// values (`plan_cache_mode = force_generic_plan`). For checking that it is as good as
    /// the first one whatever the statistics say.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn explain_claim_generic(&self, request: &ClaimRequest) -> Result<String, Error> {
        let args = storage::claim_args(self.now(), request)?;
        self.explain_generic(&self.inner.sql.claim, sql::CLAIM_TYPES, args)
            .await
            .map_err(|e| Error::storage("explain the generic plan of the claim", e))
    }

    /// The generic plan of recording `outcomes` (see
    /// [`explain_claim_generic`](Self::explain_claim_generic)): for checking that every
    /// result is looked up through the primary key even in the plan made blind.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn explain_finish_generic(
        &self,
        namespace: &str,
        outcomes: &[Outcome],
    ) -> Result<String, Error> {
        let args =
            storage::finish_args(self.now(), namespace, outcomes, &self.inner.events.origin)?;
        self.explain_generic(&self.inner.sql.finish, sql::FINISH_TYPES, args)
            .await
            .map_err(|e| Error::storage("explain the generic plan of the finish", e))
    }

    /// `EXPLAIN EXECUTE` of `statement` prepared with `types` under
    /// `plan_cache_mode = force_generic_plan`, the values of `args` inlined as literals by
    /// the server's own `format('%L')`. On a connection of its own, closed afterwards, so
    /// neither the setting nor the prepared statement reaches the pool.
    async fn explain_generic(
        &self,
        statement: &str,
        types: &[&str],
        args: sqlx::postgres::PgArguments,
    ) -> Result<String, sqlx::Error> {
        let mut conn = PgConnection::connect_with(&self.inner.pool.connect_options()).await?;
        let result = async {
            sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
                .execute(&mut conn)
                .await?;
            let prepare = format!("PREPARE jobs_explain ({}) AS {statement}", types.join(", "));
            sqlx::raw_sql(&prepare).execute(&mut conn).await?;
            let literals: Vec<String> = types.iter().map(|t| format!("%L::{t}")).collect();
            let params: Vec<String> = (1..=types.len()).map(|i| format!("${i}")).collect();
            let inline = format!(
                "SELECT format('EXPLAIN EXECUTE jobs_explain({})', {})",
                literals.join(", "),
                params.join(", ")
            );
            let explain: String = sqlx::query_scalar_with(&inline, args)
                .fetch_one(&mut conn)
                .await?;
            let lines: Vec<String> = sqlx::query_scalar(&explain).fetch_all(&mut conn).await?;
            Ok(lines.join("\n"))
        }
        .await;
        let _ = conn.close().await;
        result
    }

    /// The time statements use: the manual clock's, or NULL for the database's `now()`.
    fn now(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.inner.clock.as_ref().map(|clock| clock.now())
    }

    /// Starts the LISTEN thread once, whatever runtime (if any) the caller is on. If the
    /// thread cannot be spawned, workers poll, and the next subscriber tries again.
    fn start_listener(&self) {
        let events = &self.inner.events;
        if events.started.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Err(error) = self.listen().spawn() {
            events.started.store(false, Ordering::Release);
            tracing::warn!(channel = %self.inner.channel, %error, "could not spawn the LISTEN thread: no job wakeups, workers will poll");
        }
    }

    /// What the LISTEN thread needs: the pool's connect options and the storage's events.
    fn listen(&self) -> events::Listen {
        let events = &self.inner.events;
        events::Listen {
            options: (*self.inner.pool.connect_options()).clone(),
            channel: self.inner.channel.clone(),
            origin: events.origin.clone(),
            sender: events.sender.clone(),
            namespaces: events.namespaces.clone(),
            stop: events.stop.clone(),
        }
    }
}

/// Options for a [`PgStorage`]: schema, clock and (for [`connect`](Self::connect)) pool
/// size.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), jobs::Error> {
/// let storage = jobs_postgres::PgStorage::builder()
///     .schema("background_jobs")
///     .max_connections(20)
///     .connect("postgres://app@localhost/app")
///     .await?;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct PgStorageBuilder {
    schema: String,
    clock: Option<Arc<dyn Clock>>,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl Default for PgStorageBuilder {
    fn default() -> Self {
        PgStorageBuilder {
            schema: PgStorage::DEFAULT_SCHEMA.to_owned(),
            clock: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for PgStorageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorageBuilder")
            .field("schema", &self.schema)
            .field("manual_clock", &self.clock.is_some())
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl PgStorageBuilder {
    /// The schema holding the tables: a plain lowercase SQL identifier
    /// (`[a-z_][a-z0-9_]{0,62}`, not starting with `pg_`). Default `jobs`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Reads time from `clock` instead of the database's `now()`: for tests with a
    /// [`jobs::ManualClock`]. Production storages leave the database's clock in charge.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The size of the pool [`connect`](Self::connect) opens. Default 10.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long a statement waits for a free connection of that pool. Default 10 s.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Connects to the database at `url` with a pool of its own.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad schema name or a URL that does not parse;
    /// [`Error::Storage`] naming the server when it cannot be reached or refuses the
    /// connection.
    pub async fn connect(self, url: &str) -> Result<PgStorage, Error> {
        validate_schema(&self.schema)?;
        // sqlx's messages quote nothing of the URL, so the password never shows.
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
            return Err(Error::Config(
                "invalid PostgreSQL URL: expected postgres://user:password@host:port/database"
                    .to_owned(),
            ));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let server = match options.get_socket() {
            Some(socket) => format!("{}", socket.display()),
            None => format!("{}:{}", options.get_host(), options.get_port()),
        };
        let database = options.get_database().unwrap_or("(default)").to_owned();
        let action = format!("connect to PostgreSQL at {server}, database {database}");
        // One direct attempt first: the pool retries refused connections until its timeout
        // and then reports only that it timed out.
        let probe =
            tokio::time::timeout(self.acquire_timeout, PgConnection::connect_with(&options))
                .await
                .map_err(|_| {
                    Error::storage(
                        action.clone(),
                        format!("no answer within {:?}", self.acquire_timeout),
                    )
                })?
                .map_err(|e| Error::storage(action.clone(), e))?;
        if let Err(error) = probe.close().await {
            tracing::debug!(%error, "closing the probe connection failed");
        }
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| Error::storage(action, e))?;
        Ok(PgStorage::new(pool, self.schema, self.clock))
    }

    /// Uses the application's pool.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad schema name.
    pub fn from_pool(self, pool: PgPool) -> Result<PgStorage, Error> {
        validate_schema(&self.schema)?;
        Ok(PgStorage::new(pool, self.schema, self.clock))
    }
}

/// A schema name we format into SQL: a plain lowercase identifier that needs no quoting
/// and is not reserved for PostgreSQL's own schemas.
fn validate_schema(schema: &str) -> Result<(), Error> {
    let mut bytes = schema.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !first_ok || !rest_ok || schema.len() > 63 {
        return Err(Error::Config(format!(
            "invalid schema name `{}`: expected a lowercase SQL identifier matching [a-z_][a-z0-9_]{{0,62}}",
            schema.chars().take(80).collect::<String>()
        )));
    }
    if schema.starts_with("pg_") {
        return Err(Error::Config(format!(
            "invalid schema name `{schema}`: the prefix `pg_` is reserved for PostgreSQL's own schemas"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["jobs", "_x", "a1_b2", &"s".repeat(63)] {
            assert!(validate_schema(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Jobs",
            "1jobs",
            "jobs-x",
            "jobs.x",
            "jobs\"; DROP TABLE x; --",
            "j\u{e9}bs",
            "pg_jobs",
            &"s".repeat(64),
        ] {
            match validate_schema(bad) {
                Err(Error::Config(message)) => assert!(message.contains("schema"), "{message}"),
                other => panic!("{bad:?} should be refused, got {other:?}"),
            }
        }
    }
}

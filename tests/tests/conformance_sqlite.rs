//! The storage conformance suite on `SqliteStorage`: each case on a fresh file, with the
//! suite's manual clock.

mod sqlite_support;

jobs::storage_conformance!(|clock: jobs::ManualClock| async move {
    std::sync::Arc::new(sqlite_support::storage("conformance", Some(clock)).await)
        as std::sync::Arc<dyn jobs::Storage>
});

//! The storage conformance suite on `MemoryStorage`.

use std::sync::Arc;

use jobs::{ManualClock, MemoryStorage, Storage};

jobs::storage_conformance!(|clock: ManualClock| async move {
    Arc::new(MemoryStorage::with_clock(clock)) as Arc<dyn Storage>
});

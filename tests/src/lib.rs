//! Integration tests live in `tests/`. This library holds what the worker binaries of the
//! multi-process tests (`src/bin/`) share: [`worker_cli`].

pub mod worker_cli;

//! Compile-time behaviour of `#[jobs::task]`: what expands and runs (`ui/pass`), and what
//! is rejected with which message (`ui/fail`, with `.stderr` snapshots).
//!
//! Refresh the snapshots with `TRYBUILD=overwrite cargo test -p jobs-tests --test ui`,
//! then read every changed `.stderr`: the caret must sit on the offending token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}

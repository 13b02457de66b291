//! The expansion is clean under strict lints, and needs nothing imported: no `serde`, no
//! `inventory`, not even the prelude's `Result` or `Option`.
#![deny(warnings, missing_docs, unreachable_pub, unsafe_code, rust_2018_idioms)]

mod tasks {
    // Shadow what the generated code could accidentally rely on.
    #[allow(dead_code)]
    struct Result;
    #[allow(dead_code)]
    struct Option;
    #[allow(dead_code)]
    struct Duration;
    #[allow(dead_code)]
    mod serde {}
    #[allow(dead_code)]
    mod core {}

    /// A documented task.
    #[jobs::task(retry(attempts = 2, backoff = "custom", delays = ["1s", "2s"]), timeout = "1m")]
    pub(crate) async fn strict(id: u64, ctx: jobs::Context) {
        let _ = (id, ctx);
    }
}

fn main() {
    use jobs::Task;
    assert_eq!(tasks::Strict::NAME, "strict");
    let _ = tasks::Strict { id: 1 };
}

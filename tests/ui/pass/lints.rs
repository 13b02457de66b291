//! The expansion is clean under strict lints, and needs nothing imported: no `serde`, no
//! `inventory`, not even the prelude's `Result` or `Option`.
#![deny(warnings, missing_docs, unreachable_pub, unsafe_code, rust_2018_idioms)]

/// Public tasks: their payloads are public and documented.
pub mod public {
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
    #[allow(dead_code)]
    mod inventory {}

    /// A documented task.
    #[jobs::task(retry(attempts = 2, backoff = "custom", delays = ["1s", "2s"]), timeout = "1m")]
    pub async fn strict(id: u64, ctx: jobs::Context) {
        let _ = (id, ctx);
    }
}

mod private {
    // Never enqueued from this binary, and no warning about it.
    #[jobs::task]
    pub(crate) async fn crate_visible(id: u64) {
        let _ = id;
    }

    #[jobs::task]
    async fn module_private(id: u64) {
        let _ = id;
    }

    pub(crate) const NAME: &str = <ModulePrivate as jobs::Task>::NAME;
}

fn main() {
    use jobs::Task;
    assert_eq!(public::Strict::NAME, "strict");
    assert_eq!(private::CrateVisible::NAME, "crate-visible");
    assert_eq!(private::NAME, "module-private");
    let _ = public::Strict { id: 1 };
}

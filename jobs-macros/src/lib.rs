//! The `#[jobs::task]` attribute. Depend on `jobs` and write `#[jobs::task]`; this crate
//! is an implementation detail of it and is pinned to the matching `jobs` version.
//!
//! The attribute goes on an `async fn` and emits, next to the unchanged function:
//!
//! - the payload struct, named after the fn in CamelCase, with one field per argument
//!   (a `jobs::Context` argument, wherever it stands, is not a field);
//! - `impl jobs::Task` for it, with the task's name, retry policy, timeout and (when
//!   given) queue, running the fn with the payload's fields as its arguments;
//! - the task's registration, so a worker in the same binary knows it by name.
//!
//! Every mistake in the arguments or the fn's signature is a compile error on the
//! offending token, all reported at once. The generated code names only
//! `::jobs::__private`, never the user's imports.
//!
//! The work is done in phases, one module each: `attr` parses the arguments, `valid`
//! checks them (with `duration` for the durations), `ast` reads the fn, `expand` writes
//! the output and `fallback` writes what is left when something is wrong.

#![doc(html_root_url = "https://docs.rs/jobs-macros/0.1.0")]
#![doc(test(attr(deny(warnings))))]

mod ast;
mod attr;
mod duration;
mod expand;
mod fallback;
mod valid;

use proc_macro::TokenStream;

/// Turns an `async fn` into a background task. Use it as `#[jobs::task(...)]`; the `jobs`
/// crate documents the arguments.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::task(args.into(), item.into()).into()
}

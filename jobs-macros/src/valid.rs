//! The rules for the arguments: what each value means and which combinations make sense.
//! Turns parsed [`Args`] into a [`Config`] of plain numbers, or reports every violation
//! on the token responsible for it. The retry rules are in [`retry`].

mod retry;

use syn::{Ident, LitStr};

use crate::attr::Args;
use crate::duration;
use crate::fallback::Errors;

pub(crate) use self::retry::Retry;

/// The longest task name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// The longest queue name, in characters.
const MAX_QUEUE_CHARS: usize = 64;

/// The arguments, checked.
pub(crate) struct Config {
    /// The `name = "..."` override; the default depends on the fn.
    pub(crate) name: Option<String>,
    /// The `payload = Ident` override.
    pub(crate) payload: Option<Ident>,
    /// The `queue = "..."` override; without it the trait's default applies.
    pub(crate) queue: Option<String>,
    pub(crate) retry: Retry,
    /// Milliseconds per attempt.
    pub(crate) timeout: Option<u64>,
}

/// Checks `args`; `None` when something was wrong, after reporting it into `errors`.
pub(crate) fn check(args: Args, errors: &mut Errors) -> Option<Config> {
    let mut local = Errors::default();
    let name = args.name.map(|entry| name(&entry.value, &mut local));
    let queue = args.queue.map(|entry| queue(&entry.value, &mut local));
    let retry = match &args.retry {
        Some(entry) => retry::check(&entry.value, &mut local),
        None => Some(Retry::Default),
    };
    let timeout = args.timeout.map(|entry| millis(&entry.value, &mut local));
    if !local.is_empty() {
        errors.append(local);
        return None;
    }
    Some(Config {
        name: name.flatten(),
        payload: args.payload.map(|entry| entry.value),
        queue: queue.flatten(),
        retry: retry?,
        timeout: timeout.flatten(),
    })
}

fn name(lit: &LitStr, errors: &mut Errors) -> Option<String> {
    let name = lit.value();
    if name.is_empty() {
        errors.at(lit.span(), "the task name is empty");
        return None;
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        errors.at(
            lit.span(),
            format!("the task name is {chars} characters long; the limit is {MAX_NAME_CHARS}"),
        );
        return None;
    }
    Some(name)
}

/// A queue name: 1 to [`MAX_QUEUE_CHARS`] lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter. The first rule it breaks is reported on the literal.
fn queue(lit: &LitStr, errors: &mut Errors) -> Option<String> {
    let queue = lit.value();
    let chars = queue.chars().count();
    let problem = if chars == 0 {
        "the queue name is empty".to_owned()
    } else if chars > MAX_QUEUE_CHARS {
        format!("the queue name is {chars} characters long; the limit is {MAX_QUEUE_CHARS}")
    } else if let Some(bad) = queue.chars().find(|&c| !is_queue_char(c)) {
        format!(
            "the queue name {queue:?} contains {bad:?}; use only lowercase ASCII letters, \
             digits, `-` and `_`, e.g. `queue = \"webhooks\"`"
        )
    } else if !queue.starts_with(|c: char| c.is_ascii_lowercase()) {
        format!("the queue name {queue:?} must start with a lowercase ASCII letter")
    } else {
        return Some(queue);
    };
    errors.at(lit.span(), problem);
    None
}

/// Whether `c` may appear in a queue name.
fn is_queue_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

/// The milliseconds of a duration literal, or an error on it.
fn millis(lit: &LitStr, errors: &mut Errors) -> Option<u64> {
    let text = lit.value();
    duration::parse_millis(&text)
        .map_err(|error| errors.at(lit.span(), error.message(&text)))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    /// The config of `#[jobs::task(<tokens>)]`, or every error message.
    pub(super) fn check_tokens(tokens: proc_macro2::TokenStream) -> Result<Config, Vec<String>> {
        let mut args: Args = match syn::parse2(tokens) {
            Ok(args) => args,
            Err(error) => panic!("{error}"),
        };
        let mut errors = std::mem::take(&mut args.errors);
        let config = check(args, &mut errors);
        match (config, errors.into_error()) {
            (Some(config), None) => Ok(config),
            (None, Some(error)) => Err(error.into_iter().map(|e| e.to_string()).collect()),
            (Some(_), Some(error)) => panic!("a config despite {error}"),
            (None, None) => panic!("no config and no error"),
        }
    }

    /// Every error message of `#[jobs::task(<tokens>)]`, which must be wrong.
    pub(super) fn errors_of(tokens: proc_macro2::TokenStream) -> Vec<String> {
        match check_tokens(tokens) {
            Ok(_) => panic!("no error"),
            Err(errors) => errors,
        }
    }

    #[test]
    fn name_payload_and_timeout() {
        let config = check_tokens(quote!(name = "x", timeout = "30s", payload = P));
        let config = config.expect("valid");
        assert_eq!(config.name.as_deref(), Some("x"));
        assert_eq!(config.timeout, Some(30_000));
        assert_eq!(config.payload.map(|p| p.to_string()).as_deref(), Some("P"));
        assert_eq!(config.retry, Retry::Default);

        let config = check_tokens(quote!()).expect("valid");
        assert!(config.name.is_none() && config.payload.is_none() && config.timeout.is_none());
        assert!(config.queue.is_none());
    }

    #[test]
    fn queue_names() {
        let longest = format!("q{}", "-".repeat(63));
        for queue in ["webhooks", "a", "email-v2", "bulk_import", longest.as_str()] {
            let config = check_tokens(quote!(queue = #queue)).expect("valid");
            assert_eq!(config.queue.as_deref(), Some(queue));
        }
        let too_long = "q".repeat(65);
        for (queue, error) in [
            ("", "the queue name is empty"),
            (
                too_long.as_str(),
                "the queue name is 65 characters long; the limit is 64",
            ),
            (
                "Web Hooks",
                "the queue name \"Web Hooks\" contains 'W'; use only lowercase ASCII letters, \
                 digits, `-` and `_`, e.g. `queue = \"webhooks\"`",
            ),
            (
                "web hooks",
                "the queue name \"web hooks\" contains ' '; use only lowercase ASCII letters, \
                 digits, `-` and `_`, e.g. `queue = \"webhooks\"`",
            ),
            (
                "émails",
                "the queue name \"émails\" contains 'é'; use only lowercase ASCII letters, \
                 digits, `-` and `_`, e.g. `queue = \"webhooks\"`",
            ),
            (
                "1st",
                "the queue name \"1st\" must start with a lowercase ASCII letter",
            ),
            (
                "-q",
                "the queue name \"-q\" must start with a lowercase ASCII letter",
            ),
        ] {
            assert_eq!(errors_of(quote!(queue = #queue)), [error], "{queue:?}");
        }
    }

    #[test]
    fn name_length() {
        let wide = "é".repeat(200);
        assert!(check_tokens(quote!(name = #wide)).is_ok());
        let long = "x".repeat(201);
        let errors = errors_of(quote!(name = #long));
        assert_eq!(
            errors,
            ["the task name is 201 characters long; the limit is 200"]
        );
    }

    #[test]
    fn parse_errors_first_then_rules() {
        let errors = errors_of(quote!(name = "", name = "b", timeout = "0s"));
        assert_eq!(
            errors,
            [
                "duplicate key `name`; each key may appear once",
                "the task name is empty",
                "duration `0s` is zero; it must be at least 1ms",
            ]
        );
    }
}

//! Parsing the attribute's arguments:
//!
//! ```text
//! name = "notify-user", payload = NotifyUser, queue = "webhooks", timeout = "30s",
//! retry(attempts = 5, backoff = "exponential", initial_delay = "5s", max_delay = "300s",
//!       delays = ["10s", "30s"])
//! ```
//!
//! Only the shape is checked here; what the values mean is [`crate::valid`]'s job. Every
//! value keeps its token, so a later error can underline it. A bad entry does not stop
//! the parse: its error is recorded, the rest of the entry is skipped up to the next
//! comma, and parsing goes on, so every mistake is reported in one build.

use proc_macro2::{Span, TokenTree};
use syn::parse::{Lookahead1, Parse, ParseStream};
use syn::{Ident, LitInt, LitStr, Token, bracketed, parenthesized, token};

use crate::fallback::Errors;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(payload);
    syn::custom_keyword!(queue);
    syn::custom_keyword!(retry);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(attempts);
    syn::custom_keyword!(backoff);
    syn::custom_keyword!(initial_delay);
    syn::custom_keyword!(max_delay);
    syn::custom_keyword!(delays);
}

const KEYS: &[&str] = &["name", "payload", "queue", "retry", "timeout"];
const RETRY_KEYS: &[&str] = &[
    "attempts",
    "backoff",
    "initial_delay",
    "max_delay",
    "delays",
];

/// A value and the span of the key that introduced it.
pub(crate) struct Entry<T> {
    /// The key, where "duplicate" and "does not apply" errors point.
    pub(crate) key: Span,
    /// The value as written.
    pub(crate) value: T,
}

/// Everything inside `#[jobs::task(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<Entry<LitStr>>,
    pub(crate) payload: Option<Entry<Ident>>,
    pub(crate) queue: Option<Entry<LitStr>>,
    pub(crate) retry: Option<Entry<RetryArgs>>,
    pub(crate) timeout: Option<Entry<LitStr>>,
    /// What could not be parsed; the fields hold whatever could.
    pub(crate) errors: Errors,
}

/// Everything inside `retry(...)`.
#[derive(Default)]
pub(crate) struct RetryArgs {
    pub(crate) attempts: Option<Entry<LitInt>>,
    pub(crate) backoff: Option<Entry<LitStr>>,
    pub(crate) initial_delay: Option<Entry<LitStr>>,
    pub(crate) max_delay: Option<Entry<LitStr>>,
    pub(crate) delays: Option<Entry<Delays>>,
    /// Whether an entry failed to parse, so a key may be missing only because of a typo:
    /// rules about combinations of keys are then not checked, to avoid false errors.
    pub(crate) incomplete: bool,
}

/// `["10s", "30s", "2m"]`.
pub(crate) struct Delays {
    /// The brackets and everything inside them.
    pub(crate) span: Span,
    pub(crate) list: Vec<LitStr>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors = Errors::default();
        parse_entries(input, &mut errors, |input, errors| {
            args.parse_entry(input, errors)
        });
        args.errors = errors;
        Ok(args)
    }
}

impl Args {
    fn parse_entry(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::name) {
            let key = input.parse::<kw::name>()?.span;
            input.parse::<Token![=]>()?;
            let value = string(input, "a task name, e.g. `name = \"notify-user\"`")?;
            set(&mut self.name, "name", key, value, errors);
        } else if lookahead.peek(kw::payload) {
            let key = input.parse::<kw::payload>()?.span;
            input.parse::<Token![=]>()?;
            if !input.peek(Ident) {
                return Err(input.error("expected a struct name, e.g. `payload = NotifyUser`"));
            }
            let value = input.parse::<Ident>()?;
            set(&mut self.payload, "payload", key, value, errors);
        } else if lookahead.peek(kw::queue) {
            let key = input.parse::<kw::queue>()?.span;
            input.parse::<Token![=]>()?;
            let value = string(input, "a queue name, e.g. `queue = \"webhooks\"`")?;
            set(&mut self.queue, "queue", key, value, errors);
        } else if lookahead.peek(kw::retry) {
            let key = input.parse::<kw::retry>()?.span;
            if !input.peek(token::Paren) {
                return Err(input.error("expected `(` after `retry`, e.g. `retry(attempts = 5)`"));
            }
            let content;
            parenthesized!(content in input);
            let mut retry = RetryArgs::default();
            parse_entries(&content, errors, |input, errors| {
                let entry = retry.parse_entry(input, errors);
                retry.incomplete |= entry.is_err();
                entry
            });
            set(&mut self.retry, "retry", key, retry, errors);
        } else if lookahead.peek(kw::timeout) {
            let key = input.parse::<kw::timeout>()?.span;
            input.parse::<Token![=]>()?;
            let value = string(input, "a duration, e.g. `timeout = \"30s\"`")?;
            set(&mut self.timeout, "timeout", key, value, errors);
        } else {
            return Err(unknown_key(input, lookahead, "", KEYS));
        }
        Ok(())
    }
}

impl RetryArgs {
    fn parse_entry(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::attempts) {
            let key = input.parse::<kw::attempts>()?.span;
            input.parse::<Token![=]>()?;
            if !input.peek(LitInt) {
                return Err(input.error("expected a whole number, e.g. `attempts = 5`"));
            }
            let value = input.parse::<LitInt>()?;
            set(&mut self.attempts, "attempts", key, value, errors);
        } else if lookahead.peek(kw::backoff) {
            let key = input.parse::<kw::backoff>()?.span;
            input.parse::<Token![=]>()?;
            let value = string(input, "a backoff, e.g. `backoff = \"exponential\"`")?;
            set(&mut self.backoff, "backoff", key, value, errors);
        } else if lookahead.peek(kw::initial_delay) {
            let key = input.parse::<kw::initial_delay>()?.span;
            input.parse::<Token![=]>()?;
            let value = string(input, "a duration, e.g. `initial_delay = \"5s\"`")?;
            set(&mut self.initial_delay, "initial_delay", key, value, errors);
        } else if lookahead.peek(kw::max_delay) {
            let key = input.parse::<kw::max_delay>()?.span;
            input.parse::<Token![=]>()?;
            let value = string(input, "a duration, e.g. `max_delay = \"300s\"`")?;
            set(&mut self.max_delay, "max_delay", key, value, errors);
        } else if lookahead.peek(kw::delays) {
            let key = input.parse::<kw::delays>()?.span;
            input.parse::<Token![=]>()?;
            let value = delays(input)?;
            set(&mut self.delays, "delays", key, value, errors);
        } else {
            return Err(unknown_key(input, lookahead, "retry ", RETRY_KEYS));
        }
        Ok(())
    }
}

/// Parses `entry, entry, ...` (a trailing comma allowed), recording each entry's error
/// and carrying on after the next comma.
fn parse_entries(
    input: ParseStream<'_>,
    errors: &mut Errors,
    mut entry: impl FnMut(ParseStream<'_>, &mut Errors) -> syn::Result<()>,
) {
    while !input.is_empty() {
        if let Err(error) = entry(input, errors) {
            errors.push(error);
            skip_past_comma(input);
            continue;
        }
        if input.is_empty() {
            break;
        }
        if let Err(error) = input.parse::<Token![,]>() {
            errors.push(error);
            skip_past_comma(input);
        }
    }
}

/// Skips the rest of a bad entry, up to and including the next top-level comma.
fn skip_past_comma(input: ParseStream<'_>) {
    // A step that only ever succeeds; the `Result` is the parser's protocol.
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            rest = next;
            if matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
        }
        Ok(((), rest))
    });
}

/// Stores `value` in `slot`, or reports `key` as a duplicate.
fn set<T>(slot: &mut Option<Entry<T>>, name: &str, key: Span, value: T, errors: &mut Errors) {
    if slot.is_some() {
        errors.at(
            key,
            format!("duplicate key `{name}`; each key may appear once"),
        );
    } else {
        *slot = Some(Entry { key, value });
    }
}

/// A string literal, or an error saying what was `expected`.
fn string(input: ParseStream<'_>, expected: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        input.parse()
    } else {
        Err(input.error(format!("expected {expected}")))
    }
}

fn delays(input: ParseStream<'_>) -> syn::Result<Delays> {
    const EXAMPLE: &str = "e.g. `delays = [\"10s\", \"30s\", \"2m\"]`";
    if !input.peek(token::Bracket) {
        return Err(input.error(format!("expected a list of durations, {EXAMPLE}")));
    }
    let content;
    let brackets = bracketed!(content in input);
    let mut list = Vec::new();
    while !content.is_empty() {
        list.push(string(&content, &format!("a duration, {EXAMPLE}"))?);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Delays {
        span: brackets.span.join(),
        list,
    })
}

/// The error for a token that is not one of `keys`.
fn unknown_key(
    input: ParseStream<'_>,
    lookahead: Lookahead1<'_>,
    what: &str,
    keys: &[&str],
) -> syn::Error {
    let Some((ident, _)) = input.cursor().ident() else {
        return lookahead.error();
    };
    let expected = keys
        .iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = ident.to_string();
    let message = if what.is_empty() && RETRY_KEYS.contains(&text.as_str()) {
        format!("`{text}` belongs inside `retry(...)`, e.g. `retry({text} = ...)`")
    } else {
        format!("unknown {what}key `{text}`; expected one of {expected}")
    };
    syn::Error::new(ident.span(), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: proc_macro2::TokenStream) -> (Args, Vec<String>) {
        let mut args = match syn::parse2::<Args>(tokens) {
            Ok(args) => args,
            Err(error) => panic!("the parser itself failed: {error}"),
        };
        let errors = std::mem::take(&mut args.errors)
            .into_error()
            .into_iter()
            .flatten()
            .map(|e| e.to_string())
            .collect();
        (args, errors)
    }

    #[test]
    fn every_key() {
        let (args, errors) = parse(quote!(
            name = "n",
            payload = P,
            queue = "webhooks",
            timeout = "30s",
            retry(
                attempts = 5,
                backoff = "custom",
                initial_delay = "1s",
                max_delay = "2s",
                delays = ["10s", "30s",]
            ),
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.name.map(|e| e.value.value()).as_deref(), Some("n"));
        assert_eq!(
            args.payload.map(|e| e.value.to_string()).as_deref(),
            Some("P")
        );
        assert_eq!(
            args.queue.map(|e| e.value.value()).as_deref(),
            Some("webhooks")
        );
        assert_eq!(
            args.timeout.map(|e| e.value.value()).as_deref(),
            Some("30s")
        );
        let retry = args.retry.map(|e| e.value).unwrap_or_default();
        assert_eq!(
            retry.attempts.map(|e| e.value.to_string()).as_deref(),
            Some("5")
        );
        assert_eq!(
            retry.backoff.map(|e| e.value.value()).as_deref(),
            Some("custom")
        );
        let delays: Vec<String> = retry
            .delays
            .map(|e| e.value.list.iter().map(LitStr::value).collect())
            .unwrap_or_default();
        assert_eq!(delays, ["10s", "30s"]);
    }

    #[test]
    fn empty() {
        let (args, errors) = parse(quote!());
        assert!(errors.is_empty());
        assert!(args.name.is_none() && args.queue.is_none() && args.retry.is_none());
    }

    #[test]
    fn every_error_at_once() {
        let (args, errors) = parse(quote!(
            foo = 1,
            name = "a",
            name = "b",
            retry(atempts = 3, attempts = 2, attempts = 4),
            timeout = 30,
            queue = 5,
            queue = "a",
            queue = "b",
            payload = P
        ));
        assert_eq!(
            errors,
            [
                "unknown key `foo`; expected one of `name`, `payload`, `queue`, `retry`, \
                 `timeout`",
                "duplicate key `name`; each key may appear once",
                "unknown retry key `atempts`; expected one of `attempts`, `backoff`, \
                 `initial_delay`, `max_delay`, `delays`",
                "duplicate key `attempts`; each key may appear once",
                "expected a duration, e.g. `timeout = \"30s\"`",
                "expected a queue name, e.g. `queue = \"webhooks\"`",
                "duplicate key `queue`; each key may appear once",
            ]
        );
        // What could be parsed still was: the first value wins.
        assert_eq!(args.name.map(|e| e.value.value()).as_deref(), Some("a"));
        assert_eq!(args.queue.map(|e| e.value.value()).as_deref(), Some("a"));
        assert!(args.payload.is_some());
    }

    #[test]
    fn helpful_shapes() {
        let (_, errors) = parse(quote!(attempts = 3, retry = 3, retry(delays = "1s"), 5));
        assert_eq!(
            errors,
            [
                "`attempts` belongs inside `retry(...)`, e.g. `retry(attempts = ...)`",
                "expected `(` after `retry`, e.g. `retry(attempts = 5)`",
                "expected a list of durations, e.g. `delays = [\"10s\", \"30s\", \"2m\"]`",
                "expected one of: `name`, `payload`, `queue`, `retry`, `timeout`",
            ]
        );
    }

    #[test]
    fn missing_comma() {
        let (args, errors) = parse(quote!(name = "a" timeout = "1s", payload = P));
        assert_eq!(errors, ["expected `,`"]);
        assert!(args.payload.is_some());
    }
}

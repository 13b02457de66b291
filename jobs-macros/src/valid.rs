//! The rules for the arguments: what each value means and which combinations make sense.
//! Turns parsed [`Args`] into a [`Config`] with plain numbers, or reports every violation
//! on the token responsible for it.

use syn::{Ident, LitStr};

use crate::attr::{Args, Delays, Entry, RetryArgs};
use crate::duration::{self, Millis};
use crate::fallback::Errors;

/// The longest task name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// `attempts` when `retry(...)` does not say.
const DEFAULT_ATTEMPTS: u32 = 3;
/// `initial_delay` when an exponential or fixed backoff does not say.
const DEFAULT_INITIAL_MS: u64 = 5_000;
/// `max_delay` when an exponential backoff does not say (raised to `initial_delay`).
const DEFAULT_MAX_MS: u64 = 300_000;

/// The arguments, checked.
pub(crate) struct Config {
    /// The `name = "..."` override; the default depends on the fn.
    pub(crate) name: Option<String>,
    /// The `payload = Ident` override.
    pub(crate) payload: Option<Ident>,
    pub(crate) retry: Retry,
    /// Milliseconds per attempt.
    pub(crate) timeout: Option<u64>,
}

/// The retry policy, in milliseconds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// No `retry(...)`: `RetryPolicy::DEFAULT`.
    Default,
    Exponential { attempts: u32, initial: u64, max: u64 },
    Fixed { attempts: u32, delay: u64 },
    Custom { attempts: u32, delays: Vec<u64> },
}

#[derive(Clone, Copy)]
enum Kind {
    Exponential,
    Fixed,
    Custom,
}

/// Checks `args`; `None` when something was wrong, after reporting it.
pub(crate) fn check(args: Args, errors: &mut Errors) -> Option<Config> {
    let mut local = Errors::default();
    let name = args.name.map(|entry| name(&entry.value, &mut local));
    let retry = match &args.retry {
        Some(entry) => retry(&entry.value, &mut local),
        None => Some(Retry::Default),
    };
    let timeout = args.timeout.map(|entry| millis(&entry.value, &mut local));
    let ok = local.is_empty();
    errors.append(local);
    Some(Config {
        name: name.flatten(),
        payload: args.payload.map(|entry| entry.value),
        retry: retry?,
        timeout: timeout.flatten(),
    })
    .filter(|_| ok)
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

fn millis(lit: &LitStr, errors: &mut Errors) -> Option<u64> {
    let text = lit.value();
    duration::parse_millis(&text)
        .map_err(|error| errors.at(lit.span(), error.message(&text)))
        .ok()
}

fn retry(args: &RetryArgs, errors: &mut Errors) -> Option<Retry> {
    let mut local = Errors::default();
    let attempts = match &args.attempts {
        Some(entry) => attempts(entry, &mut local),
        None => Some(DEFAULT_ATTEMPTS),
    };
    let kind = match &args.backoff {
        Some(entry) => kind(&entry.value, &mut local),
        None => Some(Kind::Exponential),
    };
    let initial = args
        .initial_delay
        .as_ref()
        .map(|entry| millis(&entry.value, &mut local));
    let max = args
        .max_delay
        .as_ref()
        .map(|entry| millis(&entry.value, &mut local));
    let delays = args
        .delays
        .as_ref()
        .map(|entry| delays(&entry.value, &mut local));

    // Which keys go with which backoff; unknown backoffs were reported above.
    let retry = kind.and_then(|kind| match kind {
        Kind::Exponential => {
            only_custom(args.delays.as_ref(), &mut local);
            let initial_ms = initial.unwrap_or(Some(DEFAULT_INITIAL_MS))?;
            let max_ms = match (&args.max_delay, max) {
                (Some(entry), Some(max_ms)) => {
                    if max_ms? < initial_ms {
                        let shown = match &args.initial_delay {
                            Some(_) => format!("`initial_delay` ({})", Millis(initial_ms)),
                            None => format!("the default `initial_delay` ({})", Millis(initial_ms)),
                        };
                        local.at(
                            entry.value.span(),
                            format!(
                                "`max_delay` ({}) is shorter than {shown}",
                                entry.value.value()
                            ),
                        );
                        return None;
                    }
                    max_ms?
                }
                _ => DEFAULT_MAX_MS.max(initial_ms),
            };
            Some(Retry::Exponential {
                attempts: attempts?,
                initial: initial_ms,
                max: max_ms,
            })
        }
        Kind::Fixed => {
            only_custom(args.delays.as_ref(), &mut local);
            only_exponential(args.max_delay.as_ref(), "fixed", &mut local);
            Some(Retry::Fixed {
                attempts: attempts?,
                delay: initial.unwrap_or(Some(DEFAULT_INITIAL_MS))?,
            })
        }
        Kind::Custom => {
            if let Some(entry) = &args.initial_delay {
                local.at(
                    entry.key,
                    "`initial_delay` does not apply to `backoff = \"custom\"`; \
                     the first wait is the first of `delays`",
                );
            }
            only_exponential(args.max_delay.as_ref(), "custom", &mut local);
            let Some(delays) = delays else {
                if let Some(backoff) = &args.backoff {
                    local.at(
                        backoff.value.span(),
                        "`backoff = \"custom\"` needs the list of waits, \
                         e.g. `delays = [\"10s\", \"30s\", \"2m\"]`",
                    );
                }
                return None;
            };
            Some(Retry::Custom {
                attempts: attempts?,
                delays: delays?,
            })
        }
    });
    let ok = local.is_empty();
    errors.append(local);
    retry.filter(|_| ok)
}

fn attempts(entry: &Entry<syn::LitInt>, errors: &mut Errors) -> Option<u32> {
    let lit = &entry.value;
    match lit.base10_parse::<u32>() {
        Ok(0) => {
            errors.at(
                lit.span(),
                "`attempts` must be at least 1; it counts every attempt, the first included",
            );
            None
        }
        Ok(attempts) => Some(attempts),
        Err(_) => {
            errors.at(
                lit.span(),
                format!("`attempts` must be a whole number from 1 to {}", u32::MAX),
            );
            None
        }
    }
}

fn kind(lit: &LitStr, errors: &mut Errors) -> Option<Kind> {
    match lit.value().as_str() {
        "exponential" => Some(Kind::Exponential),
        "fixed" => Some(Kind::Fixed),
        "custom" => Some(Kind::Custom),
        other => {
            errors.at(
                lit.span(),
                format!(
                    "unknown backoff `{other}`; expected one of \
                     \"exponential\", \"fixed\", \"custom\""
                ),
            );
            None
        }
    }
}

fn delays(delays: &Delays, errors: &mut Errors) -> Option<Vec<u64>> {
    if delays.list.is_empty() {
        errors.at(
            delays.span,
            "`delays` is empty; list at least one wait, e.g. `delays = [\"10s\", \"30s\"]`",
        );
        return None;
    }
    let parsed: Vec<Option<u64>> = delays.list.iter().map(|lit| millis(lit, errors)).collect();
    parsed.into_iter().collect()
}

/// Reports `delays` given without `backoff = "custom"`.
fn only_custom(delays: Option<&Entry<Delays>>, errors: &mut Errors) {
    if let Some(entry) = delays {
        errors.at(entry.key, "`delays` needs `backoff = \"custom\"`");
    }
}

/// Reports `max_delay` given with a backoff other than exponential.
fn only_exponential(max: Option<&Entry<LitStr>>, backoff: &str, errors: &mut Errors) {
    if let Some(entry) = max {
        let hint = match backoff {
            "fixed" => "a fixed backoff waits `initial_delay` before every retry",
            _ => "the waits are the `delays`",
        };
        errors.at(
            entry.key,
            format!(
                "`max_delay` does not apply to `backoff = \"{backoff}\"`, only to \
                 \"exponential\"; {hint}"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn check_tokens(tokens: proc_macro2::TokenStream) -> Result<Config, Vec<String>> {
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

    fn retry_of(tokens: proc_macro2::TokenStream) -> Retry {
        match check_tokens(tokens) {
            Ok(config) => config.retry,
            Err(errors) => panic!("{errors:?}"),
        }
    }

    fn errors_of(tokens: proc_macro2::TokenStream) -> Vec<String> {
        match check_tokens(tokens) {
            Ok(_) => panic!("no error"),
            Err(errors) => errors,
        }
    }

    #[test]
    fn retry_forms() {
        assert_eq!(retry_of(quote!()), Retry::Default);
        let exponential = |attempts, initial, max| Retry::Exponential {
            attempts,
            initial,
            max,
        };
        assert_eq!(
            retry_of(quote!(retry(attempts = 3))),
            exponential(3, 5_000, 300_000)
        );
        assert_eq!(retry_of(quote!(retry())), exponential(3, 5_000, 300_000));
        assert_eq!(
            retry_of(quote!(retry(attempts = 5, backoff = "exponential", initial_delay = "1s", max_delay = "1m"))),
            exponential(5, 1_000, 60_000)
        );
        assert_eq!(
            retry_of(quote!(retry(initial_delay = "10m"))),
            exponential(3, 600_000, 600_000)
        );
        assert_eq!(
            retry_of(quote!(retry(max_delay = "5s"))),
            exponential(3, 5_000, 5_000)
        );
        assert_eq!(
            retry_of(quote!(retry(backoff = "fixed", attempts = 4, initial_delay = "1m"))),
            Retry::Fixed {
                attempts: 4,
                delay: 60_000
            }
        );
        assert_eq!(
            retry_of(quote!(retry(backoff = "fixed"))),
            Retry::Fixed {
                attempts: 3,
                delay: 5_000
            }
        );
        assert_eq!(
            retry_of(quote!(retry(backoff = "custom", delays = ["10s", "2m", "1h"]))),
            Retry::Custom {
                attempts: 3,
                delays: vec![10_000, 120_000, 3_600_000]
            }
        );
    }

    #[test]
    fn name_and_timeout() {
        let config = check_tokens(quote!(name = "x", timeout = "30s", payload = P));
        let config = config.expect("valid");
        assert_eq!(config.name.as_deref(), Some("x"));
        assert_eq!(config.timeout, Some(30_000));
        assert!(config.payload.is_some());
        let long = "x".repeat(201);
        let errors = errors_of(quote!(name = "", name = #long));
        // Parse errors come first, then the rules.
        assert_eq!(
            errors,
            [
                "duplicate key `name`; each key may appear once",
                "the task name is empty"
            ]
        );
        let errors = errors_of(quote!(name = #long));
        assert_eq!(errors, ["the task name is 201 characters long; the limit is 200"]);
        let wide = "é".repeat(200);
        assert!(check_tokens(quote!(name = #wide)).is_ok());
    }

    #[test]
    fn every_rule() {
        let errors = errors_of(quote!(
            timeout = "0s",
            retry(attempts = 0, backoff = "expo", initial_delay = "5 sec")
        ));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("`attempts` must be at least 1"), "{errors:?}");
        assert!(errors[1].starts_with("unknown backoff `expo`"));
        assert!(errors[2].starts_with("invalid duration `5 sec`"));
        assert!(errors[3].starts_with("duration `0s` is zero"));

        let errors = errors_of(quote!(retry(backoff = "custom", initial_delay = "1s", max_delay = "2s")));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("`initial_delay` does not apply"));
        assert!(errors[1].starts_with("`max_delay` does not apply to `backoff = \"custom\"`"));
        assert!(errors[2].starts_with("`backoff = \"custom\"` needs the list"));

        let errors = errors_of(quote!(retry(backoff = "fixed", max_delay = "2s", delays = ["1s"])));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("`delays` needs `backoff = \"custom\"`"));
        assert!(errors[1].starts_with("`max_delay` does not apply to `backoff = \"fixed\"`"));

        let errors = errors_of(quote!(retry(delays = ["1s"])));
        assert_eq!(errors, ["`delays` needs `backoff = \"custom\"`"]);

        let errors = errors_of(quote!(retry(initial_delay = "1m", max_delay = "30s")));
        assert_eq!(errors, ["`max_delay` (30s) is shorter than `initial_delay` (1m)"]);
        let errors = errors_of(quote!(retry(max_delay = "1s")));
        assert_eq!(errors, ["`max_delay` (1s) is shorter than the default `initial_delay` (5s)"]);

        let errors = errors_of(quote!(retry(backoff = "custom", delays = [])));
        assert!(errors[0].starts_with("`delays` is empty"), "{errors:?}");
        let errors = errors_of(quote!(retry(backoff = "custom", delays = ["1s", "x", "0ms"])));
        assert_eq!(errors.len(), 2, "{errors:?}");

        let errors = errors_of(quote!(retry(attempts = 5000000000)));
        assert!(errors[0].starts_with("`attempts` must be a whole number"), "{errors:?}");
    }
}

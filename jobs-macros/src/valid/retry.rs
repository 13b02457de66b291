//! The rules of `retry(...)`: defaults, and which keys go with which backoff.

use syn::{LitInt, LitStr};

use super::millis;
use crate::attr::{Delays, Entry, RetryArgs};
use crate::duration::Millis;
use crate::fallback::Errors;

/// `attempts` when `retry(...)` does not say.
const DEFAULT_ATTEMPTS: u32 = 3;
/// `initial_delay` when an exponential or fixed backoff does not say.
const DEFAULT_INITIAL_MS: u64 = 5_000;
/// `max_delay` when an exponential backoff does not say (raised to `initial_delay`).
const DEFAULT_MAX_MS: u64 = 300_000;

/// The retry policy, in milliseconds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// No `retry(...)`: `RetryPolicy::DEFAULT`.
    Default,
    Exponential {
        attempts: u32,
        initial: u64,
        max: u64,
    },
    Fixed {
        attempts: u32,
        delay: u64,
    },
    Custom {
        attempts: u32,
        delays: Vec<u64>,
    },
}

#[derive(Clone, Copy)]
enum Kind {
    Exponential,
    Fixed,
    Custom,
}

/// Each value of `retry(...)` on its own, parsed; `None` where it was wrong (and reported).
struct Values {
    attempts: Option<u32>,
    initial: Option<Option<u64>>,
    max: Option<Option<u64>>,
    delays: Option<Option<Vec<u64>>>,
}

/// Checks `retry(...)`; `None` when something was wrong, after reporting it.
pub(super) fn check(args: &RetryArgs, errors: &mut Errors) -> Option<Retry> {
    let mut local = Errors::default();
    let attempts = match &args.attempts {
        Some(entry) => attempts(&entry.value, &mut local),
        None => Some(DEFAULT_ATTEMPTS),
    };
    let kind = match &args.backoff {
        Some(entry) => kind(&entry.value, &mut local),
        None => Some(Kind::Exponential),
    };
    let duration = |entry: &Entry<LitStr>, errors: &mut Errors| millis(&entry.value, errors);
    let values = Values {
        attempts,
        initial: args.initial_delay.as_ref().map(|e| duration(e, &mut local)),
        max: args.max_delay.as_ref().map(|e| duration(e, &mut local)),
        delays: args.delays.as_ref().map(|e| delays(&e.value, &mut local)),
    };
    // The rules on combinations need a known backoff (an unknown one was reported) and
    // every key (one that did not parse may be just the one that seems missing).
    let retry = match kind.filter(|_| !args.incomplete) {
        Some(Kind::Exponential) => exponential(args, values, &mut local),
        Some(Kind::Fixed) => fixed(args, values, &mut local),
        Some(Kind::Custom) => custom(args, values, &mut local),
        None => None,
    };
    if !local.is_empty() {
        errors.append(local);
        return None;
    }
    retry
}

fn exponential(args: &RetryArgs, values: Values, errors: &mut Errors) -> Option<Retry> {
    only_custom(args.delays.as_ref(), errors);
    let initial = values.initial.unwrap_or(Some(DEFAULT_INITIAL_MS))?;
    let max = match (&args.max_delay, values.max) {
        (Some(entry), Some(Some(max))) if max < initial => {
            let initial = match &args.initial_delay {
                Some(_) => format!("`initial_delay` ({})", Millis(initial)),
                None => format!("the default `initial_delay` ({})", Millis(initial)),
            };
            let max = entry.value.value();
            errors.at(
                entry.value.span(),
                format!("`max_delay` ({max}) is shorter than {initial}"),
            );
            return None;
        }
        (_, Some(max)) => max?,
        (_, None) => DEFAULT_MAX_MS.max(initial),
    };
    Some(Retry::Exponential {
        attempts: values.attempts?,
        initial,
        max,
    })
}

fn fixed(args: &RetryArgs, values: Values, errors: &mut Errors) -> Option<Retry> {
    only_custom(args.delays.as_ref(), errors);
    only_exponential(args.max_delay.as_ref(), "fixed", errors);
    Some(Retry::Fixed {
        attempts: values.attempts?,
        delay: values.initial.unwrap_or(Some(DEFAULT_INITIAL_MS))?,
    })
}

fn custom(args: &RetryArgs, values: Values, errors: &mut Errors) -> Option<Retry> {
    if let Some(entry) = &args.initial_delay {
        errors.at(
            entry.key,
            "`initial_delay` does not apply to `backoff = \"custom\"`; \
             the first wait is the first of `delays`",
        );
    }
    only_exponential(args.max_delay.as_ref(), "custom", errors);
    let Some(delays) = values.delays else {
        if let Some(backoff) = &args.backoff {
            errors.at(
                backoff.value.span(),
                "`backoff = \"custom\"` needs the list of waits, \
                 e.g. `delays = [\"10s\", \"30s\", \"2m\"]`",
            );
        }
        return None;
    };
    Some(Retry::Custom {
        attempts: values.attempts?,
        delays: delays?,
    })
}

fn attempts(lit: &LitInt, errors: &mut Errors) -> Option<u32> {
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
    // Every element is checked, so each bad one is reported.
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
    use crate::valid::tests::{check_tokens, errors_of};
    use quote::quote;

    fn retry_of(tokens: proc_macro2::TokenStream) -> Retry {
        match check_tokens(tokens) {
            Ok(config) => config.retry,
            Err(errors) => panic!("{errors:?}"),
        }
    }

    fn exponential(attempts: u32, initial: u64, max: u64) -> Retry {
        Retry::Exponential {
            attempts,
            initial,
            max,
        }
    }

    #[test]
    fn exponential_and_its_defaults() {
        assert_eq!(retry_of(quote!()), Retry::Default);
        let default = exponential(3, 5_000, 300_000);
        assert_eq!(retry_of(quote!(retry(attempts = 3))), default);
        assert_eq!(retry_of(quote!(retry())), default);
        assert_eq!(
            retry_of(quote!(retry(
                attempts = 5,
                backoff = "exponential",
                initial_delay = "1s",
                max_delay = "1m"
            ))),
            exponential(5, 1_000, 60_000)
        );
        // An initial wait above the default maximum raises the maximum.
        assert_eq!(
            retry_of(quote!(retry(initial_delay = "10m"))),
            exponential(3, 600_000, 600_000)
        );
        assert_eq!(
            retry_of(quote!(retry(max_delay = "5s"))),
            exponential(3, 5_000, 5_000)
        );
    }

    #[test]
    fn fixed_and_custom() {
        assert_eq!(
            retry_of(quote!(retry(
                backoff = "fixed",
                attempts = 4,
                initial_delay = "1m"
            ))),
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
            retry_of(quote!(retry(
                backoff = "custom",
                delays = ["10s", "2m", "1h"]
            ))),
            Retry::Custom {
                attempts: 3,
                delays: vec![10_000, 120_000, 3_600_000]
            }
        );
    }

    #[test]
    fn values() {
        let errors = errors_of(quote!(retry(
            attempts = 0,
            backoff = "expo",
            initial_delay = "5 sec"
        )));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("`attempts` must be at least 1"));
        assert!(errors[1].starts_with("unknown backoff `expo`"));
        assert!(errors[2].starts_with("invalid duration `5 sec`"));

        let errors = errors_of(quote!(retry(attempts = 5000000000)));
        assert!(errors[0].starts_with("`attempts` must be a whole number"));

        let errors = errors_of(quote!(retry(backoff = "custom", delays = [])));
        assert!(errors[0].starts_with("`delays` is empty"), "{errors:?}");
        let errors = errors_of(quote!(retry(
            backoff = "custom",
            delays = ["1s", "x", "0ms"]
        )));
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn combinations() {
        let errors = errors_of(quote!(retry(
            backoff = "custom",
            initial_delay = "1s",
            max_delay = "2s"
        )));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("`initial_delay` does not apply"));
        assert!(errors[1].starts_with("`max_delay` does not apply to `backoff = \"custom\"`"));
        assert!(errors[2].starts_with("`backoff = \"custom\"` needs the list"));

        let errors = errors_of(quote!(retry(
            backoff = "fixed",
            max_delay = "2s",
            delays = ["1s"]
        )));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("`delays` needs `backoff = \"custom\"`"));
        assert!(errors[1].starts_with("`max_delay` does not apply to `backoff = \"fixed\"`"));

        let errors = errors_of(quote!(retry(delays = ["1s"])));
        assert_eq!(errors, ["`delays` needs `backoff = \"custom\"`"]);

        let errors = errors_of(quote!(retry(initial_delay = "1m", max_delay = "30s")));
        assert_eq!(
            errors,
            ["`max_delay` (30s) is shorter than `initial_delay` (1m)"]
        );
        let errors = errors_of(quote!(retry(max_delay = "1s")));
        assert_eq!(
            errors,
            ["`max_delay` (1s) is shorter than the default `initial_delay` (5s)"]
        );
    }

    #[test]
    fn no_combination_rules_when_a_key_did_not_parse() {
        // `delays` is there but malformed: "custom needs delays" would be a false error.
        let errors = errors_of(quote!(retry(
            backoff = "custom",
            delays = "1s",
            max_delay = "0s"
        )));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("expected a list of durations"));
        assert!(errors[1].starts_with("duration `0s` is zero"));
    }
}

//! Retry policies: how many attempts a run gets and how long it waits between them.
//!
//! The math is a pure function of the failure number (the run's failed attempts;
//! snoozes and hand-backs are not failures), so the runtime, the tests and the
//! documentation all agree on it. Storage never computes backoff: the worker asks
//! the policy for a delay and hands storage the resulting time.

use std::borrow::Cow;
use std::time::Duration;

/// How many attempts a run gets and how long it waits before each retry.
///
/// `attempts` counts every attempt that may fail, the first included: `attempts = 1`
/// means no retry. Attempts that snoozed or were handed back at a shutdown are not
/// failures and use none of it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use jobs::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::exponential(5, Duration::from_secs(5), Duration::from_secs(300));
/// assert_eq!(policy.delay_after(1), Some(Duration::from_secs(5)));
/// assert_eq!(policy.delay_after(2), Some(Duration::from_secs(10)));
/// assert_eq!(policy.delay_after(5), None); // attempts spent: dead-letter
/// assert!(matches!(policy.backoff, Backoff::Exponential { .. }));
/// ```
///
/// `#[non_exhaustive]` (a policy may gain options, such as jitter): build it with its
/// constructors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Every attempt a run may fail, the first included. At least 1.
    pub attempts: u32,
    /// How the wait before each retry is chosen.
    pub backoff: Backoff,
}

/// The wait before each retry. `#[non_exhaustive]`: more shapes may come.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backoff {
    /// `initial`, then doubling after each failed attempt, never above `max`.
    Exponential {
        /// The wait after the first failed attempt.
        initial: Duration,
        /// The longest wait.
        max: Duration,
    },
    /// The same wait before every retry.
    Fixed(Duration),
    /// The wait before retry `n` is `delays[n - 1]`; the last delay repeats when
    /// attempts outnumber delays.
    Custom(Cow<'static, [Duration]>),
}

impl RetryPolicy {
    /// The policy of a task whose attribute names no `retry(...)`: 3 attempts, waiting
    /// 5 s and then 10 s (exponential from 5 s, capped at 5 minutes).
    pub const DEFAULT: RetryPolicy =
        RetryPolicy::exponential(3, Duration::from_secs(5), Duration::from_secs(300));

    /// Exponential backoff: `initial`, `2 * initial`, `4 * initial`, ... capped at `max`.
    pub const fn exponential(attempts: u32, initial: Duration, max: Duration) -> Self {
        RetryPolicy {
            attempts,
            backoff: Backoff::Exponential { initial, max },
        }
    }

    /// The same wait before every retry.
    pub const fn fixed(attempts: u32, delay: Duration) -> Self {
        RetryPolicy {
            attempts,
            backoff: Backoff::Fixed(delay),
        }
    }

    /// The waits a provider asks for, in order; the last one repeats.
    pub const fn custom(attempts: u32, delays: &'static [Duration]) -> Self {
        RetryPolicy {
            attempts,
            backoff: Backoff::Custom(Cow::Borrowed(delays)),
        }
    }

    /// The wait before the next attempt after the run's failure number `attempt`
    /// (1-based: its first failed attempt is 1, whatever attempts snoozed or were handed
    /// back in between), or `None` when that failure spends the budget and the run is to
    /// be dead-lettered.
    ///
    /// Never panics and never overflows, whatever the number.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.attempts.max(1) {
            return None;
        }
        Some(self.backoff.delay(attempt.max(1)))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1-based), whether or not attempts remain.
    pub fn delay(&self, attempt: u32) -> Duration {
        let n = attempt.max(1);
        match self {
            Backoff::Exponential { initial, max } => {
                // 2^(n-1) saturates long before u32 exponents can overflow anything.
                let factor = 1u32.checked_shl(n - 1).filter(|f| *f != 0);
                let delay = match factor {
                    Some(f) => initial.checked_mul(f).unwrap_or(Duration::MAX),
                    None => Duration::MAX,
                };
                delay.min(*max)
            }
            Backoff::Fixed(delay) => *delay,
            Backoff::Custom(delays) => {
                let index = usize::try_from(n - 1).unwrap_or(usize::MAX);
                match delays.get(index).or_else(|| delays.last()) {
                    Some(delay) => *delay,
                    None => Duration::ZERO,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn exponential_doubles_and_caps() {
        let p = RetryPolicy::exponential(10, S(5), S(300));
        let delays: Vec<_> = (1..10).map(|n| p.delay_after(n)).collect();
        assert_eq!(
            delays,
            [5, 10, 20, 40, 80, 160, 300, 300, 300].map(|s| Some(S(s)))
        );
        assert_eq!(p.delay_after(10), None);
    }

    #[test]
    fn exponential_never_overflows() {
        let p = RetryPolicy::exponential(u32::MAX, S(5), S(900));
        for n in [31, 32, 33, 64, 1000, u32::MAX - 1] {
            assert_eq!(p.delay_after(n), Some(S(900)), "attempt {n}");
        }
        assert_eq!(p.delay_after(u32::MAX), None);
    }

    #[test]
    fn fixed_is_constant() {
        let p = RetryPolicy::fixed(4, S(60));
        assert_eq!(p.delay_after(1), Some(S(60)));
        assert_eq!(p.delay_after(3), Some(S(60)));
        assert_eq!(p.delay_after(4), None);
    }

    #[test]
    fn custom_follows_list_and_repeats_last() {
        static DELAYS: [Duration; 3] = [S_10, S_30, S_120];
        const S_10: Duration = Duration::from_secs(10);
        const S_30: Duration = Duration::from_secs(30);
        const S_120: Duration = Duration::from_secs(120);
        let p = RetryPolicy::custom(6, &DELAYS);
        let delays: Vec<_> = (1..=6).map(|n| p.delay_after(n)).collect();
        assert_eq!(
            delays,
            vec![
                Some(S(10)),
                Some(S(30)),
                Some(S(120)),
                Some(S(120)),
                Some(S(120)),
                None
            ]
        );
    }

    #[test]
    fn one_attempt_never_retries() {
        assert_eq!(RetryPolicy::fixed(1, S(1)).delay_after(1), None);
        assert_eq!(RetryPolicy::fixed(0, S(1)).delay_after(1), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn millis() -> impl Strategy<Value = Duration> {
        (1u64..=86_400_000).prop_map(Duration::from_millis)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Exponential delays never decrease, never exceed `max_delay`, and never panic or
        /// overflow, for any attempt number.
        #[test]
        fn exponential_is_monotonic_and_capped(
            initial in millis(),
            max in millis(),
            attempts in 1u32..=u32::MAX,
            probe in 1u32..=u32::MAX,
        ) {
            let max = max.max(initial);
            let policy = RetryPolicy::exponential(attempts, initial, max);
            for n in [1, 2, 3, 10, 31, 32, 33, 63, 64, 65, probe.saturating_sub(1).max(1), probe] {
                let delay = policy.backoff.delay(n);
                prop_assert!(delay <= max, "attempt {n}: {delay:?} > {max:?}");
                prop_assert!(delay >= initial.min(max));
                if n > 1 {
                    prop_assert!(delay >= policy.backoff.delay(n - 1), "decreased at {n}");
                }
            }
            prop_assert_eq!(policy.delay_after(attempts), None);
            if attempts > 1 {
                prop_assert_eq!(policy.delay_after(1), Some(initial));
            }
        }

        /// Custom delays are the list exactly, then its last entry; `None` once spent.
        #[test]
        fn custom_matches_the_list(
            delays in proptest::collection::vec(millis(), 1..12),
            attempts in 1u32..40,
        ) {
            let policy = RetryPolicy {
                attempts,
                backoff: Backoff::Custom(delays.clone().into()),
            };
            for n in 1..attempts {
                let expected = delays.get(n as usize - 1).or(delays.last()).copied();
                prop_assert_eq!(policy.delay_after(n), expected);
            }
            prop_assert_eq!(policy.delay_after(attempts), None);
            prop_assert_eq!(policy.delay_after(u32::MAX), None);
        }

        /// Fixed delays are constant; every policy stops at its attempts.
        #[test]
        fn fixed_is_constant(delay in millis(), attempts in 1u32..1000, n in 1u32..1000) {
            let policy = RetryPolicy::fixed(attempts, delay);
            let expected = (n < attempts).then_some(delay);
            prop_assert_eq!(policy.delay_after(n), expected);
        }
    }
}

//! Durations as the attribute writes them: `"500ms"`, `"30s"`, `"2m"`, `"1h"`, `"6h"`,
//! `"1d"`: a whole number and one unit, nothing else.

use std::fmt;

/// Why a duration string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not a whole number followed by a known unit.
    Malformed,
    /// A wait of nothing at all.
    Zero,
    /// More milliseconds than a `u64` holds.
    TooLarge,
}

/// What a duration looks like, for error messages.
pub(crate) const FORM: &str = "a whole number followed by `ms`, `s`, `m`, `h` or `d`, \
                               e.g. \"500ms\", \"30s\", \"2m\", \"1h\"";

impl DurationError {
    /// The error message for `text`.
    pub(crate) fn message(self, text: &str) -> String {
        match self {
            DurationError::Malformed => format!("invalid duration `{text}`: expected {FORM}"),
            DurationError::Zero => format!("duration `{text}` is zero; it must be at least 1ms"),
            DurationError::TooLarge => format!("duration `{text}` is too large"),
        }
    }
}

/// The milliseconds in `text`.
pub(crate) fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(DurationError::Malformed),
    };
    if number.is_empty() {
        return Err(DurationError::Malformed);
    }
    // All ASCII digits, so the only way to fail is overflow.
    let number: u64 = number.parse().map_err(|_| DurationError::TooLarge)?;
    let millis = number
        .checked_mul(per_unit)
        .ok_or(DurationError::TooLarge)?;
    if millis == 0 {
        return Err(DurationError::Zero);
    }
    Ok(millis)
}

/// Milliseconds written back in the largest unit that divides them, for messages.
pub(crate) struct Millis(pub(crate) u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        for (per_unit, unit) in units {
            if self.0 != 0 && self.0 % per_unit == 0 {
                return write!(f, "{}{unit}", self.0 / per_unit);
            }
        }
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit() {
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("5s"), Ok(5_000));
        assert_eq!(parse_millis("2m"), Ok(120_000));
        assert_eq!(parse_millis("1h"), Ok(3_600_000));
        assert_eq!(parse_millis("6h"), Ok(21_600_000));
        assert_eq!(parse_millis("1d"), Ok(86_400_000));
        assert_eq!(parse_millis("300s"), Ok(300_000));
        assert_eq!(parse_millis("007s"), Ok(7_000));
    }

    #[test]
    fn malformed() {
        for text in [
            "", "5", "s", "ms", "5 s", " 5s", "5s ", "5sec", "5S", "1.5s", "-5s", "+5s", "1h30m",
            "5ss", "5mss", "٣s", "5_000ms",
        ] {
            assert_eq!(
                parse_millis(text),
                Err(DurationError::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn zero() {
        for text in ["0ms", "0s", "00m", "0d"] {
            assert_eq!(parse_millis(text), Err(DurationError::Zero), "{text:?}");
        }
    }

    #[test]
    fn overflow_is_checked() {
        assert_eq!(parse_millis("18446744073709551615ms"), Ok(u64::MAX));
        assert_eq!(
            parse_millis("18446744073709551616ms"),
            Err(DurationError::TooLarge)
        );
        assert_eq!(
            parse_millis("18446744073709551615s"),
            Err(DurationError::TooLarge)
        );
        assert_eq!(
            parse_millis("213503982334602d"),
            Err(DurationError::TooLarge)
        );
        assert_eq!(
            parse_millis("213503982334d"),
            Ok(213_503_982_334 * 86_400_000)
        );
    }

    #[test]
    fn messages() {
        let malformed = DurationError::Malformed.message("5 sec");
        assert!(
            malformed.starts_with("invalid duration `5 sec`"),
            "{malformed}"
        );
        assert!(malformed.contains("\"500ms\""), "{malformed}");
        assert!(DurationError::Zero.message("0s").contains("zero"));
    }

    #[test]
    fn display_picks_the_largest_unit() {
        let shown: Vec<String> = [1, 500, 1_000, 90_000, 120_000, 3_600_000, 86_400_000, 0]
            .map(|ms| Millis(ms).to_string())
            .into();
        assert_eq!(
            shown,
            ["1ms", "500ms", "1s", "90s", "2m", "1h", "1d", "0ms"]
        );
    }
}

//! How results are printed: aligned tables and short values for people, JSON for scripts.
//!
//! Commands build their whole stdout as a `String` with these helpers and `main` writes it
//! once, so a closed pipe (`jobs runs list | head`) is never a panic.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;

use crate::exit::{CliError, Kind};

/// What a command prints on stdout.
pub(crate) type Output = String;

/// `value` as pretty JSON and a newline.
///
/// # Errors
///
/// A value that does not serialize (never, for the library's types).
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<Output, CliError> {
    serde_json::to_string_pretty(value)
        .map(|mut text| {
            text.push('\n');
            text
        })
        .map_err(|e| CliError::new(Kind::Failure, format!("could not write JSON: {e}")))
}

/// A table with a header row: columns padded to their widest cell and separated by two
/// spaces, the columns listed in `right` (numbers) aligned right, the last column not
/// padded when it is aligned left. Widths count characters, not bytes.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().take(columns).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            if right.contains(&i) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if i + 1 < columns {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Aligned `key: value` lines, keys padded to the longest; the further lines of a
/// multi-line value are indented under its first.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let indent = " ".repeat(width + 2);
    let mut out = String::new();
    for (key, value) in pairs {
        let value = value
            .lines()
            .collect::<Vec<_>>()
            .join(&format!("\n{indent}"));
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{:<width$}  {value}", format!("{key}:"));
    }
    out
}

/// A time as RFC 3339 in UTC, to the second: `2026-11-29T10:15:30Z`.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An optional time, `-` when absent.
pub(crate) fn maybe_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), time)
}

/// A duration, short: `850ms`, `12.3s`, `4m05s`, `2h03m`.
pub(crate) fn duration(delta: TimeDelta) -> String {
    let ms = delta.num_milliseconds().max(0);
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// The first line of `text`, cut to `max` characters with `…` when longer.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or("");
    let cut = text.lines().nth(1).is_some();
    if first.chars().count() > max {
        let mut short: String = first.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    } else if cut {
        format!("{first} …")
    } else {
        first.to_owned()
    }
}

/// Text or `-` when absent.
pub(crate) fn or_dash(text: Option<&str>) -> String {
    text.map_or_else(|| "-".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let text = table(
            &["ID", "STATUS", "N", "ERROR"],
            &[
                vec!["a".into(), "queued".into(), "7".into(), "-".into()],
                vec![
                    "bbbb".into(),
                    "dead_lettered".into(),
                    "12".into(),
                    "boom".into(),
                ],
            ],
            &[2],
        );
        assert_eq!(
            text,
            "ID    STATUS          N  ERROR\n\
             a     queued          7  -\n\
             bbbb  dead_lettered  12  boom\n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(table(&["A", "B"], &[], &[]), "A  B\n");
    }

    #[test]
    fn fields_align_and_indent_continuation_lines() {
        let text = fields(&[("id", "run_1".into()), ("last error", "one\ntwo".into())]);
        assert_eq!(
            text,
            "id:          run_1\n\
             last error:  one\n             two\n"
        );
    }

    #[test]
    fn short_values() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("0123456789abc", 10), "012345678…");
        assert_eq!(shorten("line one\nline two", 40), "line one …");
        assert_eq!(duration(TimeDelta::milliseconds(850)), "850ms");
        assert_eq!(duration(TimeDelta::milliseconds(12_340)), "12.3s");
        assert_eq!(duration(TimeDelta::seconds(245)), "4m05s");
        assert_eq!(duration(TimeDelta::minutes(123)), "2h03m");
        let at = "2026-11-29T10:15:30.123Z".parse().unwrap_or_default();
        assert_eq!(time(at), "2026-11-29T10:15:30Z");
        assert_eq!(maybe_time(None), "-");
    }
}

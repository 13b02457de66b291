//! Listing runs: the filter builder and the page it returns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::Error;
use super::run::{Run, RunId, RunStatus};

/// Which runs to list, newest first. A cloneable builder.
///
/// # Examples
///
/// ```
/// use jobs::{ListRuns, RunStatus};
///
/// let filter = ListRuns::new().task_name("deliver-webhook").status(RunStatus::DeadLettered).limit(50);
/// assert_eq!(filter.limit_value(), 50);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRuns {
    task: Option<String>,
    status: Option<RunStatus>,
    limit: u32,
    cursor: Option<Cursor>,
}

impl ListRuns {
    /// Runs a page holds when no limit is given.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// The largest page; larger limits are lowered to it.
    pub const MAX_LIMIT: u32 = 1000;

    /// Every run of the namespace, newest first, [`Self::DEFAULT_LIMIT`] a page.
    pub fn new() -> Self {
        ListRuns {
            task: None,
            status: None,
            limit: Self::DEFAULT_LIMIT,
            cursor: None,
        }
    }

    /// Only runs of the task with this name.
    pub fn task_name(mut self, name: impl Into<String>) -> Self {
        self.task = Some(name.into());
        self
    }

    /// Only runs with this status.
    pub fn status(mut self, status: RunStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// At most this many runs (1 to [`Self::MAX_LIMIT`]).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, Self::MAX_LIMIT);
        self
    }

    /// Continue after the page that returned this cursor.
    pub fn cursor(mut self, cursor: Cursor) -> Self {
        self.cursor = Some(cursor);
        self
    }

    /// The task filter.
    pub fn task_value(&self) -> Option<&str> {
        self.task.as_deref()
    }

    /// The status filter.
    pub fn status_value(&self) -> Option<RunStatus> {
        self.status
    }

    /// The page size.
    pub fn limit_value(&self) -> u32 {
        self.limit
    }

    /// Where the page starts.
    pub fn cursor_value(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }
}

impl Default for ListRuns {
    fn default() -> Self {
        ListRuns::new()
    }
}

/// One page of runs, newest first. `#[non_exhaustive]`: storages build it with
/// [`Page::from_overfetch`] or [`Page::empty`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page {
    /// The runs of this page.
    pub runs: Vec<Run>,
    /// Pass to [`ListRuns::cursor`] for the next page; `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

impl Page {
    /// A page with no runs and nothing after it.
    pub fn empty() -> Page {
        Page {
            runs: Vec::new(),
            next_cursor: None,
        }
    }

    /// A page from up to `limit + 1` runs read newest first: a storage reads one run more
    /// than the page holds, and that extra run only tells whether another page follows.
    pub fn from_overfetch(mut runs: Vec<Run>, limit: usize) -> Page {
        let next_cursor = if runs.len() > limit {
            runs.truncate(limit);
            runs.last().map(|run| Cursor::after(run.id))
        } else {
            None
        };
        Page { runs, next_cursor }
    }
}

/// Where the next page of a listing starts. Opaque; prints as text and parses back.
///
/// A cursor names the last run of its page; the next page holds the runs older than it,
/// so runs enqueued while paging are never repeated and never push others off a page.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cursor(RunId);

impl Cursor {
    /// The cursor after `id` (for storages building pages).
    pub fn after(id: RunId) -> Self {
        Cursor(id)
    }

    /// The last run of the previous page.
    pub fn last_id(&self) -> RunId {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_uuid().simple())
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({self})")
    }
}

impl FromStr for Cursor {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        format!("run_{input}")
            .parse::<RunId>()
            .map(Cursor)
            .map_err(|_| Error::InvalidCursor {
                input: input.chars().take(80).collect(),
            })
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor::after(RunId::new());
        assert_eq!(cursor.to_string().parse::<Cursor>().ok(), Some(cursor));
        assert!("nope".parse::<Cursor>().is_err());
        assert!("".parse::<Cursor>().is_err());
    }

    #[test]
    fn limit_is_clamped() {
        assert_eq!(ListRuns::new().limit(0).limit_value(), 1);
        assert_eq!(
            ListRuns::new().limit(5000).limit_value(),
            ListRuns::MAX_LIMIT
        );
    }
}

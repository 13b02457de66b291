//! Per-key limits: at most so many runs of a task in flight, or started per period, for
//! each value of a payload field (a webhook endpoint, a customer, an API account).

use std::time::Duration;

/// Limits on the runs of one task that share a key: the value of a top-level field of
/// their payload. Register them with [`JobsBuilder::limit`](crate::JobsBuilder::limit).
///
/// Runs over a limit are not claimed: they wait, in their order, without using an
/// attempt, and run as soon as the key has room again. The storage enforces the limits
/// at claim time for every worker of every process (on PostgreSQL, claims of a limited
/// task take a transaction-scoped advisory lock of the task, so two claims never count
/// the same room twice). Every process that runs workers for the task must register the
/// same limits; enqueueing needs none.
///
/// A payload without the field counts under the empty key.
///
/// ```
/// use std::time::Duration;
/// use jobs::KeyLimit;
///
/// // Per webhook endpoint: at most 2 deliveries at once, at most 10 started per minute.
/// let limit = KeyLimit::by("endpoint_id")
///     .in_flight(2)
///     .starts(10, Duration::from_secs(60));
/// assert_eq!(limit.in_flight_max(), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLimit {
    field: String,
    in_flight: Option<u32>,
    starts: Option<(u32, Duration)>,
}

impl KeyLimit {
    /// Limits keyed by payload field `field` (none set yet).
    pub fn by(field: impl Into<String>) -> Self {
        KeyLimit {
            field: field.into(),
            in_flight: None,
            starts: None,
        }
    }

    /// At most `max` runs per key running at once (at least 1).
    pub fn in_flight(mut self, max: u32) -> Self {
        self.in_flight = Some(max.max(1));
        self
    }

    /// At most `max` runs per key started within any `per` (at least 1 per 1 ms).
    pub fn starts(mut self, max: u32, per: Duration) -> Self {
        self.starts = Some((max.max(1), per.max(Duration::from_millis(1))));
        self
    }

    /// The payload field the key is read from.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// See [`in_flight`](Self::in_flight).
    pub fn in_flight_max(&self) -> Option<u32> {
        self.in_flight
    }

    /// See [`starts`](Self::starts).
    pub fn starts_max(&self) -> Option<(u32, Duration)> {
        self.starts
    }

    /// The key of a payload: its field's value, text as it is, anything else as JSON;
    /// empty when the field is missing or null.
    pub fn key_of(&self, payload: &serde_json::Value) -> String {
        match payload.get(&self.field) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }
}

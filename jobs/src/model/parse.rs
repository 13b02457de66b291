//! Text back into ids, statuses and outcomes, with errors that say what was wrong.
//!
//! Kept apart from the types (`run.rs`) so the data model does not depend on the error
//! type; `Error` names runs and statuses, so it depends on them.

use std::str::FromStr;

use uuid::Uuid;

use super::error::Error;
use super::run::{AttemptOutcome, RunId, RunStatus};

impl FromStr for RunId {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidRunId {
            input: input.chars().take(80).collect(),
            reason: reason.to_owned(),
        };
        let hex = input
            .strip_prefix(RunId::PREFIX)
            .ok_or_else(|| invalid("a run id starts with `run_`"))?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("expected 32 hex digits after `run_`"));
        }
        Uuid::try_parse(hex)
            .map(RunId::from_uuid)
            .map_err(|_| invalid("expected 32 hex digits after `run_`"))
    }
}

impl FromStr for RunStatus {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        RunStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == input)
            .ok_or_else(|| Error::UnknownStatus {
                input: input.chars().take(80).collect(),
            })
    }
}

impl FromStr for AttemptOutcome {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        AttemptOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == input)
            .ok_or_else(|| Error::UnknownOutcome {
                input: input.chars().take(80).collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_run_ids_are_errors_not_panics() {
        let long = "x".repeat(10_000);
        let inputs = [
            "",
            "run_",
            "run_123",
            "0190a3b1c2d3e4f5a6b7c8d9e0f1a2b3",
            "job_0190a3b1c2d3e4f5a6b7c8d9e0f1a2b3",
            "run_0190a3b1c2d3e4f5a6b7c8d9e0f1a2bz",
            "run_0190a3b1-c2d3-e4f5-a6b7-c8d9e0f1",
            "run_0190a3b1c2d3e4f5a6b7c8d9e0f1a2b3 ",
            "run_é190a3b1c2d3e4f5a6b7c8d9e0f1a2b",
            "'; DROP TABLE runs; --",
            &long,
        ];
        for input in inputs {
            match input.parse::<RunId>() {
                Err(Error::InvalidRunId {
                    input: shown,
                    reason,
                }) => {
                    assert!(shown.chars().count() <= 80);
                    assert!(!reason.is_empty());
                }
                other => panic!("{input:?} should be invalid, got {other:?}"),
            }
        }
        assert!(serde_json::from_str::<RunId>("\"run_1\"").is_err());
        assert!(serde_json::from_str::<RunId>("17").is_err());
    }

    #[test]
    fn statuses_have_their_documented_names() {
        let names: Vec<String> = RunStatus::ALL
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "scheduled",
                "queued",
                "running",
                "retrying",
                "succeeded",
                "cancelled",
                "dead_lettered"
            ]
        );
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>().unwrap(), status);
            assert_eq!(status.to_string(), status.as_str());
        }
        for bad in ["", "dead-lettered", "Queued", "done", "queued "] {
            assert!(matches!(
                bad.parse::<RunStatus>(),
                Err(Error::UnknownStatus { .. })
            ));
        }
        assert!(serde_json::from_str::<RunStatus>("\"finished\"").is_err());
    }
}

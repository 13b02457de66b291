//! The tasks linked into this binary, collected through `inventory` once per process.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use std::sync::OnceLock;

use super::context::Context;
use super::definition::Task;
use super::error::TaskError;
use super::handle::Jobs;
use crate::model::error::Error;
use crate::model::limits::KeyLimit;
use crate::model::retry::RetryPolicy;

/// The future of one attempt, type-erased.
pub(crate) type AttemptFuture = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send>>;

/// One task, as `#[jobs::task]` registers it. Built by the generated code only.
#[doc(hidden)]
pub struct TaskRegistration {
    pub(crate) name: &'static str,
    pub(crate) queue: &'static str,
    pub(crate) payload_type: fn() -> &'static str,
    pub(crate) module: &'static str,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) retry: fn() -> RetryPolicy,
    pub(crate) timeout: fn() -> Option<Duration>,
    pub(crate) start: fn(serde_json::Value, Context) -> AttemptFuture,
    pub(crate) check_payload: fn(&serde_json::Value) -> Result<(), Mismatch>,
}

impl TaskRegistration {
    /// The registration of task `T`, defined at `module`, `file`:`line`.
    pub const fn new<T: Task>(module: &'static str, file: &'static str, line: u32) -> Self {
        TaskRegistration {
            name: T::NAME,
            queue: T::QUEUE,
            payload_type: std::any::type_name::<T>,
            module,
            file,
            line,
            retry: retry_of::<T>,
            timeout: timeout_of::<T>,
            start: start::<T>,
            check_payload: check_payload::<T>,
        }
    }

    /// The task's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The queue its runs wait in.
    pub fn queue(&self) -> &'static str {
        self.queue
    }

    fn location(&self) -> String {
        format!(
            "`{}` in {} ({}:{})",
            (self.payload_type)(),
            self.module,
            self.file,
            self.line
        )
    }
}

inventory::collect!(TaskRegistration);

fn retry_of<T: Task>() -> RetryPolicy {
    T::RETRY
}

fn timeout_of<T: Task>() -> Option<Duration> {
    T::TIMEOUT
}

/// Why a payload does not decode into its task's payload type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// The path of the field that does not fit (`user.id`, `items[2]`), if any.
    pub(crate) field: Option<String>,
    /// The whole story: type, field and what serde expected.
    pub(crate) message: String,
}

fn decode<T: Task>(payload: serde_json::Value) -> Result<T, Mismatch> {
    serde_path_to_error::deserialize::<_, T>(payload).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.inner().to_string();
        let short = std::any::type_name::<T>().rsplit("::").next().unwrap_or("");
        let at_root = path == ".";
        // A missing field is reported at the object that lacks it: name its full path.
        match (missing_field(&inner), at_root) {
            (Some(name), true) => Mismatch {
                message: format!("payload does not fit `{short}`: missing field `{name}`"),
                field: Some(name),
            },
            (Some(name), false) => {
                let field = format!("{path}.{name}");
                Mismatch {
                    message: format!("payload does not fit `{short}`: missing field `{field}`"),
                    field: Some(field),
                }
            }
            (None, true) => Mismatch {
                message: format!("payload does not fit `{short}`: {inner}"),
                field: None,
            },
            (None, false) => Mismatch {
                message: format!("payload does not fit `{short}`: field `{path}`: {inner}"),
                field: Some(path),
            },
        }
    })
}

/// The field serde names in "missing field `name`": the field an object lacks.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name.to_owned())
}

fn start<T: Task>(payload: serde_json::Value, ctx: Context) -> AttemptFuture {
    Box::pin(async move {
        let task = decode::<T>(payload).map_err(|m| TaskError::permanent(m.message))?;
        task.run(ctx).await
    })
}

fn check_payload<T: Task>(payload: &serde_json::Value) -> Result<(), Mismatch> {
    decode::<T>(payload.clone()).map(drop)
}

/// Every task linked into the binary, by name.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    tasks: HashMap<&'static str, &'static TaskRegistration>,
}

impl std::fmt::Debug for TaskRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location())
    }
}

/// Two tasks linked into the binary with one name: the name and where each is defined.
#[derive(Debug, Clone)]
struct Duplicate {
    name: String,
    first: String,
    second: String,
}

impl Registry {
    /// Every task linked into the binary, collected on first use; two tasks with one name
    /// are an error naming both (every call returns it).
    pub(crate) fn global() -> Result<&'static Registry, Error> {
        static GLOBAL: OnceLock<Result<Registry, Duplicate>> = OnceLock::new();
        match GLOBAL.get_or_init(|| Self::from_iter(inventory::iter::<TaskRegistration>)) {
            Ok(registry) => Ok(registry),
            Err(duplicate) => Err(Error::DuplicateTask {
                name: duplicate.name.clone(),
                first: duplicate.first.clone(),
                second: duplicate.second.clone(),
            }),
        }
    }

    fn from_iter(
        registrations: impl IntoIterator<Item = &'static TaskRegistration>,
    ) -> Result<Self, Duplicate> {
        let mut tasks: HashMap<&'static str, &'static TaskRegistration> = HashMap::new();
        for registration in registrations {
            if let Some(first) = tasks.insert(registration.name, registration) {
                let (a, b) = (first.location(), registration.location());
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                return Err(Duplicate {
                    name: registration.name.to_owned(),
                    first,
                    second,
                });
            }
        }
        Ok(Registry { tasks })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'static TaskRegistration> {
        self.tasks.get(name).copied()
    }

    /// The names of the tasks of `queue`, sorted.
    pub(crate) fn names_in(&self, queue: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .tasks
            .values()
            .filter(|r| r.queue == queue)
            .map(|r| r.name.to_owned())
            .collect();
        names.sort();
        names
    }

    /// Every queue some task waits in, sorted.
    pub(crate) fn queues(&self) -> Vec<&'static str> {
        let mut queues: Vec<&'static str> = self.tasks.values().map(|r| r.queue).collect();
        queues.sort_unstable();
        queues.dedup();
        queues
    }

    /// Every task name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tasks.keys().map(|n| (*n).to_owned()).collect();
        names.sort();
        names
    }
}

impl Jobs {
    /// The tasks linked into this binary. A `Jobs` exists only once they were collected
    /// without a duplicate name (`JobsBuilder::build` checks), so this is never empty
    /// for that reason; it is empty only when no task is linked in.
    pub(crate) fn registry(&self) -> &'static Registry {
        static NONE: OnceLock<Registry> = OnceLock::new();
        Registry::global().unwrap_or_else(|_| {
            NONE.get_or_init(|| Registry {
                tasks: HashMap::new(),
            })
        })
    }

    /// The names of every task linked into this binary, sorted.
    pub fn task_names(&self) -> Vec<String> {
        self.registry().names()
    }

    /// What to claim for `queue`: its tasks without limits together, and each limited
    /// task on its own with its limits.
    pub(crate) fn claim_groups(&self, queue: &str) -> Vec<(Vec<String>, Option<KeyLimit>)> {
        let (limited, free): (Vec<String>, Vec<String>) = self
            .registry()
            .names_in(queue)
            .into_iter()
            .partition(|task| self.limit_of(task).is_some());
        let mut groups = Vec::new();
        if !free.is_empty() {
            groups.push((free, None));
        }
        for task in limited {
            let limit = self.limit_of(&task).cloned();
            groups.push((vec![task], limit));
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct A {
        n: u32,
    }

    impl Task for A {
        const NAME: &'static str = "same";
        const RETRY: RetryPolicy = RetryPolicy::DEFAULT;
        const TIMEOUT: Option<Duration> = None;
        async fn run(self, _ctx: Context) -> Result<(), TaskError> {
            Ok(())
        }
    }

    static FIRST: TaskRegistration = TaskRegistration::new::<A>("app::one", "src/one.rs", 1);
    static SECOND: TaskRegistration = TaskRegistration::new::<A>("app::two", "src/two.rs", 2);

    #[test]
    fn duplicate_names_are_an_error_naming_both() {
        let duplicate = Registry::from_iter([&FIRST, &SECOND])
            .map(drop)
            .unwrap_err();
        assert_eq!(duplicate.name, "same");
        assert!(duplicate.first.contains("src/one.rs:1"), "{duplicate:?}");
        assert!(duplicate.second.contains("src/two.rs:2"), "{duplicate:?}");
    }

    #[test]
    fn decode_errors_name_the_field() {
        let wrong = decode::<A>(serde_json::json!({ "n": "x" }))
            .map(drop)
            .unwrap_err();
        assert!(wrong.message.contains("field `n`"), "{wrong:?}");
        assert_eq!(wrong.field.as_deref(), Some("n"));
        let missing = decode::<A>(serde_json::json!({})).map(drop).unwrap_err();
        assert!(missing.message.contains("missing field `n`"), "{missing:?}");
        assert_eq!(missing.field.as_deref(), Some("n"));
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Address {
        city: String,
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Customer {
        address: Address,
        others: Vec<Address>,
    }

    impl Task for Customer {
        const NAME: &'static str = "customer";
        const RETRY: RetryPolicy = RetryPolicy::DEFAULT;
        const TIMEOUT: Option<Duration> = None;
        async fn run(self, _ctx: Context) -> Result<(), TaskError> {
            Ok(())
        }
    }

    #[test]
    fn a_missing_nested_field_is_named_by_its_full_path() {
        let nested = serde_json::json!({ "address": {}, "others": [] });
        let missing = decode::<Customer>(nested).map(drop).unwrap_err();
        assert_eq!(
            missing.field.as_deref(),
            Some("address.city"),
            "{missing:?}"
        );
        assert!(
            missing.message.contains("missing field `address.city`"),
            "{missing:?}"
        );
        let in_list = serde_json::json!({ "address": { "city": "x" }, "others": [{}] });
        let missing = decode::<Customer>(in_list).map(drop).unwrap_err();
        assert_eq!(
            missing.field.as_deref(),
            Some("others[0].city"),
            "{missing:?}"
        );
    }
}

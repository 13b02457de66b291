//! A task fn may return `()`, `Result<(), jobs::TaskError>`, or `Result<(), E>` for any
//! error type `E`; errors become retryable `TaskError`s.

use jobs::{Context, Jobs, MemoryStorage, Task, TaskError};

#[jobs::task]
async fn returns_unit(n: u32) {
    let _ = n;
}

#[jobs::task]
async fn returns_task_error(permanent: bool) -> Result<(), TaskError> {
    if permanent {
        return Err(TaskError::permanent("bad input"));
    }
    Ok(())
}

#[jobs::task]
async fn returns_io_error(fail: bool) -> Result<(), std::io::Error> {
    if fail {
        return Err(std::io::Error::other("disk full"));
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs = Jobs::builder()
        .name("ui")
        .namespace("ui")
        .storage(MemoryStorage::new())
        .build()?;
    let cx = || Context::for_test(&jobs, "t");

    assert!(ReturnsUnit { n: 1 }.run(cx()).await.is_ok());
    assert!(
        ReturnsTaskError { permanent: false }
            .run(cx())
            .await
            .is_ok()
    );
    let error = ReturnsTaskError { permanent: true }
        .run(cx())
        .await
        .expect_err("fails");
    assert!(error.is_permanent());
    assert!(ReturnsIoError { fail: false }.run(cx()).await.is_ok());
    let error = ReturnsIoError { fail: true }
        .run(cx())
        .await
        .expect_err("fails");
    assert_eq!(error.message(), "disk full");
    assert!(!error.is_permanent());
    Ok(())
}

//! Attributes on the fn stay on the fn; a `cfg` below `#[jobs::task]` covers the whole
//! task, so a task compiled out leaves no payload calling a missing fn.

use jobs::Task;

#[jobs::task]
#[cfg(any())]
async fn compiled_out(user_id: String) {
    let _ = user_id;
}

#[jobs::task(name = "old")]
#[cfg(all())]
#[deprecated = "use `new_task`"]
#[allow(clippy::unused_async)]
async fn old_task(user_id: String) {
    let _ = user_id;
}

#[allow(dead_code)]
struct CompiledOut;

fn main() {
    assert_eq!(OldTask::NAME, "old");
}

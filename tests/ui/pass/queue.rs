//! `queue = "..."` sets `Task::QUEUE`; without it the task waits in the default queue.

#[jobs::task(queue = "webhooks")]
async fn deliver_webhook(url: String) {
    let _ = url;
}

#[jobs::task(name = "import", queue = "bulk_import-2", timeout = "1m")]
async fn import_batch() {}

#[jobs::task]
async fn send_email() {}

fn main() {
    assert_eq!(<DeliverWebhook as jobs::Task>::QUEUE, "webhooks");
    assert_eq!(<ImportBatch as jobs::Task>::QUEUE, "bulk_import-2");
    assert_eq!(<SendEmail as jobs::Task>::QUEUE, "default");
    assert_eq!(<SendEmail as jobs::Task>::QUEUE, jobs::DEFAULT_QUEUE);
}

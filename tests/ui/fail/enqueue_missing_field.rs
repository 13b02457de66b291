#[jobs::task]
async fn notify_user(user_id: String, template: String) {
    let _ = (user_id, template);
}

async fn enqueue(jobs: &jobs::Jobs) {
    let _ = jobs.enqueue(NotifyUser { user_id: "user_123".to_owned() }).await;
}

fn main() {}

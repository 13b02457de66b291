#[jobs::task]
async fn notify_user(user_id: String, template: String) {
    let _ = (user_id, template);
}

async fn enqueue(jobs: &jobs::Jobs) {
    let _ = jobs.enqueue(NotifyUser { user_id: "u1".into() }).await;
}

fn main() {}

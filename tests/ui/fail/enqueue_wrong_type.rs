#[jobs::task]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

async fn enqueue(jobs: &jobs::Jobs) {
    let _ = jobs.enqueue(NotifyUser { user_id: 5 }).await;
}

fn main() {}

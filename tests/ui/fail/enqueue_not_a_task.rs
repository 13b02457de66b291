#[derive(serde::Serialize, serde::Deserialize)]
struct NotATask {
    user_id: String,
}

async fn enqueue(jobs: &jobs::Jobs) {
    let _ = jobs.enqueue(NotATask { user_id: "user_123".to_owned() }).await;
}

fn main() {}

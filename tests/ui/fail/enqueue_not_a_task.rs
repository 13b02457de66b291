#[derive(serde::Serialize, serde::Deserialize)]
struct NotATask {
    user_id: String,
}

async fn enqueue(jobs: &jobs::Jobs) {
    let _ = jobs.enqueue(NotATask { user_id: "u1".into() }).await;
}

fn main() {}

#[jobs::task(retry(attempts = 5, backoff = "custom"))]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

fn main() {}

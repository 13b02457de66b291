#[jobs::task(retry(backoff = "custom", initial_delay = "5s", delays = ["10s", "30s"]))]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

fn main() {}

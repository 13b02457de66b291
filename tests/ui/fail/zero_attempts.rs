#[jobs::task(retry(attempts = 0))]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

fn main() {}

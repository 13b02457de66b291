#[jobs::task(retry(atempts = 3))]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

fn main() {}

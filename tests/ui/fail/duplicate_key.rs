#[jobs::task(name = "notify", timeout = "30s", name = "notify-user")]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

fn main() {}

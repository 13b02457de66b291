// Every mistake is reported in one build, and the fn itself stays: calling it directly
// raises no further error.
#[jobs::task(
    nmae = "typo",
    retry(attempts = 0, backoff = "expo", initial_delay = "5 s"),
    timeout = "0ms"
)]
async fn notify_user(user_id: String, #[serde(default)] template: String) {
    let _ = (user_id, template);
}

async fn direct() {
    notify_user("user_123".to_owned(), "welcome".to_owned()).await;
}

fn main() {}

#[jobs::task(retry(attempts = 3, backoff = "fixed", attempts = 5))]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

#[jobs::task(retry(attempts = 3), retry(attempts = 5))]
async fn twice() {}

fn main() {}

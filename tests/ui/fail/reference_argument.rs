#[jobs::task]
async fn notify_user(user_id: &str, tags: impl Iterator<Item = String>) {
    let _ = (user_id, tags.count());
}

fn main() {}

#[jobs::task(foo = "bar")]
async fn notify_user(user_id: String) {
    let _ = user_id;
}

fn main() {}

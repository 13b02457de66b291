#[jobs::task]
struct NotifyUser {
    user_id: String,
}

fn main() {}

#[jobs::task]
async unsafe fn notify_user(user_id: String) {
    let _ = user_id;
}

fn main() {}

#[jobs::task]
async fn notify_user(ctx: jobs::Context, user_id: String, again: jobs::Context) {
    let _ = (ctx, user_id, again);
}

fn main() {}

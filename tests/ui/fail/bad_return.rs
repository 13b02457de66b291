#[jobs::task]
async fn count_users(limit: u32) -> u32 {
    limit
}

fn main() {}

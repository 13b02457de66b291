#[jobs::task(queue = "Web Hooks")]
async fn uppercase_and_space() {}

#[jobs::task(queue = "")]
async fn empty() {}

#[jobs::task(queue = "1st")]
async fn starts_with_a_digit() {}

#[jobs::task(queue = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
async fn too_long() {}

#[jobs::task(queue = "webhooks", timeout = "30s", queue = "emails")]
async fn duplicate() {}

fn main() {}

#[jobs::task(timeout = "5 sec")]
async fn spaced() {}

#[jobs::task(retry(initial_delay = "1.5s"))]
async fn fractional() {}

#[jobs::task(retry(backoff = "custom", delays = ["10s", "2w"]))]
async fn unknown_unit() {}

#[jobs::task(timeout = "99999999999999999999d")]
async fn too_large() {}

fn main() {}

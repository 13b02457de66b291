#[jobs::task(timeout = "0s")]
async fn zero_timeout() {}

#[jobs::task(retry(backoff = "fixed", initial_delay = "0ms"))]
async fn zero_delay() {}

fn main() {}

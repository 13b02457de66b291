#[jobs::task(retry(backoff = "fixed", initial_delay = "10s", max_delay = "1m"))]
async fn fixed() {}

#[jobs::task(retry(backoff = "custom", delays = ["10s"], max_delay = "1m"))]
async fn custom() {}

fn main() {}

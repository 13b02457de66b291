#[jobs::task(retry(attempts = 5, delays = ["10s", "30s"]))]
async fn implicit_exponential() {}

#[jobs::task(retry(backoff = "fixed", delays = ["10s"]))]
async fn fixed() {}

fn main() {}

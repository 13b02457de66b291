#[jobs::task(retry(initial_delay = "5m", max_delay = "30s"))]
async fn explicit_initial() {}

#[jobs::task(retry(max_delay = "1s"))]
async fn default_initial() {}

fn main() {}

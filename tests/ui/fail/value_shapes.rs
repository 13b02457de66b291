#[jobs::task(timeout = 30)]
async fn number_timeout() {}

#[jobs::task(attempts = 3)]
async fn attempts_outside_retry() {}

#[jobs::task(retry = 3)]
async fn retry_without_parens() {}

#[jobs::task(payload = "Name")]
async fn payload_string() {}

#[jobs::task(retry(delays = "10s", backoff = "custom"))]
async fn delays_not_a_list() {}

#[jobs::task(name = "a" timeout = "1s")]
async fn missing_comma() {}

fn main() {}

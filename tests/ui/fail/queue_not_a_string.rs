#[jobs::task(queue = 5)]
async fn number() {}

#[jobs::task(queue = webhooks)]
async fn bare_word() {}

fn main() {}

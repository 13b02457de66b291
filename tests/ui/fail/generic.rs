#[jobs::task]
async fn notify<T: serde::Serialize>(recipient: T) {
    let _ = recipient;
}

fn main() {}

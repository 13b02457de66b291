#[jobs::task]
async fn resize((width, height): (u32, u32), _: String) {
    let _ = (width, height);
}

fn main() {}

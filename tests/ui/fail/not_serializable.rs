struct Recipient {
    email: String,
}

#[jobs::task]
async fn notify_user(recipient: Recipient) {
    let _ = recipient.email;
}

fn main() {}

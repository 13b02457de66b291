struct Mailer;

impl Mailer {
    #[jobs::task]
    async fn send(&self, user_id: String) {
        let _ = user_id;
    }
}

fn main() {}

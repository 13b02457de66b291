//! `payload = Name` replaces the CamelCase default; the task name keeps its default.

use jobs::Task;

#[jobs::task(payload = WelcomeEmail, retry(attempts = 2))]
pub async fn send_welcome(user_id: String, locale: String) {
    let _ = (user_id, locale);
}

mod nested {
    #[jobs::task(payload = Cleanup, name = "cleanup")]
    pub(crate) async fn clean_up_everything(older_than_days: u32) {
        let _ = older_than_days;
    }
}

fn main() {
    assert_eq!(WelcomeEmail::NAME, "send-welcome");
    assert_eq!(WelcomeEmail::RETRY.attempts, 2);
    let payload = WelcomeEmail {
        user_id: "u".into(),
        locale: "fr".into(),
    };
    assert_eq!(payload.locale, "fr");

    assert_eq!(nested::Cleanup::NAME, "cleanup");
    let payload = nested::Cleanup {
        older_than_days: 30,
    };
    assert_eq!(payload.older_than_days, 30);
}

//! `name = "..."` replaces the kebab-case default; the payload keeps its default name.

use jobs::Task;

#[jobs::task(name = "email.welcome.v2")]
async fn send_welcome(user_id: String) {
    let _ = user_id;
}

#[jobs::task(name = "x")]
async fn r#type(r#type: String) {
    let _ = r#type;
}

fn main() {
    assert_eq!(SendWelcome::NAME, "email.welcome.v2");
    assert_eq!(Type::NAME, "x");
    let payload = Type { r#type: "t".into() };
    assert_eq!(payload.r#type, "t");
}

//! Attributes on an argument other than lints and `cfg` move to the payload field, where
//! rustc accepts them: `#[serde(...)]`, doc comments.

use jobs::Task;

fn default_locale() -> String {
    "en".to_owned()
}

#[jobs::task]
async fn send_digest(
    user_id: String,
    #[serde(default)] include_drafts: bool,
    /// The language of the digest.
    #[serde(default = "default_locale")]
    locale: String,
    #[serde(rename = "n")]
    #[allow(unused_variables)]
    max_items: u32,
) -> Result<(), std::io::Error> {
    let _ = (user_id, include_drafts, locale);
    Ok(())
}

fn main() {
    let payload: SendDigest =
        serde_json::from_value(serde_json::json!({ "user_id": "u1", "n": 5 })).expect("decodes");
    assert_eq!(payload.user_id, "u1");
    assert!(!payload.include_drafts);
    assert_eq!(payload.locale, "en");
    assert_eq!(payload.max_items, 5);
    assert_eq!(SendDigest::NAME, "send-digest");
}

//! The dashboard, one HTML page with its style and script inlined (no build step, no
//! other request than the API's), and the OpenAPI document.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::Shared;

/// The page: `assets/index.html` with `assets/app.css` and `assets/app.js` put in place
/// of its two markers, once.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    include_str!("../assets/index.html")
        .replace("/*APP_CSS*/", include_str!("../assets/app.css"))
        .replace("/*APP_JS*/", include_str!("../assets/app.js"))
});

/// What the page may do: run its own inline script and style, call the API on its own
/// origin, nothing else; and never be framed, so its buttons cannot be clickjacked.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /`: the dashboard.
pub(crate) async fn page() -> Response {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(PAGE.as_str()),
    )
        .into_response()
}

/// `GET /openapi.json`: the API's OpenAPI 3.1 document, as [`served_openapi`] made it for
/// this router.
pub(crate) async fn openapi(State(shared): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        shared.openapi.clone(),
    )
        .into_response()
}

/// The OpenAPI document, checked against the router's routes by a test.
pub(crate) const OPENAPI: &str = include_str!("../assets/openapi.json");

/// [`OPENAPI`] as a router serves it: the names of the tasks this binary has as examples
/// of the `{name}` of `POST /tasks/{name}/runs` (what a client or a fuzzer can enqueue),
/// and the bearer token required when the router has one, optional otherwise.
pub(crate) fn served_openapi(task_names: &[String], has_token: bool) -> String {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(OPENAPI) else {
        // A unit test parses it: never reached.
        return OPENAPI.to_owned();
    };
    if let Some(schema) = doc
        .pointer_mut("/paths/~1tasks~1{name}~1runs/post/parameters/0/schema")
        .and_then(|s| s.as_object_mut())
    {
        schema.insert("examples".to_owned(), serde_json::json!(task_names));
    }
    doc["security"] = if has_token {
        serde_json::json!([{ "bearer": [] }])
    } else {
        serde_json::json!([])
    };
    doc.to_string()
}

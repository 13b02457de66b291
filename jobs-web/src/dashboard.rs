//! The dashboard, one HTML page with its style and script inlined (no build step, no
//! other request than the API's), and the OpenAPI document.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

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

/// `GET /openapi.json`: the API's OpenAPI 3.1 document.
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The OpenAPI document, checked against the router's routes by a test.
pub(crate) const OPENAPI: &str = include_str!("../assets/openapi.json");

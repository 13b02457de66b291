//! The optional bearer token: every route answers 401 without it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;

/// The name of the cookie the dashboard's sign-in form sets.
pub(crate) const COOKIE: &str = "jobs_token";

/// The token requests must carry.
#[derive(Clone)]
pub(crate) struct Token(Arc<str>);

impl Token {
    pub(crate) fn new(token: String) -> Self {
        Token(token.into())
    }

    /// Whether `headers` carry the token, as a bearer token or as the cookie.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(bearer_credentials);
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='));
        let expected = self.0.as_bytes();
        let by_bearer = bearer
            .map(|given| same(given.trim().as_bytes(), expected))
            .fold(false, |any, ok| any | ok);
        let by_cookie = cookies
            .map(|given| same(&percent_decoded(given.trim()), expected))
            .fold(false, |any, ok| any | ok);
        by_bearer || by_cookie
    }
}

/// The credentials of an `Authorization` value of the `Bearer` scheme, whatever its case
/// (RFC 7235: schemes are case-insensitive): `bearer abc` and `BEARER abc` are `abc`.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(credentials.trim())
}

/// The cookie value as the sign-in page wrote it (`encodeURIComponent`), decoded.
fn percent_decoded(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Compares in time that depends only on the lengths, so the answer's timing does not
/// tell how much of a guess was right.
fn same(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

/// The middleware: passes requests with the token; answers 401 to the others, with the
/// dashboard's sign-in page for a browser asking for HTML, JSON for everything else.
pub(crate) async fn require(State(token): State<Token>, request: Request, next: Next) -> Response {
    if token.accepts(request.headers()) {
        return next.run(request).await;
    }
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let challenge = [(header::WWW_AUTHENTICATE, CHALLENGE)];
    if wants_html {
        (StatusCode::UNAUTHORIZED, challenge, Html(SIGN_IN)).into_response()
    } else {
        (challenge, ApiError::unauthorized()).into_response()
    }
}

/// The `WWW-Authenticate` header of every 401 (RFC 7235, RFC 6750): what to send.
pub(crate) const CHALLENGE: &str = "Bearer realm=\"jobs\"";

/// A page that asks for the token, keeps it in the `jobs_token` cookie (for this path,
/// strict same-site) and reloads.
const SIGN_IN: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>jobs: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui,sans-serif;margin:15vh auto;max-width:22rem;color:#1f2328}
input,button{font:inherit;padding:.45rem .6rem;width:100%;box-sizing:border-box;margin:.3rem 0}
button{background:#1f6feb;color:#fff;border:0;border-radius:6px;cursor:pointer}</style></head>
<body><h1>jobs</h1><p>This dashboard needs its access token.</p>
<form id="sign-in"><input id="token" type="password" placeholder="token" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form>
<script>
document.getElementById("sign-in").addEventListener("submit", function (event) {
  event.preventDefault();
  var token = document.getElementById("token").value;
  document.cookie = "jobs_token=" + encodeURIComponent(token) + "; SameSite=Strict";
  location.reload();
});
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.append(name.clone(), value);
            }
        }
        map
    }

    #[test]
    fn the_token_is_accepted_as_bearer_or_cookie_and_nothing_else() {
        let token = Token::new("s3cret".into());
        assert!(token.accepts(&headers(&[(header::AUTHORIZATION, "Bearer s3cret")])));
        assert!(token.accepts(&headers(&[(header::COOKIE, "a=1; jobs_token=s3cret")])));
        assert!(!token.accepts(&headers(&[])));
        assert!(!token.accepts(&headers(&[(header::AUTHORIZATION, "Bearer s3cre")])));
        assert!(!token.accepts(&headers(&[(header::AUTHORIZATION, "Basic s3cret")])));
        assert!(!token.accepts(&headers(&[(header::AUTHORIZATION, "Bearers3cret")])));
        assert!(!token.accepts(&headers(&[(header::AUTHORIZATION, "Bearer")])));
        assert!(!token.accepts(&headers(&[(header::AUTHORIZATION, "XBearer s3cret")])));
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            let value = format!("{scheme} s3cret");
            assert!(
                token.accepts(&headers(&[(header::AUTHORIZATION, value.as_str())])),
                "{value}"
            );
        }
        assert!(token.accepts(&headers(&[(header::AUTHORIZATION, "Bearer   s3cret ")])));
        assert!(!token.accepts(&headers(&[(header::COOKIE, "jobs_token_x=s3cret")])));
        assert!(!token.accepts(&headers(&[(header::COOKIE, "other=s3cret")])));
        let odd = Token::new("a b;c%".into());
        assert!(odd.accepts(&headers(&[(header::COOKIE, "jobs_token=a%20b%3Bc%25")])));
    }
}

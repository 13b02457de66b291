//! Errors as JSON with one stable shape:
//! `{"error": {"code": "...", "message": "...", "field": null}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer: an HTTP status, a stable machine-readable code, a message for people
/// and, for a payload that does not fit, the field.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    field: Option<&'a str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A request the API cannot read: bad JSON, a bad query, conflicting options.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this API needs a bearer token: send `Authorization: Bearer <token>`",
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A route that exists, asked with a method it does not answer (the router adds the
    /// `Allow` header).
    pub(crate) fn method_not_allowed(method: &str, path: &str) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{path} does not answer {method}; the `Allow` header lists the methods it answers"
            ),
        )
    }

    /// A request body over the router's limit.
    pub(crate) fn body_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    /// A value of the right type outside its bounds: 422 naming the parameter or field.
    pub(crate) fn invalid_input(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_input",
            message: format!("invalid {field}: {}", message.into()),
            field: Some(field.to_owned()),
        }
    }
}

impl From<jobs::Error> for ApiError {
    fn from(error: jobs::Error) -> Self {
        use jobs::Error as E;
        let message = error.to_string();
        let (status, code) = match &error {
            E::RunNotFound { .. } => (StatusCode::NOT_FOUND, "run_not_found"),
            E::UnknownTask { .. } => (StatusCode::NOT_FOUND, "task_not_found"),
            E::NotCancellable { .. } => (StatusCode::CONFLICT, "not_cancellable"),
            E::NotReplayable { .. } => (StatusCode::CONFLICT, "not_replayable"),
            E::InvalidRunId { .. } => (StatusCode::BAD_REQUEST, "invalid_run_id"),
            E::InvalidCursor { .. } => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            E::UnknownStatus { .. } => (StatusCode::BAD_REQUEST, "invalid_status"),
            E::UnknownOutcome { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            E::PayloadMismatch { field, .. } => {
                return ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "invalid_payload",
                    message,
                    field: field.clone(),
                };
            }
            E::InvalidInput { field, .. } => {
                return ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "invalid_input",
                    message,
                    field: Some(field.clone()),
                };
            }
            E::Payload { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload"),
            E::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            E::Storage { .. } => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

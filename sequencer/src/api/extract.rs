//! A JSON body extractor whose rejections are [`ApiError`]s, so malformed bodies get the same
//! `{ code, message }` format as every other error.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{header, HeaderMap, StatusCode},
};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::ApiError;

/// A JSON request body of type `T`.
///
/// Rejections: `415 unsupported_media_type` (no `application/json` content type),
/// `413 body_too_large`, `400 malformed_json` (syntax, truncated body), and `422` with
/// `missing_field`, `unknown_field`, `invalid_type`, `invalid_length` or `invalid_value` when
/// the JSON does not match the schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::client(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is larger than this node accepts (api.body_limit)",
                )
            } else {
                ApiError::bad_request("unreadable_body", rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| json_error(&e))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Maps a serde_json error to a precise code.
fn json_error(error: &serde_json::Error) -> ApiError {
    let message = error.to_string();
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {message}"),
        ),
        Category::Data => {
            let code = if message.starts_with("missing field") {
                "missing_field"
            } else if message.starts_with("unknown field") {
                "unknown_field"
            } else if message.starts_with("invalid type") {
                "invalid_type"
            } else if message.starts_with("invalid length") {
                "invalid_length"
            } else {
                "invalid_value"
            };
            ApiError::client(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        }
    }
}

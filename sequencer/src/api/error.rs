//! The one error type of the HTTP API and its JSON body.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use tracing::error;

use crate::{jobs::JobError, sequencer::SubmitError, store::StoreError};

/// The body of every error response: `{ "code": "machine_readable_code", "message": "…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// Stable, machine-readable code (`snake_case`).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An API error: a client error with a precise code, or an internal one whose details go to
/// the log only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request cannot be served as it is (4xx, or 503 while overloaded or stopping).
    #[error("{code}: {message}")]
    Client {
        /// The HTTP status.
        status: StatusCode,
        /// The machine-readable code.
        code: &'static str,
        /// The explanation.
        message: String,
    },
    /// Something failed on the node's side (500, generic body).
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A client error.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client { status, code, message: message.into() }
    }

    /// A `404` with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, code, message)
    }

    /// A `400` with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    /// An internal error.
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    /// The machine-readable code (`internal` for internal errors).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Client { code, .. } => code,
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        let status = match &error {
            SubmitError::FeatureWidth { .. } | SubmitError::Signature { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            SubmitError::NonceReplayed { .. } | SubmitError::NonceTooLow { .. } => {
                StatusCode::CONFLICT
            }
            SubmitError::Overloaded | SubmitError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            _ => return Self::internal(error),
        };
        Self::client(status, error.code(), error.to_string())
    }
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        let status = match &error {
            JobError::NotSealed { .. }
            | JobError::AlreadyProven { .. }
            | JobError::LeaseLost { .. } => StatusCode::CONFLICT,
            JobError::InvalidProver
            | JobError::WrongConfig { .. }
            | JobError::WrongBatch { .. }
            | JobError::InstanceMismatch { .. }
            | JobError::InvalidProof { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => return Self::internal(error),
        };
        Self::client(status, error.code(), error.to_string())
    }
}

impl ApiError {
    /// The status and body this error is answered with; an internal error is logged here and
    /// answered without details.
    pub fn into_parts(self) -> (StatusCode, ErrorBody) {
        match self {
            ApiError::Client { status, code, message } => {
                (status, ErrorBody { code: code.to_owned(), message })
            }
            ApiError::Internal(error) => {
                error!(target: "merit::sequencer", error = %error, source = ?error.source(), "request failed");
                let body = ErrorBody {
                    code: "internal".to_owned(),
                    message: "internal error; the details are in the node's log".to_owned(),
                };
                (StatusCode::INTERNAL_SERVER_ERROR, body)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.into_parts();
        (status, Json(body)).into_response()
    }
}

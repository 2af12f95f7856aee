//! The API's one error shape: `{ "error": code, "message": text }` (plus `fields` when several
//! inputs are wrong at once), with the status that says who should act: 400 the caller's input,
//! 401 who they are, 403 what they may do, 404 what exists, 409 a stale or conflicting state,
//! 422 a rule's refusal, 502/503 a dependency.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One input that is wrong, by its JSON path (`body`, `buttons[1].url`, `auto_close_after`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

/// Every error response's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`invalid_input`, `forbidden`, `window_closed`, …).
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// Field-level problems (400 on a template or settings with several errors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldProblem>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// 400: one input is wrong; the message names it.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        let problem = problem.to_string();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_input",
            message: format!("{field}: {problem}"),
            fields: vec![FieldProblem {
                field: field.to_owned(),
                problem,
            }],
        }
    }

    /// 400: several inputs are wrong; each is named.
    pub fn invalid_fields(summary: impl Into<String>, fields: Vec<FieldProblem>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_input",
            message: summary.into(),
            fields,
        }
    }

    /// 400 (or the rejection's own 4xx): a body, query or path the API could not read.
    pub fn unreadable(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        // axum answers 422 for JSON that parses but does not fit the type; for this API a
        // malformed input is a 400 (422 is kept for rule refusals).
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError::new(status, "invalid_input", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409: the resource is not in the state the request assumed (a stale version, nothing to
    /// close, an existing name).
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 422: a rule refuses the request (window closed, template not approved, …).
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn bad_gateway(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
            fields: self.fields.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        // Store faults carry keys, never bodies; log them here and answer without internals.
        if e.is_retryable() {
            tracing::warn!(error = %e, "store busy");
            ApiError::unavailable("the store is busy; try again")
        } else {
            tracing::error!(error = %e, "store fault");
            ApiError::internal("the store failed; the request was not applied")
        }
    }
}

impl From<queue::QueueError> for ApiError {
    fn from(e: queue::QueueError) -> Self {
        // OPS-4: a dead letter that cannot go back is refused with why (it stays listed).
        if let queue::QueueError::NotRedeliverable { .. } = &e {
            return ApiError::refused("not_redeliverable", e.to_string());
        }
        tracing::error!(error = %e, "queue refused");
        ApiError::unavailable(
            "the queue did not accept the request; try again with the same Idempotency-Key",
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

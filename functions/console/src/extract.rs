//! Extractors whose rejections are the API's JSON errors (axum's own are plain text), and the
//! caller's identity.

use crate::Deps;
use crate::auth::{
    Caller, INTEGRATION_TOKEN_PREFIX, Integration, IntegrationRoute, Principal, bearer, token_hash,
};
use crate::error::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use store::IntegrationStore;

/// A JSON body; unreadable bodies answer 400 naming the field serde stopped at.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::unreadable(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON (Content-Type: application/json)",
            )),
            Err(e) => Err(ApiError::unreadable(e.status(), e.body_text())),
        }
    }
}

/// Query parameters; unreadable ones answer 400.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e: QueryRejection| ApiError::unreadable(e.status(), e.body_text()))
    }
}

/// Path parameters; unreadable ones answer 400.
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e: PathRejection| ApiError::unreadable(e.status(), e.body_text()))
    }
}

impl<D: Deps> FromRequestParts<Arc<D>> for Caller {
    type Rejection = ApiError;

    /// People only: an integration token (or the integration route) is refused here, so every
    /// route that does not take integrations says so instead of treating one as an agent.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<D>,
    ) -> Result<Self, Self::Rejection> {
        if parts.extensions.get::<IntegrationRoute>().is_some()
            || bearer(parts).is_some_and(|t| t.starts_with(INTEGRATION_TOKEN_PREFIX))
        {
            return Err(ApiError::forbidden(
                "integration tokens may only read contacts and act as the number's external bot",
            ));
        }
        state.identity().identify(parts)
    }
}

impl<D: Deps> FromRequestParts<Arc<D>> for Principal {
    type Rejection = ApiError;

    /// EVT-5: an integration token (`sbi_…`), looked up by its hash in the store (one read, so
    /// a revocation counts at once), or a person as [`Caller`] says.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<D>,
    ) -> Result<Self, Self::Rejection> {
        match bearer(parts) {
            Some(token) if token.starts_with(INTEGRATION_TOKEN_PREFIX) => {
                let found = state
                    .store()
                    .integration_by_hash(&token_hash(token))
                    .await?;
                match found {
                    Some(t) if t.revoked_at.is_none() => Ok(Principal::Integration(Integration {
                        id: t.id,
                        numbers: t.numbers,
                    })),
                    Some(_) => Err(ApiError::unauthorized("the integration token was revoked")),
                    None => Err(ApiError::unauthorized("unknown token")),
                }
            }
            _ if parts.extensions.get::<IntegrationRoute>().is_some() => Err(
                ApiError::unauthorized("/v1/integration/… takes integration tokens (sbi_…) only"),
            ),
            _ => state.identity().identify(parts).map(Principal::Person),
        }
    }
}

/// The `Idempotency-Key` header, if the client sent one (printable ASCII, at most 100 bytes).
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 100 && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 100 printable ASCII characters without spaces",
            )
        })?;
    Ok(Some(text.to_owned()))
}

/// The `If-Match` header as a version (`"7"` or `7`) of the contact or campaign, if sent.
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|t| t.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::invalid("If-Match", "must be the version you read (an ETag)"))
}

/// A raw body (CSV lists); a body over the limit answers 413 in the API's JSON shape.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| ApiError::unreadable(e.status(), e.body_text()))
    }
}

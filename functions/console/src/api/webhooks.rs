//! Outgoing webhooks (EVT-4), admin only: `/v1/webhooks` create, list, read, update, delete,
//! rotate the secret (the previous one keeps signing for [`ROTATION_GRACE`]), and each
//! endpoint's dead letters, listed and redelivered. Deliveries themselves are the deliverer's
//! (the local runner's `webhooks` module): Standard Webhooks signatures, retries for 24 h in
//! order per conversation.
//!
//! Target URLs: `https://` to a public address; `http://127.0.0.1` only where the deployment
//! allows loopback targets (the local runner turns it on with [`allow_loopback_targets`]). A
//! host name is resolved at registration and again at every delivery, and refused when it
//! points at a private, loopback or link-local address (no SSRF).

use super::{Errors, number_id};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams, QueryParams};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rules::Timestamp;
use rules::events::{EventData, ROTATION_GRACE, WebhookSecret, address_allowed, check_target_url};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use store::{Delivery, WebhookEndpoint, WebhookStore};
use utoipa::{IntoParams, ToSchema};

static ALLOW_LOOPBACK: AtomicBool = AtomicBool::new(false);

/// Lets endpoints be `http://127.0.0.1:<port>` (the local runner only; never on AWS).
pub fn allow_loopback_targets(allow: bool) {
    ALLOW_LOOPBACK.store(allow, Ordering::Relaxed);
}

pub fn loopback_targets_allowed() -> bool {
    ALLOW_LOOPBACK.load(Ordering::Relaxed)
}

/// EVT-4's URL rule, with the host resolved: every address it resolves to must be allowed.
pub async fn check_target(url: &str) -> Result<(), String> {
    let loopback = loopback_targets_allowed();
    let target = check_target_url(url, loopback).map_err(|e| e.to_string())?;
    let addrs: Vec<_> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|_| format!("the host {} does not resolve", target.host))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("the host {} does not resolve", target.host));
    }
    if let Some(bad) = addrs.iter().find(|a| !address_allowed(a.ip(), loopback)) {
        return Err(format!(
            "the host resolves to {}, a private, loopback or link-local address",
            bad.ip()
        ));
    }
    Ok(())
}

/// A new endpoint or its new settings.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `https://…` (or `http://127.0.0.1:<port>/…` on the local runner).
    pub url: String,
    /// Event types to deliver (`message.received`, …); empty or absent: every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Business numbers whose events to deliver; empty or absent: every number.
    #[serde(default)]
    pub numbers: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// EVT-5: the id of the number's external bot this endpoint serves: it is sent only the
    /// customer's messages in the conversations that bot handles.
    #[serde(default)]
    pub bot: Option<String>,
}

/// An endpoint as listed (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub types: Vec<String>,
    pub numbers: Vec<String>,
    pub description: Option<String>,
    /// EVT-5: the external bot this endpoint serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
    pub created_at: i64,
    /// While a rotated-out secret still signs: until when (epoch seconds).
    pub previous_secret_until: Option<i64>,
}

/// An endpoint with its secret: answered once, on create and on rotate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_…`: verify deliveries with it (Standard Webhooks). Shown only now.
    pub secret: String,
}

/// A delivery kept after 24 h of failed attempts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookDeadLetter {
    pub event_id: String,
    pub event_type: String,
    pub attempts: u32,
    pub first_attempt_at: Option<i64>,
    /// The last failure (HTTP status or transport error).
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRedeliverInput {
    /// One dead letter's event id; absent: all of the endpoint's.
    #[serde(default)]
    pub event_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookRedelivered {
    pub queued: u32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookDeadLetterParams {
    /// 1 to 500 (default 100).
    pub limit: Option<u32>,
}

fn view(w: &WebhookEndpoint) -> WebhookView {
    WebhookView {
        id: w.id.clone(),
        url: w.url.clone(),
        types: w.types.clone(),
        numbers: w.numbers.iter().map(|n| n.to_string()).collect(),
        description: w.description.clone(),
        bot: w.bot.as_ref().map(|b| b.to_string()),
        created_at: w.created_at.unix(),
        previous_secret_until: w.previous_secret.as_ref().map(|(_, until)| until.unix()),
    }
}

/// 32 bytes from the operating system's random source (two v4 UUIDs).
pub(crate) fn random_32_bytes() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes
}

/// A new `whsec_` secret of [`random_32_bytes`].
fn new_secret() -> WebhookSecret {
    WebhookSecret::from_bytes(random_32_bytes()).expect("32 bytes is a valid secret length")
}

async fn checked(input: WebhookInput) -> ApiResult<WebhookInput> {
    for t in &input.types {
        if !EventData::TYPES.contains(&t.as_str()) {
            return Err(ApiError::invalid(
                "types",
                format!("unknown event type {t:?}; see the Event schema"),
            ));
        }
    }
    for n in &input.numbers {
        number_id(n)?;
    }
    if input.description.as_ref().is_some_and(|d| d.len() > 500) {
        return Err(ApiError::invalid("description", "at most 500 characters"));
    }
    if input.url.len() > 2000 {
        return Err(ApiError::invalid("url", "at most 2000 characters"));
    }
    check_target(&input.url)
        .await
        .map_err(|e| ApiError::invalid("url", e))?;
    Ok(input)
}

async fn existing<D: Deps>(d: &D, id: &str) -> ApiResult<WebhookEndpoint> {
    d.store()
        .webhook(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook {id}")))
}

fn numbers_of(input: &WebhookInput) -> ApiResult<Vec<rules::BusinessNumberId>> {
    input.numbers.iter().map(|n| number_id(n)).collect()
}

fn bot_of(input: &WebhookInput) -> ApiResult<Option<rules::RecipeId>> {
    input
        .bot
        .as_deref()
        .map(|b| rules::RecipeId::new(b).map_err(|e| ApiError::invalid("bot", e)))
        .transpose()
}

/// Registers an endpoint (admin). The secret is in this answer only.
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks",
    request_body = WebhookInput,
    responses((status = 201, description = "The endpoint and its secret (shown once)", body = WebhookCreated), Errors)
)]
pub async fn create_webhook<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    JsonBody(input): JsonBody<WebhookInput>,
) -> ApiResult<(StatusCode, Json<WebhookCreated>)> {
    caller.require_admin("register webhooks")?;
    let input = checked(input).await?;
    let secret = new_secret();
    let endpoint = WebhookEndpoint {
        id: format!("wh_{}", uuid::Uuid::new_v4().simple()),
        numbers: numbers_of(&input)?,
        bot: bot_of(&input)?,
        url: input.url,
        types: input.types,
        description: input.description,
        secret: secret.expose(),
        previous_secret: None,
        created_at: d.now(),
        cursor: None,
    };
    d.store().put_webhook(&endpoint).await?;
    tracing::info!(webhook = %endpoint.id, "webhook registered");
    Ok((
        StatusCode::CREATED,
        Json(WebhookCreated {
            webhook: view(&endpoint),
            secret: secret.expose(),
        }),
    ))
}

/// Every endpoint (admin).
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Endpoints", body = Vec<WebhookView>), Errors)
)]
pub async fn list_webhooks<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
) -> ApiResult<Json<Vec<WebhookView>>> {
    caller.require_admin("list webhooks")?;
    Ok(Json(d.store().webhooks().await?.iter().map(view).collect()))
}

/// One endpoint (admin).
#[utoipa::path(
    get, path = "/v1/webhooks/{webhook}", tag = "webhooks",
    params(("webhook" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint", body = WebhookView), Errors)
)]
pub async fn get_webhook<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<WebhookView>> {
    caller.require_admin("read webhooks")?;
    Ok(Json(view(&existing(d.as_ref(), &id).await?)))
}

/// Changes an endpoint's URL, types, numbers or description (admin); its secret and queue stay.
#[utoipa::path(
    put, path = "/v1/webhooks/{webhook}", tag = "webhooks",
    params(("webhook" = String, Path, description = "Endpoint id")),
    request_body = WebhookInput,
    responses((status = 200, description = "The endpoint", body = WebhookView), Errors)
)]
pub async fn put_webhook<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(input): JsonBody<WebhookInput>,
) -> ApiResult<Json<WebhookView>> {
    caller.require_admin("change webhooks")?;
    let mut endpoint = existing(d.as_ref(), &id).await?;
    let input = checked(input).await?;
    endpoint.numbers = numbers_of(&input)?;
    endpoint.bot = bot_of(&input)?;
    endpoint.url = input.url;
    endpoint.types = input.types;
    endpoint.description = input.description;
    d.store().put_webhook(&endpoint).await?;
    Ok(Json(view(&endpoint)))
}

/// Removes an endpoint with its queued deliveries and dead letters (admin).
#[utoipa::path(
    delete, path = "/v1/webhooks/{webhook}", tag = "webhooks",
    params(("webhook" = String, Path, description = "Endpoint id")),
    responses((status = 204, description = "Deleted"), Errors)
)]
pub async fn delete_webhook<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin("delete webhooks")?;
    if !d.store().delete_webhook(&id).await? {
        return Err(ApiError::not_found(format!("no webhook {id}")));
    }
    tracing::info!(webhook = %id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret (admin). The previous one keeps signing beside it for 24 h, so receivers can
/// switch without losing a delivery.
#[utoipa::path(
    post, path = "/v1/webhooks/{webhook}/rotate", tag = "webhooks",
    params(("webhook" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint and its new secret (shown once)", body = WebhookCreated), Errors)
)]
pub async fn rotate_webhook<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<WebhookCreated>> {
    caller.require_admin("rotate webhook secrets")?;
    let mut endpoint = existing(d.as_ref(), &id).await?;
    let secret = new_secret();
    let until: Timestamp = d.now() + ROTATION_GRACE;
    endpoint.previous_secret = Some((
        std::mem::replace(&mut endpoint.secret, secret.expose()),
        until,
    ));
    d.store().put_webhook(&endpoint).await?;
    tracing::info!(webhook = %id, "webhook secret rotated");
    Ok(Json(WebhookCreated {
        webhook: view(&endpoint),
        secret: secret.expose(),
    }))
}

fn dead_view(d: Delivery) -> WebhookDeadLetter {
    WebhookDeadLetter {
        event_id: d.event_id,
        event_type: d.event_type,
        attempts: d.attempts,
        first_attempt_at: d.first_attempt_at.map(Timestamp::unix),
        last_error: d.last_error,
    }
}

/// The endpoint's dead letters, oldest first (admin).
#[utoipa::path(
    get, path = "/v1/webhooks/{webhook}/dead-letters", tag = "webhooks",
    params(("webhook" = String, Path, description = "Endpoint id"), WebhookDeadLetterParams),
    responses((status = 200, description = "Dead letters", body = Vec<WebhookDeadLetter>), Errors)
)]
pub async fn list_webhook_dead_letters<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    QueryParams(p): QueryParams<WebhookDeadLetterParams>,
) -> ApiResult<Json<Vec<WebhookDeadLetter>>> {
    caller.require_admin("read webhook dead letters")?;
    let limit = super::events::bounded_limit(p.limit, 100, 500)?;
    existing(d.as_ref(), &id).await?;
    let dead = d.store().dead_letters(&id, limit).await?;
    Ok(Json(dead.into_iter().map(dead_view).collect()))
}

/// Queues dead letters again, in their order (admin): one (`event_id`) or all.
#[utoipa::path(
    post, path = "/v1/webhooks/{webhook}/dead-letters/redeliver", tag = "webhooks",
    params(("webhook" = String, Path, description = "Endpoint id")),
    request_body = WebhookRedeliverInput,
    responses((status = 200, description = "How many were queued again", body = WebhookRedelivered), Errors)
)]
pub async fn redeliver_webhook_dead_letters<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(input): JsonBody<WebhookRedeliverInput>,
) -> ApiResult<Json<WebhookRedelivered>> {
    caller.require_admin("redeliver webhook dead letters")?;
    existing(d.as_ref(), &id).await?;
    let queued = d
        .store()
        .redeliver(&id, input.event_id.as_deref(), d.now())
        .await?;
    if queued == 0 && input.event_id.is_some() {
        return Err(ApiError::not_found("no such dead letter"));
    }
    Ok(Json(WebhookRedelivered { queued }))
}

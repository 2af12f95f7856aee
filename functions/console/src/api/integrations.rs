//! EVT-5: integration tokens and what an external bot does through `/v1`.
//!
//! Admins create (`POST /v1/integrations`: the `sbi_…` token is in that answer only; the store
//! keeps its SHA-256), list and revoke integration tokens, each scoped to numbers. A token
//! authenticates as [`Principal::Integration`]: it reads its numbers' contacts and message logs
//! and acts as the number's external bot on conversations that bot handles: answers
//! (`POST …/messages`), hands off to the queue or a named agent (`POST …/handoff`) or
//! completes (`POST …/complete`). Like agents' actions, each is a lane event (`Event::Bot`) the
//! router applies in order with the customer's messages; the rules decide the rest.
//!
//! On AWS, `/v1/…` is behind the JWT authorizer; the same routes answer under
//! `/v1/integration/…` (the stack's one route without it), where only integration tokens
//! authenticate (see the console's README).

use super::actions::{Accepted, SendMessage, check_window, message_content, queue_lane_event};
use super::contacts::{Contact, action_headers, load_contact};
use super::{Errors, fresh_key, number_id};
use crate::Deps;
use crate::access::check_version;
use crate::auth::{Caller, INTEGRATION_TOKEN_PREFIX, Integration, Principal, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rules::channel::Sender;
use rules::state::Handler;
use rules::{AgentId, BotAction, Event, RecipeId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{AgentStore, IntegrationStore, IntegrationToken, SettingsStore};
use utoipa::ToSchema;

/// A new integration token.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// What it is for (1 to 100 characters).
    pub name: String,
    /// The business numbers it may act on (at least one).
    pub numbers: Vec<String>,
}

/// A token as listed (never its secret or hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationView {
    pub id: String,
    pub name: String,
    pub numbers: Vec<String>,
    pub created_at: i64,
    /// When it was revoked (epoch seconds); absent while it works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// A token with its secret: answered once, on create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationCreated {
    #[serde(flatten)]
    pub integration: IntegrationView,
    /// `sbi_…`: send it as `Authorization: Bearer <token>`. Shown only now.
    pub token: String,
}

/// Where the bot hands the conversation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOffTo {
    /// The agent who takes it; absent: the number's queue.
    #[serde(default)]
    pub to: Option<String>,
}

fn view(t: &IntegrationToken) -> IntegrationView {
    IntegrationView {
        id: t.id.clone(),
        name: t.name.clone(),
        numbers: t.numbers.iter().map(|n| n.to_string()).collect(),
        created_at: t.created_at.unix(),
        revoked_at: t.revoked_at.map(|r| r.unix()),
    }
}

/// A new token: `sbi_` and 32 random bytes, hex.
fn new_token() -> String {
    format!(
        "{INTEGRATION_TOKEN_PREFIX}{}",
        hex::encode(super::webhooks::random_32_bytes())
    )
}

/// Creates an integration token (admin). The token is in this answer only.
#[utoipa::path(
    post, path = "/v1/integrations", tag = "integrations",
    request_body = IntegrationInput,
    responses((status = 201, description = "The token (shown once)", body = IntegrationCreated), Errors)
)]
pub async fn create_integration<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    JsonBody(input): JsonBody<IntegrationInput>,
) -> ApiResult<(StatusCode, Json<IntegrationCreated>)> {
    caller.require_admin("create integration tokens")?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "1 to 100 characters"));
    }
    if input.numbers.is_empty() {
        return Err(ApiError::invalid(
            "numbers",
            "name at least one number the token may act on",
        ));
    }
    let numbers = input
        .numbers
        .iter()
        .map(|n| number_id(n))
        .collect::<ApiResult<Vec<_>>>()?;
    let token = new_token();
    let record = IntegrationToken {
        id: format!("int_{}", fresh_key()),
        name: name.to_owned(),
        numbers,
        token_hash: token_hash(&token),
        created_at: d.now(),
        revoked_at: None,
    };
    d.store().put_integration(&record).await?;
    tracing::info!(integration = %record.id, "integration token created");
    Ok((
        StatusCode::CREATED,
        Json(IntegrationCreated {
            integration: view(&record),
            token,
        }),
    ))
}

/// Every integration token, revoked ones included (admin).
#[utoipa::path(
    get, path = "/v1/integrations", tag = "integrations",
    responses((status = 200, description = "Tokens", body = Vec<IntegrationView>), Errors)
)]
pub async fn list_integrations<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
) -> ApiResult<Json<Vec<IntegrationView>>> {
    caller.require_admin("list integration tokens")?;
    Ok(Json(
        d.store().integrations().await?.iter().map(view).collect(),
    ))
}

/// Revokes a token (admin): it stops authenticating at once.
#[utoipa::path(
    delete, path = "/v1/integrations/{integration}", tag = "integrations",
    params(("integration" = String, Path, description = "Token id (int_…)")),
    responses((status = 204, description = "Revoked"), Errors)
)]
pub async fn revoke_integration<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin("revoke integration tokens")?;
    let mut token = d
        .store()
        .integrations()
        .await?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .ok_or_else(|| ApiError::not_found(format!("no integration token {id}")))?;
    token.revoked_at = Some(d.now());
    d.store().put_integration(&token).await?;
    tracing::info!(integration = %id, "integration token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The checks every bot action shares: the token's scope, the number's external bot, the
/// contact, the version the bot saw, and that the bot handles the conversation now.
async fn prepare_bot<D: Deps>(
    d: &D,
    integration: &Integration,
    headers: &HeaderMap,
    number: &str,
    contact: &str,
) -> ApiResult<(Contact, RecipeId, Option<String>)> {
    let number_id = number_id(number)?;
    integration.require_number(&number_id)?;
    let (idempotency, if_match) = action_headers(headers)?;
    let bot = d
        .store()
        .settings(&number_id)
        .await?
        .and_then(|s| s.external_bot)
        .map(|b| b.id)
        .ok_or_else(|| {
            ApiError::conflict(
                "no_external_bot",
                format!("number {number_id} has no external bot"),
            )
        })?;
    let c = load_contact(d, number, contact).await?;
    check_version(if_match, c.version())?;
    match c
        .state()
        .and_then(|s| s.conversation.as_ref())
        .map(|c| &c.handler)
    {
        Some(Handler::Bot { recipe, .. }) if recipe == &bot => Ok((c, bot, idempotency)),
        _ => Err(ApiError::conflict(
            "not_handled_by_bot",
            format!("the contact's conversation is not handled by the bot {bot}"),
        )),
    }
}

async fn queue_bot_action<D: Deps>(
    d: &D,
    integration: &Integration,
    c: &Contact,
    idempotency: Option<String>,
    action: BotAction,
    bot: &RecipeId,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    // Namespaced by the token, so two integrations' keys never collide, nor with agents'.
    let key = format!(
        "integration:{}:{}",
        integration.id,
        idempotency.unwrap_or_else(fresh_key)
    );
    queue_lane_event(d, c, key, Event::Bot(action), bot.to_string(), false).await
}

/// `POST …/messages` with an integration token: the external bot answers (WIN-5: free-form
/// only while the window is open, as for any automated send).
pub(crate) async fn bot_send<D: Deps>(
    d: &D,
    integration: &Integration,
    headers: &HeaderMap,
    number: &str,
    contact: &str,
    m: SendMessage,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    if m.recontact_if_closed {
        return Err(ApiError::invalid(
            "recontact_if_closed",
            "a bot does not send the recontact template; outside the window send a template",
        ));
    }
    let (c, bot, idempotency) = prepare_bot(d, integration, headers, number, contact).await?;
    let content = message_content(d, &c, m).await?;
    let state = c.state_or_new();
    check_window(d, &c, &state, &content, false, Sender::Automation, d.now()).await?;
    let action = BotAction::Send {
        bot: bot.clone(),
        content,
    };
    queue_bot_action(d, integration, &c, idempotency, action, &bot).await
}

/// The external bot hands the conversation to the queue, or to a named agent (integration
/// tokens only).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/handoff", tag = "integrations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The contact version the bot saw"),
    ),
    request_body = HandOffTo,
    responses((status = 202, description = "Queued in the contact's lane", body = Accepted), Errors)
)]
pub async fn bot_hand_off<D: Deps>(
    State(d): State<Arc<D>>,
    principal: Principal,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
    JsonBody(h): JsonBody<HandOffTo>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let Principal::Integration(integration) = principal else {
        return Err(bot_only("hand off"));
    };
    let to = match h.to.as_deref() {
        None => None,
        Some(to) => Some(AgentId::new(to).map_err(|e| ApiError::invalid("to", e))?),
    };
    let (c, bot, idempotency) =
        prepare_bot(d.as_ref(), &integration, &headers, &number, &contact).await?;
    if let Some(to) = &to
        && !d.store().agents().await?.iter().any(|a| &a.agent == to)
    {
        return Err(ApiError::refused("unknown_agent", format!("no agent {to}")));
    }
    let action = BotAction::HandOff {
        bot: bot.clone(),
        to,
    };
    queue_bot_action(d.as_ref(), &integration, &c, idempotency, action, &bot).await
}

/// The external bot is done: the conversation closes as a completed bot conversation (AUTO-8;
/// no survey after a bot-only conversation, AUTO-9). Integration tokens only.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/complete", tag = "integrations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The contact version the bot saw"),
    ),
    responses((status = 202, description = "Queued in the contact's lane", body = Accepted), Errors)
)]
pub async fn bot_complete<D: Deps>(
    State(d): State<Arc<D>>,
    principal: Principal,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let Principal::Integration(integration) = principal else {
        return Err(bot_only("complete"));
    };
    let (c, bot, idempotency) =
        prepare_bot(d.as_ref(), &integration, &headers, &number, &contact).await?;
    let action = BotAction::Complete { bot: bot.clone() };
    queue_bot_action(d.as_ref(), &integration, &c, idempotency, action, &bot).await
}

fn bot_only(what: &str) -> ApiError {
    ApiError::forbidden(format!(
        "only the number's external bot (an integration token) may {what}; agents claim, transfer or close"
    ))
}

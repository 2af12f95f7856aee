//! Agents' actions on a contact's conversation: send (WIN-5, CHAN-1, CHAN-2), claim (AUTO-5),
//! transfer, close (CHAN-3, AUTO-5, AUTO-9) and snooze (AUTO-10).
//!
//! The console never writes the contact's state. It checks what it can now (the contact exists,
//! the caller may act, the version the client saw, the window for a send) and puts the action on
//! the inbound FIFO as a lane event in the contact's group; the router applies it in order with
//! the customer's messages and owns what follows (reopening assigns the sender, CHAN-2; the
//! closing logic, CHAN-3; the survey, AUTO-9; the next queued conversation, AUTO-5; the snooze
//! wake-up, AUTO-10). The answer is 202 with the action's key.

use super::contacts::{Contact, action_headers, load_contact};
use super::{Errors, fresh_key};
use crate::Deps;
use crate::access::{acting_agent, check_version};
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use queue::{Destination, Envelope, EventQueue};
use rules::channel::Sender;
use rules::effect::{MediaKind, TemplateHeader};
use rules::sending::{MayGo, may_go};
use rules::state::Handler;
use rules::templates::{ContactFields, Template, TemplateCatalogue, render_parameters};
use rules::{AgentAction, AgentId, ContactState, Event, OutboundContent, TemplateName, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{AgentStore, TemplateStore};
use utoipa::ToSchema;

/// The furthest a snooze may reach.
pub const MAX_SNOOZE: rules::Duration = rules::Duration::days(90);

/// The answer to an accepted action: it is queued in the contact's lane.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// The action's key: the same `Idempotency-Key` gives the same key, and the action is
    /// applied once.
    pub key: String,
    /// The agent the action is attributed to.
    pub agent: String,
    /// Set when a free-form message will go out as the number's recontact template (WIN-5).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recontact: bool,
}

/// A template to send, by name and language.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    pub name: String,
    pub language: String,
    /// Body parameters in order; absent: filled from the contact's fields by the template's
    /// variable mapping (TPL-3).
    #[serde(default)]
    pub parameters: Option<Vec<String>>,
    /// The header's parameter: the value of a text header's variable (absent: from the mapping),
    /// or a media header's id or https link (required for media headers).
    #[serde(default)]
    pub header: Option<String>,
}

/// A message from an agent: exactly one of `text`, `content` or `template`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Free-form text (at most 4096 characters).
    #[serde(default)]
    pub text: Option<String>,
    /// Any outbound content (`{"type":"text","body":…}`, media, buttons).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub content: Option<OutboundContent>,
    #[serde(default)]
    pub template: Option<TemplateRef>,
    /// WIN-5: when the window is closed, send the number's recontact template instead of
    /// refusing.
    #[serde(default)]
    pub recontact_if_closed: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferTo {
    /// The agent who takes the conversation.
    pub to: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeUntil {
    /// When the conversation reopens (epoch seconds, in the future, at most 90 days ahead).
    pub until: i64,
}

/// Puts the action in the contact's lane and answers 202.
async fn enqueue<D: Deps>(
    d: &D,
    caller: &Caller,
    contact: &Contact,
    idempotency: Option<String>,
    action: AgentAction,
    recontact: bool,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let agent = match &action {
        AgentAction::Send { agent, .. }
        | AgentAction::Close { agent }
        | AgentAction::Claim { agent }
        | AgentAction::Snooze { agent, .. } => agent.clone(),
        AgentAction::Transfer { to, .. } => to.clone(),
    };
    // Namespaced by the caller, so two agents' keys never collide, nor a key with a wamid.
    let key = format!(
        "console:{}:{}",
        caller.agent,
        idempotency.unwrap_or_else(fresh_key)
    );
    queue_lane_event(
        d,
        contact,
        key,
        Event::Agent(action),
        agent.to_string(),
        recontact,
    )
    .await
}

/// Puts `event` in the contact's lane under `key` and answers 202 (attributed to `by`).
pub(crate) async fn queue_lane_event<D: Deps>(
    d: &D,
    contact: &Contact,
    key: String,
    event: Event,
    by: String,
    recontact: bool,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let event = whatsapp::lane_event(
        contact.number.as_str(),
        contact.contact.as_str(),
        key.clone(),
        event,
    );
    if !matches!(event.route(), whatsapp::Route::Inbound { .. }) {
        return Err(ApiError::internal(
            "a lane event always routes to the inbound queue",
        ));
    }
    d.queue()
        .send(Destination::Inbound, vec![Envelope::of_event(&event)])
        .await?;
    tracing::info!(key = %key, by = %by, "console action queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            key,
            agent: by,
            recontact,
        }),
    ))
}

/// Loads the contact and runs the checks every action shares.
async fn prepare<D: Deps>(
    d: &D,
    caller: &Caller,
    headers: &HeaderMap,
    number: &str,
    contact: &str,
) -> ApiResult<(Contact, AgentId, Option<String>)> {
    let (idempotency, if_match) = action_headers(headers)?;
    let contact = load_contact(d, number, contact).await?;
    check_version(if_match, contact.version())?;
    let acting = acting_agent(caller, contact.state())?;
    Ok((contact, acting, idempotency))
}

fn no_conversation(what: &str) -> ApiError {
    ApiError::conflict(
        "no_open_conversation",
        format!("the contact has no open or snoozed conversation to {what}"),
    )
}

fn contact_fields(c: &Contact) -> ContactFields {
    ContactFields {
        first_name: c.profile.first_name.clone(),
        last_name: c.profile.last_name.clone(),
        email: c.profile.email.clone(),
        phone: c
            .profile
            .phone
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .or_else(|| Some(format!("+{}", c.contact))),
        custom: Default::default(),
    }
}

/// The header parameter of a template send: a text header's variable (given, else from the
/// mapping) or a media header's source (given).
fn template_header(
    template: &Template,
    t: &TemplateRef,
    mapped: Option<&String>,
) -> ApiResult<Option<TemplateHeader>> {
    use rules::templates::Header;
    let given = t.header.as_deref().map(str::trim).filter(|h| !h.is_empty());
    let media = |media| -> ApiResult<Option<TemplateHeader>> {
        let source = given.ok_or_else(|| {
            ApiError::invalid(
                "template.header",
                "this template's media header needs a media id or https link",
            )
        })?;
        Ok(Some(TemplateHeader::Media {
            media,
            source: source.to_owned(),
        }))
    };
    match &template.header {
        Some(Header::Text(text)) if !rules::templates::placeholder_indices(text).is_empty() => {
            let value = given
                .map(str::to_owned)
                .or_else(|| mapped.cloned())
                .ok_or_else(|| {
                    ApiError::invalid("template.header", "the header's variable needs a value")
                })?;
            Ok(Some(TemplateHeader::Text { text: value }))
        }
        Some(Header::Image) => media(MediaKind::Image),
        Some(Header::Video) => media(MediaKind::Video),
        Some(Header::Document) => media(MediaKind::Document),
        Some(Header::Location) => Err(ApiError::refused(
            "template_location_header",
            "templates with a location header cannot be sent from the console",
        )),
        _ if given.is_some() => Err(ApiError::invalid(
            "template.header",
            "this template's header takes no parameter",
        )),
        _ => Ok(None),
    }
}

/// TPL-1 and TPL-3 for a template send: the template exists and is approved, and its body
/// parameters are given or filled from the contact's fields, and so is the header's.
pub(crate) async fn template_content<D: Deps>(
    d: &D,
    c: &Contact,
    t: &TemplateRef,
    button_payloads: impl FnOnce(&Template) -> ApiResult<Vec<String>>,
) -> ApiResult<(Template, OutboundContent)> {
    let name =
        TemplateName::new(t.name.as_str()).map_err(|e| ApiError::invalid("template.name", e))?;
    let template = d
        .store()
        .template(&c.number, &name, &t.language)
        .await?
        .ok_or_else(|| {
            ApiError::refused(
                "unknown_template",
                format!("no template {} in {} on this number", t.name, t.language),
            )
        })?;
    template
        .check_sendable()
        .map_err(|e| ApiError::refused("template_not_approved", e.to_string()))?;
    let rendered = match &t.parameters {
        Some(given) => {
            let expected = rules::templates::placeholder_indices(&template.body).len();
            if given.len() != expected {
                return Err(ApiError::invalid(
                    "template.parameters",
                    format!(
                        "the template's body has {expected} variables, {} values were given",
                        given.len()
                    ),
                ));
            }
            if given.iter().any(|p| p.trim().is_empty()) {
                return Err(ApiError::invalid(
                    "template.parameters",
                    "values must not be empty",
                ));
            }
            rules::templates::RenderedParameters {
                header: Vec::new(),
                body: given.clone(),
            }
        }
        None => render_parameters(&template, &contact_fields(c))
            .map_err(|e| ApiError::refused("template_parameters", e.to_string()))?,
    };
    let header = template_header(&template, t, rendered.header.first())?;
    let payloads = button_payloads(&template)?;
    let content = OutboundContent::Template {
        name: template.name.clone(),
        language: template.language.clone(),
        header,
        parameters: rendered.body,
        button_payloads: payloads,
    };
    Ok((template, content))
}

/// Sends a message (free-form or template). Refused with 422 outside the window (WIN-5), or sent
/// as the recontact template when `recontact_if_closed` is set. Reopening a closed conversation
/// assigns the contact to the sender (CHAN-2, applied by the router).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/messages", tag = "conversations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The contact version the client saw"),
    ),
    request_body = SendMessage,
    responses((status = 202, description = "Queued in the contact's lane", body = Accepted), Errors)
)]
pub async fn send_message<D: Deps>(
    State(d): State<Arc<D>>,
    principal: Principal,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
    JsonBody(m): JsonBody<SendMessage>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let caller = match principal {
        Principal::Person(caller) => caller,
        Principal::Integration(i) => {
            return super::integrations::bot_send(d.as_ref(), &i, &headers, &number, &contact, m)
                .await;
        }
    };
    let (c, acting, idempotency) =
        prepare(d.as_ref(), &caller, &headers, &number, &contact).await?;
    let recontact_if_closed = m.recontact_if_closed;
    let content = message_content(d.as_ref(), &c, m).await?;
    let state = c.state_or_new();
    let recontact = check_window(
        d.as_ref(),
        &c,
        &state,
        &content,
        recontact_if_closed,
        Sender::Agent,
        d.now(),
    )
    .await?;
    let action = AgentAction::Send {
        agent: acting,
        content,
        recontact_if_closed,
    };
    enqueue(d.as_ref(), &caller, &c, idempotency, action, recontact).await
}

/// The message's content (exactly one of text, content or template), checked against Meta's
/// limits (SEND-5).
pub(crate) async fn message_content<D: Deps>(
    d: &D,
    c: &Contact,
    m: SendMessage,
) -> ApiResult<OutboundContent> {
    let given_as = match (&m.text, &m.content) {
        (Some(_), _) => "text",
        (_, Some(_)) => "content",
        _ => "template",
    };
    let content = match (m.text, m.content, &m.template) {
        (Some(text), None, None) => OutboundContent::text(text),
        (None, Some(content), None) => content,
        (None, None, Some(t)) => template_content(d, c, t, |_| Ok(Vec::new())).await?.1,
        _ => {
            return Err(ApiError::invalid(
                "text",
                "give exactly one of text, content or template",
            ));
        }
    };
    check_content(&content, given_as)?;
    Ok(content)
}

/// SEND-5: Meta's limits on the content (text length, button titles, list rows and their
/// titles, the list button …), checked by the code the sender checks them with
/// (`whatsapp::Outgoing::try_from`), so what would be refused at send time is refused now with
/// 400 naming the field (`text` for a text; `content.` or `template.` and Meta's field name).
fn check_content(content: &OutboundContent, given_as: &str) -> ApiResult<()> {
    if let OutboundContent::Text { body } = content
        && body.trim().is_empty()
    {
        return Err(ApiError::invalid("text", "must not be empty"));
    }
    if let OutboundContent::Media { source, .. } = content
        && source.trim().is_empty()
    {
        return Err(ApiError::invalid("content.source", "must not be empty"));
    }
    whatsapp::Outgoing::try_from(content)
        .map(|_| ())
        .map_err(|e| {
            let field = match (given_as, content) {
                ("text", _) => "text".to_owned(),
                (_, OutboundContent::Template { .. }) => format!("template ({})", e.field()),
                _ => format!("content ({})", e.field()),
            };
            ApiError::invalid(&field, &e)
        })
}

/// WIN-5 / CHAN-1 at the console: refuses what the rules would refuse, with the reason
/// ([`rules::sending::may_go`], the sender's own answer). Returns whether the recontact template
/// will replace the message.
pub(crate) async fn check_window<D: Deps>(
    d: &D,
    c: &Contact,
    state: &ContactState,
    content: &OutboundContent,
    recontact_if_closed: bool,
    who: Sender,
    now: Timestamp,
) -> ApiResult<bool> {
    match may_go(
        state.channel,
        state.windows.last_inbound_at,
        content.kind(),
        who,
        recontact_if_closed,
        now,
    ) {
        MayGo::Go => Ok(false),
        MayGo::AsRecontactTemplate => {
            // TPL-5: the number must have an approved recontact template.
            let catalogue = TemplateCatalogue {
                templates: d.store().templates(&c.number).await?,
            };
            if catalogue.recontact_candidates().next().is_none() {
                return Err(ApiError::refused(
                    "no_recontact_template",
                    "window closed: templates only, and this number has no approved recontact template",
                ));
            }
            Ok(true)
        }
        MayGo::Refuse(reason) => Err(ApiError::refused("window_closed", reason)),
    }
}

/// AUTO-5: takes an unassigned (queued) or bot conversation.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/claim", tag = "conversations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The contact version the client saw"),
    ),
    responses((status = 202, description = "Queued in the contact's lane", body = Accepted), Errors)
)]
pub async fn claim<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let (c, _, idempotency) = prepare(d.as_ref(), &caller, &headers, &number, &contact).await?;
    match c
        .state()
        .and_then(|s| s.conversation.as_ref())
        .map(|c| &c.handler)
    {
        None => return Err(no_conversation("claim")),
        Some(Handler::Agent { agent }) => {
            return Err(ApiError::conflict(
                "already_assigned",
                format!("the conversation is assigned to {agent}; transfer it instead"),
            ));
        }
        Some(Handler::Unassigned { .. } | Handler::Bot { .. }) => {}
    }
    let action = AgentAction::Claim {
        agent: caller.agent.clone(),
    };
    enqueue(d.as_ref(), &caller, &c, idempotency, action, false).await
}

/// Hands the conversation to another agent (an unassigned one is assigned to them).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/transfer", tag = "conversations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The contact version the client saw"),
    ),
    request_body = TransferTo,
    responses((status = 202, description = "Queued in the contact's lane", body = Accepted), Errors)
)]
pub async fn transfer<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
    JsonBody(t): JsonBody<TransferTo>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let to = AgentId::new(t.to.as_str()).map_err(|e| ApiError::invalid("to", e))?;
    let (c, acting, idempotency) =
        prepare(d.as_ref(), &caller, &headers, &number, &contact).await?;
    let agents = d.store().agents().await?;
    if !agents.iter().any(|a| a.agent == to) {
        return Err(ApiError::refused("unknown_agent", format!("no agent {to}")));
    }
    let action = match c
        .state()
        .and_then(|s| s.conversation.as_ref())
        .map(|c| &c.handler)
    {
        None => return Err(no_conversation("transfer")),
        Some(Handler::Agent { agent }) if agent == &to => {
            return Err(ApiError::conflict(
                "already_assigned",
                format!("the conversation is already assigned to {to}"),
            ));
        }
        Some(Handler::Agent { .. }) => AgentAction::Transfer { from: acting, to },
        Some(Handler::Unassigned { .. } | Handler::Bot { .. }) => AgentAction::Claim { agent: to },
    };
    enqueue(d.as_ref(), &caller, &c, idempotency, action, false).await
}

/// Closes the conversation: CSAT per AUTO-9, keep or unassign per CHAN-3, the next queued
/// conversation to the closing agent per AUTO-5 (all applied by the router).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/close", tag = "conversations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The contact version the client saw"),
    ),
    responses((status = 202, description = "Queued in the contact's lane", body = Accepted), Errors)
)]
pub async fn close<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let (c, acting, idempotency) =
        prepare(d.as_ref(), &caller, &headers, &number, &contact).await?;
    if c.state().and_then(|s| s.conversation.as_ref()).is_none() {
        return Err(no_conversation("close"));
    }
    enqueue(
        d.as_ref(),
        &caller,
        &c,
        idempotency,
        AgentAction::Close { agent: acting },
        false,
    )
    .await
}

/// AUTO-10: snoozes the conversation until a time; it reopens then or at the customer's next
/// message.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/snooze", tag = "conversations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The contact version the client saw"),
    ),
    request_body = SnoozeUntil,
    responses((status = 202, description = "Queued in the contact's lane", body = Accepted), Errors)
)]
pub async fn snooze<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
    JsonBody(s): JsonBody<SnoozeUntil>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let now = d.now();
    let until = Timestamp::from_unix(s.until);
    if until <= now {
        return Err(ApiError::invalid("until", "must be in the future"));
    }
    if until > now + MAX_SNOOZE {
        return Err(ApiError::invalid("until", "at most 90 days ahead"));
    }
    let (c, acting, idempotency) =
        prepare(d.as_ref(), &caller, &headers, &number, &contact).await?;
    if c.state().and_then(|s| s.conversation.as_ref()).is_none() {
        return Err(no_conversation("snooze"));
    }
    enqueue(
        d.as_ref(),
        &caller,
        &c,
        idempotency,
        AgentAction::Snooze {
            agent: acting,
            until,
        },
        false,
    )
    .await
}

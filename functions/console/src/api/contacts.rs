//! Contacts and the inbox: search (CHAN-4), the inbox list with its filters and paging, one
//! contact with its conversation and window (WIN-4), the profile, and the message log (inbound,
//! outbound with delivery state, notices).

use super::{Errors, contact_key, number_id, page_limit};
use crate::Deps;
use crate::access::acting_agent;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams, QueryParams};
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rules::channel::{MessageKind, RefusalReason, SendPermission, Sender, may_send};
use rules::search::ContactProfile;
use rules::state::{ConversationStatus, Handler, Origin};
use rules::window::{WindowKind, WindowStatus};
use rules::{BusinessNumberId, ContactKey, ContactState, LogEntry, PhoneNumber, Timestamp};
use serde::{Deserialize, Serialize};
use store::{ConsoleStore, ContactSearch, ContactStore, InboxStatus, QueueStore, Scope, Versioned};
use utoipa::{IntoParams, ToSchema};

/// What the desk knows about a contact (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 with the country prefix, e.g. `+4915123456789`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// WhatsApp's profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
}

const MAX_FIELD_CHARS: usize = 256;

impl Profile {
    pub fn from_rules(p: &ContactProfile) -> Self {
        Profile {
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            email: p.email.clone(),
            phone: p.phone.as_ref().map(|p| p.as_str().to_owned()),
            profile_name: p.profile_name.clone(),
        }
    }

    /// Parses the profile at the edge: E.164 phone, a plausible email, bounded lengths.
    pub fn to_rules(&self) -> ApiResult<ContactProfile> {
        let text = |field: &str, v: &Option<String>| -> ApiResult<Option<String>> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) if t.chars().count() > MAX_FIELD_CHARS => Err(ApiError::invalid(
                    field,
                    format!("at most {MAX_FIELD_CHARS} characters"),
                )),
                Some(t) => Ok(Some(t.to_owned())),
            }
        };
        let email = text("email", &self.email)?;
        if let Some(e) = &email {
            let mut parts = e.split('@');
            let ok = matches!((parts.next(), parts.next(), parts.next()),
                (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !e.contains(char::is_whitespace));
            if !ok {
                return Err(ApiError::invalid("email", "is not an email address"));
            }
        }
        let phone = match text("phone", &self.phone)? {
            Some(p) => Some(PhoneNumber::parse(&p).map_err(|e| ApiError::invalid("phone", e))?),
            None => None,
        };
        Ok(ContactProfile {
            first_name: text("first_name", &self.first_name)?,
            last_name: text("last_name", &self.last_name)?,
            email,
            phone,
            profile_name: text("profile_name", &self.profile_name)?,
        })
    }
}

/// CHAN-4's inbox filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxFilter {
    #[default]
    Open,
    Snoozed,
    /// No open or snoozed conversation.
    Closed,
}

impl InboxFilter {
    fn store(self) -> InboxStatus {
        match self {
            InboxFilter::Open => InboxStatus::Open,
            InboxFilter::Snoozed => InboxStatus::Snoozed,
            InboxFilter::Closed => InboxStatus::Closed,
        }
    }

    fn of(status: InboxStatus) -> Self {
        match status {
            InboxStatus::Open => InboxFilter::Open,
            InboxStatus::Snoozed => InboxFilter::Snoozed,
            InboxStatus::Closed => InboxFilter::Closed,
        }
    }
}

/// CHAN-4: whose contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchScope {
    /// Assigned to the caller.
    Mine,
    #[default]
    All,
}

/// The inbox: `mine`, the number's `queue` (unassigned conversations waiting for an agent, first
/// in first out), or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxScope {
    #[default]
    Mine,
    Queue,
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// First name, last name, email or phone (any part; case-insensitive; phone by digits).
    pub q: Option<String>,
    pub scope: Option<SearchScope>,
    pub status: Option<InboxFilter>,
    /// 1 to 100 (default 25).
    pub limit: Option<u32>,
    /// `next` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    pub scope: Option<InboxScope>,
    pub status: Option<InboxFilter>,
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A contact in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContactItem {
    pub number: String,
    pub contact: String,
    pub status: InboxFilter,
    /// The agent of the current conversation, else the kept assignee (CHAN-3).
    pub assignee: Option<String>,
    pub conversation: Option<String>,
    /// Epoch seconds of the latest activity.
    pub updated_at: i64,
    pub profile: Profile,
    /// In the `queue` scope: the position, 1 = next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
    /// Epoch seconds since a customer message waits for an agent's answer (absent: none waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<i64>,
    /// Customer messages in the current conversation since an agent last wrote.
    pub unread: u32,
    /// The latest message with content, either side (absent: none yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<LastMessage>,
}

/// The inbox list's preview of a conversation's latest message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LastMessage {
    /// `inbound` (the customer) or `outbound` (the business).
    pub kind: String,
    /// Epoch seconds.
    pub at: i64,
    /// The message's content as the log shows it (`{"type":"text","body":…}`, a template, …).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContactPage {
    pub items: Vec<ContactItem>,
    /// Cursor of the next page; absent on the last.
    pub next: Option<String>,
}

fn item(s: store::ContactSummary) -> ContactItem {
    ContactItem {
        number: s.number.to_string(),
        contact: s.contact.to_string(),
        status: InboxFilter::of(s.status),
        assignee: s.assignee.map(|a| a.to_string()),
        conversation: s.conversation.map(|c| c.to_string()),
        updated_at: s.updated_at.unix(),
        profile: Profile::from_rules(&s.profile),
        queue_position: None,
        waiting_since: s.waiting_since.map(Timestamp::unix),
        unread: s.unread,
        last_message: None,
    }
}

/// How many log entries the preview looks through for the latest inbound message with content
/// (notices come between).
const PREVIEW_LOOKBACK: u32 = 4;

/// The latest message with content of a contact: its newest inbound log entry with a body, or its
/// newest outbound send, whichever is later (two reads).
async fn last_message<D: Deps>(
    d: &D,
    number: &BusinessNumberId,
    contact: &ContactKey,
) -> ApiResult<Option<LastMessage>> {
    let (log, outbound) = futures_util::future::try_join(
        d.store()
            .message_log(number, contact, PREVIEW_LOOKBACK, None),
        d.store().outbound_log(
            number,
            contact,
            Timestamp::EPOCH,
            Timestamp::from_unix(i64::MAX),
            1,
        ),
    )
    .await?;
    let inbound = log
        .items
        .into_iter()
        .find_map(|m| match (&m.record.entry, m.record.body) {
            (LogEntry::Inbound { at, .. }, Some(body)) => Some(LastMessage {
                kind: "inbound".into(),
                at: at.unix(),
                body,
            }),
            _ => None,
        });
    let outbound = outbound.into_iter().next().and_then(|o| {
        o.body.map(|body| LastMessage {
            kind: "outbound".into(),
            at: o.claimed_at.unix(),
            body,
        })
    });
    Ok(match (inbound, outbound) {
        (Some(i), Some(o)) => Some(if o.at >= i.at { o } else { i }),
        (i, o) => i.or(o),
    })
}

/// Fills each item's preview (the reads run together).
async fn with_previews<D: Deps>(d: &D, items: &mut [ContactItem]) -> ApiResult<()> {
    let mut keys = Vec::with_capacity(items.len());
    for it in items.iter() {
        keys.push((number_id(&it.number)?, contact_key(&it.contact)?));
    }
    let previews = futures_util::future::try_join_all(
        keys.iter()
            .map(|(number, contact)| last_message(d, number, contact)),
    )
    .await?;
    for (it, preview) in items.iter_mut().zip(previews) {
        it.last_message = preview;
    }
    Ok(())
}

fn cursor_param(cursor: Option<String>) -> ApiResult<Option<String>> {
    match cursor {
        Some(c) if c.len() > 1024 => {
            Err(ApiError::invalid("cursor", "is not a cursor of this API"))
        }
        Some(c) if c.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn store_page_error(e: store::StoreError) -> ApiError {
    // A malformed cursor is the caller's input.
    match e {
        store::StoreError::Invalid(_) => ApiError::invalid("cursor", "is not a cursor of this API"),
        other => other.into(),
    }
}

async fn search<D: Deps>(
    d: &D,
    number: BusinessNumberId,
    scope: Scope,
    status: InboxFilter,
    text: Option<String>,
    limit: u32,
    cursor: Option<String>,
) -> ApiResult<ContactPage> {
    if text.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(ApiError::invalid("q", "at most 100 characters"));
    }
    let page = d
        .store()
        .search_contacts(&ContactSearch {
            number,
            scope,
            status: status.store(),
            text: text.filter(|t| !t.trim().is_empty()),
            limit,
            cursor: super::decode_cursor(cursor)?,
        })
        .await
        .map_err(store_page_error)?;
    let mut items: Vec<ContactItem> = page.items.into_iter().map(item).collect();
    with_previews(d, &mut items).await?;
    Ok(ContactPage {
        items,
        next: super::encode_cursor(page.next),
    })
}

/// CHAN-4: search contacts by first name, last name, email or phone, within `mine` or `all`,
/// filtered by `open` / `snoozed` / `closed`.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/contacts", tag = "contacts",
    params(("number" = String, Path, description = "Business number (phone_number_id)"), SearchParams),
    responses((status = 200, description = "Matching contacts, newest activity first", body = ContactPage), Errors)
)]
pub async fn search_contacts<D: Deps>(
    axum::extract::State(d): axum::extract::State<std::sync::Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
    QueryParams(p): QueryParams<SearchParams>,
) -> ApiResult<Json<ContactPage>> {
    let number = number_id(&number)?;
    let scope = match p.scope.unwrap_or_default() {
        SearchScope::Mine => Scope::Mine(caller.agent.clone()),
        SearchScope::All => Scope::All,
    };
    let page = search(
        d.as_ref(),
        number,
        scope,
        p.status.unwrap_or_default(),
        p.q,
        page_limit(p.limit)?,
        p.cursor,
    )
    .await?;
    Ok(Json(page))
}

/// The inbox: the caller's conversations (`mine`), the number's queue (`queue`: unassigned,
/// first in first out) or `all`, filtered by status and text, in pages.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/conversations", tag = "conversations",
    params(("number" = String, Path, description = "Business number"), InboxParams),
    responses((status = 200, description = "Conversations (one per contact)", body = ContactPage), Errors)
)]
pub async fn list_conversations<D: Deps>(
    axum::extract::State(d): axum::extract::State<std::sync::Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
    QueryParams(p): QueryParams<InboxParams>,
) -> ApiResult<Json<ContactPage>> {
    let number = number_id(&number)?;
    let limit = page_limit(p.limit)?;
    let scope = match p.scope.unwrap_or_default() {
        InboxScope::Mine => Scope::Mine(caller.agent.clone()),
        InboxScope::All => Scope::All,
        InboxScope::Queue => {
            // AUTO-4/AUTO-5: the queue in order; a claimed conversation leaves it.
            let entries = d.store().queue_head(&number, limit).await?;
            let mut items = Vec::with_capacity(entries.len());
            for (i, entry) in entries.into_iter().enumerate() {
                if let Some(summary) = d.store().contact_summary(&number, &entry.contact).await? {
                    let mut it = item(summary);
                    it.queue_position = Some(u32::try_from(i).unwrap_or(u32::MAX) + 1);
                    items.push(it);
                }
            }
            with_previews(d.as_ref(), &mut items).await?;
            return Ok(Json(ContactPage { items, next: None }));
        }
    };
    let page = search(
        d.as_ref(),
        number,
        scope,
        p.status.unwrap_or_default(),
        p.q,
        limit,
        p.cursor,
    )
    .await?;
    Ok(Json(page))
}

/// The current conversation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    /// `open` or `snoozed`.
    pub status: InboxFilter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<i64>,
    /// `agent`, `unassigned` (waiting in the queue) or `bot`.
    pub handler: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
    pub opened_at: i64,
    /// `inbound`, `outreach` or `agent_outbound` (CHAN-2).
    pub origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_customer_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_agent_at: Option<i64>,
    /// WIN-3: the click-to-WhatsApp ad or page call-to-action the conversation came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralView>,
}

/// Where a conversation came from (Meta's `referral`, WIN-3).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReferralView {
    /// `ad`, `post`, … as Meta says.
    pub source_type: String,
    /// The ad's or post's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// The link the customer followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// The ad's headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// The click-to-WhatsApp click id (for the advertiser's conversion reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
}

impl From<&rules::state::Referral> for ReferralView {
    fn from(r: &rules::state::Referral) -> Self {
        ReferralView {
            source_type: r.source_type.clone(),
            source_id: r.source_id.clone(),
            source_url: r.source_url.clone(),
            headline: r.headline.clone(),
            ctwa_clid: r.ctwa_clid.clone(),
        }
    }
}

/// WIN-4: the window check of seed 003, with what may be sent now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WindowView {
    /// `open` or `closed`.
    pub state: String,
    /// When open: `service`, `free_entry_point` or `no_window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// When the customer service window closes (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<i64>,
    /// When it closed (absent: never opened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_since: Option<i64>,
    /// WIN-3: the free entry point window's end, if one is open (price, not rights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_entry_point_until: Option<i64>,
    /// CHAN-1 for an agent's free-form message now: `allowed`, `allowed_with_tag`,
    /// `allowed_billed`, `template_only` or `refused`.
    pub free_form: String,
    /// Why free-form is limited, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_form_reason: Option<String>,
    /// CHAN-1 for a template now.
    pub template: String,
}

pub(crate) fn permission_name(p: SendPermission) -> (&'static str, Option<String>) {
    match p {
        SendPermission::Allowed => ("allowed", None),
        SendPermission::AllowedWithTag(tag) => {
            ("allowed_with_tag", Some(format!("sent with the {tag} tag")))
        }
        SendPermission::AllowedBilled => (
            "allowed_billed",
            Some("billed as business-initiated".into()),
        ),
        SendPermission::TemplateOnly => (
            "template_only",
            Some(
                RefusalReason::WindowClosedTemplatesOnly
                    .describe()
                    .to_owned(),
            ),
        ),
        SendPermission::Refused(r) => ("refused", Some(r.describe().to_owned())),
    }
}

/// WIN-4 and CHAN-1 for a contact's state (a contact that never wrote has no window).
pub fn window_view(state: &ContactState, now: Timestamp) -> WindowView {
    let status = rules::window(&state.windows, state.channel, now);
    let last = state.windows.last_inbound_at;
    let free_form = may_send(
        state.channel,
        last,
        MessageKind::FreeForm,
        Sender::Agent,
        now,
    );
    let template = may_send(
        state.channel,
        last,
        MessageKind::Template,
        Sender::Agent,
        now,
    );
    let (free_form, free_form_reason) = permission_name(free_form);
    let (template, _) = permission_name(template);
    let mut view = WindowView {
        state: String::new(),
        kind: None,
        closes_at: None,
        closed_since: None,
        free_entry_point_until: None,
        free_form: free_form.to_owned(),
        free_form_reason,
        template: template.to_owned(),
    };
    match status {
        WindowStatus::Open {
            kind,
            closes_at,
            free_entry_point_until,
        } => {
            view.state = "open".into();
            view.kind = Some(
                match kind {
                    WindowKind::Service => "service",
                    WindowKind::FreeEntryPoint => "free_entry_point",
                    WindowKind::NoWindow => "no_window",
                }
                .into(),
            );
            view.closes_at = closes_at.map(Timestamp::unix);
            view.free_entry_point_until = free_entry_point_until.map(Timestamp::unix);
        }
        WindowStatus::Closed {
            since,
            free_entry_point_until,
        } => {
            view.state = "closed".into();
            view.closed_since = since.map(Timestamp::unix);
            view.free_entry_point_until = free_entry_point_until.map(Timestamp::unix);
        }
    }
    view
}

/// One contact: profile, current conversation, window and version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContactDetail {
    pub number: String,
    pub contact: String,
    /// The contact's state version (send it back as `If-Match` to act only on what you saw);
    /// absent while the contact has never been in a conversation.
    pub version: Option<u64>,
    pub status: InboxFilter,
    pub assignee: Option<String>,
    pub profile: Profile,
    pub conversation: Option<ConversationView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_closed_at: Option<i64>,
    pub window: WindowView,
    /// WIN-3: the click-to-WhatsApp ad or page call-to-action the contact came from, as kept on
    /// its current conversation (the free entry point window it makes the contact eligible for
    /// is in `window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralView>,
}

/// A contact as the console sees it: its state (if it ever had one) and its profile.
pub(crate) struct Contact {
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub state: Option<Versioned<ContactState>>,
    pub profile: ContactProfile,
}

impl Contact {
    pub fn state(&self) -> Option<&ContactState> {
        self.state.as_ref().map(|s| &s.value)
    }

    pub fn version(&self) -> Option<u64> {
        self.state.as_ref().map(|s| s.version)
    }

    /// The state, or a new contact's (no window, no conversation).
    pub fn state_or_new(&self) -> ContactState {
        self.state()
            .cloned()
            .unwrap_or_else(|| ContactState::new(self.number.clone(), self.contact.clone()))
    }
}

/// Loads a contact; 404 when the store has neither state nor profile for it.
pub(crate) async fn load_contact<D: Deps>(
    d: &D,
    number: &str,
    contact: &str,
) -> ApiResult<Contact> {
    let number = number_id(number)?;
    let contact = contact_key(contact)?;
    let loaded = d.store().load_contact(&number, &contact, d.now()).await?;
    let summary = d.store().contact_summary(&number, &contact).await?;
    if loaded.state.is_none() && summary.is_none() {
        return Err(ApiError::not_found(format!(
            "no contact {contact} on number {number}"
        )));
    }
    Ok(Contact {
        number,
        contact,
        state: loaded.state,
        profile: summary.map(|s| s.profile).unwrap_or_default(),
    })
}

pub(crate) fn detail(c: &Contact, now: Timestamp) -> ContactDetail {
    let state = c.state_or_new();
    let conversation = state.conversation.as_ref().map(|conv| {
        let (handler, agent, position) = match &conv.handler {
            Handler::Agent { agent } => ("agent", Some(agent.to_string()), None),
            Handler::Unassigned { position, .. } => ("unassigned", None, *position),
            Handler::Bot { .. } => ("bot", None, None),
        };
        let (status, snoozed_until) = match conv.status {
            ConversationStatus::Open => (InboxFilter::Open, None),
            ConversationStatus::Snoozed { until } => (InboxFilter::Snoozed, Some(until.unix())),
        };
        ConversationView {
            id: conv.id.to_string(),
            status,
            snoozed_until,
            handler: handler.into(),
            agent,
            queue_position: position,
            opened_at: conv.opened_at.unix(),
            origin: match conv.origin {
                Origin::Inbound => "inbound",
                Origin::Outreach { .. } => "outreach",
                Origin::AgentOutbound => "agent_outbound",
            }
            .into(),
            last_customer_at: conv.last_customer_at.map(Timestamp::unix),
            last_agent_at: conv.last_agent_at.map(Timestamp::unix),
            referral: conv.referral.as_ref().map(ReferralView::from),
        }
    });
    ContactDetail {
        number: c.number.to_string(),
        contact: c.contact.to_string(),
        version: c.version(),
        status: InboxFilter::of(rules::search::status_of(&state)),
        assignee: rules::search::owner(&state).map(|a| a.to_string()),
        profile: Profile::from_rules(&c.profile),
        conversation,
        last_closed_at: state.last_closed.as_ref().map(|l| l.closed_at.unix()),
        window: window_view(&state, now),
        referral: state
            .conversation
            .as_ref()
            .and_then(|conv| conv.referral.as_ref())
            .map(ReferralView::from),
    }
}

fn with_etag(detail: ContactDetail) -> Response {
    let etag = detail
        .version
        .and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok());
    let mut response = Json(detail).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// One contact with its conversation and window check. The `ETag` is the state's version.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/contacts/{contact}", tag = "contacts",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key (wa_id)")),
    responses((status = 200, description = "The contact", body = ContactDetail), Errors)
)]
pub async fn get_contact<D: Deps>(
    axum::extract::State(d): axum::extract::State<std::sync::Arc<D>>,
    principal: Principal,
    PathParams((number, contact)): PathParams<(String, String)>,
) -> ApiResult<Response> {
    principal.require_reader_of(&number_id(&number)?)?;
    let c = load_contact(d.as_ref(), &number, &contact).await?;
    let mut shown = detail(&c, d.now());
    queue_position_now(d.as_ref(), &c, &mut shown).await?;
    Ok(with_etag(shown))
}

/// AUTO-4: a queued conversation shows where it stands in the queue now (as the queue list
/// does), not the position it joined with (the state's, which the queue moving ahead leaves
/// behind). One read, only for a conversation that waits.
async fn queue_position_now<D: Deps>(
    d: &D,
    c: &Contact,
    shown: &mut ContactDetail,
) -> ApiResult<()> {
    let waiting = c
        .state()
        .and_then(|s| s.conversation.as_ref())
        .filter(|conv| {
            matches!(
                conv.handler,
                Handler::Unassigned {
                    position: Some(_),
                    ..
                }
            )
        });
    if let (Some(conv), Some(view)) = (waiting, shown.conversation.as_mut()) {
        view.queue_position = d.store().queue_position(&c.number, &conv.id).await?;
    }
    Ok(())
}

/// Creates the contact or sets its profile (agents: on contacts they may act on).
#[utoipa::path(
    put, path = "/v1/numbers/{number}/contacts/{contact}", tag = "contacts",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key (wa_id)")),
    request_body = Profile,
    responses((status = 200, description = "The contact after the change", body = ContactDetail), Errors)
)]
pub async fn put_contact<D: Deps>(
    axum::extract::State(d): axum::extract::State<std::sync::Arc<D>>,
    caller: Caller,
    PathParams((number, contact)): PathParams<(String, String)>,
    JsonBody(profile): JsonBody<Profile>,
) -> ApiResult<Response> {
    let number = number_id(&number)?;
    let contact = contact_key(&contact)?;
    let profile = profile.to_rules()?;
    let now = d.now();
    let loaded = d.store().load_contact(&number, &contact, now).await?;
    acting_agent(&caller, loaded.state.as_ref().map(|s| &s.value))?;
    d.store()
        .put_profile(&number, &contact, &profile, now)
        .await?;
    let c = Contact {
        number,
        contact,
        state: loaded.state,
        profile,
    };
    let mut shown = detail(&c, now);
    queue_position_now(d.as_ref(), &c, &mut shown).await?;
    Ok(with_etag(shown))
}

/// WIN-4: the customer service window check (seed 003), with what an agent may send now.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/contacts/{contact}/window", tag = "contacts",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key")),
    responses((status = 200, description = "Open or closed, until or since when", body = WindowView), Errors)
)]
pub async fn window_check<D: Deps>(
    axum::extract::State(d): axum::extract::State<std::sync::Arc<D>>,
    _caller: Caller,
    PathParams((number, contact)): PathParams<(String, String)>,
) -> ApiResult<Json<WindowView>> {
    let c = load_contact(d.as_ref(), &number, &contact).await?;
    Ok(Json(window_view(&c.state_or_new(), d.now())))
}

/// Delivery state of an outbound message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// `queued` (not yet accepted by Meta), `sent`, `delivered`, `read`, `failed`, or `refused`
    /// (not sent, SEND-5: `error` says why).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<i64>,
    /// Meta's error on `failed`: code and title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One entry of the message log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogItem {
    /// Unique in the contact's log and stable across reads (a client's list key).
    pub id: String,
    /// `inbound`, `outbound` or `notice`.
    pub kind: String,
    /// Epoch seconds.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    /// The WhatsApp message id (inbound; outbound once accepted by Meta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Inbound/notice: the event it came from; outbound: the send's idempotency key.
    pub key: String,
    /// Notices: what happened (`expired_outreach_pressed`, `assigned_to`, `send_refused`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub notice: Option<serde_json::Value>,
    /// The message's content, when the log has it: an inbound message as Meta sent it; an
    /// outbound one as requested (`{"type":"text","body":…}`, a template, buttons …; when the
    /// window made the sender use the recontact template instead, `delivery` is that send's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub body: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// Newest first, in a stable order: by `at`; within one second, the customer's message before
    /// the notices it caused and those before the business's sends; then in the order written.
    pub items: Vec<LogItem>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The log page's cursor: the store's cursor of the inbound/notice log and the time before which
/// outbound messages are still to be shown.
#[derive(Debug, Serialize, Deserialize)]
struct LogCursor {
    log: Option<String>,
    before: i64,
}

fn decode_cursor(text: &str) -> ApiResult<LogCursor> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor of this API"))
}

fn encode_cursor(c: &LogCursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

/// How many outbound messages one log page shows at most (between two inbound entries).
const MAX_OUTBOUND_PER_PAGE: u32 = 200;

/// The message log: inbound messages, outbound messages with their delivery state, and notices
/// (for example `expired_outreach_pressed`, OUT-EXP-4), newest first.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/contacts/{contact}/messages", tag = "conversations",
    params(("number" = String, Path, description = "Business number"), ("contact" = String, Path, description = "Contact key"), LogParams),
    responses((status = 200, description = "A page of the log", body = LogPage), Errors)
)]
pub async fn message_log<D: Deps>(
    axum::extract::State(d): axum::extract::State<std::sync::Arc<D>>,
    principal: Principal,
    PathParams((number, contact)): PathParams<(String, String)>,
    QueryParams(p): QueryParams<LogParams>,
) -> ApiResult<Json<LogPage>> {
    principal.require_reader_of(&number_id(&number)?)?;
    let limit = page_limit(p.limit)?;
    let cursor = match cursor_param(p.cursor)? {
        Some(c) => decode_cursor(&c)?,
        None => LogCursor {
            log: None,
            before: i64::MAX,
        },
    };
    let c = load_contact(d.as_ref(), &number, &contact).await?;
    let page = d
        .store()
        .message_log(&c.number, &c.contact, limit, cursor.log.as_deref())
        .await
        .map_err(store_page_error)?;
    // Outbound messages between this page's oldest entry and the previous page's.
    let from = match (&page.next, page.items.last()) {
        (Some(_), Some(last)) => last.record.at(),
        _ => Timestamp::EPOCH,
    };
    let until = Timestamp::from_unix(cursor.before);
    let outbound = d
        .store()
        .outbound_log(&c.number, &c.contact, from, until, MAX_OUTBOUND_PER_PAGE)
        .await?;
    // The store gives each side newest first; one event's entries (same key) in the order written.
    let mut items: Vec<LogItem> = Vec::with_capacity(page.items.len() + outbound.len());
    let mut previous: Option<(String, usize)> = None;
    for m in page.items {
        let index = match &previous {
            Some((key, i)) if *key == m.event_key.as_str() => i + 1,
            _ => 0,
        };
        previous = Some((m.event_key.to_string(), index));
        items.push(log_item(m, index));
    }
    items.extend(outbound.into_iter().map(outbound_item));
    order_log(&mut items);
    let next = page.next.map(|log| {
        encode_cursor(&LogCursor {
            log: Some(log),
            before: from.unix(),
        })
    });
    Ok(Json(LogPage { items, next }))
}

/// Within one second: the customer's message, then the notices, then the business's sends.
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "inbound" => 0,
        "notice" => 1,
        _ => 2,
    }
}

/// Newest first: by time, then by [`kind_rank`]; a stable sort keeps the store's order (the
/// order written) among equals, and the id settles the rest.
fn order_log(items: &mut [LogItem]) {
    items.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then_with(|| kind_rank(&b.kind).cmp(&kind_rank(&a.kind)))
    });
}

fn log_item(m: store::LoggedMessage, index: usize) -> LogItem {
    let at = m.record.at().unix();
    let conversation = m.record.conversation().map(|c| c.to_string());
    let (kind, message, notice) = match &m.record.entry {
        LogEntry::Inbound { message, .. } => ("inbound", Some(message.to_string()), None),
        LogEntry::Notice { notice, .. } => ("notice", None, serde_json::to_value(notice).ok()),
    };
    LogItem {
        id: format!("log:{}:{index}", m.event_key),
        kind: kind.into(),
        at,
        conversation,
        message,
        key: m.event_key.to_string(),
        notice,
        body: m.record.body,
        delivery: None,
    }
}

fn outbound_item(o: store::OutboundEntry) -> LogItem {
    let m = o.message.unwrap_or_default();
    let mut delivery = Delivery {
        status: m.status().map_or("queued", |s| s.as_str()).to_owned(),
        sent_at: m.sent_at.map(Timestamp::unix),
        delivered_at: m.delivered_at.map(Timestamp::unix),
        read_at: m.read_at.map(Timestamp::unix),
        failed_at: m.failed_at.map(Timestamp::unix),
        error: m.error.as_ref().map(|e| format!("{} {}", e.code, e.title)),
    };
    // SEND-5: a send Meta never accepted says why (SEND-4: a waiting retry names its attempt).
    match o.unsent {
        Some(store::SendState::Refused { reason, at }) => {
            (delivery.status, delivery.failed_at) = ("refused".into(), Some(at.unix()));
            delivery.error = Some(reason);
        }
        Some(store::SendState::Failed { reason, at, .. }) => {
            (delivery.status, delivery.failed_at) = ("failed".into(), Some(at.unix()));
            delivery.error = Some(reason);
        }
        Some(store::SendState::Waiting { because, .. }) => delivery.error = Some(because),
        _ => {}
    }
    LogItem {
        id: format!("send:{}", o.idempotency_key),
        kind: "outbound".into(),
        at: o.claimed_at.unix(),
        conversation: None,
        message: m.wamid.map(|w| w.to_string()),
        key: o.idempotency_key,
        notice: None,
        body: o.body,
        delivery: Some(delivery),
    }
}

/// The headers of a contact action (exported for the actions module).
pub(crate) fn action_headers(headers: &HeaderMap) -> ApiResult<(Option<String>, Option<u64>)> {
    Ok((
        crate::extract::idempotency_key(headers)?,
        crate::extract::if_match(headers)?,
    ))
}

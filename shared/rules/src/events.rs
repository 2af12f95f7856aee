//! Events out (EVT-1, EVT-2, EVT-4): the pure projector from committed item changes to typed,
//! versioned domain events, and the pure parts of outgoing webhooks (Standard Webhooks signatures,
//! the retry schedule, the target URL checks).
//!
//! The projector sees one stored item's change at a time (its image before and after), exactly
//! as a DynamoDB stream record or a SQLite trigger does, and never reads anything else: the same
//! change always projects to the same events with the same ids, so a replayed stream record or a
//! re-run projection never invents or doubles an event (receivers deduplicate by id). A
//! redelivered webhook changes no item (its dedup marker), so it projects to nothing.
//!
//! Which item changes produce which events:
//!
//! | item change | events |
//! |---|---|
//! | a message-log entry appended (`LogEntry::Inbound` / `Notice`) | `message.received`, `conversation.*`, `csat.answered`, `outreach.pressed`, `message.refused` |
//! | an outbound send claimed (the contact's send pointer) | `message.sent` |
//! | an outbound message's delivery times (each first report of sent/delivered/read/failed) | `delivery.updated` |
//! | a campaign's hopper counters changed | `campaign.progress` |
//! | a template's status or quality changed | `template.updated` |
//! | a number's pacing record: stopped, resumed, messaging limit changed | `number.updated` |

use crate::effect::{CloseReason, LogEntry, MediaKind, Notice};
use crate::templates::{Quality, Template, TemplateStatus};
use crate::{
    AgentId, BusinessNumberId, CampaignId, ContactKey, ConversationId, Duration, MessageId,
    OutreachId, RecipeId, Timestamp,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The schema version of every event type this build produces (EVT-2). A type's payload only
/// gains optional fields within a version; anything else is a new version, announced in the
/// OpenAPI document, and both are produced side by side for a deprecation period.
pub const EVENT_VERSION: u32 = 1;

/// One domain event (EVT-2): `{id, type, version, occurred_at, number, contact, conversation,
/// data}`. `type` and `data` come from [`EventData`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Stable: derived from the change it comes from (`evt_` and 32 hex digits).
    pub id: String,
    pub version: u32,
    pub occurred_at: Timestamp,
    pub number: BusinessNumberId,
    #[serde(default)]
    pub contact: Option<ContactKey>,
    #[serde(default)]
    pub conversation: Option<ConversationId>,
    #[serde(flatten)]
    pub data: EventData,
}

impl DomainEvent {
    /// The event's type, dotted (`message.received`).
    pub fn kind(&self) -> &'static str {
        self.data.kind()
    }

    /// What delivery order is kept per (EVT-4, "in order per conversation"): the contact's lane
    /// (a contact has at most one open conversation, so its order holds each conversation's),
    /// or the number for events of no contact.
    /// EVT-5: the external bot this event is addressed to (a customer message it is to answer).
    pub fn for_bot(&self) -> Option<&RecipeId> {
        match &self.data {
            EventData::MessageReceived { bot, .. } => bot.as_ref(),
            _ => None,
        }
    }

    pub fn ordering_key(&self) -> String {
        match &self.contact {
            Some(c) => format!("{}#{}", self.number, c),
            None => self.number.to_string(),
        }
    }
}

/// Delivery states a `delivery.updated` event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Sent,
    Delivered,
    Read,
    Failed,
}

/// The type and payload of an event. Payloads carry ids, never message text, names or phone
/// numbers: a consumer that needs the content reads it through `/v1` with its own rights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventData {
    /// The customer's message joined the contact's log (`conversation` is `None` when it joined
    /// none, OUT-EXP-2).
    /// `bot`: the external bot handling the conversation, which is to answer it (EVT-5).
    #[serde(rename = "message.received")]
    MessageReceived {
        message: MessageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot: Option<RecipeId>,
    },
    /// An outbound message was claimed for sending (by the bot, an agent, a campaign, the
    /// automation); its delivery follows as `delivery.updated`.
    #[serde(rename = "message.sent")]
    MessageSent { send: String },
    /// A send the rules refused (window closed, …), with the reason (SEND-5).
    #[serde(rename = "message.refused")]
    MessageRefused { reason: String },
    /// Meta reported a delivery state for the first time (states never go back, HOOK-3).
    #[serde(rename = "delivery.updated")]
    DeliveryUpdated {
        message: MessageId,
        status: DeliveryState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<i64>,
    },
    #[serde(rename = "conversation.opened")]
    ConversationOpened {},
    #[serde(rename = "conversation.assigned")]
    ConversationAssigned { agent: AgentId },
    #[serde(rename = "conversation.queued")]
    ConversationQueued { position: u32 },
    #[serde(rename = "conversation.unassigned")]
    ConversationUnassigned {},
    #[serde(rename = "conversation.handed_off")]
    ConversationHandedOff {},
    #[serde(rename = "conversation.snoozed")]
    ConversationSnoozed { until: Timestamp },
    #[serde(rename = "conversation.reopened")]
    ConversationReopened {},
    #[serde(rename = "conversation.closed")]
    ConversationClosed { reason: CloseReason },
    #[serde(rename = "csat.answered")]
    CsatAnswered {
        score: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<AgentId>,
    },
    /// The customer pressed an outreach's button: `expired` (OUT-EXP-4), shown to the agent
    /// (OUT-ACT-5), or starting the conversation (OUT-ACT-1/2, `started: true`).
    #[serde(rename = "outreach.pressed")]
    OutreachPressed {
        outreach: OutreachId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        button: Option<u8>,
        expired: bool,
        started: bool,
    },
    /// A campaign's hopper counters after a change (CAMP-2).
    #[serde(rename = "campaign.progress")]
    CampaignProgress {
        campaign: CampaignId,
        hopper: BTreeMap<String, i64>,
    },
    /// A template was added or its status or quality changed (TPL-4).
    #[serde(rename = "template.updated")]
    TemplateUpdated {
        name: String,
        language: String,
        status: TemplateStatus,
        quality: Quality,
    },
    /// A number's sending stopped, resumed, or its messaging limit changed (SEND-2, SEND-3).
    #[serde(rename = "number.updated")]
    NumberUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stopped: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        messaging_limit: Option<u64>,
    },
    /// MEDIA-1: the media of the customer's message could not be fetched after every retry.
    #[serde(rename = "media.not_fetched")]
    MediaNotFetched {
        message: MessageId,
        kind: MediaKind,
        reason: String,
    },
}

impl EventData {
    /// Every event type, dotted, in the order the OpenAPI document lists them.
    pub const TYPES: [&'static str; 18] = [
        "message.received",
        "message.sent",
        "message.refused",
        "delivery.updated",
        "conversation.opened",
        "conversation.assigned",
        "conversation.queued",
        "conversation.unassigned",
        "conversation.handed_off",
        "conversation.snoozed",
        "conversation.reopened",
        "conversation.closed",
        "csat.answered",
        "outreach.pressed",
        "campaign.progress",
        "template.updated",
        "number.updated",
        "media.not_fetched",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            EventData::MessageReceived { .. } => "message.received",
            EventData::MessageSent { .. } => "message.sent",
            EventData::MessageRefused { .. } => "message.refused",
            EventData::DeliveryUpdated { .. } => "delivery.updated",
            EventData::ConversationOpened {} => "conversation.opened",
            EventData::ConversationAssigned { .. } => "conversation.assigned",
            EventData::ConversationQueued { .. } => "conversation.queued",
            EventData::ConversationUnassigned {} => "conversation.unassigned",
            EventData::ConversationHandedOff {} => "conversation.handed_off",
            EventData::ConversationSnoozed { .. } => "conversation.snoozed",
            EventData::ConversationReopened {} => "conversation.reopened",
            EventData::ConversationClosed { .. } => "conversation.closed",
            EventData::CsatAnswered { .. } => "csat.answered",
            EventData::OutreachPressed { .. } => "outreach.pressed",
            EventData::CampaignProgress { .. } => "campaign.progress",
            EventData::TemplateUpdated { .. } => "template.updated",
            EventData::NumberUpdated { .. } => "number.updated",
            EventData::MediaNotFetched { .. } => "media.not_fetched",
        }
    }
}

/// When an outbound message's states were first reported (the store's delivery record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryTimes {
    pub sent_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub read_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
}

/// A number's pacing as events see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumberStatus {
    pub stopped: Option<String>,
    pub messaging_limit: Option<u64>,
}

/// One stored item's change, decoded by the store from its before and after images. `at` is when
/// the change was committed (the stream record's creation time; the SQLite commit's clock), used
/// only where the item carries no time of its own.
#[derive(Debug, Clone, Copy)]
pub enum ItemChange<'a> {
    /// A message-log item was written (`item_key`: the item's stable key).
    LogAppended {
        number: &'a BusinessNumberId,
        contact: &'a ContactKey,
        item_key: &'a str,
        entry: &'a LogEntry,
    },
    /// The contact's pointer to an outbound send was written.
    SendClaimed {
        number: &'a BusinessNumberId,
        contact: &'a ContactKey,
        idempotency_key: &'a str,
        claimed_at: Timestamp,
    },
    /// An outbound message's delivery record changed.
    Delivery {
        number: Option<&'a BusinessNumberId>,
        contact: Option<&'a ContactKey>,
        wamid: &'a MessageId,
        before: DeliveryTimes,
        after: DeliveryTimes,
        error_code: Option<i64>,
    },
    Campaign {
        campaign: &'a CampaignId,
        number: &'a BusinessNumberId,
        before: Option<&'a BTreeMap<String, i64>>,
        after: &'a BTreeMap<String, i64>,
        at: Timestamp,
    },
    Template {
        number: &'a BusinessNumberId,
        before: Option<&'a Template>,
        after: &'a Template,
        at: Timestamp,
    },
    Number {
        number: &'a BusinessNumberId,
        before: Option<&'a NumberStatus>,
        after: &'a NumberStatus,
        at: Timestamp,
    },
}

/// EVT-1: the events of one item change, in the order they happened. Pure: the same change gives
/// the same events with the same ids.
pub fn project(change: &ItemChange<'_>) -> Vec<DomainEvent> {
    match *change {
        ItemChange::LogAppended {
            number,
            contact,
            item_key,
            entry,
        } => {
            let (conversation, at, data) = match entry {
                LogEntry::Inbound {
                    message,
                    conversation,
                    at,
                    bot,
                } => (
                    conversation.clone(),
                    *at,
                    EventData::MessageReceived {
                        message: message.clone(),
                        bot: bot.clone(),
                    },
                ),
                LogEntry::Notice {
                    conversation,
                    at,
                    notice,
                } => (Some(conversation.clone()), *at, notice_data(notice)),
            };
            vec![DomainEvent {
                id: event_id(&["log", number.as_str(), contact.as_str(), item_key]),
                version: EVENT_VERSION,
                occurred_at: at,
                number: number.clone(),
                contact: Some(contact.clone()),
                conversation,
                data,
            }]
        }
        ItemChange::SendClaimed {
            number,
            contact,
            idempotency_key,
            claimed_at,
        } => vec![DomainEvent {
            id: event_id(&["send", number.as_str(), idempotency_key]),
            version: EVENT_VERSION,
            occurred_at: claimed_at,
            number: number.clone(),
            contact: Some(contact.clone()),
            conversation: None,
            data: EventData::MessageSent {
                send: idempotency_key.to_owned(),
            },
        }],
        ItemChange::Delivery {
            number,
            contact,
            wamid,
            before,
            after,
            error_code,
        } => {
            // Without a number the message is not ours to report (a status for a send we never
            // recorded): nothing to route the event by.
            let Some(number) = number else {
                return Vec::new();
            };
            let steps = [
                (DeliveryState::Sent, before.sent_at, after.sent_at),
                (
                    DeliveryState::Delivered,
                    before.delivered_at,
                    after.delivered_at,
                ),
                (DeliveryState::Read, before.read_at, after.read_at),
                (DeliveryState::Failed, before.failed_at, after.failed_at),
            ];
            steps
                .into_iter()
                .filter_map(|(status, was, is)| match (was, is) {
                    (None, Some(at)) => Some((status, at)),
                    _ => None,
                })
                .map(|(status, at)| DomainEvent {
                    id: event_id(&["delivery", wamid.as_str(), state_name(status)]),
                    version: EVENT_VERSION,
                    occurred_at: at,
                    number: number.clone(),
                    contact: contact.cloned(),
                    conversation: None,
                    data: EventData::DeliveryUpdated {
                        message: wamid.clone(),
                        status,
                        error_code: error_code.filter(|_| status == DeliveryState::Failed),
                    },
                })
                .collect()
        }
        ItemChange::Campaign {
            campaign,
            number,
            before,
            after,
            at,
        } => {
            if before == Some(after) {
                return Vec::new();
            }
            let counts = |h: Option<&BTreeMap<String, i64>>| {
                h.map(|h| {
                    h.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
            };
            vec![DomainEvent {
                id: event_id(&[
                    "campaign",
                    campaign.as_str(),
                    &counts(before),
                    &counts(Some(after)),
                    &at.unix().to_string(),
                ]),
                version: EVENT_VERSION,
                occurred_at: at,
                number: number.clone(),
                contact: None,
                conversation: None,
                data: EventData::CampaignProgress {
                    campaign: campaign.clone(),
                    hopper: after.clone(),
                },
            }]
        }
        ItemChange::Template {
            number,
            before,
            after,
            at,
        } => {
            if before.is_some_and(|b| b.status == after.status && b.quality == after.quality) {
                return Vec::new();
            }
            let stamp = after
                .status_as_of
                .max(after.quality_as_of)
                .unwrap_or(at)
                .unix()
                .to_string();
            vec![DomainEvent {
                id: event_id(&[
                    "template",
                    number.as_str(),
                    after.name.as_str(),
                    &after.language,
                    &format!("{:?}/{:?}", after.status, after.quality),
                    &stamp,
                ]),
                version: EVENT_VERSION,
                occurred_at: after.status_as_of.max(after.quality_as_of).unwrap_or(at),
                number: number.clone(),
                contact: None,
                conversation: None,
                data: EventData::TemplateUpdated {
                    name: after.name.to_string(),
                    language: after.language.clone(),
                    status: after.status,
                    quality: after.quality,
                },
            }]
        }
        ItemChange::Number {
            number,
            before,
            after,
            at,
        } => {
            if before.unwrap_or(&NumberStatus::default()) == after {
                return Vec::new();
            }
            vec![DomainEvent {
                id: event_id(&[
                    "number",
                    number.as_str(),
                    after.stopped.as_deref().unwrap_or("-"),
                    &after
                        .messaging_limit
                        .map_or_else(|| "-".to_owned(), |l| l.to_string()),
                    &at.unix().to_string(),
                ]),
                version: EVENT_VERSION,
                occurred_at: at,
                number: number.clone(),
                contact: None,
                conversation: None,
                data: EventData::NumberUpdated {
                    stopped: after.stopped.clone(),
                    messaging_limit: after.messaging_limit,
                },
            }]
        }
    }
}

fn notice_data(notice: &Notice) -> EventData {
    match notice {
        Notice::ConversationOpened => EventData::ConversationOpened {},
        Notice::ConversationClosed { reason } => EventData::ConversationClosed { reason: *reason },
        Notice::ExpiredOutreachPressed { outreach } => EventData::OutreachPressed {
            outreach: outreach.clone(),
            button: None,
            expired: true,
            started: false,
        },
        Notice::OutreachPressed { outreach, button } => EventData::OutreachPressed {
            outreach: outreach.clone(),
            button: *button,
            expired: false,
            started: false,
        },
        Notice::StartedFromOutreach { outreach, button } => EventData::OutreachPressed {
            outreach: outreach.clone(),
            button: *button,
            expired: false,
            started: true,
        },
        Notice::AssignedTo { agent } => EventData::ConversationAssigned {
            agent: agent.clone(),
        },
        Notice::Queued { position } => EventData::ConversationQueued {
            position: *position,
        },
        Notice::Unassigned => EventData::ConversationUnassigned {},
        Notice::Snoozed { until } => EventData::ConversationSnoozed { until: *until },
        Notice::Reopened => EventData::ConversationReopened {},
        Notice::HandedOffByBot => EventData::ConversationHandedOff {},
        Notice::CsatAnswered { score, agent } => EventData::CsatAnswered {
            score: *score,
            agent: agent.clone(),
        },
        Notice::SendRefused { reason } => EventData::MessageRefused {
            reason: reason.clone(),
        },
        Notice::MediaNotFetched {
            message,
            kind,
            reason,
        } => EventData::MediaNotFetched {
            message: message.clone(),
            kind: *kind,
            reason: reason.clone(),
        },
    }
}

fn state_name(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Sent => "sent",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Read => "read",
        DeliveryState::Failed => "failed",
    }
}

/// `evt_` and the first 128 bits of SHA-256 over the parts (length-prefixed, so no two part lists
/// collide). Ids are opaque: they never show a phone number or a contact key.
fn event_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(36);
    id.push_str("evt_");
    for b in &digest[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

// ---------------------------------------------------------------------------------------------
// Outgoing webhooks (EVT-4).

/// The prefix of an endpoint secret as Standard Webhooks writes it.
pub const SECRET_PREFIX: &str = "whsec_";

/// How long a failing delivery is retried before it becomes a dead letter (EVT-4).
pub const RETRY_FOR: Duration = Duration::hours(24);
/// The first retry's delay; each next one doubles, up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::seconds(5);
pub const MAX_RETRY_DELAY: Duration = Duration::hours(1);
/// How long the previous secret keeps signing after a rotation (both sign meanwhile).
pub const ROTATION_GRACE: Duration = Duration::hours(24);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the secret must be `whsec_` followed by base64")]
    BadSecret,
    #[error("the secret must hold 24 to 64 bytes")]
    SecretLength,
    #[error("{0}")]
    BadUrl(&'static str),
}

/// An endpoint secret: `whsec_` + base64 of the key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// From key bytes the shell drew from a random source (24 to 64 bytes).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, WebhookError> {
        if !(24..=64).contains(&bytes.len()) {
            return Err(WebhookError::SecretLength);
        }
        Ok(WebhookSecret(bytes))
    }

    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(WebhookError::BadSecret)?;
        let bytes = STANDARD.decode(b64).map_err(|_| WebhookError::BadSecret)?;
        Self::from_bytes(bytes)
    }

    /// The secret as shown to the admin (once) and stored.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// One Standard Webhooks signature: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
    pub fn sign(&self, id: &str, timestamp: Timestamp, body: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.unix().to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret that signs now, space-separated
/// (during a rotation's grace period the new one first, then the previous one).
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: Timestamp,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which secrets sign at `now`: the current one, and the previous one until its grace ends.
pub fn signing_secrets<'a>(
    current: &'a WebhookSecret,
    previous: Option<(&'a WebhookSecret, Timestamp)>,
    now: Timestamp,
) -> Vec<&'a WebhookSecret> {
    let mut out = vec![current];
    if let Some((prev, until)) = previous
        && now < until
    {
        out.push(prev);
    }
    out
}

/// What to do after a failed delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again at this time.
    RetryAt(Timestamp),
    /// 24 h of retries are over: keep it as a dead letter.
    DeadLetter,
}

/// EVT-4: after the `attempts`-th failed attempt (1 = the first try) of a delivery first tried at
/// `first_attempt_at`: retry after 5 s, doubling, at most an hour apart, for 24 h; then dead.
pub fn after_failed_attempt(
    attempts: u32,
    first_attempt_at: Timestamp,
    now: Timestamp,
) -> RetryDecision {
    let deadline = first_attempt_at + RETRY_FOR;
    if now >= deadline {
        return RetryDecision::DeadLetter;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let delay = FIRST_RETRY_DELAY
        .as_seconds()
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_DELAY.as_seconds());
    let at = now + Duration::seconds(delay);
    RetryDecision::RetryAt(if at > deadline { deadline } else { at })
}

/// Whether the endpoint takes events of this type (an empty filter takes all).
pub fn subscribed(types: &[String], kind: &str) -> bool {
    types.is_empty() || types.iter().any(|t| t == kind)
}

/// EVT-4, EVT-5: whether an endpoint with these filters is sent the event: of a type it takes,
/// of a number it takes (empty: every number), and, for the endpoint of an external bot (`bot`),
/// only the customer's messages in the conversations that bot handles.
pub fn delivers(
    types: &[String],
    numbers: &[BusinessNumberId],
    bot: Option<&RecipeId>,
    event: &DomainEvent,
) -> bool {
    subscribed(types, event.kind())
        && (numbers.is_empty() || numbers.contains(&event.number))
        && bot.is_none_or(|b| event.for_bot() == Some(b))
}

/// A checked endpoint URL: its host and port to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

/// EVT-4's URL rule: `https://` anywhere public; `http://127.0.0.1` only when the deployment
/// allows loopback (the local runner). The host's addresses must then pass [`address_allowed`]
/// after resolution (the shell resolves; a name may point anywhere).
pub fn check_target_url(url: &str, allow_loopback_http: bool) -> Result<TargetUrl, WebhookError> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(WebhookError::BadUrl("the URL must start with https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(WebhookError::BadUrl(
            "the URL needs a host (and no user info)",
        ));
    }
    let (host, port) = split_host_port(authority)?;
    let port = port.unwrap_or(if https { 443 } else { 80 });
    if !https {
        let loopback = host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() && ip.is_ipv4());
        if !(allow_loopback_http && loopback) {
            return Err(WebhookError::BadUrl(
                "plain http is allowed only for http://127.0.0.1 on the local runner",
            ));
        }
        return Ok(TargetUrl { https, host, port });
    }
    if let Ok(ip) = host.parse::<IpAddr>()
        && !address_allowed(ip, false)
    {
        return Err(WebhookError::BadUrl(
            "the URL points at a private, loopback or link-local address",
        ));
    }
    Ok(TargetUrl { https, host, port })
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), WebhookError> {
    let bad_port = WebhookError::BadUrl("the port is not a number");
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or(WebhookError::BadUrl("unclosed [ in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad_port)?),
            None if after.is_empty() => None,
            None => return Err(WebhookError::BadUrl("junk after the host")),
        };
        return Ok((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((
            host.to_ascii_lowercase(),
            Some(port.parse().map_err(|_| bad_port)?),
        )),
        None => Ok((authority.to_ascii_lowercase(), None)),
    }
}

/// Whether a resolved address may be called (no SSRF): public unicast only, or the loopback when
/// the local runner allows it.
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_allowed(v4, allow_loopback);
            }
            if v6.is_loopback() {
                return allow_loopback;
            }
            let seg0 = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local
                || (seg0 & 0xffc0) == 0xfe80 // link-local
                || v6 == Ipv6Addr::LOCALHOST)
        }
    }
}

fn v4_allowed(v4: Ipv4Addr, allow_loopback: bool) -> bool {
    if v4.is_loopback() {
        return allow_loopback;
    }
    let [a, b, ..] = v4.octets();
    !(v4.is_private()
        || v4.is_link_local() // 169.254/16: the instance metadata service
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0)
        || a >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> BusinessNumberId {
        BusinessNumberId::new("106540352242922").unwrap()
    }
    fn c() -> ContactKey {
        ContactKey::new("4915112345678").unwrap()
    }
    fn conv() -> ConversationId {
        ConversationId::new("conv-1").unwrap()
    }
    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix(1_750_000_000 + s)
    }

    fn log(entry: &LogEntry, key: &str) -> Vec<DomainEvent> {
        let (n, c) = (n(), c());
        project(&ItemChange::LogAppended {
            number: &n,
            contact: &c,
            item_key: key,
            entry,
        })
    }

    // EVT-1: each log entry (the desk-visible trace of a commit) is exactly one event of its
    // type; the table covers every notice.
    #[test]
    fn evt_1_log_entries_project_to_one_typed_event_each() {
        let agent = AgentId::new("ana").unwrap();
        let o = OutreachId::new("out-1").unwrap();
        let table: Vec<(Notice, &str)> = vec![
            (Notice::ConversationOpened, "conversation.opened"),
            (
                Notice::ConversationClosed {
                    reason: CloseReason::AutoClose,
                },
                "conversation.closed",
            ),
            (
                Notice::AssignedTo {
                    agent: agent.clone(),
                },
                "conversation.assigned",
            ),
            (Notice::Queued { position: 2 }, "conversation.queued"),
            (Notice::Unassigned, "conversation.unassigned"),
            (Notice::Snoozed { until: at(60) }, "conversation.snoozed"),
            (Notice::Reopened, "conversation.reopened"),
            (Notice::HandedOffByBot, "conversation.handed_off"),
            (
                Notice::CsatAnswered {
                    score: 5,
                    agent: Some(agent),
                },
                "csat.answered",
            ),
            (
                Notice::ExpiredOutreachPressed {
                    outreach: o.clone(),
                },
                "outreach.pressed",
            ),
            (
                Notice::OutreachPressed {
                    outreach: o.clone(),
                    button: Some(1),
                },
                "outreach.pressed",
            ),
            (
                Notice::StartedFromOutreach {
                    outreach: o,
                    button: None,
                },
                "outreach.pressed",
            ),
            (
                Notice::SendRefused {
                    reason: "window closed".into(),
                },
                "message.refused",
            ),
            (
                Notice::MediaNotFetched {
                    message: MessageId::new("wamid.M").unwrap(),
                    kind: MediaKind::Audio,
                    reason: "gone".into(),
                },
                "media.not_fetched",
            ),
        ];
        for (i, (notice, kind)) in table.into_iter().enumerate() {
            let entry = LogEntry::Notice {
                conversation: conv(),
                at: at(i as i64),
                notice,
            };
            let events = log(&entry, &format!("L#{i}"));
            assert_eq!(events.len(), 1, "{kind}");
            let e = &events[0];
            assert_eq!(e.kind(), kind);
            assert!(EventData::TYPES.contains(&kind));
            assert_eq!(e.occurred_at, at(i as i64));
            assert_eq!(e.conversation, Some(conv()));
            assert_eq!(e.contact, Some(c()));
            assert_eq!(e.version, EVENT_VERSION);
        }
        let inbound = LogEntry::Inbound {
            message: MessageId::new("wamid.A").unwrap(),
            conversation: None,
            at: at(0),
            bot: None,
        };
        let e = &log(&inbound, "L#x")[0];
        assert_eq!(e.kind(), "message.received");
        assert_eq!(e.conversation, None);
    }

    // EVT-2: ids are stable (the same change gives the same id), distinct per change, and opaque
    // (no contact key or phone number in them).
    #[test]
    fn evt_2_ids_are_stable_distinct_and_opaque() {
        let entry = LogEntry::Inbound {
            message: MessageId::new("wamid.A").unwrap(),
            conversation: Some(conv()),
            at: at(0),
            bot: None,
        };
        let a = log(&entry, "L#00001#wamid.A#000");
        let b = log(&entry, "L#00001#wamid.A#000");
        let other = log(&entry, "L#00001#wamid.A#001");
        assert_eq!(a, b);
        assert_ne!(a[0].id, other[0].id);
        assert!(a[0].id.starts_with("evt_") && a[0].id.len() == 36);
        assert!(!a[0].id.contains("4915"));
        // The JSON shape: {id, type, version, occurred_at, number, contact, conversation, data}.
        let json = serde_json::to_value(&a[0]).unwrap();
        assert_eq!(json["type"], "message.received");
        assert_eq!(json["data"]["message"], "wamid.A");
        assert_eq!(json["conversation"], "conv-1");
        let back: DomainEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, a[0]);
    }

    // EVT-1 and HOOK-3: each delivery state is reported once, when first recorded; a repeated or
    // older status (no new time) projects to nothing.
    #[test]
    fn evt_1_delivery_states_once_each_in_order() {
        let (n, c) = (n(), c());
        let w = MessageId::new("wamid.OUT").unwrap();
        let none = DeliveryTimes::default();
        let sent = DeliveryTimes {
            sent_at: Some(at(1)),
            ..none
        };
        let read_jump = DeliveryTimes {
            delivered_at: Some(at(2)),
            read_at: Some(at(3)),
            ..sent
        };
        let change = |before, after, error_code| ItemChange::Delivery {
            number: Some(&n),
            contact: Some(&c),
            wamid: &w,
            before,
            after,
            error_code,
        };
        let first = project(&change(none, sent, None));
        assert_eq!(first.len(), 1);
        let both = project(&change(sent, read_jump, None));
        let states: Vec<_> = both
            .iter()
            .map(|e| match &e.data {
                EventData::DeliveryUpdated { status, .. } => *status,
                _ => panic!("not a delivery"),
            })
            .collect();
        assert_eq!(states, [DeliveryState::Delivered, DeliveryState::Read]);
        assert!(project(&change(read_jump, read_jump, None)).is_empty());
        // A replay of the same change gives the same ids.
        assert_eq!(project(&change(sent, read_jump, None)), both);
        let failed = DeliveryTimes {
            failed_at: Some(at(9)),
            ..sent
        };
        let f = project(&change(sent, failed, Some(131026)));
        assert!(matches!(
            f[0].data,
            EventData::DeliveryUpdated {
                error_code: Some(131026),
                ..
            }
        ));
        let unknown = ItemChange::Delivery {
            number: None,
            contact: None,
            wamid: &w,
            before: none,
            after: sent,
            error_code: None,
        };
        assert!(project(&unknown).is_empty());
    }

    // EVT-1: campaigns, templates and numbers report changes only, never an unchanged write.
    #[test]
    fn evt_1_aggregates_report_changes_only() {
        let n = n();
        let k = CampaignId::new("camp-1").unwrap();
        let h1: BTreeMap<String, i64> = [("fresh".to_owned(), 10)].into();
        let h2: BTreeMap<String, i64> = [("fresh".to_owned(), 9), ("pending".to_owned(), 1)].into();
        let camp = |before, after| ItemChange::Campaign {
            campaign: &k,
            number: &n,
            before,
            after,
            at: at(5),
        };
        assert_eq!(project(&camp(None, &h1)).len(), 1);
        assert!(project(&camp(Some(&h1), &h1)).is_empty());
        let p = project(&camp(Some(&h1), &h2));
        assert_eq!(p[0].kind(), "campaign.progress");

        let t1 = Template::new(
            crate::TemplateName::new("promo").unwrap(),
            "en",
            crate::templates::TemplateCategory::Marketing,
            "Hi",
        );
        let mut t2 = t1.clone();
        t2.status = TemplateStatus::Approved;
        t2.status_as_of = Some(at(7));
        let tpl = |before, after| ItemChange::Template {
            number: &n,
            before,
            after,
            at: at(8),
        };
        assert_eq!(project(&tpl(None, &t1)).len(), 1);
        assert!(project(&tpl(Some(&t1), &t1)).is_empty());
        let e = &project(&tpl(Some(&t1), &t2))[0];
        assert_eq!(e.kind(), "template.updated");
        assert_eq!(e.occurred_at, at(7));

        let running = NumberStatus::default();
        let stopped = NumberStatus {
            stopped: Some("token expired".into()),
            messaging_limit: None,
        };
        let num = |before, after| ItemChange::Number {
            number: &n,
            before,
            after,
            at: at(9),
        };
        assert!(project(&num(None, &running)).is_empty());
        assert_eq!(
            project(&num(Some(&running), &stopped))[0].kind(),
            "number.updated"
        );
    }

    // EVT-4: the Standard Webhooks signature, checked against the specification's published
    // example (id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, secret
    // whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw).
    #[test]
    fn evt_4_signature_matches_the_standard_webhooks_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            Timestamp::from_unix(1614265330),
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_!!").is_err());
        assert!(!format!("{secret:?}").contains("MfKQ"));
    }

    // EVT-4: during the rotation's grace period both secrets sign; after it, only the new one.
    #[test]
    fn evt_4_rotation_grace_both_secrets_sign() {
        let new = WebhookSecret::from_bytes(vec![1; 32]).unwrap();
        let old = WebhookSecret::from_bytes(vec![2; 32]).unwrap();
        let until = at(100);
        let during = signing_secrets(&new, Some((&old, until)), at(99));
        let header = signature_header(&during, "evt_1", at(99), b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.starts_with(&new.sign("evt_1", at(99), b"{}")));
        let after = signing_secrets(&new, Some((&old, until)), at(100));
        assert_eq!(after.len(), 1);
    }

    // EVT-4: exponential backoff from 5 s, at most an hour apart, for 24 h, then dead-lettered.
    #[test]
    fn evt_4_backoff_for_24_hours_then_dead_letter() {
        let first = at(0);
        assert_eq!(
            after_failed_attempt(1, first, first),
            RetryDecision::RetryAt(at(5))
        );
        assert_eq!(
            after_failed_attempt(2, first, at(5)),
            RetryDecision::RetryAt(at(15))
        );
        assert_eq!(
            after_failed_attempt(15, first, at(7200)),
            RetryDecision::RetryAt(at(7200 + 3600))
        );
        // Never scheduled past the 24 h mark; at it, dead.
        assert_eq!(
            after_failed_attempt(40, first, at(86_000)),
            RetryDecision::RetryAt(at(86_400))
        );
        assert_eq!(
            after_failed_attempt(41, first, at(86_400)),
            RetryDecision::DeadLetter
        );
        // Attempts in 24 h: bounded (no hot loop), more than a handful.
        let (mut now, mut n) = (first, 1);
        while let RetryDecision::RetryAt(t) = after_failed_attempt(n, first, now) {
            assert!(t > now);
            now = t;
            n += 1;
        }
        assert!((20..60).contains(&n), "{n} attempts");
    }

    // EVT-4: https to public addresses only; http only to 127.0.0.1 on the local runner (SSRF).
    #[test]
    fn evt_4_target_urls_and_addresses() {
        assert!(check_target_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_target_url("http://127.0.0.1:8080/h", true).is_ok());
        for (url, local) in [
            ("http://127.0.0.1:8080/h", false),
            ("http://example.com/h", true),
            ("ftp://example.com", true),
            ("https://10.0.0.1/h", true),
            ("https://169.254.169.254/latest", true),
            ("https://[::1]/h", true),
            ("https://[fe80::1]/h", true),
            ("https://user@example.com/h", true),
            ("https://example.com:notaport/", true),
            ("https:///nohost", true),
        ] {
            assert!(check_target_url(url, local).is_err(), "{url}");
        }
        let t = check_target_url("https://[2001:4860::8888]:8443/x", false).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("2001:4860::8888", 8443));
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::ffff:10.0.0.1",
            "fd00::1",
            "fe80::1",
            "127.0.0.1",
        ] {
            assert!(!address_allowed(ip.parse().unwrap(), false), "{ip}");
        }
        assert!(address_allowed("127.0.0.1".parse().unwrap(), true));
        assert!(address_allowed("93.184.216.34".parse().unwrap(), false));
        assert!(address_allowed("2606:2800:220:1::".parse().unwrap(), false));
    }
}

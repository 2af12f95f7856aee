//! Switchboard's normalised webhook events: one per message, status and account or template event.
//!
//! | normalised [`EventBody`] | from | [`Route`] | event key |
//! |---|---|---|---|
//! | `message` ([`InboundMessage`], every [`MessageContent`] incl. `request_welcome`, `system`, `unsupported`) | `messages` field, `value.messages[]` | inbound FIFO, group `phone_number_id#contact` | message id (`wamid…`) |
//! | `status` ([`StatusUpdate`]) | `messages` field, `value.statuses[]` | updates | message id `:` status |
//! | `account_error` ([`AccountError`]) | `messages` field, `value.errors[]` | updates | `errors:` phone_number_id `:` time `:` code `:` index |
//! | `template_status` ([`TemplateStatus`]) | `message_template_status_update` | updates | field `:` template id `:` time |
//! | `template_quality` ([`TemplateQuality`]) | `message_template_quality_update` | updates | field `:` template id `:` time |
//! | `phone_number_quality` ([`PhoneNumberQuality`]) | `phone_number_quality_update` | updates | field `:` WABA id `:` time `:` change index |
//! | `capability` ([`CapabilityUpdate`]) | `business_capability_update` | updates | field `:` WABA id `:` time `:` change index |
//! | `other_field` ([`OtherField`]) | any other field | updates | field `:` WABA id `:` time `:` change index |
//! | `lane` ([`LaneEvent`]) | the console or the router (an agent action, an assignment answer), not Meta | inbound FIFO, group `phone_number_id#contact` | chosen by the producer, stable per action |
//! | `timer_fired` ([`TimerFired`]) | a timer wake-up (the timers function or the local timer wheel), not Meta | inbound FIFO, group `phone_number_id#contact` (TIME-3) | `timer:` phone_number_id `:` contact `:` timer kind `:` token |
//!
//! "time" in a key is `entry[].time`; when Meta sends none (e.g. `value.errors`, group events) it
//! is `h` + 16 hex digits of the SHA-256 of the change's raw `value`, so distinct changes never
//! share a key.
//!
//! The contact key of a customer event is the sender's `wa_id` (phone), or their business-scoped
//! user id when Meta sends no phone. The JSON form of [`Event`] is the queue message body.

use crate::webhook::{
    Context, FlowReply, Media, MetaError, Order, OtherInfo, Referral, Reply, SharedContact,
};
use serde::{Deserialize, Serialize};

/// One normalised event, ready to be queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable across Meta's redeliveries: the dedup key downstream.
    pub key: String,
    /// The WhatsApp Business Account (`entry[].id`).
    pub waba_id: String,
    /// The business number, when the change names one (`value.metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business: Option<BusinessNumber>,
    pub body: EventBody,
}

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Customer events: the inbound FIFO queue, ordered within `group` (`phone_number_id#contact`).
    Inbound { group: String },
    /// Statuses and account/template events: the standard updates queue.
    Updates,
}

impl Event {
    /// Customer events go to the inbound FIFO in the contact's group; everything else is an update.
    pub fn route(&self) -> Route {
        match (&self.body, &self.business) {
            (EventBody::Message(m), Some(b)) => Route::Inbound {
                group: format!("{}#{}", b.phone_number_id, m.contact.key),
            },
            (EventBody::TimerFired(t), Some(b)) => Route::Inbound {
                group: format!("{}#{}", b.phone_number_id, t.contact),
            },
            (EventBody::Lane(l), Some(b)) => Route::Inbound {
                group: format!("{}#{}", b.phone_number_id, l.contact),
            },
            _ => Route::Updates,
        }
    }

    /// A short name of what the event is, for logs and metrics.
    pub fn kind_name(&self) -> &'static str {
        match &self.body {
            EventBody::Message(m) => m.content.type_name(),
            EventBody::Status(_) => "status",
            EventBody::AccountError(_) => "account_error",
            EventBody::TemplateStatus(_) => "template_status",
            EventBody::TemplateQuality(_) => "template_quality",
            EventBody::PhoneNumberQuality(_) => "phone_number_quality",
            EventBody::Capability(_) => "capability",
            EventBody::OtherField(_) => "other_field",
            EventBody::TimerFired(_) => "timer_fired",
            EventBody::Lane(_) => "lane",
        }
    }

    /// A timer wake-up for a contact of business number `phone_number_id`. It belongs to no
    /// webhook entry, so `waba_id` is empty.
    pub fn timer_fired(phone_number_id: &str, fired: TimerFired) -> Event {
        Event {
            key: format!(
                "timer:{phone_number_id}:{}:{}:{}",
                fired.contact, fired.timer, fired.token
            ),
            waba_id: String::new(),
            business: Some(BusinessNumber {
                phone_number_id: phone_number_id.to_owned(),
                display_phone_number: None,
            }),
            body: EventBody::TimerFired(fired),
        }
    }
}

/// An event Switchboard itself puts in a contact's lane: a console action (it must not race the
/// customer's messages) or the answer to an agent request made for another contact (AUTO-5's
/// next queued conversation). `key` must be stable for the action, so a retry dedups.
pub fn lane_event(phone_number_id: &str, contact: &str, key: String, event: rules::Event) -> Event {
    Event {
        key,
        waba_id: String::new(),
        business: Some(BusinessNumber {
            phone_number_id: phone_number_id.to_owned(),
            display_phone_number: None,
        }),
        body: EventBody::Lane(LaneEvent {
            contact: contact.to_owned(),
            event,
        }),
    }
}

/// The body of [`lane_event`]: a rules event for `contact`, decided by the router as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneEvent {
    /// The contact key, as in [`ContactRef::key`].
    pub contact: String,
    pub event: rules::Event,
}

/// The business number: `phone_number_id` is the id every setting hangs off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessNumber {
    pub phone_number_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Message(InboundMessage),
    Status(StatusUpdate),
    AccountError(AccountError),
    TemplateStatus(TemplateStatus),
    TemplateQuality(TemplateQuality),
    PhoneNumberQuality(PhoneNumberQuality),
    Capability(CapabilityUpdate),
    OtherField(OtherField),
    TimerFired(TimerFired),
    Lane(LaneEvent),
}

/// A timer wake-up (TIME-1). It travels in the contact's lane on the inbound FIFO (TIME-3); the
/// router acts on it only if `token` is still the one armed (TIME-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerFired {
    /// The contact key, as in [`ContactRef::key`].
    pub contact: String,
    /// The timer kind's stable name (`bot_inactivity`, `auto_close`, …). Not `kind`: that is the
    /// body's tag.
    pub timer: String,
    /// Epoch seconds: when the wake-up was armed to fire.
    pub deadline: i64,
    pub token: u64,
}

/// A message from a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// Meta's message id (`wamid…`).
    pub id: String,
    /// Epoch seconds, as Meta stamped it; the arrival time when Meta's stamp was impossible
    /// (HOOK-6, see `replaced_timestamp`).
    pub timestamp: i64,
    /// HOOK-6: Meta's stamp when it was negative or more than 5 minutes after the webhook
    /// arrived, and `timestamp` holds the arrival time instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_timestamp: Option<i64>,
    pub contact: ContactRef,
    /// The message quoted or answered: for a quick reply, the template message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// Set on the first message from a click-to-WhatsApp ad or a page call-to-action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    pub content: MessageContent,
}

/// Who wrote: the contact key used for grouping, and what Meta told us about them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRef {
    /// `wa_id` when Meta sends a phone, else the business-scoped user id.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageContent {
    Text {
        body: String,
    },
    Image(Media),
    Video(Media),
    Audio(Media),
    Document(Media),
    Sticker(Media),
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    Contacts {
        contacts: Vec<SharedContact>,
    },
    /// `emoji: None` means the customer removed their reaction.
    Reaction {
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emoji: Option<String>,
    },
    /// Interactive `button_reply`.
    ButtonReply(Reply),
    /// Interactive `list_reply`.
    ListReply(Reply),
    /// Interactive `nfm_reply` (a WhatsApp Flow's answer).
    FlowReply(FlowReply),
    /// A template's quick-reply button (`type: button`); `context.id` is the template message.
    Button {
        payload: String,
        text: String,
    },
    Order(Order),
    /// The customer opened the chat for the first time from an entry point (no text yet).
    RequestWelcome,
    /// `system`, e.g. `user_changed_number` with the new `wa_id`.
    System {
        system_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_wa_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_user_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Meta's `unsupported`, and any type (or malformed payload) this model does not know (HOOK-4).
    Unsupported {
        /// The `type` Meta sent (`unsupported`, or e.g. `interactive.call_permission_reply`).
        original_type: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        errors: Vec<MetaError>,
    },
}

impl MessageContent {
    /// The message type's name as in the JSON `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            MessageContent::Text { .. } => "text",
            MessageContent::Image(_) => "image",
            MessageContent::Video(_) => "video",
            MessageContent::Audio(_) => "audio",
            MessageContent::Document(_) => "document",
            MessageContent::Sticker(_) => "sticker",
            MessageContent::Location { .. } => "location",
            MessageContent::Contacts { .. } => "contacts",
            MessageContent::Reaction { .. } => "reaction",
            MessageContent::ButtonReply(_) => "button_reply",
            MessageContent::ListReply(_) => "list_reply",
            MessageContent::FlowReply(_) => "flow_reply",
            MessageContent::Button { .. } => "button",
            MessageContent::Order(_) => "order",
            MessageContent::RequestWelcome => "request_welcome",
            MessageContent::System { .. } => "system",
            MessageContent::Unsupported { .. } => "unsupported",
        }
    }
}

/// Declares a string enum that keeps values it does not know (`Other`), serialised as the string.
macro_rules! open_string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)+
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Other(s) => s,
                    other => other.as_str().to_owned(),
                }
            }
        }
    };
}

open_string_enum!(
    /// A message's delivery state as Meta reports it.
    DeliveryStatus {
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
        Played = "played",
        Deleted = "deleted",
        Warning = "warning",
    }
);

open_string_enum!(
    /// `CBP` (conversation-based, until July 2025) or `PMP` (per-message pricing).
    PricingModel {
        Cbp = "CBP",
        Pmp = "PMP",
    }
);

open_string_enum!(
    /// Whether the message was charged, and why not.
    PricingType {
        Regular = "regular",
        FreeCustomerService = "free_customer_service",
        FreeEntryPoint = "free_entry_point",
    }
);

open_string_enum!(
    /// A template's review or lifecycle event.
    TemplateEvent {
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Pending = "PENDING",
        Paused = "PAUSED",
        Disabled = "DISABLED",
        Flagged = "FLAGGED",
        InAppeal = "IN_APPEAL",
        Reinstated = "REINSTATED",
        PendingDeletion = "PENDING_DELETION",
        Deleted = "DELETED",
        Archived = "ARCHIVED",
        LimitExceeded = "LIMIT_EXCEEDED",
    }
);

/// A delivery status of a message the business sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub message_id: String,
    pub status: DeliveryStatus,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_wa_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_timestamp: Option<i64>,
    /// `origin.type`: `marketing`, `utility`, `service`, `referral_conversion`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_model: Option<PricingModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_type: Option<PricingType>,
}

/// An error Meta reports about the number or app (`value.errors[]`), not about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    pub error: MetaError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateStatus {
    pub template_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub event: TemplateEvent,
    /// Rejection reason (`INVALID_FORMAT`, …); Meta sends `NONE` when there is none, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_info: Option<OtherInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateQuality {
    pub template_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_quality_score: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_quality_score: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberQuality {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// `FLAGGED`, `UNFLAGGED`, `UPGRADE`, `DOWNGRADE`, `ONBOARDING`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_limit: Option<MessagingLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_limit: Option<MessagingLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_limit: Option<MessagingLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_phone_numbers_per_business: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
}

/// A messaging limit, whichever way Meta sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagingLimit {
    /// The tier as sent (`TIER_10K`), when sent as a tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Unique contacts per 24 h; `None` with `unlimited` for `TIER_UNLIMITED`, or for a tier name
    /// this code cannot read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
    #[serde(default)]
    pub unlimited: bool,
}

impl MessagingLimit {
    /// Reads `TIER_250`, `TIER_1K`, `TIER_100K`, `TIER_1M`, `TIER_UNLIMITED`, or a plain count.
    pub fn from_tier(tier: &str) -> MessagingLimit {
        let name = tier.trim();
        let upper = name.to_ascii_uppercase();
        let rest = upper.strip_prefix("TIER_").unwrap_or(&upper);
        let (unlimited, per_day) = if rest == "UNLIMITED" {
            (true, None)
        } else {
            (false, parse_count(rest))
        };
        MessagingLimit {
            tier: Some(name.to_owned()),
            per_day,
            unlimited,
        }
    }

    pub fn from_count(count: u64) -> MessagingLimit {
        MessagingLimit {
            tier: None,
            per_day: Some(count),
            unlimited: false,
        }
    }
}

fn parse_count(s: &str) -> Option<u64> {
    let (digits, factor) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1_000),
        b'M' => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

/// A change of a field this model does not know (e.g. `account_update`), kept for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherField {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// The raw `value`, when it is at most [`OTHER_FIELD_MAX_BYTES`]; larger values are dropped
    /// (`truncated`) so that one event always fits one queue message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default)]
    pub truncated: bool,
}

/// The largest raw `value` an [`OtherField`] event carries.
pub const OTHER_FIELD_MAX_BYTES: usize = 64 * 1024;

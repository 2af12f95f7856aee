//! Meta's Cloud API webhook body, as it arrives on the wire.
//!
//! Tolerant on purpose: unknown fields are ignored, lists may be absent or `null`, message types
//! this model does not know keep their `type` string (they become `unsupported` events), epoch
//! seconds are accepted as strings or integers, and the messaging limit as a `TIER_*` string or an
//! integer. Field names follow `../shared/reference/meta-openapi/` and Meta's webhook reference.
//!
//! Leaf objects (media, location, referral, pricing, errors, …) are shared with the normalised
//! events in [`crate::event`], so they derive `Serialize` too.

use crate::lenient;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The `object` of every WhatsApp Business Account webhook.
pub const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

/// The whole POST body: `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Deserialize)]
pub struct Notification<'a> {
    pub object: String,
    #[serde(default, deserialize_with = "lenient::list", borrow)]
    pub entry: Vec<Entry<'a>>,
}

/// One WhatsApp Business Account's share of the body.
#[derive(Debug, Deserialize)]
pub struct Entry<'a> {
    /// The WhatsApp Business Account id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Epoch seconds; present on account and template events (an integer on the wire).
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::list", borrow)]
    pub changes: Vec<Change<'a>>,
}

/// One change: its `value` is kept raw until `field` says what it is (Meta often sends `value`
/// before `field`).
#[derive(Debug, Deserialize)]
pub struct Change<'a> {
    pub field: String,
    #[serde(borrow)]
    pub value: &'a RawValue,
}

/// The `value` of a `messages` change.
#[derive(Debug, Default, Deserialize)]
pub struct MessagesValue {
    #[serde(default)]
    pub messaging_product: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Absent for `system` messages.
    #[serde(default, deserialize_with = "lenient::list")]
    pub contacts: Vec<WireContact>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub messages: Vec<WireMessage>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub statuses: Vec<WireStatus>,
    /// Errors about the number or the app rather than one message.
    #[serde(default, deserialize_with = "lenient::list")]
    pub errors: Vec<MetaError>,
}

/// The business number the change belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub phone_number_id: String,
}

/// A customer in `value.contacts[]`: `wa_id` (the phone) and, since business-scoped user ids,
/// `user_id`; either may be missing.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireContact {
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// One inbound message. Every type's payload is an optional field; `type` says which one to read.
#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub id: String,
    /// The sender's phone (`wa_id`); absent when the user hides it behind a username.
    #[serde(default)]
    pub from: Option<String>,
    /// The sender's business-scoped user id.
    #[serde(default)]
    pub from_user_id: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub timestamp: i64,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub context: Option<Context>,
    #[serde(default)]
    pub referral: Option<Referral>,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub image: Option<Media>,
    #[serde(default)]
    pub video: Option<Media>,
    #[serde(default)]
    pub audio: Option<Media>,
    #[serde(default)]
    pub document: Option<Media>,
    #[serde(default)]
    pub sticker: Option<Media>,
    #[serde(default)]
    pub location: Option<WireLocation>,
    #[serde(default)]
    pub contacts: Option<Vec<SharedContact>>,
    #[serde(default)]
    pub reaction: Option<WireReaction>,
    #[serde(default)]
    pub interactive: Option<WireInteractive>,
    #[serde(default)]
    pub button: Option<WireButton>,
    #[serde(default)]
    pub system: Option<WireSystem>,
    #[serde(default)]
    pub order: Option<Order>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub errors: Vec<MetaError>,
}

#[derive(Debug, Deserialize)]
pub struct Text {
    #[serde(default)]
    pub body: String,
}

/// `context`: the message this one quotes or answers (`id`), e.g. the template of a quick reply.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequently_forwarded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referred_product: Option<ReferredProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ReferredProduct {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub catalog_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub product_retailer_id: Option<String>,
}

/// A click-to-WhatsApp ad or page call-to-action the customer came from (opens the FEP window).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Referral {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Click id of the ad; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_message: Option<WelcomeMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct WelcomeMessage {
    #[serde(default)]
    pub text: Option<String>,
}

/// Image, video, audio, document or sticker: Meta's media id to download, and what it knows of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Media {
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Documents only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Audio only: a voice note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<bool>,
    /// Stickers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct WireLocation {
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// A contact card the customer shared (`type: contacts`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct SharedContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<SharedContactName>,
    #[serde(
        default,
        deserialize_with = "lenient::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub phones: Vec<SharedContactPhone>,
    #[serde(
        default,
        deserialize_with = "lenient::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub emails: Vec<SharedContactEmail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<SharedContactOrg>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct SharedContactName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct SharedContactPhone {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct SharedContactEmail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct SharedContactOrg {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// `emoji` is omitted when the customer removes the reaction.
#[derive(Debug, Deserialize)]
pub struct WireReaction {
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub emoji: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireInteractive {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub button_reply: Option<Reply>,
    #[serde(default)]
    pub list_reply: Option<Reply>,
    #[serde(default)]
    pub nfm_reply: Option<FlowReply>,
}

/// The button or list row the customer picked: the `id` the business set, the title shown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Reply {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A WhatsApp Flow's answer: `response_json` is a JSON document as a string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct FlowReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub response_json: String,
}

/// A template's quick-reply button: the `payload` the business set and the label shown.
#[derive(Debug, Deserialize)]
pub struct WireButton {
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// `system` messages: `user_changed_number` carries the new `wa_id`.
#[derive(Debug, Deserialize)]
pub struct WireSystem {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub new_wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub new_user_id: Option<String>,
}

/// A cart sent from the catalogue (`type: order`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Order {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub catalog_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub product_items: Vec<ProductItem>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct ProductItem {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub product_retailer_id: Option<String>,
    #[serde(default)]
    pub quantity: Option<f64>,
    #[serde(default)]
    pub item_price: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// An error as Meta reports it, in messages, statuses and values.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct MetaError {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

/// One delivery status of a message the business sent.
#[derive(Debug, Deserialize)]
pub struct WireStatus {
    pub id: String,
    pub status: String,
    #[serde(deserialize_with = "lenient::int")]
    pub timestamp: i64,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub recipient_user_id: Option<String>,
    #[serde(default)]
    pub conversation: Option<WireConversation>,
    #[serde(default)]
    pub pricing: Option<WirePricing>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub errors: Vec<MetaError>,
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireConversation {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub expiration_timestamp: Option<i64>,
    #[serde(default)]
    pub origin: Option<WireOrigin>,
}

#[derive(Debug, Deserialize)]
pub struct WireOrigin {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WirePricing {
    #[serde(default)]
    pub billable: Option<bool>,
    #[serde(default)]
    pub pricing_model: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// `message_template_status_update`.
#[derive(Debug, Deserialize)]
pub struct TemplateStatusValue {
    pub event: String,
    #[serde(deserialize_with = "lenient::int")]
    pub message_template_id: i64,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    #[serde(default)]
    pub message_template_category: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub other_info: Option<OtherInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct OtherInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `message_template_quality_update`.
#[derive(Debug, Deserialize)]
pub struct TemplateQualityValue {
    #[serde(deserialize_with = "lenient::int")]
    pub message_template_id: i64,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    #[serde(default)]
    pub previous_quality_score: Option<String>,
    #[serde(default)]
    pub new_quality_score: Option<String>,
}

/// `phone_number_quality_update`.
#[derive(Debug, Deserialize)]
pub struct PhoneQualityValue {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub current_limit: Option<LimitValue>,
    #[serde(default)]
    pub old_limit: Option<LimitValue>,
    #[serde(default)]
    pub max_daily_conversations_per_business: Option<LimitValue>,
}

/// `business_capability_update`.
#[derive(Debug, Deserialize)]
pub struct CapabilityValue {
    #[serde(default)]
    pub max_daily_conversation_per_phone: Option<LimitValue>,
    #[serde(default)]
    pub max_daily_conversations_per_business: Option<LimitValue>,
    #[serde(default)]
    pub messaging_limit_tier: Option<LimitValue>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub max_phone_numbers_per_business: Option<i64>,
}

/// A messaging limit as sent: `"TIER_10K"`, `"TIER_UNLIMITED"` or `1000`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LimitValue {
    Count(u64),
    Tier(String),
}

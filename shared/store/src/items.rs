//! Item bodies: the typed attributes of each item, shared by both adapters. DynamoDB stores them
//! as attributes (serde_dynamo) next to `pk`, `sk` and the index attributes; SQLite stores them as
//! JSON in the `data` column of its `items` table. Opaque JSON payloads (a log body, a campaign
//! definition, Meta's pricing) are kept as JSON text so both stores give them back byte for byte.

use crate::model::{ContactProfile, Outbox, QueueEntry};
use rules::outreach::OutreachRecord;
use rules::{
    AgentId, BusinessNumberId, ContactKey, ContactState, EventKey, LogEntry, MessageId, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A number's entry in the directory of numbers (`/v1/me` lists them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NumberEntryItem {
    pub number: BusinessNumberId,
}

/// The contact's state item. `version`/`state` are absent for a contact the console created
/// before it ever wrote; `profile` is written by the console only, never by a commit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ContactState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Outbox>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ContactProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<BusinessNumberId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutreachItem {
    pub record: OutreachRecord,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkerItem {
    pub event_key: EventKey,
    pub at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogItem {
    pub event_key: EventKey,
    pub entry: LogEntry,
    /// The shell's content as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// BILL-6: the rate table item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RatesItem {
    pub table: rules::billing::RateTable,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettingsItem {
    pub settings: rules::NumberSettings,
}

/// The marker of one keyed capacity operation (take, release, claim of the queue head): written
/// in the same transaction as the counter it moves, so repeating the operation after a crash
/// finds it and changes nothing (ARCHITECTURE invariant 3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityOpItem {
    pub agent: AgentId,
    /// The queue entry a claim took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<QueueEntry>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuePointerItem {
    /// The sort key of the queue entry this pointer belongs to.
    pub entry_sk: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateItem {
    pub template: rules::templates::Template,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignItem {
    pub id: rules::CampaignId,
    pub number: BusinessNumberId,
    /// The campaign definition as JSON text.
    pub definition: String,
    #[serde(default)]
    pub hopper: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignRowItem {
    pub contact: ContactKey,
    pub stage: String,
    /// JSON text.
    pub data: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboundKeyItem {
    pub idempotency_key: String,
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub claimed_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wamid: Option<MessageId>,
}

/// The contact's pointer to an outbound send: the console's message log lists these.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboundPointerItem {
    pub idempotency_key: String,
    pub claimed_at: Timestamp,
    /// The message as requested (its content as JSON text), for the log to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

pub(crate) fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

pub(crate) fn parse_json_text(pk: &str, sk: &str, text: &str) -> crate::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| crate::StoreError::corrupt(pk, sk, e))
}

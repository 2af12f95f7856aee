//! The values that cross the store's ports. Rules types (`ContactState`, `Effect`, `LogEntry`,
//! `OutreachRecord`, `NumberSettings`, `AgentLoad`, `Template`) are stored as they are; the types
//! here add what only storage knows (versions, the outbox, pages, delivery bookkeeping).

use rules::campaign::{Bucket, Campaign};
use rules::outreach::OutreachRecord;
use rules::{
    AgentId, BusinessNumberId, ContactKey, ContactState, ConversationId, Decision, Duration,
    Effect, EventKey, LogEntry, MessageId, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Dedup markers outlive Meta's 7 days of webhook retries (ARCHITECTURE, State).
pub const DEDUP_TTL: Duration = Duration::days(8);

/// Outreach records stay readable this long after they expired, so a late interaction can still
/// be matched to its record (the expiry itself is decided from `sent_at`, OUT-8, never from TTL).
pub const OUTREACH_GRACE: Duration = Duration::days(2);

/// Most items one commit may write (DynamoDB allows 100 per transaction: state + marker + these).
pub const MAX_COMMIT_ITEMS: usize = 98;

/// When an outreach record may be deleted: sent + the number's expiry + [`OUTREACH_GRACE`].
pub fn outreach_expires_at(sent_at: Timestamp, expiry: Duration) -> Timestamp {
    sent_at + expiry + OUTREACH_GRACE
}

/// A value with the version it was read at (optimistic concurrency, ARCHITECTURE invariant 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub version: u64,
    pub value: T,
}

/// One effect of the outbox, with its stable id `<event_key>#<index>` (the idempotency key of its
/// execution: a send derived from it never goes out twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEffect {
    pub id: String,
    pub effect: Effect,
}

/// The effects committed with the last decision, until marked done or replaced by the next commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    pub event_key: EventKey,
    pub effects: Vec<OutboxEffect>,
}

impl Outbox {
    pub fn new(event_key: &EventKey, effects: &[Effect]) -> Self {
        Outbox {
            event_key: event_key.clone(),
            effects: effects
                .iter()
                .enumerate()
                .map(|(i, effect)| OutboxEffect {
                    id: format!("{event_key}#{i}"),
                    effect: effect.clone(),
                })
                .collect(),
        }
    }
}

/// Everything the router needs to decide for one contact, from ONE read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadedContact {
    /// `None`: a contact never committed (a console profile alone does not count).
    pub state: Option<Versioned<ContactState>>,
    /// The effects of the last commit, if not marked done.
    pub outbox: Option<Outbox>,
    /// The contact's outreach records that have not passed their `expires_at` (WIN-6: TTL
    /// deletion runs late, so expired items are filtered on read).
    pub outreach: Vec<OutreachRecord>,
}

impl LoadedContact {
    /// The version to pass as [`Commit::expected_version`].
    pub fn version(&self) -> Option<u64> {
        self.state.as_ref().map(|s| s.version)
    }

    /// The outreach record a reply's `context.id` points at (OUT-9: `None` = a plain message).
    pub fn outreach_by_wamid(&self, wamid: &MessageId) -> Option<&OutreachRecord> {
        self.outreach.iter().find(|o| &o.wamid == wamid)
    }

    /// True when `event_key` is the event whose outbox is still pending: the event was committed
    /// and is being redelivered; execute the outbox, do not decide again.
    pub fn is_pending_event(&self, event_key: &EventKey) -> bool {
        self.outbox
            .as_ref()
            .is_some_and(|o| &o.event_key == event_key)
    }
}

/// One message-log entry: the rules' entry plus the shell's opaque content (text, media ids …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub entry: LogEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl LogRecord {
    pub fn at(&self) -> Timestamp {
        match &self.entry {
            LogEntry::Inbound { at, .. } | LogEntry::Notice { at, .. } => *at,
        }
    }

    pub fn conversation(&self) -> Option<&ConversationId> {
        match &self.entry {
            LogEntry::Inbound { conversation, .. } => conversation.as_ref(),
            LogEntry::Notice { conversation, .. } => Some(conversation),
        }
    }
}

/// An outreach record and when the store may forget it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOutreach {
    pub record: OutreachRecord,
    pub expires_at: Timestamp,
}

/// A decision to commit, conditional on the version it was decided from.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub event_key: EventKey,
    /// The version read (`None`: the contact was new).
    pub expected_version: Option<u64>,
    pub next: ContactState,
    pub effects: Vec<Effect>,
    pub log: Vec<LogRecord>,
    pub outreach: Vec<NewOutreach>,
    pub now: Timestamp,
}

impl Commit {
    /// The common case: a decision, its log without bodies, no new outreach.
    pub fn from_decision(
        event_key: EventKey,
        expected_version: Option<u64>,
        decision: Decision,
        now: Timestamp,
    ) -> Self {
        Commit {
            event_key,
            expected_version,
            next: decision.next,
            effects: decision.effects,
            log: decision
                .log
                .into_iter()
                .map(|entry| LogRecord { entry, body: None })
                .collect(),
            outreach: Vec::new(),
            now,
        }
    }
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written; the state now has `version`.
    Committed { version: u64 },
    /// The event key was applied before: nothing changed (ARCHITECTURE invariant 1).
    Duplicate,
    /// Someone committed since the read: re-read and decide again (invariant 2).
    VersionConflict,
}

// ---------------------------------------------------------------------------------------------
// Console: contacts, search, the message log.

/// CHAN-4: the inbox filter and the contact profile are the rules' own types; the store indexes
/// them (`Closed`: the contact has no current conversation).
pub use rules::search::{ContactProfile, StatusFilter as InboxStatus, owner as assignee_of};

/// What a search term is matched against: lower-cased names and email, one a line, and the
/// phone digits (the profile's phone, then the contact key: a WhatsApp id is the phone's digits).
/// DynamoDB stores both as attributes (`search`, `search_phone`) and filters with `contains`.
pub fn search_fields(contact: &ContactKey, profile: Option<&ContactProfile>) -> (String, String) {
    let mut text = String::from("\n");
    let mut phone = String::from("\n");
    if let Some(p) = profile {
        for field in [&p.first_name, &p.last_name, &p.email]
            .into_iter()
            .flatten()
        {
            text.push_str(&field.to_lowercase());
            text.push('\n');
        }
        if let Some(number) = &p.phone {
            phone.push_str(number.wa_digits());
            phone.push('\n');
        }
    }
    let key: String = contact
        .as_str()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if !key.is_empty() {
        phone.push_str(&key);
        phone.push('\n');
    }
    (text, phone)
}

/// A search term, normalised once (CHAN-4): case-insensitive substring over names and email;
/// when the term looks like a phone number, also a digits-only substring over the phone, leading
/// zeros dropped ("+49 151", "49151" and "0151…" all find the number). Mirrors
/// `rules::search::text_matches`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    pub needle: String,
    pub digits: Option<String>,
}

impl SearchTerm {
    /// `None`: the term is empty and matches everything.
    pub fn parse(text: &str) -> Option<Self> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() {
            return None;
        }
        let digits: String = needle.chars().filter(char::is_ascii_digit).collect();
        let phone_like = !digits.is_empty()
            && needle
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let digits = phone_like
            .then(|| digits.trim_start_matches('0').to_owned())
            .filter(|d| !d.is_empty());
        Some(SearchTerm { needle, digits })
    }

    pub fn matches(&self, fields: &(String, String)) -> bool {
        fields.0.contains(&self.needle)
            || self
                .digits
                .as_ref()
                .is_some_and(|d| fields.1.contains(d.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Contacts assigned to this agent (the caller).
    Mine(AgentId),
    All,
}

/// CHAN-4: contacts of a number, newest activity first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSearch {
    pub number: BusinessNumberId,
    pub scope: Scope,
    pub status: InboxStatus,
    /// Matched case-insensitively against first name, last name, email and phone.
    pub text: Option<String>,
    pub limit: u32,
    /// `Page::next` of the previous page.
    pub cursor: Option<String>,
}

/// One contact in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSummary {
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub status: InboxStatus,
    pub assignee: Option<AgentId>,
    pub conversation: Option<ConversationId>,
    pub updated_at: Timestamp,
    /// The console's profile; `profile_name` falls back to the one WhatsApp sent.
    pub profile: ContactProfile,
    /// The current conversation's unanswered stretch: since when a customer message waits for an
    /// agent, and how many customer messages came since an agent last wrote.
    pub waiting_since: Option<Timestamp>,
    pub unread: u32,
}

/// A page of results; `next` is an opaque cursor, `None` at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A message-log entry as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMessage {
    pub event_key: EventKey,
    pub record: LogRecord,
}

// ---------------------------------------------------------------------------------------------
// Outbound messages.

/// Delivery status, ordered: a status never goes back (sent < delivered < read; failed is final
/// and keeps its error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// Meta's error on a failed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryError {
    pub code: i64,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// A status webhook for one outbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub wamid: MessageId,
    pub status: DeliveryStatus,
    pub at: Timestamp,
    /// Meta's `pricing` object, as received.
    pub pricing: Option<serde_json::Value>,
    pub error: Option<DeliveryError>,
}

/// An outbound message as the store knows it. Each status keeps the time it was first reported,
/// so applying statuses in any order gives the same result.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub wamid: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<BusinessNumberId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeliveryError>,
    /// Meta's pricing object (JSON text), from whichever status carried it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<String>,
}

impl OutboundMessage {
    /// The highest status reported (`None`: claimed, not yet accepted by Meta).
    pub fn status(&self) -> Option<DeliveryStatus> {
        if self.failed_at.is_some() {
            Some(DeliveryStatus::Failed)
        } else if self.read_at.is_some() {
            Some(DeliveryStatus::Read)
        } else if self.delivered_at.is_some() {
            Some(DeliveryStatus::Delivered)
        } else if self.sent_at.is_some() {
            Some(DeliveryStatus::Sent)
        } else {
            None
        }
    }

    pub fn pricing_json(&self) -> Option<serde_json::Value> {
        self.pricing
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
    }

    pub(crate) fn apply(&mut self, update: &StatusUpdate) {
        let slot = match update.status {
            DeliveryStatus::Sent => &mut self.sent_at,
            DeliveryStatus::Delivered => &mut self.delivered_at,
            DeliveryStatus::Read => &mut self.read_at,
            DeliveryStatus::Failed => &mut self.failed_at,
        };
        slot.get_or_insert(update.at);
        if self.error.is_none() {
            self.error.clone_from(&update.error);
        }
        if self.pricing.is_none() {
            self.pricing = update.pricing.as_ref().map(|p| p.to_string());
        }
        self.wamid.get_or_insert_with(|| update.wamid.clone());
    }
}

/// One of a contact's outbound sends, as the console's message log shows it: when it was claimed,
/// and its delivery state once Meta accepted it (`None` before).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundEntry {
    pub idempotency_key: String,
    pub claimed_at: Timestamp,
    /// The message as requested (the send's content), when the claim recorded it.
    pub body: Option<serde_json::Value>,
    pub message: Option<OutboundMessage>,
    /// SEND-5: while Meta has not accepted it, the send's own state (refused or failed before
    /// the call, with the reason; waiting; parked), so no refusal is silent. `None` once sent.
    pub unsent: Option<crate::sending::SendState>,
}

/// The answer to claiming an idempotency key before a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendClaim {
    /// First claim: send now.
    Claimed,
    /// Claimed before; `wamid` once Meta accepted it (then do not send again).
    AlreadyClaimed { wamid: Option<MessageId> },
}

// ---------------------------------------------------------------------------------------------
// Queue, ledger, campaigns.

/// A conversation waiting for an agent (AUTO-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub number: BusinessNumberId,
    pub conversation: ConversationId,
    pub contact: ContactKey,
    pub enqueued_at: Timestamp,
    /// The contact's agent request this entry answers (echoed in `AgentAssigned`, so the rules
    /// can tell a current answer from a stale one).
    #[serde(default)]
    pub request: u64,
}

/// Which side of the ledger a line adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerSide {
    /// Counted when we sent, from our own price table.
    Predicted,
    /// Counted from Meta's pricing on statuses.
    Reported,
}

/// Cost ledger: one line per number, category and UTC day. Amounts in millionths of the
/// currency unit (integers: sums stay exact).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LedgerLine {
    pub number: Option<BusinessNumberId>,
    pub day: String,
    pub category: String,
    /// BILL-6: `charged`, or `free_` and why (`free_service_window`, …); empty on lines written
    /// before charges were kept.
    pub charge: String,
    pub predicted_count: i64,
    pub predicted_micros: i64,
    pub reported_count: i64,
    pub reported_micros: i64,
}

/// A campaign: its definition is the rules' [`Campaign`] as JSON ([`CampaignRecord::of`],
/// [`CampaignRecord::campaign`]: the one mapping), its hopper counters (contacts per stage) are
/// the store's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRecord {
    pub id: rules::CampaignId,
    pub number: BusinessNumberId,
    pub definition: serde_json::Value,
    #[serde(default)]
    pub hopper: BTreeMap<String, i64>,
}

impl CampaignRecord {
    /// The stored record of a campaign: its definition (the store keeps the counters).
    pub fn of(number: &BusinessNumberId, campaign: &Campaign) -> Self {
        CampaignRecord {
            id: campaign.id.clone(),
            number: number.clone(),
            definition: serde_json::to_value(campaign).expect("a campaign always serialises"),
            hopper: BTreeMap::new(),
        }
    }

    /// Replaces the definition with `campaign`'s (the counters stay the store's).
    pub fn set_campaign(&mut self, campaign: &Campaign) {
        self.definition = serde_json::to_value(campaign).expect("a campaign always serialises");
    }

    /// The store's count of contacts at a stage (CAMP-2).
    pub fn count(&self, stage: Bucket) -> i64 {
        self.hopper.get(stage.name()).copied().unwrap_or(0).max(0)
    }

    /// The rules' campaign, with the store's counters as its hopper: they are the hopper's truth
    /// (they move atomically with the rows).
    pub fn campaign(&self) -> Result<Campaign, serde_json::Error> {
        let mut definition = self.definition.clone();
        if let Some(fields) = definition.as_object_mut() {
            let hopper: serde_json::Map<String, serde_json::Value> = Bucket::ALL
                .into_iter()
                .map(|b| (b.name().to_owned(), self.count(b).into()))
                .collect();
            fields.insert("hopper".into(), hopper.into());
        }
        serde_json::from_value(definition)
    }
}

/// One contact of a campaign, at a stage of the hopper ([`Bucket::name`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub contact: ContactKey,
    pub stage: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    // CHAN-4: the indexed search answers as `rules::search::text_matches` does on the profile
    // (the store also finds a contact by the digits of its WhatsApp id).
    #[test]
    fn chan_4_indexed_search_agrees_with_the_rules() {
        let contact = ContactKey::new("wa-user-7").unwrap();
        let profile = ContactProfile {
            first_name: Some("Jana".into()),
            last_name: Some("Novák".into()),
            email: Some("jana.novak@example.com".into()),
            phone: Some(rules::PhoneNumber::parse("+4915123456789").unwrap()),
            profile_name: None,
        };
        let fields = search_fields(&contact, Some(&profile));
        for text in [
            "jana",
            "NOVÁK",
            "example.com",
            "+49 151 234",
            "15123456789",
            "0151234",
            "petr",
            "999",
            "gmail",
            "jana novák",
            "(0151) 234",
        ] {
            let store = SearchTerm::parse(text).is_none_or(|t| t.matches(&fields));
            assert_eq!(
                store,
                rules::search::text_matches(text, &profile),
                "{text:?}"
            );
        }
    }
}

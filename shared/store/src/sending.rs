//! The sender's port ([`SendingStore`]): what the business side of the wire keeps beyond
//! [`crate::OutboundStore`].
//!
//! - **Send records** (one per idempotency key): where a send stands — in flight under a lease,
//!   waiting for pacing or a backoff, sent, ambiguous (the request may have reached Meta), refused
//!   before sending (SEND-1), failed with Meta's code and title, or parked (a paused template, a
//!   stopped number). Versioned: every change is conditional on the version read, so two
//!   deliveries of one job never both send.
//! - **Acceptance in one write** ([`SendingStore::record_accepted`]): the record becomes `sent`,
//!   the key is linked to the wamid (what [`crate::OutboundStore::outbound_by_key`] reads), the
//!   sender's view of the message (prediction, campaign) is written, the predicted ledger line is
//!   added and the outreach recorded — all or nothing, so a redelivery never counts twice.
//! - **Reported pricing once** ([`SendingStore::record_reported_pricing`]): the reported ledger
//!   line is added with a per-message flag in the same write (BILL-3), so statuses replayed in any
//!   order count each message once.
//! - **Pacing state** (SEND-3, CAMP-5): the number's [`NumberPacing`] and settings, and each
//!   recipient's [`RecipientPace`], written together and conditionally (concurrent invocations
//!   share them).
//! - **One read, one write before the call** ([`SendingStore::send_context`],
//!   [`SendingStore::begin_call`]): everything a send decides on (its record, the key's claim,
//!   the number's and the recipient's pacing, the contact's windows and channel, the number's
//!   settings and the template when asked) is read at once; the record (`calling`), the key's
//!   claim and the pacing are written at once, each conditional on what was read. With
//!   [`SendingStore::record_accepted`] a send that goes through costs three calls.
//! - **Parked sends**: jobs held until their template is approved again or a person resumes a
//!   stopped number; nothing is dropped.
//! - **Directory**: the numbers of a WhatsApp Business Account (template and capability webhooks
//!   name only the account) and the campaigns of a number (template changes pause and resume
//!   them); a campaign's row by contact and its sending cursor.
//!
//! Item keys are in [`keys`] (`O#…/S`, `W#…/S`, `W#…/R`, `N#…/PACING`, `C#…/P#PACE`, `H#…`, `X#…`,
//! `N#…/K#…`, `K#…/SENDING`).

use crate::Result;
use crate::model::{CampaignRow, NewOutreach, Versioned};
use rules::billing::{
    BilledConversation, BillingHistory, ChargePrediction, RateTable, ReportedPricing,
};
use rules::campaign::CampaignContact;
use rules::pacing::{NumberPacing, PacingSettings, RecipientPace};
use rules::templates::Template;
use rules::{
    BusinessNumberId, CampaignId, ContactKey, ContactState, Date, MessageId, NumberSettings,
    TemplateName, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Where one send (one idempotency key) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SendState {
    /// An invocation is working on it; another delivery waits until `lease_until`. `calling`:
    /// the Graph API call may have started (an expired lease then means an ambiguous send).
    InFlight {
        since: Timestamp,
        lease_until: Timestamp,
        #[serde(default)]
        calling: bool,
    },
    /// Not yet: pacing or a backoff holds it until `not_before_ms` (milliseconds since the epoch).
    Waiting { not_before_ms: i64, because: String },
    /// Meta accepted it.
    Sent { wamid: MessageId, at: Timestamp },
    /// The request may have reached Meta (a timeout after it went out, or a crash during the
    /// call). A status webhook naming the key (`biz_opaque_callback_data`) links it until
    /// `check_until`; then the sender decides whether to try again.
    Ambiguous {
        since: Timestamp,
        check_until: Timestamp,
        reason: String,
    },
    /// Refused before sending (SEND-1: window or channel; a template that may not be sent).
    Refused { reason: String, at: Timestamp },
    /// Failed for good: Meta's code and title when Meta refused it, and the reason kept on the
    /// message (SEND-2).
    Failed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        reason: String,
        at: Timestamp,
    },
    /// Held until something changes (see [`ParkReason`]); the job is kept with the record.
    Parked { on: ParkReason, at: Timestamp },
}

impl SendState {
    pub fn name(&self) -> &'static str {
        match self {
            SendState::InFlight { .. } => "in_flight",
            SendState::Waiting { .. } => "waiting",
            SendState::Sent { .. } => "sent",
            SendState::Ambiguous { .. } => "ambiguous",
            SendState::Refused { .. } => "refused",
            SendState::Failed { .. } => "failed",
            SendState::Parked { .. } => "parked",
        }
    }

    /// Sent, refused or failed: nothing more will happen to this key.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            SendState::Sent { .. } | SendState::Refused { .. } | SendState::Failed { .. }
        )
    }
}

/// Why a send is parked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "until", rename_all = "snake_case")]
pub enum ParkReason {
    /// SEND-2 132015 / TPL-1: until the template is approved again.
    TemplateApproved { name: String, language: String },
    /// SEND-2: the number is stopped (token, permission, payment or policy) until a person
    /// resumes it.
    NumberResumed,
}

impl ParkReason {
    /// The stable part of the parked collection's key.
    pub fn slot(&self) -> String {
        match self {
            ParkReason::TemplateApproved { name, language } => format!("T#{name}#{language}"),
            ParkReason::NumberResumed => "STOPPED".to_owned(),
        }
    }
}

/// One send's record, by idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    pub key: String,
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub state: SendState,
    /// Calls to the Graph API made for this key.
    #[serde(default)]
    pub attempts: u32,
    /// The job as queued (JSON text), so a retry, an unpark or a status-triggered resend needs
    /// nothing else.
    pub job: String,
    pub updated_at: Timestamp,
    /// What the call in progress will be recorded as once Meta accepts it (kept so that an
    /// ambiguous send linked later by its status is recorded the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling: Option<CallInProgress>,
    /// When a `failed` status for the sent message was acted on (once per message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_seen: Option<Timestamp>,
}

/// The send as it went to the Graph API: the resolved template (a recontact template replaces
/// free-form, WIN-5) and the BILL-3 prediction made before the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInProgress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<ChargePrediction>,
    #[serde(default)]
    pub predicted_micros: i64,
    /// The outreach's button payload time (OUT-8), when the send is an outreach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outreach_sent_at: Option<Timestamp>,
}

/// The sender's view of a message Meta accepted (beside [`crate::OutboundMessage`], which holds
/// the delivery statuses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub wamid: MessageId,
    pub key: String,
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub sent_at: Timestamp,
    /// BILL-3: what the sender predicted before sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<ChargePrediction>,
    /// The campaign the message belongs to (a `failed` status moves the contact: CAMP-6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignId>,
    /// A template message (its name), for failure handling of paused templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// BILL-3: what Meta reported for a message and the ledger line it was counted in (written once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedItem {
    pub reported: ReportedPricing,
    pub line: LedgerAddition,
}

/// One ledger addition: `count` messages and `micros` to the line of `number`, `day`, `category`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerAddition {
    pub number: BusinessNumberId,
    pub day: Date,
    pub category: String,
    /// BILL-6: `charged`, or `free_` and why (`rules::billing::Charge::label`).
    #[serde(default)]
    pub charge: String,
    pub micros: i64,
}

/// Everything that changes when Meta accepted a send, written at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedSend {
    /// The record, already in state `sent`.
    pub record: SendRecord,
    /// The version of the record this write is conditional on.
    pub expected_version: u64,
    pub message: SentMessage,
    /// BILL-3: the predicted line (`None`: nothing predicted).
    pub predicted: Option<LedgerAddition>,
    /// OUT-8 / CAMP-7: the outreach record, when the send was an outreach.
    pub outreach: Option<NewOutreach>,
    /// BILL-5: the billing conversation the send opened (conversation-based pricing), added to
    /// the recipient's history in the same write (the recipient record's version moves, so a
    /// send that read the history before this write paces and predicts again).
    pub opened: Option<BilledConversation>,
}

/// The pacing state of a business number (SEND-3, CAMP-5, SEND-2 number effects).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NumberPacingRecord {
    #[serde(default)]
    pub settings: PacingSettings,
    #[serde(default)]
    pub pacing: NumberPacing,
    /// Why sending stopped (SEND-2 token, permission, payment or policy), while `pacing.stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Time of the latest messaging-limit or throughput event applied (later events win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_as_of: Option<Timestamp>,
}

/// One recipient's pace on one number, and whether Meta said it cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecipientRecord {
    #[serde(default)]
    pub pace: RecipientPace,
    /// SEND-2 131026/130472: "flag the contact" — the latest undeliverable failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undeliverable: Option<Undeliverable>,
    /// BILL-5: the contact's billing conversations that may still be open (conversation-based
    /// pricing): read with every send, appended by [`SendingStore::record_accepted`].
    #[serde(default, skip_serializing_if = "BillingHistory::is_empty")]
    pub billing: BillingHistory,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undeliverable {
    pub code: u32,
    pub at: Timestamp,
}

/// A pacing write: the records and the versions they were read at (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PacingWrite {
    pub number: Option<(BusinessNumberId, NumberPacingRecord, Option<u64>)>,
    pub recipient: Option<(BusinessNumberId, ContactKey, RecipientRecord, Option<u64>)>,
}

/// What [`SendingStore::send_context`] reads for one send job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendContextQuery {
    /// The job's idempotency key: its send record and its claim.
    pub key: String,
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    /// Read the number's settings too (an outreach needs its expiry).
    pub settings: bool,
    /// Read this template of the number too (name, language): a template send (TPL-1).
    pub template: Option<(TemplateName, String)>,
    /// For the contact's state: an item whose `expires_at` has passed is absent (as
    /// [`crate::ContactStore::load_contact`] reads it).
    pub now: Timestamp,
}

/// Everything one send decides on, read at once (one snapshot on SQLite; one strongly
/// consistent batch on DynamoDB).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendContext {
    /// The send record and its version (`None`: nobody took the key yet).
    pub record: Option<Versioned<SendRecord>>,
    /// When the key's claim (the console's outbound log) was made (`None`: not claimed).
    pub claimed_at: Option<Timestamp>,
    /// The number's pacing and its version (`None` version: never written; defaults).
    pub number_pacing: (NumberPacingRecord, Option<u64>),
    /// The recipient's pacing and its version (`None` version: never written; defaults).
    pub recipient: (RecipientRecord, Option<u64>),
    /// The contact's state (windows, channel, open campaign interaction), without its
    /// collection: no outreach records, no log. `None`: the router never wrote the contact.
    pub contact: Option<Versioned<ContactState>>,
    /// The number's settings, when asked for (`None`: not asked, or none stored).
    pub settings: Option<NumberSettings>,
    /// The template asked for (`None`: not asked, or not in the catalogue).
    pub template: Option<Template>,
    /// BILL-6: the rate table (`None`: never set), read with the rest.
    pub rates: Option<RateTable>,
}

/// The key's claim as [`SendingStore::begin_call`] writes it: the claim item
/// [`crate::OutboundStore::outbound_by_key`] reads and the contact's outbound-log pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendClaimWrite {
    /// The claim's time (the existing claim's, when one was read; its pointer is keyed by it).
    pub claimed_at: Timestamp,
    /// The message as requested, for the console's log to show.
    pub body: Option<serde_json::Value>,
}

/// The write before a send's Graph API call (or before any other change of a key read absent
/// or changed since its last holder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginCall {
    /// The record as it goes out (normally `InFlight { calling: true }`).
    pub record: SendRecord,
    /// The record's version read (`None`: it must not exist).
    pub expected: Option<u64>,
    /// The key's claim, when the read found none (first caller wins; an existing claim keeps
    /// its time and body).
    pub claim: Option<SendClaimWrite>,
    /// The pacing taken for the call (SEND-3), each record conditional on its version read.
    pub pacing: PacingWrite,
}

/// What [`SendingStore::begin_call`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallBegun {
    /// Everything was written; the record is now at `version`.
    Begun { version: u64 },
    /// The send record changed since it was read (another invocation): nothing was written.
    RecordChanged,
    /// A pacing record changed since it was read (a concurrent send on the number or to the
    /// recipient): nothing was written.
    PacingChanged,
}

/// A parked send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedSend {
    pub key: String,
    pub job: String,
    pub at: Timestamp,
}

/// A business number of a WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberLink {
    pub number: BusinessNumberId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
}

/// The account a business number belongs to (stored beside the number's settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberAccount {
    pub waba: String,
}

/// Where a campaign's sending stands: the position of the hopper scan and the tick chain
/// (one chain of ticks per campaign; a tick that is not the chain's next one is stale).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CampaignSending {
    /// The last row key of the scan so far (`None`: start from the first row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The chain's next tick: its sequence number and due time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_tick: Option<(u64, Timestamp)>,
    /// Ticks issued so far.
    #[serde(default)]
    pub seq: u64,
}

/// A campaign row's data (`CampaignRow::data`): the rules' [`CampaignContact`] (state, attempts,
/// history) and the sender's bookkeeping. The row's stage is the contact's bucket
/// ([`rules::campaign::Bucket::name`]); the store's hopper counters are kept per stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRowData {
    #[serde(flatten)]
    pub contact: CampaignContact,
    /// Jobs issued for this contact so far (each has its own idempotency key).
    #[serde(default)]
    pub emitted: u32,
    /// The job issued and not yet finished (a tick does not issue another meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued: Option<QueuedSend>,
    /// The key of the job that was sent last (a `failed` status for it moves the contact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedSend {
    pub key: String,
    pub at: Timestamp,
}

/// The item of [`SendingStore::link_campaign`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberCampaignItem {
    pub campaign: CampaignId,
}

/// The sender's port.
pub trait SendingStore: Send + Sync {
    fn send_record(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Versioned<SendRecord>>>> + Send;

    /// Writes the record if its version is still `expected` (`None`: it must not exist).
    /// `Ok(None)`: someone changed it since (re-read). `Ok(Some(v))`: written as version `v`.
    fn put_send_record(
        &self,
        record: &SendRecord,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<Option<u64>>> + Send;

    /// Everything one send decides on ([`SendContext`]), in one read: one `BatchGetItem` on
    /// DynamoDB (strongly consistent), one read transaction on SQLite. Absent items are absent
    /// (`None`, or defaults with a `None` version for pacing), never an error; a corrupt item is
    /// a typed error naming its key.
    fn send_context(
        &self,
        query: &SendContextQuery,
    ) -> impl Future<Output = Result<SendContext>> + Send;

    /// The write before the Graph API call, all or nothing: the record (conditional on its
    /// version read, or on its absence), the key's claim when given (never replacing an existing
    /// claim's time or body) and the pacing records (each conditional on its version read).
    /// Of concurrent calls from the same versions exactly one is [`CallBegun::Begun`]; the
    /// others write nothing and say which read went stale (the record's first).
    fn begin_call(&self, call: &BeginCall) -> impl Future<Output = Result<CallBegun>> + Send;

    /// Meta accepted the send: everything in [`AcceptedSend`], atomically, conditional on the
    /// record's version. `false`: the record changed since (nothing was written).
    fn record_accepted(&self, accepted: &AcceptedSend)
    -> impl Future<Output = Result<bool>> + Send;

    fn sent_message(
        &self,
        wamid: &MessageId,
    ) -> impl Future<Output = Result<Option<SentMessage>>> + Send;

    /// BILL-3: records what Meta reported for `wamid` and adds the reported line, once per
    /// message. `true`: added now; `false`: it was already recorded.
    fn record_reported_pricing(
        &self,
        wamid: &MessageId,
        reported: &ReportedPricing,
        line: &LedgerAddition,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The number's pacing record and its version (`None` version: never written; defaults).
    fn number_pacing(
        &self,
        number: &BusinessNumberId,
    ) -> impl Future<Output = Result<(NumberPacingRecord, Option<u64>)>> + Send;

    fn recipient(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> impl Future<Output = Result<(RecipientRecord, Option<u64>)>> + Send;

    /// Writes the given pacing records together, each conditional on its version. `false`:
    /// one of them changed since (nothing was written).
    fn put_pacing(&self, write: &PacingWrite) -> impl Future<Output = Result<bool>> + Send;

    /// Parks a job (idempotent by key).
    fn park(
        &self,
        number: &BusinessNumberId,
        on: &ParkReason,
        parked: &ParkedSend,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Parked jobs, in key order, at most `limit`.
    fn parked(
        &self,
        number: &BusinessNumberId,
        on: &ParkReason,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ParkedSend>>> + Send;

    /// Removes a parked job. `true` for exactly one caller.
    fn unpark(
        &self,
        number: &BusinessNumberId,
        on: &ParkReason,
        key: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Records that `number` belongs to the WhatsApp Business Account `waba` (idempotent).
    fn link_number(&self, waba: &str, link: &NumberLink)
    -> impl Future<Output = Result<()>> + Send;

    fn account_numbers(&self, waba: &str) -> impl Future<Output = Result<Vec<NumberLink>>> + Send;

    /// The WhatsApp Business Account `number` was last linked to (TPL-2 counts template names
    /// per account). `None`: never linked.
    fn number_account(
        &self,
        number: &BusinessNumberId,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Records that the campaign sends from `number` (idempotent).
    fn link_campaign(
        &self,
        number: &BusinessNumberId,
        campaign: &CampaignId,
    ) -> impl Future<Output = Result<()>> + Send;

    fn number_campaigns(
        &self,
        number: &BusinessNumberId,
    ) -> impl Future<Output = Result<Vec<CampaignId>>> + Send;

    /// One campaign row by contact.
    fn campaign_row(
        &self,
        campaign: &CampaignId,
        contact: &ContactKey,
    ) -> impl Future<Output = Result<Option<CampaignRow>>> + Send;

    fn campaign_sending(
        &self,
        campaign: &CampaignId,
    ) -> impl Future<Output = Result<(CampaignSending, Option<u64>)>> + Send;

    /// Conditional on `expected` (`None`: absent). `false`: changed since.
    fn put_campaign_sending(
        &self,
        campaign: &CampaignId,
        sending: &CampaignSending,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The keys of the sender's items (both adapters).
pub mod keys {
    use crate::keys::{Key, contact_pk};
    use rules::{BusinessNumberId, CampaignId, ContactKey, MessageId};

    pub const SEND_RECORD_SK: &str = "S";
    pub const SENT_MESSAGE_SK: &str = "S";
    pub const REPORTED_SK: &str = "R";
    pub const NUMBER_PACING_SK: &str = "PACING";
    pub const RECIPIENT_SK: &str = "P#PACE";
    pub const NUMBER_CAMPAIGN_PREFIX: &str = "K#";
    pub const CAMPAIGN_SENDING_SK: &str = "SENDING";
    pub const NUMBER_ACCOUNT_SK: &str = "ACCOUNT";

    fn key(pk: String, sk: impl Into<String>) -> Key {
        Key { pk, sk: sk.into() }
    }

    /// Beside the key's claim item (`O#<key>` / `O`).
    pub fn send_record(idempotency_key: &str) -> Key {
        key(format!("O#{idempotency_key}"), SEND_RECORD_SK)
    }

    /// Beside the message's status item (`W#<wamid>` / `W`).
    pub fn sent_message(wamid: &MessageId) -> Key {
        key(format!("W#{wamid}"), SENT_MESSAGE_SK)
    }

    /// Beside the message's status item: the reported pricing, once.
    pub fn reported_pricing(wamid: &MessageId) -> Key {
        key(format!("W#{wamid}"), REPORTED_SK)
    }

    /// Beside the number's settings (`N#<number>` / `SETTINGS`).
    pub fn number_pacing(number: &BusinessNumberId) -> Key {
        key(format!("N#{number}"), NUMBER_PACING_SK)
    }

    /// In the contact's partition, outside the `A#` range `load_contact` reads.
    pub fn recipient(number: &BusinessNumberId, contact: &ContactKey) -> Key {
        key(contact_pk(number, contact), RECIPIENT_SK)
    }

    pub fn parked_pk(number: &BusinessNumberId, slot: &str) -> String {
        format!("H#{number}#{slot}")
    }

    pub fn parked(number: &BusinessNumberId, slot: &str, idempotency_key: &str) -> Key {
        key(parked_pk(number, slot), idempotency_key)
    }

    pub fn account_pk(waba: &str) -> String {
        format!("X#{waba}")
    }

    pub fn account_number(waba: &str, number: &BusinessNumberId) -> Key {
        key(account_pk(waba), number.as_str())
    }

    /// Beside the number's settings: the account it belongs to (the way back from
    /// [`account_number`]).
    pub fn number_account(number: &BusinessNumberId) -> Key {
        key(format!("N#{number}"), NUMBER_ACCOUNT_SK)
    }

    pub fn number_campaign(number: &BusinessNumberId, campaign: &CampaignId) -> Key {
        key(
            format!("N#{number}"),
            format!("{NUMBER_CAMPAIGN_PREFIX}{campaign}"),
        )
    }

    pub fn campaign_sending(campaign: &CampaignId) -> Key {
        key(crate::keys::campaign_pk(campaign), CAMPAIGN_SENDING_SK)
    }
}

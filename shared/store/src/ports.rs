//! The ports: narrow traits owned by the code that uses them. Each adapter implements all of
//! them; a function takes the one it needs (`impl ContactStore`), or [`Store`] for everything.
//!
//! Methods return `Send` futures so they run on tokio's multi-threaded runtime; the traits are
//! meant for generics (`S: ContactStore`), not `dyn`.

use crate::Result;
use crate::model::*;
use rules::agents::AgentLoad;
use rules::billing::RateTable;
use rules::templates::Template;
use rules::{
    AgentId, BusinessNumberId, CampaignId, ContactKey, ConversationId, Date, EventKey, MessageId,
    NumberSettings, TemplateName, Timestamp,
};
use std::future::Future;

/// The router's port: one read to load, one conditional write to commit.
pub trait ContactStore: Send + Sync {
    /// The contact's versioned state, its pending outbox and its live outreach records, in ONE
    /// read. Items with `expires_at <= now` are ignored (WIN-6).
    fn load_contact(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        now: Timestamp,
    ) -> impl Future<Output = Result<LoadedContact>> + Send;

    /// Atomically: the next state (conditional on `expected_version`), the outbox (replacing the
    /// previous one), the log entries, the new outreach records, and the event key's dedup marker.
    fn commit(&self, commit: Commit) -> impl Future<Output = Result<CommitOutcome>> + Send;

    /// The outbox, if its effects are not marked done.
    fn pending_effects(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> impl Future<Output = Result<Option<Outbox>>> + Send;

    /// Clears the outbox if it still belongs to `event_key`. `false`: it did not (already done, or
    /// replaced by a later commit).
    fn mark_effects_done(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        event_key: &EventKey,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The sender's port for outbound messages and outreach records.
pub trait OutboundStore: Send + Sync {
    /// Claims an idempotency key before a send (first caller wins). Also records the send in the
    /// contact's outbound log (see [`ConsoleStore::outbound_log`]), with `body`, the message as
    /// requested, for the log to show.
    fn claim_send(
        &self,
        idempotency_key: &str,
        number: &BusinessNumberId,
        contact: &ContactKey,
        now: Timestamp,
        body: Option<&serde_json::Value>,
    ) -> impl Future<Output = Result<SendClaim>> + Send;

    /// Meta accepted the send: link the key to its wamid and record `sent` at `at`.
    fn record_sent(
        &self,
        idempotency_key: &str,
        wamid: &MessageId,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies a status webhook; monotonic and order-independent. Returns the message after it.
    fn apply_status(
        &self,
        update: &StatusUpdate,
    ) -> impl Future<Output = Result<OutboundMessage>> + Send;

    fn outbound_by_wamid(
        &self,
        wamid: &MessageId,
    ) -> impl Future<Output = Result<Option<OutboundMessage>>> + Send;

    /// The wamid a key was sent as (`Some(None)`: claimed, not yet accepted).
    fn outbound_by_key(
        &self,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<Option<Option<MessageId>>>> + Send;

    /// Records an outreach sent outside a commit (campaigns); read back by `load_contact`.
    fn put_outreach(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        outreach: &NewOutreach,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Per-number settings (loaded by the router and the sender, written by the console).
pub trait SettingsStore: Send + Sync {
    fn settings(
        &self,
        number: &BusinessNumberId,
    ) -> impl Future<Output = Result<Option<NumberSettings>>> + Send;

    /// Writes the settings, and the number's entry in the directory [`SettingsStore::numbers`]
    /// reads.
    fn put_settings(&self, settings: &NumberSettings) -> impl Future<Output = Result<()>> + Send;

    /// Every number that has settings, in id order.
    fn numbers(&self) -> impl Future<Output = Result<Vec<BusinessNumberId>>> + Send;
}

/// Agents and their capacity counters (AUTO-4, AUTO-5).
pub trait AgentStore: Send + Sync {
    /// Creates or updates an agent's capacity and presence; the open count is kept.
    fn put_agent(
        &self,
        agent: &AgentId,
        capacity: u32,
        online: bool,
    ) -> impl Future<Output = Result<()>> + Send;

    fn agents(&self) -> impl Future<Output = Result<Vec<AgentLoad>>> + Send;

    /// Takes one unit of the agent's capacity for operation `op`, if `open < capacity`
    /// (conditional: never over capacity under concurrency). Keyed: when `op` already took
    /// capacity (a repeat after a crash), nothing changes and the agent it took is returned, which
    /// may differ from `agent`. `None`: full (or unknown agent).
    fn take_capacity(
        &self,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<AgentId>>> + Send;

    /// AUTO-5: an agent took a conversation by hand (claim, transfer, reopening by sending): it
    /// counts toward their open conversations even over their reception limit, so the queue
    /// gives them nothing more until they are under it again. Keyed like `take_capacity`.
    /// `false`: `op` was applied before, or the agent is unknown.
    fn take_capacity_by_hand(
        &self,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The agent whose capacity operation `op` took, if it ran (the router asks when it repeats
    /// an agent request after a crash, before choosing again).
    fn capacity_taken_by(&self, op: &str) -> impl Future<Output = Result<Option<AgentId>>> + Send;

    /// Gives one unit back for operation `op`; never below zero. Keyed like `take_capacity`.
    /// `false`: `op` was applied before, or the count was already zero.
    fn release_capacity(
        &self,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The number's queue of conversations waiting for an agent: first in, first out (AUTO-4).
pub trait QueueStore: Send + Sync {
    /// Adds the conversation (idempotent: queued again keeps its place). Returns its position
    /// (1 = next).
    fn enqueue(&self, entry: &QueueEntry) -> impl Future<Output = Result<u32>> + Send;

    /// 1-based position, `None` when not queued.
    fn queue_position(
        &self,
        number: &BusinessNumberId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Option<u32>>> + Send;

    /// The oldest entries, first first.
    fn queue_head(
        &self,
        number: &BusinessNumberId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<QueueEntry>>> + Send;

    /// AUTO-5: atomically takes the oldest queued conversation off the number's queue and one
    /// unit of `agent`'s capacity for it. Keyed by `op`: a repeat returns the entry the first
    /// call took. `None`: the queue is empty or the agent has no free capacity.
    fn claim_queue_head(
        &self,
        number: &BusinessNumberId,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<QueueEntry>>> + Send;

    /// Removes the conversation. `true` for exactly one caller: use it to claim the head.
    fn leave_queue(
        &self,
        number: &BusinessNumberId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The template catalogue (TPL-1..5).
pub trait TemplateStore: Send + Sync {
    fn put_template(
        &self,
        number: &BusinessNumberId,
        template: &Template,
    ) -> impl Future<Output = Result<()>> + Send;

    fn template(
        &self,
        number: &BusinessNumberId,
        name: &TemplateName,
        language: &str,
    ) -> impl Future<Output = Result<Option<Template>>> + Send;

    fn templates(
        &self,
        number: &BusinessNumberId,
    ) -> impl Future<Output = Result<Vec<Template>>> + Send;
}

/// Campaigns, their hopper counters and per-contact rows.
pub trait CampaignStore: Send + Sync {
    /// Creates or replaces the definition; the hopper counters are kept. Bumps the definition's
    /// version (see [`CampaignStore::versioned_campaign`]).
    fn put_campaign(&self, campaign: &CampaignRecord) -> impl Future<Output = Result<()>> + Send;

    /// The campaign with the version of its definition: every definition write
    /// ([`CampaignStore::put_campaign`], [`CampaignStore::put_campaign_if`]) bumps it; row moves
    /// and hopper counts do not. A campaign written before versions existed reads as version 0.
    fn versioned_campaign(
        &self,
        id: &CampaignId,
    ) -> impl Future<Output = Result<Option<Versioned<CampaignRecord>>>> + Send;

    /// Writes the definition if its version is still `expected` (`None`: the campaign must not
    /// exist); the hopper counters are kept (or, on create, taken from `campaign`).
    /// `Ok(Some(v))`: written as version `v`; `Ok(None)`: someone changed (or created) it since.
    fn put_campaign_if(
        &self,
        campaign: &CampaignRecord,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<Option<u64>>> + Send;

    fn campaign(
        &self,
        id: &CampaignId,
    ) -> impl Future<Output = Result<Option<CampaignRecord>>> + Send;

    /// Adds a contact at `row.stage`, counting it in the hopper. `false`: already there.
    fn add_campaign_row(
        &self,
        id: &CampaignId,
        row: &CampaignRow,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Moves a row from stage `from` to `row.stage`, moving the counters with it, atomically.
    /// `false`: the row is not at `from` (moved by someone else, or absent).
    fn move_campaign_row(
        &self,
        id: &CampaignId,
        from: &str,
        row: &CampaignRow,
    ) -> impl Future<Output = Result<bool>> + Send;

    fn campaign_rows(
        &self,
        id: &CampaignId,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<CampaignRow>>> + Send;
}

/// The cost ledger: per number, category and UTC day.
pub trait LedgerStore: Send + Sync {
    fn add_to_ledger(
        &self,
        number: &BusinessNumberId,
        day: Date,
        category: &str,
        side: LedgerSide,
        count: i64,
        micros: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Lines from `from` to `to` inclusive, by day, category, then charge.
    fn ledger(
        &self,
        number: &BusinessNumberId,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<LedgerLine>>> + Send;

    /// BILL-6: the rate table (`None`: never set). The sender reads it with every send, in
    /// [`crate::SendingStore::send_context`]'s one read.
    fn rates(&self) -> impl Future<Output = Result<Option<RateTable>>> + Send;

    /// BILL-6: replaces the rate table (the caller validated it).
    fn put_rates(&self, table: &RateTable) -> impl Future<Output = Result<()>> + Send;
}

/// The console: contacts, search (CHAN-4), the message log.
pub trait ConsoleStore: Send + Sync {
    /// Sets the contact's profile (creating the contact, `Closed`, if it never wrote).
    fn put_profile(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        profile: &ContactProfile,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    fn contact_summary(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> impl Future<Output = Result<Option<ContactSummary>>> + Send;

    fn search_contacts(
        &self,
        search: &ContactSearch,
    ) -> impl Future<Output = Result<Page<ContactSummary>>> + Send;

    /// The contact's message log, newest first.
    fn message_log(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<LoggedMessage>>> + Send;

    /// The contact's outbound sends claimed in `[from, until)`, newest first, at most `limit`,
    /// each with its delivery state (the message log's outbound side).
    fn outbound_log(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        from: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboundEntry>>> + Send;
}

/// Every port: what an adapter is.
pub trait Store:
    ContactStore
    + OutboundStore
    + SettingsStore
    + AgentStore
    + QueueStore
    + TemplateStore
    + CampaignStore
    + LedgerStore
    + ConsoleStore
    + Clone
    + 'static
{
}

impl<T> Store for T where
    T: ContactStore
        + OutboundStore
        + SettingsStore
        + AgentStore
        + QueueStore
        + TemplateStore
        + CampaignStore
        + LedgerStore
        + ConsoleStore
        + Clone
        + 'static
{
}

//! # Switchboard store
//!
//! Narrow storage ports ([`ports`]) owned by their consumers, and two adapters that pass one
//! contract suite: [`DynamoStore`] (one DynamoDB table) and [`SqliteStore`] (one SQLite file).
//!
//! ## The router's path: one read, one write
//!
//! ```text
//! let loaded = store.load_contact(&number, &contact, now).await?;        // 1 read (Query)
//! if loaded.is_pending_event(&event_key) { execute(loaded.outbox) }       // redelivered: repair
//! let decision = rules::decide(state, &event, &settings, now);
//! match store.commit(Commit::from_decision(event_key, loaded.version(), decision, now)).await? {
//!     CommitOutcome::Committed { .. } => execute(effects),                 // 1 write (TransactWriteItems)
//!     CommitOutcome::Duplicate => execute(store.pending_effects(..)),      // only if still ours
//!     CommitOutcome::VersionConflict => reload and decide again,
//! }
//! ```
//!
//! A commit stores the decision's effects *inside the state item* (the outbox, each effect with
//! the id `<event_key>#<index>`), so the outbox costs no extra item. The next commit for the
//! contact replaces it. The router applies a contact's events one at a time (one FIFO group) and
//! only takes event N+1 after event N's effects ran, so in steady state nothing needs marking
//! done: an inbound text costs 1 read + 1 write (goal P3). [`ContactStore::mark_effects_done`] is
//! there for paths that want it (a redelivered event whose outbox was re-executed).
//!
//! Time is always an argument (`now`): items whose `expires_at <= now` are ignored on read (WIN-6:
//! TTL deletion runs late), and tests move time instead of sleeping.

pub mod dynamo;
mod error;
pub mod events;
pub mod items;
pub mod keys;
pub mod model;
pub mod ports;
pub mod sending;
pub mod sqlite;

pub use dynamo::{DynamoStore, TableDefinition};
pub use error::{Result, StoreError};
pub use events::{
    Delivery, EventStore, IntegrationStore, IntegrationToken, StoredEvent, WebhookEndpoint,
    WebhookStore,
};
pub use model::*;
pub use ports::*;
pub use sending::{
    AcceptedSend, BeginCall, CallBegun, CallInProgress, CampaignRowData, CampaignSending,
    LedgerAddition, NumberLink, NumberPacingRecord, PacingWrite, ParkReason, ParkedSend,
    QueuedSend, RecipientRecord, ReportedItem, SendClaimWrite, SendContext, SendContextQuery,
    SendRecord, SendState, SendingStore, SentMessage, Undeliverable,
};
pub use sqlite::{SqliteQueue, SqliteStore};

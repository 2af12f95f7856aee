//! # The sender
//!
//! The business side of the wire (ARCHITECTURE: sender): it turns send jobs into Graph API calls
//! at the moment the window allows (SEND-1), paces them by number and recipient (SEND-3, CAMP-5),
//! classifies Meta's errors and acts on them (SEND-2, CAMP-6), records what was sent and what it
//! is predicted to cost (BILL-3), applies status webhooks to messages, the cost ledger and campaign
//! contacts, keeps the template catalogue (TPL-4) and runs campaigns' sending from ticks.
//!
//! - [`Sender`] is the core, generic over its ports: the store (`store::Store +
//!   store::SendingStore`), the queues ([`queue::DelayedQueue`]), the Graph API ([`GraphApi`]) and
//!   the [`Clock`]. The local runner calls it directly.
//! - [`handler`] turns an SQS batch (outbound and updates queues) into calls and partial batch
//!   failures; `main.rs` only wires.
//! - Every decision is the rules': `rules::channel::may_send`, `rules::window`,
//!   `rules::billing::predict`, `rules::send_error::plan_after_failure`,
//!   `rules::pacing::NumberPacing::pace`, `rules::campaign::Campaign`,
//!   `rules::templates::TemplateCatalogue::apply`.

pub mod alerts;
pub mod campaigns;
pub mod clock;
pub mod config;
mod core;
pub mod graph;
pub mod handler;
pub mod resume;
pub mod send;
pub mod updates;

pub use alerts::{Alert, AlertSink, EmfAlerts, RecordedAlerts};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, ConfigError};
pub use core::{Options, Outcome, Result, Sender, SenderError};
pub use graph::{CloudGraph, GraphApi, GraphError, MemoryGraph, OutgoingMessage, Scripted};
pub use resume::{Resumed, resume_number};

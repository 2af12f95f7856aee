//! # The router
//!
//! Owns the customer side (ARCHITECTURE: router). It consumes the inbound FIFO queue, where each
//! contact's events (Meta's messages, timer wake-ups, console actions) wait in the contact's
//! message group, and for each event, in order:
//!
//! 1. loads the contact (state, pending outbox, live outreach records: one read);
//! 2. asks [`rules::decide`] what the event means;
//! 3. commits the next state, the effects (the outbox), the log and the event's dedup marker in one
//!    conditional write (a `VersionConflict` re-reads and decides again; a `Duplicate` only
//!    finishes the event's outbox if it is still pending);
//! 4. executes the effects, each idempotently ([`Router`]'s effect table), so a repeat after a
//!    crash sends nothing twice.
//!
//! Agent requests are answered in the same invocation: the answer (`AgentAssigned`/`Queued`)
//! is decided as a follow-up event of the same contact with a key derived from the effect, so it
//! too is applied exactly once.
//!
//! [`batch`] applies an SQS batch with FIFO semantics per message group (ARCHITECTURE invariant
//! 7); [`handler`] is the Lambda's thin shell; the local runner calls [`Router::apply`] directly.

pub mod batch;
pub mod config;
pub mod handler;
mod router;
mod translate;

pub use batch::{BatchRecord, apply_batch};
pub use config::{Config, ConfigError, outreach_key_of};
pub use router::{Applied, QUEUED_CONVERSATIONS, Router, RouterError, WINDOW_REFUSALS};
pub use translate::{Lane, TranslateError};

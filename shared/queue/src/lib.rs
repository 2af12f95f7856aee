//! # Switchboard's event queues
//!
//! The port through which the functions hand events to each other: the **inbound** FIFO queue
//! (customer events and timer wake-ups, ordered per contact by their message group) and the
//! **updates** standard queue (statuses, account and template events; no order).
//!
//! - [`EventQueue`]: the port, narrow and async: send a batch of [`Envelope`]s to a [`Destination`].
//!   It returns `Ok` only once every envelope is accepted (HOOK-5 relies on it).
//! - [`SqsQueues`]: the adapter on Amazon SQS (`SendMessageBatch` in chunks within SQS's limits).
//! - [`MemoryQueue`]: the in-process twin used by the local runner and by tests.
//! - [`OutboundJob`] ([`SendJob`] or [`CampaignTick`]): the body of an outbound-queue message (router, console and campaigns produce
//!   it; the sender consumes it).
//!
//! Bodies are JSON documents (the normalised events); keys are the events' stable keys and become
//! the FIFO deduplication ids.

use std::future::Future;

pub mod job;
mod memory;
pub mod sqs;

pub use job::{CampaignResult, CampaignTick, OutboundJob, OutreachPlan, SendJob, SendOrigin};

pub use memory::MemoryQueue;
pub use sqs::SqsQueues;

/// Which queue an envelope goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The inbound FIFO queue: every envelope needs a group.
    Inbound,
    /// The standard updates queue.
    Updates,
    /// The standard outbound queue: [`SendJob`]s for the sender.
    Outbound,
}

/// One queue message: the event's stable key, its FIFO group (inbound only) and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub key: String,
    pub group: Option<String>,
    pub body: String,
}

/// SQS's limit on one message and on one whole batch (bodies; Switchboard sends no attributes).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SQS's limit on entries per `SendMessageBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("event {key}: the inbound FIFO queue needs a message group")]
    MissingGroup { key: String },
    #[error(
        "event {key}: body of {bytes} bytes is empty or over the queue's {MAX_MESSAGE_BYTES}-byte limit"
    )]
    BadSize { key: String, bytes: usize },
    #[error("{failed} message(s) not accepted by the queue after retries (first: {code})")]
    NotAccepted { failed: usize, code: String },
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// The queue port. Implementations accept every envelope or return an error; on error some
/// envelopes may have been queued already (the caller retries the whole batch; keys dedup).
pub trait EventQueue: Send + Sync {
    fn send(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The checks every adapter makes before sending anything, so that the twin refuses what SQS
/// would refuse.
pub fn check(to: Destination, envelopes: &[Envelope]) -> Result<(), QueueError> {
    for e in envelopes {
        if to == Destination::Inbound && e.group.as_deref().is_none_or(str::is_empty) {
            return Err(QueueError::MissingGroup { key: e.key.clone() });
        }
        if e.body.is_empty() || e.body.len() > MAX_MESSAGE_BYTES {
            return Err(QueueError::BadSize {
                key: e.key.clone(),
                bytes: e.body.len(),
            });
        }
    }
    Ok(())
}

impl<Q: EventQueue> EventQueue for &Q {
    fn send(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).send(to, envelopes)
    }
}

impl<Q: EventQueue> EventQueue for std::sync::Arc<Q> {
    fn send(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).send(to, envelopes)
    }
}

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
//! - [`DeadLetters`] (OPS-4): the dead letters listed and redelivered, on SQS ([`SqsDeadLetters`])
//!   or the local runner's table (in the store crate).
//! - [`OutboundJob`] ([`SendJob`] or [`CampaignTick`]): the body of an outbound-queue message (router, console and campaigns produce
//!   it; the sender consumes it).
//!
//! - [`lanes`]: the FIFO lanes a consumer of the inbound queue applies a batch in (ARCHITECTURE
//!   invariant 7), for the router Lambda and the local runner alike.
//!
//! Bodies are JSON documents (the normalised events); keys are the events' stable keys and become
//! the FIFO deduplication ids.

use std::future::Future;

pub mod dead;
pub mod fetch;
pub mod job;
pub mod lanes;
mod memory;
pub mod sqs;

pub use dead::{
    DeadLetter, DeadLetterList, DeadLetterQueue, DeadLetters, SqsDeadLetters, Translated,
    Translation,
};

pub use fetch::FetchJob;
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
    /// The standard media queue: [`FetchJob`]s for the media function (MEDIA-1; on AWS only:
    /// the local runner keeps them on its updates queue).
    Media,
}

/// One queue message: the event's stable key, its FIFO group (inbound only) and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub key: String,
    pub group: Option<String>,
    pub body: String,
}

impl Envelope {
    /// The queue message of a normalised event: its key (the FIFO deduplication id), its
    /// contact's group when it routes to the inbound queue (none for updates), its JSON as the
    /// body. Used for every event Switchboard itself puts in a contact's lane.
    pub fn of_event(event: &whatsapp::Event) -> Envelope {
        let group = match event.route() {
            whatsapp::Route::Inbound { group } => Some(group),
            whatsapp::Route::Updates => None,
        };
        Envelope {
            key: event.key.clone(),
            group,
            body: serde_json::to_string(event).expect("an event always serialises"),
        }
    }
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
    #[error("event {key}: the FIFO queue has no per-message delay")]
    DelayOnFifo { key: String },
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// OPS-4: a dead letter that cannot go back (a translated queue's letter that is not what
    /// the queue holds); it stays where it is.
    #[error("dead letter {id} cannot be redelivered: {reason}")]
    NotRedeliverable { id: String, reason: String },
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

/// SQS's longest delivery delay for one message (15 minutes).
pub const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(900);

/// Sending with a delivery delay, on the standard queues (the outbound queue: pacing waits,
/// backoffs and campaign ticks wait there rather than in a running function). A delay longer than
/// [`MAX_DELAY`] is cut to it: the consumer sees the message early and waits again (it keeps the
/// real due time itself). FIFO queues have no per-message delay: sending there is refused.
pub trait DelayedQueue: EventQueue {
    fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The delay SQS is given: whole seconds, rounded up, at most [`MAX_DELAY`].
pub fn delay_seconds(delay: std::time::Duration) -> i32 {
    let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    secs.min(MAX_DELAY.as_secs()) as i32
}

/// The checks of [`check`] plus: no delay on the FIFO queue.
pub fn check_delayed(to: Destination, envelopes: &[Envelope]) -> Result<(), QueueError> {
    if to == Destination::Inbound
        && let Some(first) = envelopes.first()
    {
        return Err(QueueError::DelayOnFifo {
            key: first.key.clone(),
        });
    }
    check(to, envelopes)
}

impl<Q: DelayedQueue> DelayedQueue for &Q {
    fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).send_delayed(to, envelopes, delay)
    }
}

impl<Q: DelayedQueue> DelayedQueue for std::sync::Arc<Q> {
    fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).send_delayed(to, envelopes, delay)
    }
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

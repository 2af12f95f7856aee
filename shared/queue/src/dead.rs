//! OPS-4, dead letters in the open: the port through which admins list the messages the functions
//! gave up on and deliver them again ([`DeadLetters`]), with its two adapters:
//!
//! - [`SqsDeadLetters`]: the stack's dead-letter queues (inbound, updates, outbound). Listing
//!   receives every message with a short visibility timeout and makes them visible again at once
//!   (SQS has no peek), so nothing is lost by looking (on the FIFO queue, at most ten messages of
//!   one contact's group show at a time, and `more` says so); redelivering sends the body to the source
//!   queue and then deletes it from the dead-letter queue (a crash in between leaves a duplicate,
//!   which the consumers recognise by key).
//!   A dead-letter queue whose letters are not the source queue's own messages carries a
//!   [`Translation`]: the timers' (`TimerDeadLetterQueue`) holds the wake-ups EventBridge Scheduler
//!   could not deliver to the timers function (and the function's failed invocations), which go
//!   back onto the inbound FIFO as the event the timers function would have queued. The timers
//!   crate supplies it (`timers::dead_letter_queue`): this crate knows no wake-up.
//! - the local runner's `local_dead` table (`store::SqliteQueue`, in the store crate).
//!
//! What a [`DeadLetter`] shows is where it came from, why, how often and when, and the event's kind
//! and key: never the message's text. [`contract`] is the one suite both adapters pass.

use crate::{Destination, Envelope, OutboundJob, QueueError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::future::Future;

/// One dead letter, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Names it for [`DeadLetters::redeliver`]: `<queue>-<position>` locally, `<queue>-<SQS
    /// message id>` on AWS.
    pub id: String,
    /// The queue it was taken from: `inbound`, `updates`, `outbound`, `media` or [`TIMERS`].
    pub queue: &'static str,
    /// What the event is (`text`, `status`, `timer_fired`, `lane`, `send`, `campaign_tick`, …),
    /// `unreadable` when the body is not one Switchboard wrote.
    pub kind: String,
    /// The event's key (its dedup key downstream).
    pub key: String,
    pub reason: String,
    /// Deliveries tried.
    pub attempts: u32,
    /// When it was first queued (epoch milliseconds), when known.
    pub first_seen_ms: Option<i64>,
    /// When it was last tried and given up on (epoch milliseconds), when known.
    pub last_seen_ms: Option<i64>,
}

/// A listing: the dead letters seen, oldest first per queue, and whether there may be more.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DeadLetterList {
    pub letters: Vec<DeadLetter>,
    pub more: bool,
}

/// The dead-letter port (OPS-4).
pub trait DeadLetters: Send + Sync {
    /// Up to `limit` dead letters. Nothing is removed or delayed by looking.
    fn list(&self, limit: usize)
    -> impl Future<Output = Result<DeadLetterList, QueueError>> + Send;

    /// Puts the dead letter `id` back on the queue it came from; `false` when there is no such
    /// dead letter (already redelivered, or never one).
    fn redeliver(&self, id: &str) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Puts every dead letter back on the queue it came from; how many.
    fn redeliver_all(&self) -> impl Future<Output = Result<usize, QueueError>> + Send;
}

impl<D: DeadLetters> DeadLetters for std::sync::Arc<D> {
    fn list(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<DeadLetterList, QueueError>> + Send {
        (**self).list(limit)
    }
    fn redeliver(&self, id: &str) -> impl Future<Output = Result<bool, QueueError>> + Send {
        (**self).redeliver(id)
    }
    fn redeliver_all(&self) -> impl Future<Output = Result<usize, QueueError>> + Send {
        (**self).redeliver_all()
    }
}

/// The in-process twin keeps no dead letters: whoever consumes it handles failures itself, so
/// there is never one to list or redeliver.
impl DeadLetters for crate::MemoryQueue {
    async fn list(&self, _limit: usize) -> Result<DeadLetterList, QueueError> {
        Ok(DeadLetterList::default())
    }
    async fn redeliver(&self, _id: &str) -> Result<bool, QueueError> {
        Ok(false)
    }
    async fn redeliver_all(&self) -> Result<usize, QueueError> {
        Ok(0)
    }
}

/// The queue's name in dead letters' ids and listings.
pub fn queue_name(queue: Destination) -> &'static str {
    match queue {
        Destination::Inbound => "inbound",
        Destination::Updates => "updates",
        Destination::Outbound => "outbound",
        Destination::Media => "media",
    }
}

/// The name of the timers' dead-letter queue in listings and ids (its letters are wake-ups; see
/// [`Translation`]).
pub const TIMERS: &str = "timers";

/// The queue's name and the rest of any dead letter's id, the timers' included (`timers-9f…` →
/// (`timers`, `9f…`)): what an id must look like before any queue is asked.
pub fn split_id(id: &str) -> Option<(&str, &str)> {
    if let Some((queue, rest)) = parse_id(id) {
        return Some((queue_name(queue), rest));
    }
    let rest = id.strip_prefix(TIMERS)?.strip_prefix('-')?;
    (!rest.is_empty()).then_some((TIMERS, rest))
}

/// The queue and the rest of a dead letter's id (`inbound-42` → (inbound, `42`)).
pub fn parse_id(id: &str) -> Option<(Destination, &str)> {
    let (queue, rest) = id.split_once('-')?;
    let queue = match queue {
        "inbound" => Destination::Inbound,
        "updates" => Destination::Updates,
        "outbound" => Destination::Outbound,
        "media" => Destination::Media,
        _ => return None,
    };
    (!rest.is_empty()).then_some((queue, rest))
}

/// What a queue message is, by its body: (kind, key). Only the kind and key are read, never the
/// content; a body that is not one Switchboard wrote is `unreadable` (with whatever `key` it has).
pub fn describe(queue: Destination, body: &str) -> (String, String) {
    let parsed = match queue {
        Destination::Outbound => OutboundJob::parse(body).ok().map(|job| {
            let kind = match &job {
                OutboundJob::Send(_) => "send",
                OutboundJob::CampaignTick(_) => "campaign_tick",
                OutboundJob::CampaignResult(_) => "campaign_result",
            };
            (kind.to_owned(), job.key().to_owned())
        }),
        Destination::Media => crate::FetchJob::from_body(body)
            .map(|(job, _)| ("media_fetch".to_owned(), job.queue_key())),
        _ => serde_json::from_str::<whatsapp::Event>(body)
            .ok()
            .map(|e| (e.kind_name().to_owned(), e.key)),
    };
    parsed.unwrap_or_else(|| {
        let key = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("key").and_then(|k| k.as_str()).map(str::to_owned))
            .unwrap_or_default();
        ("unreadable".to_owned(), key)
    })
}

/// One dead-letter queue of the stack and the queue its messages go back to.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    pub queue: Destination,
    pub dlq_url: String,
    pub source_url: String,
    /// `None`: the letters are the source queue's own messages and go back as they are. `Some`:
    /// they are something else (the timers' wake-ups), read and rewritten by it.
    pub translation: Option<Translation>,
}

impl DeadLetterQueue {
    /// The name its letters are listed and named by.
    pub fn name(&self) -> &'static str {
        self.translation
            .map_or_else(|| queue_name(self.queue), |t| t.name)
    }
}

/// How the letters of a dead-letter queue that are not its source queue's messages are described
/// and go back (see the module documentation). Plain function pointers: the crate that knows the
/// letters (timers) supplies them, and this crate gains no dependency on it.
#[derive(Clone, Copy)]
pub struct Translation {
    /// The name in listings and ids (at most one translated queue per name).
    pub name: &'static str,
    /// A body read as what it is and what goes back on the source queue; `Err` says why it is
    /// not one (it then cannot be redelivered, and is listed as `unreadable` with that reason).
    pub read: fn(&str) -> Result<Translated, String>,
}

impl std::fmt::Debug for Translation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translation")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One translated dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub kind: String,
    /// A key that carries no phone number (OPS-3).
    pub key: String,
    /// What goes back on the source queue (its `key` is not reused as the deduplication id: a
    /// redelivery gets a fresh one).
    pub envelope: Envelope,
    /// Why it died, when the body says so (a Lambda on-failure record does).
    pub reason: Option<String>,
    /// Deliveries tried, when the body says so.
    pub attempts: Option<u32>,
    /// Text never shown in a listing (the contact's wa_id), should a reason carry it (OPS-3).
    pub redact: Vec<String>,
}

/// `text` with every non-empty `secret` in it replaced.
fn redacted(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "<redacted>"))
}

/// The stack's dead-letter queues on SQS (see the module documentation).
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    queues: Vec<DeadLetterQueue>,
}

/// How long a listed message stays hidden before it is made visible again (it is released as soon
/// as the listing ends; this only bounds a listing that fails half-way).
const PEEK_SECONDS: i32 = 20;
/// At most this many messages are moved by one redeliver-all (the rest by the next).
const REDELIVER_ALL_MAX: usize = 10_000;

/// A message received from a dead-letter queue.
struct Received {
    message_id: String,
    receipt: String,
    body: String,
    group: Option<String>,
    attempts: u32,
    sent_ms: Option<i64>,
    /// The message attributes of its sender (EventBridge Scheduler's `ERROR_CODE`, …), as text.
    attributes: HashMap<String, String>,
}

fn sqs_error<E: std::error::Error + 'static>(e: aws_sdk_sqs::error::SdkError<E>) -> QueueError {
    QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
}

impl SqsDeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, queues: Vec<DeadLetterQueue>) -> SqsDeadLetters {
        SqsDeadLetters { client, queues }
    }

    fn queue(&self, name: &str) -> Option<&DeadLetterQueue> {
        self.queues.iter().find(|q| q.name() == name)
    }

    /// Up to ten messages, hidden for [`PEEK_SECONDS`].
    async fn receive(&self, url: &str, max: i32) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(PEEK_SECONDS)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(sqs_error)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attrs = m.attributes.unwrap_or_default();
                let number = |name: MessageSystemAttributeName| {
                    attrs.get(&name).and_then(|v| v.parse::<i64>().ok())
                };
                Received {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    group: attrs
                        .get(&MessageSystemAttributeName::MessageGroupId)
                        .cloned(),
                    attempts: number(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    sent_ms: number(MessageSystemAttributeName::SentTimestamp),
                    attributes: m
                        .message_attributes
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(name, value)| value.string_value.map(|v| (name, v)))
                        .collect(),
                }
            })
            .collect())
    }

    /// How many messages the queue holds (SQS's approximate count, visible and in flight).
    async fn waiting(&self, url: &str) -> Result<usize, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(sqs_error)?;
        let attrs = out.attributes.unwrap_or_default();
        Ok([
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|name| attrs.get(name).and_then(|v| v.parse::<usize>().ok()))
        .sum())
    }

    /// Makes received messages visible again at once.
    async fn release(&self, url: &str, receipts: Vec<String>) -> Result<(), QueueError> {
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, receipt)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .build()
                        .map_err(|e| QueueError::Unavailable(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_error)?;
        }
        Ok(())
    }

    /// What goes back to the source queue for a received message: its own body and group, or
    /// its translation's; `Err` says why a translated queue's letter cannot go back.
    fn outgoing(q: &DeadLetterQueue, m: &Received) -> Result<(String, Option<String>), String> {
        match q.translation {
            None => Ok((m.body.clone(), m.group.clone())),
            Some(t) => (t.read)(&m.body).map(|tr| (tr.envelope.body, tr.envelope.group)),
        }
    }

    /// Sends received messages back to their source queue (in order), then deletes them from the
    /// dead-letter queue. Each must have an [`Self::outgoing`] (callers leave the others).
    async fn move_back(&self, q: &DeadLetterQueue, batch: &[Received]) -> Result<(), QueueError> {
        for chunk in batch.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let (body, group) =
                        Self::outgoing(q, m).map_err(|reason| QueueError::NotRedeliverable {
                            id: format!("{}-{}", q.name(), m.message_id),
                            reason,
                        })?;
                    let mut entry = SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body);
                    if q.queue == Destination::Inbound {
                        // A fresh deduplication id: the original one may still be inside SQS's
                        // five-minute window, which would drop the redelivery silently.
                        entry = entry
                            .message_group_id(group.unwrap_or_default())
                            .message_deduplication_id(format!("redeliver-{}", m.message_id));
                    }
                    entry
                        .build()
                        .map_err(|e| QueueError::Unavailable(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&q.source_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_error)?;
            if let Some(failed) = out.failed().first() {
                return Err(QueueError::NotAccepted {
                    failed: out.failed().len(),
                    code: failed.code().to_owned(),
                });
            }
            for m in chunk {
                self.client
                    .delete_message()
                    .queue_url(&q.dlq_url)
                    .receipt_handle(&m.receipt)
                    .send()
                    .await
                    .map_err(sqs_error)?;
            }
        }
        Ok(())
    }

    fn letter(q: &DeadLetterQueue, m: &Received) -> DeadLetter {
        let name = q.name();
        let Some(translation) = q.translation else {
            let (kind, key) = describe(q.queue, &m.body);
            return DeadLetter {
                id: format!("{name}-{}", m.message_id),
                queue: name,
                kind,
                key,
                // SQS keeps no reason: it moved the message after the source queue's
                // maxReceiveCount.
                reason: format!(
                    "failed every delivery on the {name} queue; moved by its redrive policy (the function's log names the error under this key)"
                ),
                attempts: m.attempts,
                first_seen_ms: m.sent_ms,
                last_seen_ms: None,
            };
        };
        // EventBridge Scheduler says why in its message attributes.
        let attribute = |name: &str| m.attributes.get(name).filter(|v| !v.trim().is_empty());
        let said = match (attribute("ERROR_CODE"), attribute("ERROR_MESSAGE")) {
            (Some(code), Some(message)) => Some(format!("{code}: {message}")),
            (code, message) => code.or(message).cloned(),
        };
        let retries = attribute("RETRY_ATTEMPTS").and_then(|v| v.trim().parse::<u32>().ok());
        let (kind, key, reason, attempts) = match (translation.read)(&m.body) {
            Ok(t) => {
                let reason = said.or(t.reason).unwrap_or_else(|| {
                    format!("not delivered; moved to the {name} dead-letter queue")
                });
                let attempts = t
                    .attempts
                    .or(retries.map(|r| r.saturating_add(1)))
                    .unwrap_or(m.attempts);
                (t.kind, t.key, redacted(&reason, &t.redact), attempts)
            }
            Err(why) => {
                let reason = match said {
                    Some(said) => format!("{said}; not redeliverable: {why}"),
                    None => format!("not redeliverable: {why}"),
                };
                let attempts = retries.map_or(m.attempts, |r| r.saturating_add(1));
                ("unreadable".to_owned(), String::new(), reason, attempts)
            }
        };
        DeadLetter {
            id: format!("{name}-{}", m.message_id),
            queue: name,
            kind,
            key,
            reason,
            attempts,
            first_seen_ms: m.sent_ms,
            last_seen_ms: None,
        }
    }
}

impl DeadLetters for SqsDeadLetters {
    async fn list(&self, limit: usize) -> Result<DeadLetterList, QueueError> {
        let mut list = DeadLetterList::default();
        for q in &self.queues {
            let waiting = self.waiting(&q.dlq_url).await?;
            let before = list.letters.len();
            let mut seen = HashSet::new();
            let mut receipts = Vec::new();
            let outcome = async {
                loop {
                    let batch = self.receive(&q.dlq_url, 10).await?;
                    if batch.is_empty() {
                        return Ok(());
                    }
                    // Every message received is released, the ones past the limit too.
                    for m in batch {
                        receipts.push(m.receipt.clone());
                        if !seen.insert(m.message_id.clone()) {
                            continue;
                        }
                        if list.letters.len() == limit {
                            list.more = true;
                        } else {
                            list.letters.push(Self::letter(q, &m));
                        }
                    }
                    if list.more {
                        return Ok(());
                    }
                }
            }
            .await;
            // Whatever happened, what was looked at is visible again.
            let released = self.release(&q.dlq_url, receipts).await;
            outcome.and(released)?;
            // A FIFO queue hands out at most one receive's worth of a message group while it is
            // in flight: the rest of a long group shows once the first are redelivered.
            if list.letters.len() - before < waiting {
                list.more = true;
            }
            if list.letters.len() == limit && list.more {
                break;
            }
        }
        Ok(list)
    }

    async fn redeliver(&self, id: &str) -> Result<bool, QueueError> {
        let Some((name, message_id)) = split_id(id) else {
            return Ok(false);
        };
        let Some(q) = self.queue(name) else {
            return Ok(false);
        };
        let mut others = Vec::new();
        let mut seen = HashSet::new();
        let outcome = async {
            loop {
                let batch = self.receive(&q.dlq_url, 10).await?;
                if batch.is_empty() {
                    return Ok(false);
                }
                let mut fresh = false;
                let mut found = None;
                for m in batch {
                    fresh |= seen.insert(m.message_id.clone());
                    if m.message_id == message_id {
                        found = Some(m);
                    } else {
                        others.push(m.receipt);
                    }
                }
                if let Some(m) = found {
                    if let Err(reason) = Self::outgoing(q, &m) {
                        // Left where it is, listed with why.
                        others.push(m.receipt);
                        return Err(QueueError::NotRedeliverable {
                            id: id.to_owned(),
                            reason,
                        });
                    }
                    self.move_back(q, std::slice::from_ref(&m)).await?;
                    return Ok(true);
                }
                if !fresh {
                    return Ok(false);
                }
            }
        }
        .await;
        let released = self.release(&q.dlq_url, others).await;
        let found = outcome?;
        released?;
        Ok(found)
    }

    async fn redeliver_all(&self) -> Result<usize, QueueError> {
        let mut moved = 0;
        for q in &self.queues {
            let mut seen = HashSet::new();
            while moved < REDELIVER_ALL_MAX {
                let batch = self.receive(&q.dlq_url, 10).await?;
                // A message seen twice failed again meanwhile: left for the next call.
                let (fresh, again): (Vec<_>, Vec<_>) = batch
                    .into_iter()
                    .partition(|m| seen.insert(m.message_id.clone()));
                self.release(&q.dlq_url, again.into_iter().map(|m| m.receipt).collect())
                    .await?;
                if fresh.is_empty() {
                    break;
                }
                // A letter that cannot go back stays, listed as `unreadable` with why.
                let (movable, kept): (Vec<_>, Vec<_>) = fresh
                    .into_iter()
                    .partition(|m| Self::outgoing(q, m).is_ok());
                if !kept.is_empty() {
                    tracing::warn!(
                        queue = q.name(),
                        kept = kept.len(),
                        "dead letters left in place: not redeliverable (listed with why)"
                    );
                }
                self.release(&q.dlq_url, kept.into_iter().map(|m| m.receipt).collect())
                    .await?;
                self.move_back(q, &movable).await?;
                moved += movable.len();
            }
        }
        Ok(moved)
    }
}

/// The contract every [`DeadLetters`] adapter passes (OPS-4), run by each adapter's tests on its
/// own queues: the SQS adapter on moto, the local runner's table on SQLite.
#[doc(hidden)]
pub mod contract {
    use super::*;

    /// What the suite needs from a test deployment of an adapter.
    pub trait Harness: Send + Sync {
        type Letters: DeadLetters;
        fn letters(&self) -> &Self::Letters;
        /// Puts `envelope` on `queue`, then fails it until it is a dead letter.
        fn kill(&self, queue: Destination, envelope: Envelope) -> impl Future<Output = ()> + Send;
        /// The keys waiting on `queue` (taking them off it).
        fn drain(&self, queue: Destination) -> impl Future<Output = Vec<String>> + Send;
    }

    fn text_event(key: &str, contact: &str) -> Envelope {
        let body = format!(
            r#"{{"key":"{key}","waba_id":"1","business":{{"phone_number_id":"106"}},"body":{{"kind":"message","id":"{key}","timestamp":1700000000,"contact":{{"key":"{contact}"}},"content":{{"type":"text","body":"secret words"}}}}}}"#
        );
        Envelope {
            key: key.to_owned(),
            group: Some(format!("106#{contact}")),
            body,
        }
    }

    fn status_event(key: &str) -> Envelope {
        let body = format!(
            r#"{{"key":"{key}","waba_id":"1","business":{{"phone_number_id":"106"}},"body":{{"kind":"status","message_id":"wamid.OUT","status":"read","timestamp":1700000000}}}}"#
        );
        Envelope {
            key: key.to_owned(),
            group: None,
            body,
        }
    }

    /// ops_4: list, redeliver one, redeliver all, on an adapter with nothing dead yet.
    pub async fn ops_4_dead_letters_are_listed_and_redelivered<H: Harness>(h: &H) {
        let letters = h.letters();
        assert_eq!(letters.list(100).await.unwrap(), DeadLetterList::default());
        h.kill(
            Destination::Inbound,
            text_event("wamid.DEAD1", "4915100000001"),
        )
        .await;
        h.kill(
            Destination::Inbound,
            text_event("wamid.DEAD2", "4915100000002"),
        )
        .await;
        h.kill(Destination::Updates, status_event("wamid.OUT:read"))
            .await;

        let listed = letters.list(100).await.unwrap();
        assert!(!listed.more);
        let mut keys: Vec<_> = listed
            .letters
            .iter()
            .map(|l| (l.queue, l.kind.as_str(), l.key.as_str()))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                ("inbound", "text", "wamid.DEAD1"),
                ("inbound", "text", "wamid.DEAD2"),
                ("updates", "status", "wamid.OUT:read"),
            ]
        );
        for l in &listed.letters {
            assert!(l.attempts >= 1, "{l:?}");
            assert!(!l.reason.is_empty(), "{l:?}");
            assert!(
                l.first_seen_ms.is_some_and(|t| t > 1_600_000_000_000),
                "{l:?}"
            );
            let shown = serde_json::to_string(l).unwrap();
            assert!(!shown.contains("secret words"), "never the text: {shown}");
            assert_eq!(parse_id(&l.id).map(|(q, _)| queue_name(q)), Some(l.queue));
        }
        // Listing took nothing away (and can be repeated).
        assert_eq!(letters.list(100).await.unwrap().letters.len(), 3);
        let limited = letters.list(2).await.unwrap();
        assert_eq!((limited.letters.len(), limited.more), (2, true));

        // Redeliver one: back on its queue, gone from the list; a second time finds nothing.
        let one = listed
            .letters
            .iter()
            .find(|l| l.key == "wamid.DEAD1")
            .unwrap();
        assert!(letters.redeliver(&one.id).await.unwrap());
        assert!(!letters.redeliver(&one.id).await.unwrap());
        assert!(!letters.redeliver("inbound-404").await.unwrap());
        assert!(!letters.redeliver("nonsense").await.unwrap());
        assert_eq!(h.drain(Destination::Inbound).await, ["wamid.DEAD1"]);
        let left: Vec<_> = letters
            .list(100)
            .await
            .unwrap()
            .letters
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(!left.contains(&"wamid.DEAD1".to_owned()));

        // Redeliver all: everything back where it came from, nothing left.
        assert_eq!(letters.redeliver_all().await.unwrap(), 2);
        assert_eq!(letters.list(100).await.unwrap(), DeadLetterList::default());
        assert_eq!(h.drain(Destination::Inbound).await, ["wamid.DEAD2"]);
        assert_eq!(h.drain(Destination::Updates).await, ["wamid.OUT:read"]);
        assert_eq!(letters.redeliver_all().await.unwrap(), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_4_ids_name_their_queue() {
        assert_eq!(parse_id("inbound-42"), Some((Destination::Inbound, "42")));
        assert_eq!(
            parse_id("outbound-6f1c-aa"),
            Some((Destination::Outbound, "6f1c-aa"))
        );
        for bad in ["", "inbound-", "timers-1", "42", "../../etc"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
        // The timers' dead letters have no source queue of their own: only `split_id` knows them.
        assert_eq!(split_id("timers-9f2c"), Some((TIMERS, "9f2c")));
        assert_eq!(split_id("media-1"), Some(("media", "1")));
        for bad in ["", "timers-", "timers", "timersx-1", "wake-1", "../../etc"] {
            assert_eq!(split_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn ops_4_a_reason_never_shows_what_is_redacted() {
        let secrets = vec!["4915123456789".to_owned(), String::new()];
        assert_eq!(
            redacted(
                "event timer:106:4915123456789:reminder:3: too big",
                &secrets
            ),
            "event timer:106:<redacted>:reminder:3: too big"
        );
        assert_eq!(redacted("throttled", &secrets), "throttled");
    }

    #[test]
    fn ops_4_a_dead_letter_is_described_by_kind_and_key_only() {
        let event = r#"{"key":"wamid.A","waba_id":"1","business":{"phone_number_id":"106"},"body":{"kind":"message","id":"wamid.A","timestamp":1,"contact":{"key":"49"},"content":{"type":"image","id":"m1"}}}"#;
        assert_eq!(
            describe(Destination::Inbound, event),
            ("image".to_owned(), "wamid.A".to_owned())
        );
        assert_eq!(
            describe(
                Destination::Outbound,
                r#"{"job":"campaign_tick","key":"start:c1","campaign":"c1","at":1}"#
            ),
            ("campaign_tick".to_owned(), "start:c1".to_owned())
        );
        assert_eq!(
            describe(Destination::Updates, r#"{"key":"k","what":"else"}"#),
            ("unreadable".to_owned(), "k".to_owned())
        );
        assert_eq!(
            describe(Destination::Updates, "not json"),
            ("unreadable".to_owned(), String::new())
        );
    }
}

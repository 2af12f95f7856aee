//! The queues on Amazon SQS.
//!
//! Envelopes are packed in order into `SendMessageBatch` calls of at most [`MAX_BATCH_ENTRIES`]
//! entries and [`MAX_MESSAGE_BYTES`] of bodies, so a 3 MB webhook becomes several batches and never
//! one oversized message. Batches are sent a few at a time ("waves"); a wave never holds two
//! batches that share a FIFO group, so each contact's events keep their order. Entries SQS fails
//! are retried (not the ones it accepted); after the last attempt the send is an error.
//!
//! On the FIFO queue, `MessageGroupId` is the envelope's group and `MessageDeduplicationId` its
//! key, each replaced by its SHA-256 (hex) when longer than 128 characters or holding characters
//! SQS does not allow.

use crate::{Destination, Envelope, EventQueue, MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES, QueueError};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

/// Both queues on SQS. Cheap to clone (the SDK client is shared).
#[derive(Debug, Clone)]
pub struct SqsQueues {
    client: aws_sdk_sqs::Client,
    inbound_url: String,
    updates_url: String,
    outbound_url: String,
    media_url: String,
    concurrency: usize,
    attempts: u32,
    /// OPS-4: the stack's dead-letter queues, when this function lists and redelivers them.
    dead_letters: Option<crate::SqsDeadLetters>,
}

impl SqsQueues {
    /// `config` is loaded once at cold start (`aws_config::load_defaults`), with `AWS_ENDPOINT_URL`
    /// honoured for moto.
    pub fn new(
        config: &aws_config::SdkConfig,
        inbound_url: impl Into<String>,
        updates_url: impl Into<String>,
    ) -> SqsQueues {
        SqsQueues::with_client(aws_sdk_sqs::Client::new(config), inbound_url, updates_url)
    }

    pub fn with_client(
        client: aws_sdk_sqs::Client,
        inbound_url: impl Into<String>,
        updates_url: impl Into<String>,
    ) -> SqsQueues {
        SqsQueues {
            client,
            inbound_url: inbound_url.into(),
            updates_url: updates_url.into(),
            outbound_url: String::new(),
            media_url: String::new(),
            concurrency: 16,
            attempts: 4,
            dead_letters: None,
        }
    }

    /// The outbound queue's URL (functions that never send to it leave it unset; sending to it
    /// then fails as unavailable).
    pub fn outbound(mut self, url: impl Into<String>) -> SqsQueues {
        self.outbound_url = url.into();
        self
    }

    /// The media queue (MEDIA-1: inbound media fetch jobs, and their retries).
    pub fn media(mut self, url: impl Into<String>) -> SqsQueues {
        self.media_url = url.into();
        self
    }

    /// OPS-4: the dead-letter queues behind these queues (the console lists and redelivers
    /// them); without them the dead-letter operations are unavailable.
    pub fn dead_letters(mut self, queues: Vec<crate::DeadLetterQueue>) -> SqsQueues {
        self.dead_letters = Some(crate::SqsDeadLetters::new(self.client.clone(), queues));
        self
    }

    fn letters(&self) -> Result<&crate::SqsDeadLetters, QueueError> {
        self.dead_letters.as_ref().ok_or_else(|| {
            QueueError::Unavailable("no dead-letter queues are configured".to_owned())
        })
    }

    /// How many batches are in flight at once (default 16).
    pub fn concurrency(mut self, batches: usize) -> SqsQueues {
        self.concurrency = batches.max(1);
        self
    }

    /// How many times a batch's failed entries are tried in all (default 4).
    pub fn attempts(mut self, attempts: u32) -> SqsQueues {
        self.attempts = attempts.max(1);
        self
    }

    fn url(&self, to: Destination) -> &str {
        match to {
            Destination::Inbound => &self.inbound_url,
            Destination::Updates => &self.updates_url,
            Destination::Outbound => &self.outbound_url,
            Destination::Media => &self.media_url,
        }
    }
}

impl EventQueue for SqsQueues {
    async fn send(&self, to: Destination, envelopes: Vec<Envelope>) -> Result<(), QueueError> {
        if self.url(to).is_empty() {
            return Err(QueueError::Unavailable(format!(
                "no URL configured for the {to:?} queue"
            )));
        }
        let mut batches = Vec::new();
        for range in plan(to, &envelopes)? {
            let batch = &envelopes[range];
            let groups: HashSet<&str> = batch.iter().filter_map(|e| e.group.as_deref()).collect();
            batches.push((entries(to, batch)?, groups));
        }
        let mut batches = batches.into_iter().peekable();
        while batches.peek().is_some() {
            // One wave: up to `concurrency` batches with no FIFO group in common.
            let mut wave = tokio::task::JoinSet::new();
            let mut in_wave: HashSet<&str> = HashSet::new();
            while let Some((_, groups)) = batches.peek() {
                if wave.len() >= self.concurrency || !groups.is_disjoint(&in_wave) {
                    break;
                }
                let Some((entries, groups)) = batches.next() else {
                    break;
                };
                in_wave.extend(groups);
                let client = self.client.clone();
                let url = self.url(to).to_owned();
                let attempts = self.attempts;
                wave.spawn(async move { send_batch(&client, &url, entries, attempts).await });
            }
            let mut first_error = None;
            while let Some(done) = wave.join_next().await {
                let result = done.unwrap_or_else(|e| Err(QueueError::Unavailable(e.to_string())));
                if let Err(e) = result {
                    first_error.get_or_insert(e);
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl crate::DeadLetters for SqsQueues {
    async fn list(&self, limit: usize) -> Result<crate::DeadLetterList, QueueError> {
        self.letters()?.list(limit).await
    }
    async fn redeliver(&self, id: &str) -> Result<bool, QueueError> {
        self.letters()?.redeliver(id).await
    }
    async fn redeliver_all(&self) -> Result<usize, QueueError> {
        self.letters()?.redeliver_all().await
    }
}

impl crate::DelayedQueue for SqsQueues {
    async fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: Duration,
    ) -> Result<(), QueueError> {
        crate::check_delayed(to, &envelopes)?;
        if self.url(to).is_empty() {
            return Err(QueueError::Unavailable(format!(
                "no URL configured for the {to:?} queue"
            )));
        }
        let seconds = crate::delay_seconds(delay);
        for range in plan(to, &envelopes)? {
            let entries = entries(to, &envelopes[range])?
                .into_iter()
                .map(|e| {
                    SendMessageBatchRequestEntry::builder()
                        .id(e.id())
                        .message_body(e.message_body())
                        .delay_seconds(seconds)
                        .build()
                        .map_err(|err| QueueError::Unavailable(err.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            send_batch(&self.client, self.url(to), entries, self.attempts).await?;
        }
        Ok(())
    }
}

/// Sends one batch, retrying the entries SQS failed (and the whole call on transport errors).
async fn send_batch(
    client: &aws_sdk_sqs::Client,
    url: &str,
    mut entries: Vec<SendMessageBatchRequestEntry>,
    attempts: u32,
) -> Result<(), QueueError> {
    let mut last_error = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(25 << (2 * (attempt - 1)))).await;
        }
        match client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries.clone()))
            .send()
            .await
        {
            Ok(out) if out.failed().is_empty() => return Ok(()),
            Ok(out) => {
                let failed: HashSet<&str> = out.failed().iter().map(|f| f.id()).collect();
                entries.retain(|e| failed.contains(e.id()));
                if entries.is_empty() {
                    // Only ids that were not in this batch were reported: everything was taken.
                    return Ok(());
                }
                if let Some(permanent) = out.failed().iter().find(|f| f.sender_fault()) {
                    return Err(QueueError::NotAccepted {
                        failed: entries.len(),
                        code: permanent.code().to_owned(),
                    });
                }
                last_error = out.failed()[0].code().to_owned();
                tracing::warn!(
                    failed = entries.len(),
                    code = %last_error,
                    attempt,
                    "SendMessageBatch partly failed; retrying the failed entries"
                );
            }
            Err(e) => {
                last_error = aws_sdk_sqs::error::DisplayErrorContext(&e).to_string();
                tracing::warn!(attempt, error = %last_error, "SendMessageBatch failed");
            }
        }
    }
    Err(QueueError::NotAccepted {
        failed: entries.len(),
        code: last_error,
    })
}

/// How the envelopes are split into batches: consecutive runs of at most [`MAX_BATCH_ENTRIES`]
/// entries and [`MAX_MESSAGE_BYTES`] of (SQS-safe) bodies. Checks every envelope first.
pub fn plan(to: Destination, envelopes: &[Envelope]) -> Result<Vec<Range<usize>>, QueueError> {
    crate::check(to, envelopes)?;
    let mut batches = Vec::with_capacity(envelopes.len() / MAX_BATCH_ENTRIES + 1);
    let mut start = 0;
    let mut bytes = 0;
    for (i, e) in envelopes.iter().enumerate() {
        let size = sqs_body(&e.body).len();
        if size > MAX_MESSAGE_BYTES {
            return Err(QueueError::BadSize {
                key: e.key.clone(),
                bytes: size,
            });
        }
        if i - start == MAX_BATCH_ENTRIES || bytes + size > MAX_MESSAGE_BYTES {
            batches.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < envelopes.len() {
        batches.push(start..envelopes.len());
    }
    Ok(batches)
}

/// The `SendMessageBatch` entries for the envelopes, batch by batch (see [`plan`]).
pub fn batch_entries(
    to: Destination,
    envelopes: &[Envelope],
) -> Result<Vec<Vec<SendMessageBatchRequestEntry>>, QueueError> {
    plan(to, envelopes)?
        .into_iter()
        .map(|range| entries(to, &envelopes[range]))
        .collect()
}

fn entries(
    to: Destination,
    batch: &[Envelope],
) -> Result<Vec<SendMessageBatchRequestEntry>, QueueError> {
    batch
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(sqs_body(&e.body));
            if to == Destination::Inbound {
                let group = e.group.as_deref().unwrap_or_default();
                entry = entry
                    .message_group_id(sqs_id(group))
                    .message_deduplication_id(sqs_id(&e.key));
            }
            entry
                .build()
                .map_err(|err| QueueError::Unavailable(err.to_string()))
        })
        .collect()
}

/// A FIFO group or deduplication id SQS accepts: at most 128 characters of ASCII letters, digits and
/// punctuation. Anything else is replaced by its SHA-256 in hex (64 characters), which is stable.
pub fn sqs_id(value: &str) -> Cow<'_, str> {
    if !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic()) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(hex::encode(Sha256::digest(value.as_bytes())))
    }
}

/// SQS refuses U+FFFE and U+FFFF in bodies (and control characters, which JSON already escapes).
/// Bodies are JSON, where those two can only sit inside strings, so they are escaped there.
pub fn sqs_body(body: &str) -> Cow<'_, str> {
    if body.contains(['\u{FFFE}', '\u{FFFF}']) {
        Cow::Owned(
            body.replace('\u{FFFE}', "\\ufffe")
                .replace('\u{FFFF}', "\\uffff"),
        )
    } else {
        Cow::Borrowed(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(key: &str, group: Option<&str>, bytes: usize) -> Envelope {
        Envelope {
            key: key.to_owned(),
            group: group.map(str::to_owned),
            body: "x".repeat(bytes),
        }
    }

    #[test]
    fn plans_batches_of_ten_at_most() {
        let envelopes: Vec<_> = (0..25).map(|i| env(&i.to_string(), None, 10)).collect();
        assert_eq!(
            plan(Destination::Updates, &envelopes).unwrap(),
            [0..10, 10..20, 20..25]
        );
        assert!(plan(Destination::Updates, &[]).unwrap().is_empty());
    }

    #[test]
    fn plans_batches_within_the_size_limit() {
        let envelopes: Vec<_> = (0..5)
            .map(|i| env(&i.to_string(), Some("g"), 100 * 1024))
            .collect();
        let batches = plan(Destination::Inbound, &envelopes).unwrap();
        assert_eq!(batches, [0..2, 2..4, 4..5]);
        // Exactly at the limit fits; one byte more is refused before anything is sent.
        let exact = [env("a", None, MAX_MESSAGE_BYTES)];
        assert_eq!(
            plan(Destination::Updates, &exact).unwrap(),
            vec![Range { start: 0, end: 1 }]
        );
        let over = [env("a", None, MAX_MESSAGE_BYTES + 1)];
        assert!(matches!(
            plan(Destination::Updates, &over),
            Err(QueueError::BadSize { .. })
        ));
    }

    #[test]
    fn fifo_entries_carry_group_and_dedup_ids() {
        let envelopes = [env("wamid.A=", Some("123#15550001111"), 10)];
        let batches = batch_entries(Destination::Inbound, &envelopes).unwrap();
        let entry = &batches[0][0];
        assert_eq!(entry.message_group_id(), Some("123#15550001111"));
        assert_eq!(entry.message_deduplication_id(), Some("wamid.A="));
        let standard = batch_entries(Destination::Updates, &envelopes).unwrap();
        assert_eq!(standard[0][0].message_group_id(), None);
        assert_eq!(standard[0][0].message_deduplication_id(), None);
    }

    #[test]
    fn ids_sqs_would_refuse_are_hashed() {
        assert_eq!(sqs_id("wamid.HBgL+/=:sent"), "wamid.HBgL+/=:sent");
        let long = "k".repeat(129);
        for bad in [long.as_str(), "has space", "ünï", ""] {
            let id = sqs_id(bad);
            assert_eq!(id.len(), 64, "{bad}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(id, sqs_id(bad), "stable");
        }
        assert_eq!(sqs_id(&"k".repeat(128)).len(), 128);
    }

    #[test]
    fn bodies_escape_the_characters_sqs_refuses() {
        assert_eq!(sqs_body("{\"a\":\"b\"}"), "{\"a\":\"b\"}");
        let escaped = sqs_body("{\"a\":\"x\u{FFFF}y\u{FFFE}\"}");
        assert_eq!(escaped, "{\"a\":\"x\\uffffy\\ufffe\"}");
    }
}

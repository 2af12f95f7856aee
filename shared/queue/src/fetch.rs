//! The media queue's messages (MEDIA-1): one inbound media file to fetch ([`FetchJob`]).
//!
//! The router puts a job on the media queue for every image, audio, video, document and sticker
//! it routes (the local runner: on its updates queue), so that a download never holds up the
//! customer's lane; the media function (`media::Fetcher`) fetches it. A failed fetch is put back
//! with a delay and the attempts made so far in the body (`{"media_fetch": …, "attempts": n}`),
//! and when it gives up, [`FetchJob::failure_event`] puts a notice in the contact's log.

use crate::Envelope;
use rules::effect::MediaKind;
use rules::{BusinessNumberId, ContactKey, MessageId};
use serde::{Deserialize, Serialize};
use whatsapp::{EventBody, MessageContent};

/// One inbound media file to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchJob {
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    /// The message's wamid.
    pub message: String,
    pub media_id: String,
    pub kind: MediaKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Meta's hash from the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Body {
    media_fetch: FetchJob,
    /// Failed attempts before this one (0 for the router's job).
    #[serde(default, skip_serializing_if = "is_zero")]
    attempts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl FetchJob {
    /// The job for an inbound media message; `None` for anything else (or a media message
    /// without an id, which Meta never sends: it stays a bare log entry).
    pub fn of_event(event: &whatsapp::Event) -> Option<FetchJob> {
        let EventBody::Message(m) = &event.body else {
            return None;
        };
        let (kind, media) = match &m.content {
            MessageContent::Image(media) => (MediaKind::Image, media),
            MessageContent::Video(media) => (MediaKind::Video, media),
            MessageContent::Audio(media) => (MediaKind::Audio, media),
            MessageContent::Document(media) => (MediaKind::Document, media),
            MessageContent::Sticker(media) => (MediaKind::Sticker, media),
            _ => return None,
        };
        let number = event.business.as_ref()?;
        Some(FetchJob {
            number: BusinessNumberId::new(number.phone_number_id.clone()).ok()?,
            contact: ContactKey::new(m.contact.key.clone()).ok()?,
            message: m.id.clone(),
            media_id: media.id.clone().filter(|id| !id.is_empty())?,
            kind,
            mime_type: media.mime_type.clone(),
            sha256: media.sha256.clone(),
            filename: media.filename.clone(),
        })
    }

    /// The queue message's key (the message's, prefixed: a redelivered message makes the same).
    pub fn queue_key(&self) -> String {
        format!("media#{}", self.message)
    }

    /// The queue message's body, after `attempts` failed attempts.
    pub fn to_body(&self, attempts: u32) -> String {
        serde_json::to_string(&Body {
            media_fetch: self.clone(),
            attempts,
        })
        .expect("a fetch job always serialises")
    }

    /// The queue message, after `attempts` failed attempts.
    pub fn envelope(&self, attempts: u32) -> Envelope {
        Envelope {
            key: self.queue_key(),
            group: None,
            body: self.to_body(attempts),
        }
    }

    /// The job in a queue message's body and the failed attempts before it; `None` when the
    /// body is something else.
    pub fn from_body(body: &str) -> Option<(FetchJob, u32)> {
        if !body.trim_start().starts_with("{\"media_fetch\"") {
            return None;
        }
        serde_json::from_str::<Body>(body)
            .ok()
            .map(|b| (b.media_fetch, b.attempts))
    }

    /// MEDIA-1: the lane event that records, in the contact's log, that this file could not be
    /// fetched (never silent); its key is derived from the message's, so a repeat is a duplicate.
    pub fn failure_event(&self, reason: &str) -> Option<whatsapp::Event> {
        let message = MessageId::new(self.message.clone()).ok()?;
        Some(whatsapp::lane_event(
            self.number.as_str(),
            self.contact.as_str(),
            format!("{}:not-fetched", self.queue_key()),
            rules::Event::MediaNotFetched {
                message,
                kind: self.kind,
                reason: reason.to_owned(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> FetchJob {
        FetchJob {
            number: BusinessNumberId::new("106540352242922").unwrap(),
            contact: ContactKey::new("16505551234").unwrap(),
            message: "wamid.A".into(),
            media_id: "900".into(),
            kind: MediaKind::Image,
            mime_type: Some("image/jpeg".into()),
            sha256: None,
            filename: None,
        }
    }

    #[test]
    fn media_1_a_job_keeps_its_attempts_in_the_body() {
        let job = job();
        let first = job.envelope(0);
        assert_eq!(first.key, "media#wamid.A");
        assert!(!first.body.contains("attempts"));
        assert_eq!(FetchJob::from_body(&first.body), Some((job.clone(), 0)));
        assert_eq!(FetchJob::from_body(&job.to_body(3)), Some((job.clone(), 3)));
        assert_eq!(FetchJob::from_body("{\"key\":\"x\"}"), None);
        let event = job.failure_event("gone").unwrap();
        assert_eq!(event.key, "media#wamid.A:not-fetched");
        let envelope = Envelope::of_event(&event);
        assert!(
            envelope.group.is_some(),
            "the notice goes in the contact's lane"
        );
    }
}

//! MEDIA-1: inbound media fetched off the customer's routing path.
//!
//! The router's shell turns an inbound image, audio, video, document or sticker into a
//! [`FetchJob`] (a queue message of its own, `{"media_fetch": …}`); a consumer hands it to
//! [`Fetcher::fetch`], which resolves the media id (`GET /{media-id}`: a fresh link every time,
//! so an expired link is cured by the next attempt), streams the download into the
//! [`MediaStore`] with Meta's SHA-256 checked, and on failure writes the reason on the file's
//! record. Whether and when to try again is `rules::media::fetch_retry_after`'s answer, carried
//! in [`FetchOutcome::Retry`]; the consumer puts the job back with that delay.

use crate::{MediaError, MediaKey, MediaMeta, MediaRecord, MediaStatus, MediaStore, PutCheck};
use rules::effect::MediaKind;
use rules::{BusinessNumberId, ContactKey, Duration, Timestamp};
use serde::{Deserialize, Serialize};
use whatsapp::cloud::CloudClient;
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

    /// The queue message's body.
    pub fn to_body(&self) -> String {
        serde_json::to_string(&Body {
            media_fetch: self.clone(),
        })
        .expect("a fetch job always serialises")
    }

    /// The job in a queue message's body; `None` when the body is something else.
    pub fn from_body(body: &str) -> Option<FetchJob> {
        if !body.trim_start().starts_with("{\"media_fetch\"") {
            return None;
        }
        serde_json::from_str::<Body>(body)
            .ok()
            .map(|b| b.media_fetch)
    }

    pub fn key(&self) -> MediaKey {
        MediaKey::new(self.number.clone(), self.contact.clone(), &self.message)
    }

    fn meta(&self, mime_from_meta: Option<&str>) -> MediaMeta {
        MediaMeta {
            kind: self.kind,
            mime_type: self
                .mime_type
                .as_deref()
                .or(mime_from_meta)
                .unwrap_or("application/octet-stream")
                .to_owned(),
            filename: self.filename.clone(),
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Stored now (size and hash on the record).
    Stored,
    /// Stored by an earlier attempt (a redelivered job).
    AlreadyStored,
    /// Failed; try again after this long (the reason is on the record).
    Retry { after: Duration, reason: String },
    /// Failed for the last time (the reason is on the record).
    GaveUp { reason: String },
}

/// Fetches inbound media into a store.
#[derive(Debug, Clone)]
pub struct Fetcher<S> {
    client: CloudClient,
    store: S,
}

impl<S: MediaStore> Fetcher<S> {
    pub fn new(client: CloudClient, store: S) -> Self {
        Fetcher { client, store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Attempt number `attempt` (1 for the first) at `job`. `Err` only when the store itself
    /// failed to keep the outcome (the job should then be retried as any failed message).
    pub async fn fetch(
        &self,
        job: &FetchJob,
        attempt: u32,
        now: Timestamp,
    ) -> Result<FetchOutcome, MediaError> {
        let key = job.key();
        if let Some(record) = self.store.record(&key).await?
            && record.stored().is_some()
        {
            return Ok(FetchOutcome::AlreadyStored);
        }
        let failure = match self.download_into_store(job, &key, now).await {
            Ok(()) => {
                tracing::info!(number = %job.number, kind = ?job.kind, attempt, "inbound media stored");
                return Ok(FetchOutcome::Stored);
            }
            Err(failure) => failure,
        };
        let (reason, retry) = match &failure {
            // Larger than any media Meta carries: another attempt cannot help.
            MediaError::TooLarge { .. } => (failure.to_string(), None),
            _ => (
                failure.to_string(),
                rules::media::fetch_retry_after(attempt),
            ),
        };
        tracing::warn!(number = %job.number, kind = ?job.kind, attempt, %reason, retried = retry.is_some(), "inbound media fetch failed");
        let record = MediaRecord {
            meta: job.meta(None),
            status: MediaStatus::Failed {
                attempts: attempt,
                reason: reason.clone(),
                at: now,
                next_at: retry.map(|after| now + after),
            },
        };
        self.store.put_record(&key, &record).await?;
        Ok(match retry {
            Some(after) => FetchOutcome::Retry { after, reason },
            None => FetchOutcome::GaveUp { reason },
        })
    }

    async fn download_into_store(
        &self,
        job: &FetchJob,
        key: &MediaKey,
        now: Timestamp,
    ) -> Result<(), MediaError> {
        let meta_error =
            |what: &str, e: whatsapp::cloud::CloudError| MediaError::Source(format!("{what}: {e}"));
        let info = self
            .client
            .media_info(&job.media_id)
            .await
            .map_err(|e| meta_error("resolving the media id", e))?;
        let download = self
            .client
            .download(&info.url)
            .await
            .map_err(|e| meta_error("downloading", e))?;
        let expected = job.sha256.clone().or(info.sha256.clone());
        let body = futures_util::stream::try_unfold(download, |mut d| async move {
            match d.chunk().await {
                Ok(Some(chunk)) => Ok(Some((chunk, d))),
                Ok(None) => Ok(None),
                Err(e) => Err(MediaError::Source(format!("downloading: {e}"))),
            }
        });
        self.store
            .put(
                key,
                &job.meta(info.mime_type.as_deref()),
                body,
                PutCheck {
                    limit: rules::media::MAX_ANY_BYTES,
                    sha256: expected.as_deref(),
                },
                now,
            )
            .await
            .map(drop)
    }
}

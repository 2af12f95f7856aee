//! MEDIA-1: inbound media fetched off the customer's routing path.
//!
//! The router turns an inbound image, audio, video, document or sticker into a [`FetchJob`]
//! (`queue::FetchJob`, a message of the media queue); a consumer hands it to
//! [`Fetcher::fetch`], which resolves the media id (`GET /{media-id}`: a fresh link every time,
//! so an expired link is cured by the next attempt), streams the download into the
//! [`MediaStore`] with Meta's SHA-256 checked, and on failure writes the reason on the file's
//! record. Whether and when to try again is `rules::media::fetch_retry_after`'s answer, carried
//! in [`FetchOutcome::Retry`]; the consumer puts the job back with that delay.

use crate::{MediaError, MediaKey, MediaMeta, MediaRecord, MediaStatus, MediaStore, PutCheck};
pub use queue::FetchJob;
use rules::{Duration, Timestamp};
use whatsapp::cloud::CloudClient;

impl From<&FetchJob> for MediaKey {
    fn from(job: &FetchJob) -> MediaKey {
        MediaKey::new(job.number.clone(), job.contact.clone(), &job.message)
    }
}

/// What the job says the file is (Meta's answer fills in a type the webhook did not give).
fn meta_of(job: &FetchJob, mime_from_meta: Option<&str>) -> MediaMeta {
    MediaMeta {
        kind: job.kind,
        mime_type: job
            .mime_type
            .as_deref()
            .or(mime_from_meta)
            .unwrap_or("application/octet-stream")
            .to_owned(),
        filename: job.filename.clone(),
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
        let key = MediaKey::from(job);
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
            meta: meta_of(job, None),
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
                &meta_of(job, info.mime_type.as_deref()),
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

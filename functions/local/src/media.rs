//! Inbound media on the runner (MEDIA-1): the router's consumer puts a fetch job on the updates
//! queue for every media message (one insert into the queue file; the download itself never
//! holds the contact's lane), and the updates consumer hands such jobs to the fetcher instead of
//! the sender, each fetch in a task of its own. A failed fetch is put back with the delay
//! `rules::media::fetch_retry_after` gives (its reason is on the file's record, which the
//! console shows); the last one is dropped with the record saying so and a notice in the
//! contact's log (`rules::Event::MediaNotFetched` through the contact's lane). Without an access token
//! there is no Graph API to fetch from, so no jobs are made.

use crate::engine::Engine;
use media::{FetchJob, FetchOutcome, Fetcher, FolderStore, MediaError};
use queue::{Destination, Envelope, EventQueue};
use std::sync::{Arc, Weak};
use std::time::Duration;
use store::sqlite::QueuedMessage;
use timers::Clock as _;

pub type LocalFetcher = Fetcher<FolderStore>;

/// The fetcher, and the engine its jobs report back to (weak: the engine owns this).
pub struct LocalMedia {
    fetcher: LocalFetcher,
    engine: Weak<Engine>,
}

impl Engine {
    /// Fetch inbound media with `fetcher` from now on.
    pub fn enable_media_fetch(self: &Arc<Self>, fetcher: LocalFetcher) {
        let _ = self.media.set(LocalMedia {
            fetcher,
            engine: Arc::downgrade(self),
        });
    }

    /// Queues the fetch of `event`'s media, if it carries any and fetching is on.
    pub(crate) async fn queue_media_fetch(&self, event: &whatsapp::Event) -> Result<(), String> {
        if self.media.get().is_none() {
            return Ok(());
        }
        let Some(job) = FetchJob::of_event(event) else {
            return Ok(());
        };
        self.queue
            .send(Destination::Updates, vec![job.envelope(0)])
            .await
            .map_err(|e| format!("queueing the media fetch: {e}"))
    }

    /// Starts the media fetch jobs among `messages`, each in a task of its own (a 100 MB
    /// download never holds up the statuses beside it, nor the next batch), and returns the
    /// others for the sender. A job's message stays taken until its fetch ends (so the engine is
    /// not idle before), then is deleted, or put back with the rules' delay.
    pub(crate) async fn take_media_jobs(&self, messages: Vec<QueuedMessage>) -> Vec<QueuedMessage> {
        let Some(media) = self.media.get() else {
            return messages;
        };
        let mut rest = Vec::with_capacity(messages.len());
        for m in messages {
            let Some((job, _)) = FetchJob::from_body(&m.envelope.body) else {
                rest.push(m);
                continue;
            };
            let fetcher = media.fetcher.clone();
            let engine = media.engine.clone();
            let now = self.clock.now();
            tokio::spawn(async move {
                let outcome = fetcher.fetch(&job, m.attempts + 1, now).await;
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                engine.fetched(&m, &job, outcome).await;
            });
        }
        rest
    }

    async fn fetched(
        &self,
        m: &QueuedMessage,
        job: &FetchJob,
        outcome: Result<FetchOutcome, MediaError>,
    ) {
        if let Ok(FetchOutcome::GaveUp { reason }) = &outcome
            && let Some(event) = job.failure_event(reason)
        {
            // The notice goes through the contact's lane; if it cannot be queued, the job is
            // retried as a failed message (the fetcher notes and gives up again).
            if let Err(error) = self
                .queue
                .send(Destination::Inbound, vec![Envelope::of_event(&event)])
                .await
            {
                return self.failed(m, error.to_string(), false).await;
            }
        }
        match outcome {
            Ok(FetchOutcome::Retry { after, .. }) => {
                let after = Duration::from_secs(after.as_seconds().max(0).unsigned_abs());
                if let Err(error) = self.queue.retry(vec![m.seq], after).await {
                    tracing::warn!(%error, "media fetch not put back; it returns at restart");
                }
            }
            Ok(_) => {
                if let Err(error) = self.queue.delete(vec![m.seq]).await {
                    tracing::warn!(%error, "media job not deleted; it will be seen again");
                }
            }
            // The store could not keep the outcome: the usual retry and dead letters.
            Err(error) => self.failed(m, error.to_string(), false).await,
        }
    }
}

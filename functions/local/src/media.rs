//! Inbound media on the runner (MEDIA-1): the router's consumer puts a fetch job on the updates
//! queue for every media message (one insert into the queue file; the download itself never
//! holds the contact's lane), and the updates consumer hands such jobs to the fetcher instead of
//! the sender. A failed fetch is put back with the delay `rules::media::fetch_retry_after` gives
//! (its reason is on the file's record, which the console shows); the last one is dropped with
//! the record saying so. Without an access token there is no Graph API to fetch from, so no
//! jobs are made.

use crate::engine::Engine;
use media::{FetchJob, FetchOutcome, Fetcher, FolderStore};
use queue::{Destination, Envelope, EventQueue};
use std::time::Duration;
use store::sqlite::QueuedMessage;
use timers::Clock as _;

pub type LocalFetcher = Fetcher<FolderStore>;

impl Engine {
    /// Fetch inbound media with `fetcher` from now on.
    pub fn enable_media_fetch(&self, fetcher: LocalFetcher) {
        let _ = self.media.set(fetcher);
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
            .send(
                Destination::Updates,
                vec![Envelope {
                    key: job.queue_key(),
                    group: None,
                    body: job.to_body(),
                }],
            )
            .await
            .map_err(|e| format!("queueing the media fetch: {e}"))
    }

    /// Handles the media fetch jobs among `messages` (each deleted, or put back with its delay)
    /// and returns the others for the sender.
    pub(crate) async fn take_media_jobs(&self, messages: Vec<QueuedMessage>) -> Vec<QueuedMessage> {
        let Some(fetcher) = self.media.get() else {
            return messages;
        };
        let (jobs, rest): (Vec<_>, Vec<_>) = messages
            .into_iter()
            .map(|m| (FetchJob::from_body(&m.envelope.body), m))
            .partition(|(job, _)| job.is_some());
        let now = self.clock.now();
        let fetches = jobs
            .into_iter()
            .filter_map(|(job, m)| job.map(|j| (j, m)))
            .map(|(job, m)| async move {
                let outcome = fetcher.fetch(&job, m.attempts + 1, now).await;
                (m, outcome)
            });
        let mut done = Vec::new();
        for (m, outcome) in futures_util::future::join_all(fetches).await {
            match outcome {
                Ok(FetchOutcome::Retry { after, .. }) => {
                    let after = Duration::from_secs(after.as_seconds().max(0).unsigned_abs());
                    if let Err(error) = self.queue.retry(vec![m.seq], after).await {
                        tracing::warn!(%error, "media fetch not put back; it returns at restart");
                    }
                }
                Ok(_) => done.push(m.seq),
                // The store could not keep the outcome: the usual retry and dead letters.
                Err(error) => {
                    let permanent = false;
                    self.failed(&m, error.to_string(), permanent).await;
                }
            }
        }
        if let Err(error) = self.queue.delete(done).await {
            tracing::warn!(%error, "media jobs not deleted; they will be seen again");
        }
        rest.into_iter().map(|(_, m)| m).collect()
    }
}

//! # The media function (MEDIA-1 on AWS)
//!
//! The router puts a [`FetchJob`] on the media queue for every inbound image, audio, video,
//! document and sticker; this function consumes that queue (SQS event source, partial batch
//! responses). Each job goes to [`media::Fetcher`]: the media id is resolved with the Graph API,
//! the download streams into the S3 bucket with its type, size and SHA-256 (checked against
//! Meta's), and the file's record beside it is what the console's log shows. Then:
//!
//! | outcome | done here |
//! |---|---|
//! | stored (now or before) | the record is deleted from the queue |
//! | failed, to be retried | the job goes back on the media queue with the rules' delay (`rules::media::fetch_retry_after`: 10 s … 13.5 min, within SQS's 15-minute delay) and its attempts in the body |
//! | failed for the last time | a `MediaNotFetched` lane event goes to the contact's FIFO group: the router notes it in the contact's log (never silent) |
//! | the store or a queue failed | the record is reported failed: SQS redelivers it, then its DLQ |
//!
//! Why a queue of its own: the updates and outbound queues are the sender's (one consumer per
//! queue), a fetch may take minutes for 100 MB where a send takes milliseconds, and S3 and the
//! bucket stay out of the sender's role.

pub mod config;

pub use config::Config;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use media::{FetchOutcome, Fetcher, MediaStore};
use queue::{DelayedQueue, Destination, Envelope, FetchJob};
use timers::Clock;

/// The function's parts: the fetcher (Graph API client and store), the queues it writes (the
/// media queue for retries, the inbound FIFO for notices) and the clock.
pub struct MediaFunction<S, Q, C> {
    pub fetcher: Fetcher<S>,
    pub queue: Q,
    pub clock: C,
}

/// Why a record is reported failed (logged; SQS redelivers it).
#[derive(Debug)]
enum Failure {
    Unreadable,
    Store(media::MediaError),
    Queue(queue::QueueError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreadable => f.write_str("not a media fetch job"),
            Failure::Store(e) => write!(f, "{e}"),
            Failure::Queue(e) => write!(f, "{e}"),
        }
    }
}

impl<S: MediaStore, Q: DelayedQueue, C: Clock> MediaFunction<S, Q, C> {
    /// One job: fetched, put back with its delay, or noted in the contact's log.
    async fn one(&self, body: &str) -> Result<FetchOutcome, Failure> {
        let (job, before) = FetchJob::from_body(body).ok_or(Failure::Unreadable)?;
        let attempt = before + 1;
        let outcome = self
            .fetcher
            .fetch(&job, attempt, self.clock.now())
            .await
            .map_err(Failure::Store)?;
        match &outcome {
            FetchOutcome::Stored | FetchOutcome::AlreadyStored => {}
            FetchOutcome::Retry { after, .. } => {
                let delay =
                    std::time::Duration::from_secs(after.as_seconds().max(0).unsigned_abs());
                self.queue
                    .send_delayed(Destination::Media, vec![job.envelope(attempt)], delay)
                    .await
                    .map_err(Failure::Queue)?;
            }
            FetchOutcome::GaveUp { reason } => {
                if let Some(event) = job.failure_event(reason) {
                    self.queue
                        .send(Destination::Inbound, vec![Envelope::of_event(&event)])
                        .await
                        .map_err(Failure::Queue)?;
                }
            }
        }
        Ok(outcome)
    }

    /// An SQS batch from the media queue; the records to retry come back as failures. The jobs
    /// of a batch run side by side (each streams: the store holds at most one part per job).
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let jobs = event
            .records
            .into_iter()
            .enumerate()
            .map(|(i, m)| async move {
                let id = m.message_id.unwrap_or_else(|| format!("record-{i}"));
                let result = self.one(m.body.as_deref().unwrap_or_default()).await;
                (id, result)
            });
        let mut response = SqsBatchResponse::default();
        for (id, result) in futures_util::future::join_all(jobs).await {
            match result {
                Ok(outcome) => {
                    tracing::debug!(record = %id, ?outcome, "media job handled");
                }
                Err(error) => {
                    tracing::warn!(record = %id, %error, "media job failed: SQS retries it");
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }
}

//! The Lambda handler: one SQS batch from either event source (the outbound queue or the updates
//! queue), each record handled by the core, failures reported per record
//! (`ReportBatchItemFailures`) so only they come back.
//!
//! A record's queue is told by its `eventSourceArn` (the queue's name is the ARN's last part and
//! the URL's last segment); a record without one (the local runner, a test) is told by its body:
//! an outbound job has a `job` tag, a webhook event does not.

use crate::core::{Outcome, Sender, SenderError};
use crate::{Clock, GraphApi};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use queue::DelayedQueue;
use std::sync::Arc;
use store::{SendingStore, Store};

/// The names of the two queues the function consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub outbound: String,
    pub updates: String,
}

impl Sources {
    /// From the queue URLs (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
    pub fn from_urls(outbound_url: &str, updates_url: &str) -> Sources {
        let name = |url: &str| {
            url.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned()
        };
        Sources {
            outbound: name(outbound_url),
            updates: name(updates_url),
        }
    }
}

/// Which queue a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Outbound,
    Updates,
}

pub fn source_of(record: &SqsMessage, sources: &Sources) -> Source {
    let queue = record
        .event_source_arn
        .as_deref()
        .and_then(|arn| arn.rsplit(':').next());
    match queue {
        Some(q) if q == sources.outbound => Source::Outbound,
        Some(q) if q == sources.updates => Source::Updates,
        _ => {
            let body = record.body.as_deref().unwrap_or("");
            if queue::OutboundJob::parse(body).is_ok() {
                Source::Outbound
            } else {
                Source::Updates
            }
        }
    }
}

/// Handles a batch; the response names the records to deliver again.
pub async fn handle<S, Q, G, C>(
    sender: Arc<Sender<S, Q, G, C>>,
    sources: &Sources,
    event: SqsEvent,
) -> SqsBatchResponse
where
    S: Store + SendingStore,
    Q: DelayedQueue + 'static,
    G: GraphApi + 'static,
    C: Clock + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let source = source_of(&record, sources);
        let body = record.body.unwrap_or_default();
        let sender = sender.clone();
        let task = tasks.spawn(async move {
            match source {
                Source::Outbound => sender.handle_outbound(&body).await,
                Source::Updates => sender.handle_update(&body).await,
            }
        });
        ids.insert(task.id(), (id, source));
    }
    let mut response = SqsBatchResponse::default();
    while let Some(done) = tasks.join_next_with_id().await {
        match done {
            Ok((task, result)) => {
                if let Some((id, source)) = ids.remove(&task)
                    && !report(&id, source, result)
                {
                    response.add_failure(id);
                }
            }
            // A record whose handling panicked is delivered again, never acknowledged.
            Err(e) => {
                if let Some((id, source)) = ids.remove(&e.id()) {
                    tracing::error!(message = %id, ?source, error = %e, "handling the record panicked");
                    response.add_failure(id);
                }
            }
        }
    }
    response
}

/// The business metrics of the sender's records (OPS-2): sends by outcome and, for a failed send,
/// SEND-2's error class; updates by outcome.
pub const SENDS: &str = "Sends";
pub const UPDATES: &str = "Updates";
/// Sends refused because the window (or the channel's period) is closed, by `reason`
/// ([`rules::sending::window_refusal`]'s label).
pub const WINDOW_REFUSALS: &str = "WindowRefusals";
/// Campaign progress: the sends each tick of a campaign queued, by `campaign` (its id).
pub const CAMPAIGN_ISSUED: &str = "CampaignSendsIssued";

/// A record's result for the metrics: its outcome, and for a send that failed for good the error
/// class of Meta's code (SEND-2's table), else `None`.
pub fn outcome_of(result: &Result<Outcome, SenderError>) -> (&'static str, Option<String>) {
    let outcome = match result {
        Ok(Outcome::Sent { .. }) => "sent",
        Ok(Outcome::AlreadySent { .. }) => "already_sent",
        Ok(Outcome::Refused { .. }) => "refused",
        Ok(Outcome::Failed { code, .. }) => {
            let class = code.and_then(|code| {
                let failure = rules::send_error::SendFailure::Meta {
                    code,
                    http_status: None,
                };
                serde_json::to_value(rules::send_error::classify(&failure).class)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            });
            return (
                "failed",
                Some(class.unwrap_or_else(|| "no_code".to_owned())),
            );
        }
        Ok(Outcome::Waiting { .. }) => "waiting",
        Ok(Outcome::Busy { .. }) => "busy",
        Ok(Outcome::Ambiguous { .. }) => "ambiguous",
        Ok(Outcome::Parked { .. }) => "parked",
        Ok(Outcome::Ticked { .. }) => "campaign_tick",
        Ok(Outcome::StaleTick) => "stale_tick",
        Ok(Outcome::Applied { .. }) => "applied",
        Ok(Outcome::Ignored { .. }) => "ignored",
        Err(e) if e.is_retryable() => "error_retryable",
        Err(_) => "error_permanent",
    };
    (outcome, None)
}

/// Counts a record's result in [`SENDS`] or [`UPDATES`].
pub fn count(source: Source, result: &Result<Outcome, SenderError>) {
    let name = match source {
        Source::Outbound => SENDS,
        Source::Updates => UPDATES,
    };
    match outcome_of(result) {
        (outcome, Some(class)) => {
            metrics::counter!(name, "outcome" => outcome, "error_class" => class).increment(1)
        }
        (outcome, None) => metrics::counter!(name, "outcome" => outcome).increment(1),
    }
    match result {
        Ok(Outcome::Refused { reason }) => {
            if let Some(label) = rules::sending::window_refusal(reason) {
                metrics::counter!(WINDOW_REFUSALS, "reason" => label).increment(1);
            }
        }
        Ok(Outcome::Ticked {
            campaign, issued, ..
        }) => metrics::counter!(CAMPAIGN_ISSUED, "campaign" => campaign.as_str().to_owned())
            .increment(u64::from(*issued)),
        _ => {}
    }
}

/// Logs and counts a record's result; `true` when the record is done (acknowledged).
fn report(id: &str, source: Source, result: Result<Outcome, SenderError>) -> bool {
    count(source, &result);
    match result {
        Ok(outcome) => {
            tracing::debug!(message = id, ?source, ?outcome, "record handled");
            true
        }
        Err(e) if e.is_retryable() => {
            tracing::warn!(message = id, ?source, error = %e, "record failed; SQS delivers it again");
            false
        }
        Err(e) => {
            // Not retryable: it fails until SQS moves it to the dead-letter queue, where it is
            // kept for a person (nothing accepted is lost).
            tracing::error!(message = id, ?source, error = %e, "record cannot be handled; it goes to the dead-letter queue");
            false
        }
    }
}

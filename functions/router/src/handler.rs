//! The Lambda's shell: an SQS event from the inbound FIFO queue in, a partial batch response
//! (`ReportBatchItemFailures`) out.

use crate::batch::{BatchRecord, apply_batch};
use crate::router::Router;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use queue::EventQueue;
use store::{AgentStore, ContactStore, QueueStore, SettingsStore};
use timers::{Clock, TimerPort};

/// The records of an SQS event, with their FIFO group (`MessageGroupId` attribute).
pub fn records(event: SqsEvent) -> Vec<BatchRecord> {
    event
        .records
        .into_iter()
        .enumerate()
        .map(|(i, m)| BatchRecord {
            // SQS always sets a message id; a record without one still gets a stable name.
            id: m.message_id.unwrap_or_else(|| format!("record-{i}")),
            group: m.attributes.get("MessageGroupId").cloned(),
            body: m.body.unwrap_or_default(),
        })
        .collect()
}

pub async fn handle<S, Q, T, C>(
    router: &Router<S, Q, T>,
    clock: &C,
    event: SqsEvent,
) -> SqsBatchResponse
where
    S: ContactStore + SettingsStore + AgentStore + QueueStore,
    Q: EventQueue,
    T: TimerPort,
    C: Clock + ?Sized,
{
    let records = records(event);
    let failed = apply_batch(router, clock, &records).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

//! An SQS batch from the inbound FIFO queue, applied with FIFO semantics per message group
//! (ARCHITECTURE invariant 7): records of one group are applied one at a time, in order; when one
//! fails, it and every later record of its group are reported failed (SQS redelivers them, in
//! order); other groups go on, concurrently.

use crate::router::Router;
use queue::EventQueue;
use store::{AgentStore, ContactStore, QueueStore, SettingsStore};
use timers::{Clock, TimerPort};

/// One queue record: its id (SQS `messageId`, reported back on failure), its FIFO group and its
/// body (a [`whatsapp::Event`] as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    pub id: String,
    pub group: Option<String>,
    pub body: String,
}

/// Applies `records`; returns the ids of the records to report failed, in batch order.
pub async fn apply_batch<S, Q, T, C>(
    router: &Router<S, Q, T>,
    clock: &C,
    records: &[BatchRecord],
) -> Vec<String>
where
    S: ContactStore + SettingsStore + AgentStore + QueueStore,
    Q: EventQueue,
    T: TimerPort,
    C: Clock + ?Sized,
{
    // A record without a group (not from a FIFO queue) is a lane of its own.
    let lanes = queue::lanes::into_lanes(records, |r| r.group.as_deref())
        .into_iter()
        .map(|lane| apply_group(router, clock, lane));
    let failed: Vec<String> = futures_util::future::join_all(lanes)
        .await
        .into_iter()
        .flatten()
        .collect();
    // Report in batch order.
    records
        .iter()
        .filter(|r| failed.contains(&r.id))
        .map(|r| r.id.clone())
        .collect()
}

async fn apply_group<S, Q, T, C>(
    router: &Router<S, Q, T>,
    clock: &C,
    records: Vec<&BatchRecord>,
) -> Vec<String>
where
    S: ContactStore + SettingsStore + AgentStore + QueueStore,
    Q: EventQueue,
    T: TimerPort,
    C: Clock + ?Sized,
{
    let applied = queue::lanes::in_order(&records, |record| async move {
        let event = match serde_json::from_str::<whatsapp::Event>(&record.body) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(record = %record.id, %error, "unreadable record: to the dead-letter queue after its retries");
                return Err(());
            }
        };
        router.apply(&event, clock.now()).await.map(drop).map_err(|error| {
            if error.is_permanent() {
                tracing::error!(record = %record.id, %error, "record cannot be applied: to the dead-letter queue after its retries");
            } else {
                tracing::warn!(record = %record.id, %error, "record failed: retried with the rest of its group");
            }
        })
    })
    .await;
    match applied {
        Ok(()) => Vec::new(),
        // It and every later record of its group are reported failed (FIFO).
        Err((i, ())) => records[i..].iter().map(|r| r.id.clone()).collect(),
    }
}

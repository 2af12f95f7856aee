//! SEND-2 / CAMP-6: resuming a number that sending stopped on (token, permission, payment or
//! policy errors) once a person fixed the account. Generic over the store and any queue with an
//! outbound destination, so the console's admin operation (`POST /v1/numbers/{number}/resume`)
//! and the sender share one implementation.

use crate::core::{Result, SenderError};
use crate::send::CONFLICT_RETRIES;
use queue::{Destination, EventQueue, SendJob};
use rules::BusinessNumberId;
use store::{PacingWrite, ParkReason, SendingStore};

/// What a resume did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The number was stopped (and is not any more).
    pub was_stopped: bool,
    /// Why it had stopped.
    pub stop_reason: Option<String>,
    /// Parked sends put back on the outbound queue.
    pub released: usize,
}

/// Clears the number's stop (conditional on the pacing record's version, re-read on a conflict)
/// and puts every send parked on it back on the outbound queue, each released by exactly one
/// caller (a resume repeated, or running twice at once, never queues a send twice; the send's
/// idempotency key guards the Graph API call in any case).
pub async fn resume_number<S, Q>(store: &S, queue: &Q, number: &BusinessNumberId) -> Result<Resumed>
where
    S: SendingStore,
    Q: EventQueue,
{
    let mut outcome = Resumed {
        was_stopped: false,
        stop_reason: None,
        released: 0,
    };
    let mut settled = false;
    for _ in 0..CONFLICT_RETRIES {
        let (mut record, version) = store.number_pacing(number).await?;
        if !record.pacing.stopped {
            settled = true;
            break;
        }
        let reason = record.stop_reason.take();
        record.pacing.resume();
        let write = PacingWrite {
            number: Some((number.clone(), record, version)),
            recipient: None,
        };
        if store.put_pacing(&write).await? {
            outcome.was_stopped = true;
            outcome.stop_reason = reason;
            settled = true;
            break;
        }
    }
    if !settled {
        return Err(SenderError::Store(store::StoreError::Retryable {
            operation: "put_pacing",
            message: format!("the pacing of {number} kept changing"),
        }));
    }
    outcome.released = release_parked(store, queue, number, &ParkReason::NumberResumed).await?;
    if outcome.was_stopped || outcome.released > 0 {
        tracing::info!(number = %number, released = outcome.released, "number resumed");
    }
    Ok(outcome)
}

/// Puts the sends parked on `on` back on the outbound queue. A parked send is queued before it
/// is removed (a crash in between leaves it parked, to be released again: the key makes the
/// second copy harmless), and removed by exactly one caller.
pub async fn release_parked<S, Q>(
    store: &S,
    queue: &Q,
    number: &BusinessNumberId,
    on: &ParkReason,
) -> Result<usize>
where
    S: SendingStore,
    Q: EventQueue,
{
    let mut released = 0;
    loop {
        let parked = store.parked(number, on, 100).await?;
        if parked.is_empty() {
            return Ok(released);
        }
        for p in parked {
            let job: SendJob = serde_json::from_str(&p.job)
                .map_err(|e| SenderError::Corrupt(format!("parked job {}: {e}", p.key)))?;
            queue
                .send(Destination::Outbound, vec![job.envelope()])
                .await?;
            if store.unpark(number, on, &p.key).await? {
                released += 1;
            }
        }
    }
}

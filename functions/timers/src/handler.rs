//! One invocation: a wake-up payload in, its `TimerFired` event on the inbound FIFO out.

use lambda_runtime::{Diagnostic, LambdaEvent};
use queue::{Destination, EventQueue, QueueError};
use serde::Serialize;
use serde_json::Value;
use timers::WakeUp;

/// What the function did (its response: shown in the invocation's log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The event is on the inbound queue (or was already: the key deduplicates).
    Queued { key: String, group: String },
    /// The payload is not a wake-up; it was logged and dropped, because Scheduler retrying it
    /// into the dead-letter queue cannot make it one.
    Dropped { reason: String },
}

/// An invocation that should be retried: Scheduler does so under the schedule's retry policy and
/// dead-letters it after the last attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    #[error("wake-up {key} not queued: {source}")]
    Queue {
        key: String,
        #[source]
        source: QueueError,
    },
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: "Retryable".to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The Lambda entry point: the payload is the schedule's input JSON.
pub async fn handle<Q: EventQueue>(
    inbound: &Q,
    event: LambdaEvent<Value>,
) -> Result<Outcome, HandlerError> {
    deliver(inbound, &event.payload, &event.context.request_id).await
}

/// The longest piece of a rejected payload that goes into the log.
const LOGGED_PAYLOAD_CHARS: usize = 512;

/// Checks `payload` and queues its event; `invocation` names the invocation in the logs.
pub async fn deliver<Q: EventQueue>(
    inbound: &Q,
    payload: &Value,
    invocation: &str,
) -> Result<Outcome, HandlerError> {
    let wake_up = match WakeUp::from_value(payload) {
        Ok(wake_up) => wake_up,
        Err(error) => {
            let text = payload.to_string();
            let shown: String = text.chars().take(LOGGED_PAYLOAD_CHARS).collect();
            tracing::error!(
                invocation,
                %error,
                payload = %shown,
                "wake-up payload dropped: it is not a wake-up and retrying cannot make it one"
            );
            return Ok(Outcome::Dropped {
                reason: error.to_string(),
            });
        }
    };
    let envelope = wake_up.envelope();
    let (key, group) = (
        envelope.key.clone(),
        envelope.group.clone().unwrap_or_default(),
    );
    if let Err(source) = inbound.send(Destination::Inbound, vec![envelope]).await {
        tracing::warn!(invocation, %key, error = %source, "wake-up not queued; Scheduler retries");
        return Err(HandlerError::Queue { key, source });
    }
    tracing::info!(
        invocation,
        %key,
        %group,
        kind = wake_up.kind.as_str(),
        deadline = wake_up.deadline.unix(),
        "wake-up queued"
    );
    Ok(Outcome::Queued { key, group })
}

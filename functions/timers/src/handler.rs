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
    /// `key` is kept for the caller; the message leaves it out (it embeds the contact's wa_id).
    #[error("wake-up not queued: {source}")]
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

/// Checks `payload` and queues its event; `invocation` names the invocation in the logs.
pub async fn deliver<Q: EventQueue>(
    inbound: &Q,
    payload: &Value,
    invocation: &str,
) -> Result<Outcome, HandlerError> {
    let wake_up = match WakeUp::from_value(payload) {
        Ok(wake_up) => wake_up,
        Err(error) => {
            // OPS-3: the field names only; a value may be a phone number.
            let fields: Vec<&str> = payload
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            tracing::error!(
                invocation,
                %error,
                ?fields,
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
    // OPS-3: the key and the group embed the contact's wa_id: the lines name the number, the
    // kind and the token instead (the invocation id finds the schedule).
    if let Err(source) = inbound.send(Destination::Inbound, vec![envelope]).await {
        tracing::warn!(invocation, number = %wake_up.number, kind = wake_up.kind.as_str(), token = wake_up.token, error = %source, "wake-up not queued; Scheduler retries");
        return Err(HandlerError::Queue { key, source });
    }
    tracing::info!(
        invocation,
        number = %wake_up.number,
        token = wake_up.token,
        kind = wake_up.kind.as_str(),
        deadline = wake_up.deadline.unix(),
        "wake-up queued"
    );
    Ok(Outcome::Queued { key, group })
}

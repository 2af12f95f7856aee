//! OPS-4: the timers' dead letters. `TimerDeadLetterQueue` holds the wake-ups that never reached
//! the inbound queue, in one of two shapes:
//!
//! - EventBridge Scheduler could not invoke the timers function: the body is the schedule's input
//!   (the [`WakeUp`] JSON), and Scheduler's message attributes (`ERROR_CODE`, `ERROR_MESSAGE`,
//!   `RETRY_ATTEMPTS`) say why;
//! - the function failed every retry: Lambda's on-failure record, the wake-up under
//!   `requestPayload`, why under `requestContext.condition` and `responsePayload`.
//!
//! Either way a dead letter is listed as kind `wake_up` with the key `<number>:<kind>:<token>`
//! (what the timers function logs; never the contact's wa_id, OPS-3), and goes back onto the
//! inbound FIFO as the wake-up's `TimerFired` envelope, exactly what the timers function would
//! have queued ([`WakeUp::envelope`]); a stale one then does nothing (TIME-2).

use crate::WakeUp;
use queue::dead::{TIMERS, Translated, Translation};
use queue::{DeadLetterQueue, Destination};
use serde_json::Value;

/// The kind the timers' dead letters are listed with.
pub const KIND: &str = "wake_up";

/// The timers' dead-letter queue at `dlq_url`, whose letters go back to the inbound FIFO at
/// `inbound_url`.
pub fn dead_letter_queue(
    dlq_url: impl Into<String>,
    inbound_url: impl Into<String>,
) -> DeadLetterQueue {
    DeadLetterQueue {
        queue: Destination::Inbound,
        dlq_url: dlq_url.into(),
        source_url: inbound_url.into(),
        translation: Some(Translation {
            name: TIMERS,
            read: read_dead_letter,
        }),
    }
}

/// The key a wake-up is listed by: the number, the kind and the token (OPS-3: no wa_id).
pub fn listed_key(wake_up: &WakeUp) -> String {
    format!(
        "{}:{}:{}",
        wake_up.number,
        wake_up.kind.as_str(),
        wake_up.token
    )
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, name| v.get(name))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// One body of `TimerDeadLetterQueue` (either shape); `Err` says why it is not a wake-up.
pub fn read_dead_letter(body: &str) -> Result<Translated, String> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| format!("not a wake-up: the body is not JSON ({e})"))?;
    let record = value.get("requestPayload").is_some() && value.get("requestContext").is_some();
    let (payload, reason, attempts) = if record {
        let condition = text(&value, &["requestContext", "condition"]).unwrap_or("failed");
        let error = match (
            text(&value, &["responsePayload", "errorType"]),
            text(&value, &["responsePayload", "errorMessage"]),
        ) {
            (Some(kind), Some(message)) => format!(": {kind}: {message}"),
            (kind, message) => kind
                .or(message)
                .map(|t| format!(": {t}"))
                .unwrap_or_default(),
        };
        let attempts = value
            .pointer("/requestContext/approximateInvokeCount")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        (
            &value["requestPayload"],
            Some(format!(
                "the timers function failed every try ({condition}){error}"
            )),
            attempts,
        )
    } else {
        (&value, None, None)
    };
    let wake_up = WakeUp::from_value(payload).map_err(|e| e.to_string())?;
    Ok(Translated {
        kind: KIND.to_owned(),
        key: listed_key(&wake_up),
        envelope: wake_up.envelope(),
        reason,
        attempts,
        redact: vec![wake_up.contact.as_str().to_owned()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::{BusinessNumberId, ContactKey, TimerKind, Timestamp};

    fn wake_up() -> WakeUp {
        WakeUp {
            number: BusinessNumberId::new("106540352242922").unwrap(),
            contact: ContactKey::new("4915123456789").unwrap(),
            kind: TimerKind::BotInactivity,
            deadline: Timestamp::from_unix(1_767_226_200),
            token: 7,
        }
    }

    #[test]
    fn ops_4_a_wake_up_scheduler_could_not_deliver_goes_back_as_its_timer_fired_event() {
        let letter = read_dead_letter(&wake_up().to_json()).unwrap();
        assert_eq!(letter.kind, "wake_up");
        assert_eq!(letter.key, "106540352242922:bot_inactivity:7");
        assert!(!letter.key.contains("4915123456789"), "OPS-3");
        // Exactly what the timers function queues: the contact's group, the event's body.
        assert_eq!(letter.envelope, wake_up().envelope());
        assert_eq!((letter.reason, letter.attempts), (None, None));
        assert_eq!(letter.redact, ["4915123456789"]);
        let queue = dead_letter_queue("http://q/timers-dlq", "http://q/inbound.fifo");
        assert_eq!(queue.name(), "timers");
        assert_eq!(
            (queue.queue, queue.source_url.as_str()),
            (Destination::Inbound, "http://q/inbound.fifo")
        );
    }

    #[test]
    fn ops_4_a_failed_invocation_record_is_read_with_why_and_how_often() {
        let record = serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-01-01T00:10:00.000Z",
            "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:1:function:t:$LATEST",
                "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": wake_up().to_value(),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "Retryable", "errorMessage": "wake-up not queued: queue unavailable: throttled"}
        });
        let letter = read_dead_letter(&record.to_string()).unwrap();
        assert_eq!(letter.envelope, wake_up().envelope());
        assert_eq!(letter.attempts, Some(3));
        assert_eq!(
            letter.reason.as_deref(),
            Some(
                "the timers function failed every try (RetriesExhausted): Retryable: wake-up not queued: queue unavailable: throttled"
            )
        );
    }

    #[test]
    fn ops_4_what_is_not_a_wake_up_says_why() {
        assert!(read_dead_letter("nope").unwrap_err().contains("not JSON"));
        let mut v = wake_up().to_value();
        v["kind"] = "coffee_break".into();
        let why = read_dead_letter(&v.to_string()).unwrap_err();
        assert!(why.contains("coffee_break"), "{why}");
        let record = serde_json::json!({"requestContext": {}, "requestPayload": {"number": "1"}});
        assert_eq!(
            read_dead_letter(&record.to_string()).unwrap_err(),
            "wake-up payload has no `contact` field"
        );
    }
}

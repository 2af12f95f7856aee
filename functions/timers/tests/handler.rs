//! The handler over the in-process queue: every payload Scheduler could hand it.

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use queue::{Destination, MemoryQueue};
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, TimerKind, Timestamp};
use serde_json::{Value, json};
use timers::WakeUp;
use timers_lambda::{HandlerError, Outcome, handle};

fn wake_up() -> WakeUp {
    WakeUp::new(
        BusinessNumberId::new("106540352242922").unwrap(),
        ContactKey::new("4915123456789").unwrap(),
        Wake {
            kind: TimerKind::BotInactivity,
            at: Timestamp::from_unix(1_767_226_200),
            token: 7,
        },
    )
}

fn invocation(payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "8f5e2c1a-request".to_owned();
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn time_3_a_wake_up_becomes_a_timer_fired_event_in_the_contacts_group() {
    let inbound = MemoryQueue::new();
    let outcome = handle(&inbound, invocation(wake_up().to_value()))
        .await
        .unwrap();
    let key = "timer:106540352242922:4915123456789:bot_inactivity:7";
    assert_eq!(
        outcome,
        Outcome::Queued {
            key: key.into(),
            group: "106540352242922#4915123456789".into()
        }
    );
    let queued = inbound.group("106540352242922#4915123456789");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].key, key);
    let event: whatsapp::Event = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!(event.key, key);
    assert_eq!(
        event.body,
        whatsapp::EventBody::TimerFired(whatsapp::TimerFired {
            contact: "4915123456789".into(),
            timer: "bot_inactivity".into(),
            deadline: 1_767_226_200,
            token: 7,
        })
    );
    assert!(inbound.messages(Destination::Updates).is_empty());
}

#[tokio::test]
async fn a_wake_up_delivered_twice_is_one_event() {
    // Scheduler invokes at least once; the key is the FIFO deduplication id.
    let inbound = MemoryQueue::new();
    for _ in 0..2 {
        handle(&inbound, invocation(wake_up().to_value()))
            .await
            .unwrap();
    }
    assert_eq!(inbound.messages(Destination::Inbound).len(), 1);
}

#[tokio::test]
async fn payloads_that_are_not_wake_ups_are_dropped_with_the_reason_and_queue_nothing() {
    let good = wake_up().to_value();
    let with = |field: &str, value: Value| {
        let mut v = good.clone();
        v[field] = value;
        v
    };
    let without = |field: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(field);
        v
    };
    let cases = [
        (
            with("kind", "lunch_break".into()),
            "\"lunch_break\", not a timer kind",
        ),
        (without("token"), "no `token` field"),
        (without("contact"), "no `contact` field"),
        (
            with("token", "7".into()),
            "`token` must be a non-negative whole number, found a string",
        ),
        (
            with("deadline", json!(1.5)),
            "`deadline` must be whole epoch seconds",
        ),
        (
            with("number", json!(106540352242922_u64)),
            "`number` must be a string, found a number",
        ),
        (with("contact", "".into()), "ContactKey must not be empty"),
        (
            json!("bot_inactivity"),
            "must be a JSON object, found a string",
        ),
        (json!({}), "no `number` field"),
        (Value::Null, "must be a JSON object, found null"),
    ];
    let inbound = MemoryQueue::new();
    for (payload, expected) in cases {
        let outcome = handle(&inbound, invocation(payload.clone())).await;
        match outcome {
            Ok(Outcome::Dropped { reason }) => {
                assert!(reason.contains(expected), "{payload}: {reason}")
            }
            other => panic!("{payload}: {other:?}"),
        }
    }
    assert!(inbound.is_empty());
    assert_eq!(inbound.sends(), 0);
}

#[tokio::test]
async fn a_queue_failure_is_an_error_so_scheduler_retries() {
    let inbound = MemoryQueue::new();
    inbound.fail_next_sends(1);
    let error = handle(&inbound, invocation(wake_up().to_value()))
        .await
        .unwrap_err();
    assert!(matches!(&error, HandlerError::Queue { key, .. } if key.ends_with(":7")));
    let diagnostic = Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Retryable");
    assert!(diagnostic.error_message.contains("injected failure"));
    // The retry succeeds.
    handle(&inbound, invocation(wake_up().to_value()))
        .await
        .unwrap();
    assert_eq!(inbound.messages(Destination::Inbound).len(), 1);
}

#[test]
fn outcomes_serialise_as_the_function_response() {
    assert_eq!(
        serde_json::to_value(Outcome::Dropped {
            reason: "wake-up payload has no `token` field".into()
        })
        .unwrap(),
        json!({"outcome": "dropped", "reason": "wake-up payload has no `token` field"})
    );
}

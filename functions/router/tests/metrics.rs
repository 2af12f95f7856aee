//! OPS-2: the router's business metrics as CloudWatch EMF, through the recorder every function
//! installs: `QueuedConversations` (the queue's length as each conversation joins it) by business
//! number id, and agents' sends refused because the window is closed, by reason. Labels are ids
//! and fixed names, never a phone number. One test in this binary: the recorder is process-wide.

mod common;

use common::*;
use router::{QUEUED_CONVERSATIONS, WINDOW_REFUSALS};
use rules::Duration;
use std::collections::BTreeMap;

#[tokio::test]
async fn ops_2_queued_conversations_per_number_and_window_refusals_are_emf_metrics() {
    let collector = aws_wiring::telemetry::init_metrics().expect("the recorder");
    let mut desk = Desk::new(without_bot()).await;
    // No agent online: both customers' conversations are queued, the second behind the first.
    desk.text_from("4915100000001", "first").await;
    desk.text_from(CUSTOMER, "second").await;
    assert_eq!(desk.queue_len().await, 2);
    // A day later the window is closed: an agent's free-form send is refused (WIN-5).
    desk.advance(Duration::hours(25)).await;
    desk.agent_send("ana", "are you still there?").await;

    let mut emf = Vec::new();
    collector.flush(&mut emf).expect("flushed");
    let text = String::from_utf8(emf).unwrap();
    let seen = testkit::emf_metrics(text.as_bytes(), aws_wiring::telemetry::NAMESPACE);
    let expected: BTreeMap<(String, Vec<String>), f64> = [
        (
            (
                QUEUED_CONVERSATIONS.to_owned(),
                vec![format!("number={}", number())],
            ),
            2.0,
        ),
        (
            (
                WINDOW_REFUSALS.to_owned(),
                vec!["reason=window_closed_templates_only".to_owned()],
            ),
            1.0,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, expected, "{text}");
    // OPS-3: no customer's number in any label.
    assert!(
        !text.contains(CUSTOMER) && !text.contains("4915100000001"),
        "{text}"
    );
}

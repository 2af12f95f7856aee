//! The SQS handler on the embedded store: a batch from both event sources, partial failures.

use crate::harness::*;
use aws_lambda_events::event::sqs::SqsEvent;
use rules::MessageId;
use rules::templates::TemplateCategory;
use sender::handler::{Source, Sources, handle, source_of};
use store::{LedgerStore, OutboundStore, SendState, SendingStore};

pub fn fixture_event() -> SqsEvent {
    let path = format!(
        "{}/../../tests/fixtures/lambda/sqs_sender_batch.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub fn fixture_sources() -> Sources {
    Sources::from_urls(
        "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-outbound",
        "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-updates",
    )
}

pub fn order_update() -> rules::templates::Template {
    let mut t = approved("order_update", TemplateCategory::Utility);
    t.body = "Your order {{1}} is on its way.".into();
    t
}

#[test]
fn records_are_told_apart_by_their_queue_then_by_their_body() {
    let event = fixture_event();
    let sources = fixture_sources();
    let kinds: Vec<Source> = event
        .records
        .iter()
        .map(|r| source_of(r, &sources))
        .collect();
    assert_eq!(
        kinds,
        [
            Source::Outbound,
            Source::Updates,
            Source::Outbound,
            Source::Outbound
        ]
    );
    // Without an ARN (the local runner): by the body.
    let mut unnamed = event.records[1].clone();
    unnamed.event_source_arn = None;
    assert_eq!(source_of(&unnamed, &sources), Source::Updates);
    let mut unnamed = event.records[0].clone();
    unnamed.event_source_arn = None;
    assert_eq!(source_of(&unnamed, &sources), Source::Outbound);
}

// The batch: the send goes out, the status is recorded with its pricing (BILL-3), the unknown
// campaign's tick is acknowledged, and only the malformed record is reported failed.
#[tokio::test]
async fn a_batch_reports_only_the_records_that_failed() {
    let w = world();
    w.template(&order_update()).await;
    let response = handle(w.sender.clone(), &fixture_sources(), fixture_event()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["00000000-0000-4000-8000-000000000004"]);
    let record = w
        .store
        .send_record("console:agent-7:1760000000:0")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(record.value.state, SendState::Sent { .. }));
    assert_eq!(w.graph.accepted().len(), 1);
    let status = w
        .store
        .outbound_by_wamid(&MessageId::new("wamid.TEST_OUTBOUND_0099").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(status.delivered_at.is_some());
    let day = t(0).date();
    let ledger = w.store.ledger(&number(), day, day).await.unwrap();
    let utility = ledger.iter().find(|l| l.category == "utility").unwrap();
    assert_eq!((utility.predicted_count, utility.reported_count), (1, 1));
    // The same batch again (SQS redelivers): nothing is sent twice, nothing counted twice.
    handle(w.sender.clone(), &fixture_sources(), fixture_event()).await;
    assert_eq!(w.graph.accepted().len(), 1);
    let ledger = w.store.ledger(&number(), day, day).await.unwrap();
    let utility = ledger.iter().find(|l| l.category == "utility").unwrap();
    assert_eq!((utility.predicted_count, utility.reported_count), (1, 1));
}

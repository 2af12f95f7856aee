//! End to end on AWS's APIs (moto): an SQS event from the fixture → the handler → DynamoDB
//! (DynamoStore) and SQS (SqsQueues) → the Graph API port. Without moto this fails loudly.

use crate::handler::{fixture_event, fixture_sources, order_update};
use crate::harness::*;
use aws_sdk_sqs::types::QueueAttributeName;
use queue::SqsQueues;
use rules::MessageId;
use rules::outreach::OutreachKey;
use sender::handler::handle;
use sender::{ManualClock, MemoryGraph, Options, RecordedAlerts, Sender};
use std::sync::Arc;
use store::{DynamoStore, LedgerStore, OutboundStore, SendState, SendingStore, TemplateStore};

#[tokio::test]
async fn an_sqs_batch_runs_on_dynamodb_and_sqs() {
    let config = testkit::moto_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        testkit::unique("sender"),
    );
    store.create_table().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let create = |name: String, fifo: bool| {
        let sqs = sqs.clone();
        async move {
            let mut request = sqs.create_queue().queue_name(name);
            if fifo {
                request = request.attributes(QueueAttributeName::FifoQueue, "true");
            }
            request.send().await.unwrap().queue_url.unwrap()
        }
    };
    let inbound = create(format!("{}.fifo", testkit::unique("inbound")), true).await;
    let updates = create(testkit::unique("updates"), false).await;
    let outbound = create(testkit::unique("outbound"), false).await;
    let queues = SqsQueues::new(&config, &inbound, &updates).outbound(&outbound);

    let clock = ManualClock::new(t(0));
    let time = clock.clone();
    let graph = Arc::new(MemoryGraph::new(move || sender::Clock::now_ms(&time)));
    let sender = Arc::new(Sender::new(
        store.clone(),
        queues,
        graph.clone(),
        clock,
        Arc::new(RecordedAlerts::default()),
        OutreachKey::new(b"moto-outreach-key".to_vec()),
        Options::default(),
    ));
    store
        .put_template(&number(), &order_update())
        .await
        .unwrap();

    let response = handle(sender.clone(), &fixture_sources(), fixture_event()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ["00000000-0000-4000-8000-000000000004"]);

    // DynamoDB: the send record, the key's wamid, the ledger.
    let record = store
        .send_record("console:agent-7:1760000000:0")
        .await
        .unwrap()
        .unwrap();
    let SendState::Sent { wamid, .. } = record.value.state else {
        panic!("not sent: {:?}", record.value.state);
    };
    assert_eq!(
        store
            .outbound_by_key("console:agent-7:1760000000:0")
            .await
            .unwrap(),
        Some(Some(wamid.clone()))
    );
    assert_eq!(graph.accepted().len(), 1);
    let status = store
        .outbound_by_wamid(&MessageId::new("wamid.TEST_OUTBOUND_0099").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(status.delivered_at.is_some());
    let day = t(0).date();
    let ledger = store.ledger(&number(), day, day).await.unwrap();
    let utility = ledger.iter().find(|l| l.category == "utility").unwrap();
    assert_eq!((utility.predicted_count, utility.reported_count), (1, 1));

    // SQS: the outreach's lane event is on the inbound FIFO, in the contact's group.
    let received = sqs
        .receive_message()
        .queue_url(&inbound)
        .max_number_of_messages(10)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
        )
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let group = messages[0]
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId))
        .cloned();
    assert_eq!(group.as_deref(), Some("200000000000001#15550009001"));
    let event: whatsapp::Event = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    let whatsapp::EventBody::Lane(lane) = event.body else {
        panic!("a lane event");
    };
    let rules::Event::OutreachSent(outreach) = lane.event else {
        panic!("OutreachSent");
    };
    assert_eq!(outreach.wamid, wamid);
    assert_eq!(outreach.id.as_str(), "o-console-1");

    // Redelivered: nothing sent twice.
    handle(sender, &fixture_sources(), fixture_event()).await;
    assert_eq!(graph.accepted().len(), 1);
}

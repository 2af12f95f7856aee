//! The AWS path of EVT-1 on moto: the table's stream (NEW_AND_OLD_IMAGES) as moto records it,
//! read with boto3's `dynamodbstreams` client (moto does not trigger Lambdas from streams), fed
//! to the projector's handler as the Lambda event; the events land in the feed, a replayed batch
//! adds nothing, and they are the events the embedded store's triggers produce for the same
//! changes (same ids, same order per contact).

use aws_lambda_events::event::dynamodb::Event;
use rules::effect::{LogEntry, Notice};
use rules::{
    BusinessNumberId, ContactKey, ContactState, ConversationId, EventKey, MessageId, Timestamp,
};
use store::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix(1_750_000_000 + s)
}

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn inbound(c: &ContactKey, event: &str, expected: Option<u64>, at: Timestamp) -> Commit {
    let conversation = ConversationId::new(format!("{c}#1")).unwrap();
    let mut log = vec![LogRecord {
        entry: LogEntry::Inbound {
            message: MessageId::new(event).unwrap(),
            conversation: Some(conversation.clone()),
            at,
            bot: None,
        },
        body: Some(serde_json::json!({"text": "hello"})),
    }];
    if expected.is_none() {
        log.push(LogRecord {
            entry: LogEntry::Notice {
                conversation,
                at,
                notice: Notice::ConversationOpened,
            },
            body: None,
        });
    }
    Commit {
        event_key: EventKey::new(event).unwrap(),
        expected_version: expected,
        next: ContactState::new(number(), c.clone()),
        effects: Vec::new(),
        log,
        outreach: Vec::new(),
        now: at,
    }
}

/// The same story on any store: two contacts write, one message goes out and is delivered;
/// Meta redelivers a message (a duplicate commit changes nothing).
async fn story<S: Store>(store: &S) {
    let (a, b) = (
        ContactKey::new("4915100000001").unwrap(),
        ContactKey::new("4915100000002").unwrap(),
    );
    assert!(matches!(
        store
            .commit(inbound(&a, "wamid.A1", None, t(1)))
            .await
            .unwrap(),
        CommitOutcome::Committed { .. }
    ));
    assert!(matches!(
        store
            .commit(inbound(&b, "wamid.B1", None, t(2)))
            .await
            .unwrap(),
        CommitOutcome::Committed { .. }
    ));
    assert_eq!(
        store
            .commit(inbound(&a, "wamid.A1", None, t(3)))
            .await
            .unwrap(),
        CommitOutcome::Duplicate
    );
    assert!(matches!(
        store
            .commit(inbound(&a, "wamid.A2", Some(1), t(4)))
            .await
            .unwrap(),
        CommitOutcome::Committed { .. }
    ));
    store
        .claim_send("wamid.A2#0", &number(), &a, t(5), None)
        .await
        .unwrap();
    let wamid = MessageId::new("wamid.OUT1").unwrap();
    store.record_sent("wamid.A2#0", &wamid, t(6)).await.unwrap();
    for (status, at) in [
        (DeliveryStatus::Delivered, 8),
        (DeliveryStatus::Delivered, 8),
        (DeliveryStatus::Read, 9),
    ] {
        store
            .apply_status(&StatusUpdate {
                wamid: wamid.clone(),
                status,
                at: t(at),
                pricing: None,
                error: None,
            })
            .await
            .unwrap();
    }
}

/// The stream's records as the Lambda event source hands them over.
fn stream_records(table: &str) -> Event {
    serde_json::from_value(testkit::events_out::stream_records(table))
        .expect("stream records in the Lambda event's shape")
}

async fn feed<S: EventStore>(store: &S) -> Vec<rules::events::DomainEvent> {
    let page = store
        .events_after(Some(&[number()]), None, 500)
        .await
        .unwrap();
    page.items.into_iter().map(|e| e.event).collect()
}

fn per_contact(
    events: &[rules::events::DomainEvent],
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut lanes = std::collections::BTreeMap::<String, Vec<String>>::new();
    for e in events {
        lanes
            .entry(e.ordering_key())
            .or_default()
            .push(format!("{} {}", e.kind(), e.id));
    }
    lanes
}

// EVT-1 on the AWS path: the stream's records project to the same events as SQLite's triggers,
// in the same order per contact; a replayed batch (Lambda's at-least-once) doubles nothing.
#[tokio::test]
async fn evt_1_stream_records_project_like_the_embedded_store_and_replays_double_nothing() {
    let config = testkit::moto_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = testkit::unique("sb");
    let dynamo = DynamoStore::new(client.clone(), table.clone());
    dynamo.create_table().await.unwrap();
    client
        .update_table()
        .table_name(&table)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    dynamo
        .put_settings(&rules::NumberSettings::new(number()))
        .await
        .unwrap();
    story(&dynamo).await;

    let records = stream_records(&table);
    assert!(!records.records.is_empty(), "moto recorded the stream");
    projector::handle(&dynamo, records.clone()).await.unwrap();
    let once = feed(&dynamo).await;
    projector::handle(&dynamo, records).await.unwrap();
    assert_eq!(feed(&dynamo).await, once, "a replayed batch adds nothing");

    let dir = std::env::temp_dir().join("switchboard-projector-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqliteStore::open(dir.join(format!("{}.db", testkit::unique("p")))).unwrap();
    story(&sqlite).await;
    let embedded = feed(&sqlite).await;
    let kinds: Vec<_> = embedded.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "message.received").count(),
        3,
        "one per message, none for the redelivery: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "delivery.updated").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(per_contact(&once), per_contact(&embedded));
}

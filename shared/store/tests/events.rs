//! Events out on both adapters (EVT-1, EVT-3, EVT-4): SQLite's event log written by triggers in
//! the change's own transaction, DynamoDB's written from stream records; the feed's order and
//! pages; webhook deliveries in order per lane, dead letters and redelivery.

use rules::effect::{LogEntry, Notice};
use rules::events::{DomainEvent, EventData};
use rules::{
    BusinessNumberId, ContactKey, ContactState, ConversationId, EventKey, MessageId, Timestamp,
};
use store::*;

const T0: i64 = 1_750_000_000;

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix(T0 + s)
}

fn number(i: u32) -> BusinessNumberId {
    BusinessNumberId::new(format!("10654035224292{i}")).unwrap()
}

fn contact(i: u32) -> ContactKey {
    ContactKey::new(format!("49151000{i:05}")).unwrap()
}

async fn sqlite() -> SqliteStore {
    let dir = std::env::temp_dir().join("switchboard-store-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    SqliteStore::open(dir.join(format!("{}.db", testkit::unique("ev")))).expect("open sqlite")
}

/// An inbound message that opens a conversation: two log entries (the message and the notice).
fn inbound(
    n: &BusinessNumberId,
    c: &ContactKey,
    event: &str,
    expected: Option<u64>,
    at: Timestamp,
) -> Commit {
    let conversation = ConversationId::new(format!("{c}#1")).unwrap();
    Commit {
        event_key: EventKey::new(event).unwrap(),
        expected_version: expected,
        next: ContactState::new(n.clone(), c.clone()),
        effects: Vec::new(),
        log: vec![
            LogRecord {
                entry: LogEntry::Inbound {
                    message: MessageId::new(event).unwrap(),
                    conversation: Some(conversation.clone()),
                    at,
                    bot: None,
                },
                body: Some(serde_json::json!({"text": "hello"})),
            },
            LogRecord {
                entry: LogEntry::Notice {
                    conversation,
                    at,
                    notice: Notice::ConversationOpened,
                },
                body: None,
            },
        ],
        outreach: Vec::new(),
        now: at,
    }
}

async fn all_events<S: EventStore>(
    store: &S,
    numbers: Option<&[BusinessNumberId]>,
) -> Vec<DomainEvent> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .events_after(numbers, cursor.as_deref(), 3)
            .await
            .unwrap();
        if page.items.is_empty() {
            return out;
        }
        cursor = page.next.clone();
        out.extend(page.items.into_iter().map(|e| e.event));
    }
}

fn status(wamid: &str, s: DeliveryStatus, at: i64) -> StatusUpdate {
    StatusUpdate {
        wamid: MessageId::new(wamid).unwrap(),
        status: s,
        at: t(at),
        pricing: None,
        error: None,
    }
}

// EVT-1: a commit writes its events in its own transaction; a duplicate or a conflicting commit
// (nothing written) writes none; statuses give one event per first-reported state.
#[tokio::test]
async fn evt_1_sqlite_events_exactly_with_their_changes() {
    let store = sqlite().await;
    let (n, c) = (number(1), contact(1));
    let commit = |expected, at| inbound(&n, &c, "wamid.1", expected, at);
    assert!(matches!(
        store.commit(commit(None, t(1))).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    // Meta delivers it again (decided from a stale or a fresh read): nothing changes.
    assert_eq!(
        store.commit(commit(None, t(2))).await.unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(
        store.commit(commit(Some(1), t(2))).await.unwrap(),
        CommitOutcome::Duplicate
    );
    // A conflicting commit (stale version) writes nothing, so no event either.
    let conflict = inbound(&n, &c, "wamid.2", None, t(3));
    assert_eq!(
        store.commit(conflict).await.unwrap(),
        CommitOutcome::VersionConflict
    );

    let events = all_events(&store, None).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["message.received", "conversation.opened"]);
    assert!(
        events
            .iter()
            .all(|e| e.contact.as_ref() == Some(&c) && e.number == n)
    );

    // Outbound: the claim's pointer, then each delivery state once, whatever order and repeats.
    store
        .claim_send("wamid.1#0", &n, &c, t(4), None)
        .await
        .unwrap();
    store
        .record_sent("wamid.1#0", &MessageId::new("wamid.out").unwrap(), t(5))
        .await
        .unwrap();
    for s in [
        status("wamid.out", DeliveryStatus::Read, 9),
        status("wamid.out", DeliveryStatus::Delivered, 8),
        status("wamid.out", DeliveryStatus::Read, 9),
        status("wamid.out", DeliveryStatus::Sent, 5),
    ] {
        store.apply_status(&s).await.unwrap();
    }
    let events = all_events(&store, None).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "message.received",
            "conversation.opened",
            "message.sent",
            "delivery.updated",
            "delivery.updated",
            "delivery.updated"
        ]
    );
    let mut ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "ids are unique");
}

// EVT-3: the feed pages in commit order, per number, from any cursor.
#[tokio::test]
async fn evt_3_sqlite_feed_pages_per_number_in_commit_order() {
    let store = sqlite().await;
    for i in 0..5 {
        let n = number(i % 2);
        let c = contact(i);
        store
            .commit(inbound(&n, &c, &format!("wamid.{i}"), None, t(i as i64)))
            .await
            .unwrap();
    }
    let all = all_events(&store, None).await;
    assert_eq!(all.len(), 10);
    let only_1 = all_events(&store, Some(&[number(1)])).await;
    assert_eq!(only_1.len(), 4);
    let expected: Vec<_> = all
        .iter()
        .filter(|e| e.number == number(1))
        .cloned()
        .collect();
    assert_eq!(only_1, expected);
    // From the middle: exactly the rest.
    let page = store.events_after(None, None, 4).await.unwrap();
    let rest = store
        .events_after(None, page.next.as_deref(), 100)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 6);
    assert_eq!(rest.items[0].event, all[4]);
    assert!(store.events_after(None, Some("x"), 1).await.is_err());
}

fn endpoint(id: &str, types: Vec<String>) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.into(),
        url: "http://127.0.0.1:9/hook".into(),
        types,
        numbers: Vec::new(),
        description: None,
        bot: None,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        previous_secret: None,
        created_at: t(0),
        cursor: None,
    }
}

async fn webhook_queue_contract<S: Store + EventStore + WebhookStore>(
    store: S,
    feed: impl AsyncFn(&S, u32, &str),
) {
    // Events before the endpoint existed are not delivered to it. (Stream records carry their
    // time to the second, so a new DynamoDB endpoint starts a second back: "before" is older.)
    feed(&store, 0, "before").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    store
        .put_webhook(&endpoint("wh1", Vec::new()))
        .await
        .unwrap();
    store
        .put_webhook(&endpoint("wh2", vec!["conversation.opened".into()]))
        .await
        .unwrap();
    assert_eq!(store.webhooks().await.unwrap().len(), 2);
    feed(&store, 1, "a1").await; // lane of contact 1: two events
    feed(&store, 2, "b1").await; // lane of contact 2: two events
    feed(&store, 1, "a2").await;
    let queued = store.queue_deliveries(t(10), 100).await.unwrap();
    assert_eq!(queued, 6 + 3);
    assert_eq!(
        store.queue_deliveries(t(10), 100).await.unwrap(),
        0,
        "cursor moved"
    );

    // One head per (endpoint, lane): wh1 has lanes 1 and 2, wh2 too.
    let due = store.due_deliveries(t(10), 100).await.unwrap();
    assert_eq!(due.len(), 4);
    let head_1 = due.iter().find(|d| d.endpoint == "wh1").unwrap().clone();
    // It fails: retried later; its lane waits behind it.
    store
        .delivery_failed("wh1", &head_1.position, t(10), Some(t(20)), "HTTP 500")
        .await
        .unwrap();
    let due = store.due_deliveries(t(11), 100).await.unwrap();
    assert!(due.iter().all(|d| d.position != head_1.position));
    let lane_of = |d: &Delivery| {
        serde_json::from_str::<DomainEvent>(&d.body)
            .unwrap()
            .ordering_key()
    };
    let blocked = lane_of(&head_1);
    assert!(
        due.iter()
            .filter(|d| d.endpoint == "wh1")
            .all(|d| lane_of(d) != blocked)
    );
    // Due again at its time, still the head of its lane.
    let again = store.due_deliveries(t(20), 100).await.unwrap();
    assert!(
        again
            .iter()
            .any(|d| d.position == head_1.position && d.attempts == 1)
    );
    // Dead-lettered: it no longer holds the lane; listed; redelivered on request.
    store
        .delivery_failed("wh1", &head_1.position, t(10), None, "HTTP 500")
        .await
        .unwrap();
    let dead = store.dead_letters("wh1", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 500"));
    let due = store.due_deliveries(t(21), 100).await.unwrap();
    assert!(
        due.iter()
            .any(|d| d.endpoint == "wh1" && lane_of(d) == blocked)
    );
    assert_eq!(
        store
            .redeliver("wh1", Some(&dead[0].event_id), t(30))
            .await
            .unwrap(),
        1
    );
    assert!(store.dead_letters("wh1", 10).await.unwrap().is_empty());
    // Delivered: gone. Deleting the endpoint removes its queue.
    for d in store.due_deliveries(t(30), 100).await.unwrap() {
        store.delivered(&d.endpoint, &d.position).await.unwrap();
    }
    assert!(store.delete_webhook("wh2").await.unwrap());
    assert!(!store.delete_webhook("wh2").await.unwrap());
    assert!(store.webhook("wh2").await.unwrap().is_none());
    let left = store.due_deliveries(t(30), 100).await.unwrap();
    assert!(left.iter().all(|d| d.endpoint == "wh1"));
}

// EVT-4: the delivery queue keeps each lane in order, retries hold the lane, dead letters free it
// and can be redelivered.
#[tokio::test]
async fn evt_4_sqlite_delivery_queue_in_order_per_lane_with_dead_letters() {
    let store = sqlite().await;
    webhook_queue_contract(store, async |s: &SqliteStore, i, event| {
        let n = number(1);
        let c = contact(i);
        let loaded = s.load_contact(&n, &c, t(0)).await.unwrap();
        let outcome = s
            .commit(inbound(
                &n,
                &c,
                &format!("wamid.{event}"),
                loaded.version(),
                t(1),
            ))
            .await
            .unwrap();
        assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    })
    .await;
}

async fn dynamo() -> DynamoStore {
    let config = testkit::moto_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        testkit::unique("sb"),
    );
    store.create_table().await.expect("create table on moto");
    store
}

/// What the projector function writes for one stream record: here built from the log entries.
async fn dynamo_feed(store: &DynamoStore, i: u32, event: &str) {
    let n = number(1);
    let c = contact(i);
    let commit = inbound(&n, &c, &format!("wamid.{event}"), None, t(1));
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let mut events = Vec::new();
    for (index, record) in commit.log.iter().enumerate() {
        let key = keys::log(&n, &c, t(1), &commit.event_key, index);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let projected = rules::events::project(&rules::events::ItemChange::LogAppended {
            number: &n,
            contact: &c,
            item_key: &key.sk,
            entry: &record.entry,
        });
        for (j, e) in projected.into_iter().enumerate() {
            // Stream records are stamped with their commit time (now), rounded down to the
            // second as DynamoDB Streams does.
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                * 1000;
            events.push((store::dynamo::event_position(ms, &seq.to_string(), j), e));
        }
    }
    store.put_events(&events).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

// EVT-3 on DynamoDB: events written at their stream positions page in order, per number; a
// replayed record overwrites its own events.
#[tokio::test]
async fn evt_3_dynamo_feed_pages_in_position_order_and_replays_write_nothing_new() {
    let store = dynamo().await;
    let n = number(1);
    store
        .put_settings(&rules::NumberSettings::new(n.clone()))
        .await
        .unwrap();
    for i in 0..3 {
        dynamo_feed(&store, i, &format!("m{i}")).await;
    }
    let all = all_events(&store, Some(std::slice::from_ref(&n))).await;
    assert_eq!(all.len(), 6);
    let every = all_events(&store, None).await;
    assert_eq!(every, all);
    // A replayed record: the same positions, the same events.
    let first = store
        .events_after(Some(std::slice::from_ref(&n)), None, 1)
        .await
        .unwrap();
    let (position, event) = (first.items[0].cursor.clone(), first.items[0].event.clone());
    store.put_events(&[(position, event)]).await.unwrap();
    assert_eq!(all_events(&store, Some(&[n])).await, all);
    assert!(matches!(all[0].data, EventData::MessageReceived { .. }));
}

// EVT-4 on DynamoDB: the same delivery-queue contract.
#[tokio::test]
async fn evt_4_dynamo_delivery_queue_in_order_per_lane_with_dead_letters() {
    let store = dynamo().await;
    store
        .put_settings(&rules::NumberSettings::new(number(1)))
        .await
        .unwrap();
    webhook_queue_contract(store, async |s: &DynamoStore, i, event| {
        dynamo_feed(s, i, event).await
    })
    .await;
}

/// EVT-5: integration tokens, by their secret's hash, revoked by rewriting them.
async fn integration_contract<S: IntegrationStore>(store: S) {
    let token = |id: &str, hash: &str| IntegrationToken {
        id: id.into(),
        name: format!("{id} bot"),
        numbers: vec![number(1)],
        token_hash: hash.into(),
        created_at: t(0),
        revoked_at: None,
    };
    assert!(store.integrations().await.unwrap().is_empty());
    assert_eq!(store.integration_by_hash("aa").await.unwrap(), None);
    let b = token("int_b", "bb");
    store.put_integration(&b).await.unwrap();
    store.put_integration(&token("int_a", "aa")).await.unwrap();
    assert_eq!(
        store.integration_by_hash("bb").await.unwrap().as_ref(),
        Some(&b)
    );
    let ids: Vec<String> = store
        .integrations()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["int_a", "int_b"]);
    let revoked = IntegrationToken {
        revoked_at: Some(t(5)),
        ..b
    };
    store.put_integration(&revoked).await.unwrap();
    assert_eq!(
        store
            .integration_by_hash("bb")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(t(5))
    );
    assert_eq!(store.integrations().await.unwrap().len(), 2);
}

#[tokio::test]
async fn evt_5_sqlite_integration_tokens() {
    integration_contract(sqlite().await).await;
}

#[tokio::test]
async fn evt_5_dynamo_integration_tokens() {
    integration_contract(dynamo().await).await;
}

/// EVT-5: an external bot's endpoint is queued only the customer messages addressed to it.
#[tokio::test]
async fn evt_5_sqlite_a_bot_endpoint_is_queued_only_its_bots_messages() {
    let store = sqlite().await;
    let bot = rules::RecipeId::new("crm-bot").unwrap();
    let mut for_bot = endpoint("wh_bot", Vec::new());
    for_bot.bot = Some(bot.clone());
    store.put_webhook(&for_bot).await.unwrap();
    store
        .put_webhook(&endpoint("wh_all", Vec::new()))
        .await
        .unwrap();
    let (n, c) = (number(1), contact(1));
    let mut plain = inbound(&n, &c, "wamid.plain", None, t(1));
    store.commit(plain.clone()).await.unwrap();
    plain = inbound(&n, &contact(2), "wamid.bot", None, t(2));
    for m in &mut plain.log {
        if let LogEntry::Inbound { bot: b, .. } = &mut m.entry {
            *b = Some(bot.clone());
        }
    }
    store.commit(plain).await.unwrap();
    store.queue_deliveries(t(3), 100).await.unwrap();
    let due = store.due_deliveries(t(3), 100).await.unwrap();
    let to = |e: &str| -> Vec<String> {
        due.iter()
            .filter(|d| d.endpoint == e)
            .map(|d| d.event_type.clone())
            .collect()
    };
    assert_eq!(to("wh_bot"), ["message.received"]);
    assert!(
        due.iter()
            .any(|d| d.endpoint == "wh_bot" && d.body.contains("\"bot\":\"crm-bot\""))
    );
    // The other endpoint gets every event of both (two messages, two openings), one lane each.
    assert_eq!(to("wh_all").len(), 2, "{due:?}");
}

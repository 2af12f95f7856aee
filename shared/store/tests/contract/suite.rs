//! The contract, written once. Every function takes a fresh store and must pass on both adapters.

use crate::harness::Harness;
use rules::effect::{Effect, LogEntry, OutboundContent, SendPurpose, SendRequest};
use rules::outreach::OutreachRecord;
use rules::state::{Conversation, ConversationStatus, Handler, Origin};
use rules::{
    AgentId, BusinessNumberId, CampaignId, ContactKey, ContactState, ConversationId, Date,
    Duration, EventKey, MessageId, NumberSettings, OutreachId, PhoneNumber, TemplateName,
    Timestamp,
};
use std::collections::HashSet;
use std::sync::Arc;
use store::*;

const T0: i64 = 1_750_000_000;

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds)
}

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn contact(i: u32) -> ContactKey {
    ContactKey::new(format!("49151000{i:05}")).unwrap()
}

fn key(s: &str) -> EventKey {
    EventKey::new(s).unwrap()
}

fn agent(a: &str) -> AgentId {
    AgentId::new(a).unwrap()
}

fn conversation(id: &str, status: ConversationStatus, agent: Option<&str>) -> Conversation {
    Conversation {
        id: ConversationId::new(id).unwrap(),
        status,
        handler: match agent {
            Some(a) => Handler::Agent {
                agent: AgentId::new(a).unwrap(),
            },
            None => Handler::Bot {
                recipe: rules::RecipeId::new("faq").unwrap(),
                step: "start".into(),
            },
        },
        opened_at: t(0),
        origin: Origin::Inbound,
        last_customer_at: Some(t(0)),
        last_agent_at: None,
        unanswered_since: None,
        unanswered_count: 0,
        reminded: false,
        agent_involved: agent.is_some(),
        nudged_for: None,
        referral: None,
    }
}

fn send(text: &str) -> Effect {
    Effect::Send(SendRequest {
        purpose: SendPurpose::Bot,
        content: OutboundContent::text(text),
        conversation: None,
        recontact_if_closed: false,
    })
}

/// An inbound text on contact `c`: the state gets an open conversation and `next_token` moves.
fn inbound(
    state: Option<ContactState>,
    c: &ContactKey,
    event: &str,
    expected: Option<u64>,
    at: Timestamp,
) -> Commit {
    let mut next = state.unwrap_or_else(|| ContactState::new(number(), c.clone()));
    next.next_token += 1;
    if next.conversation.is_none() {
        next.conversation = Some(conversation(
            &format!("{c}#1"),
            ConversationStatus::Open,
            None,
        ));
    }
    let conv = next.conversation.as_ref().map(|c| c.id.clone());
    Commit {
        event_key: key(event),
        expected_version: expected,
        next,
        effects: vec![send(&format!("echo {event}"))],
        log: vec![LogRecord {
            entry: LogEntry::Inbound {
                message: MessageId::new(event).unwrap(),
                conversation: conv,
                at,
                bot: None,
            },
            body: Some(serde_json::json!({ "text": format!("hello {event}") })),
        }],
        outreach: Vec::new(),
        now: at,
    }
}

async fn committed<S: Store>(store: &S, commit: Commit) -> u64 {
    match store.commit(commit).await.expect("commit") {
        CommitOutcome::Committed { version } => version,
        other => panic!("expected a commit, got {other:?}"),
    }
}

pub async fn commit_then_load_round_trips<S: Harness>(store: S) {
    let c = contact(1);
    let empty = store.load_contact(&number(), &c, t(0)).await.unwrap();
    assert_eq!(empty, LoadedContact::default());
    let commit = inbound(None, &c, "wamid.1", None, t(1));
    let next = commit.next.clone();
    assert_eq!(committed(&store, commit).await, 1);
    let loaded = store.load_contact(&number(), &c, t(2)).await.unwrap();
    assert_eq!(loaded.version(), Some(1));
    assert_eq!(loaded.state.unwrap().value, next);
    let outbox = loaded.outbox.expect("outbox");
    assert_eq!(outbox.event_key, key("wamid.1"));
    assert_eq!(outbox.effects.len(), 1);
    assert_eq!(outbox.effects[0].id, "wamid.1#0");
    assert_eq!(outbox.effects[0].effect, send("echo wamid.1"));
}

pub async fn duplicate_event_changes_nothing<S: Harness>(store: S) {
    // ARCHITECTURE invariant 1.
    let c = contact(1);
    committed(&store, inbound(None, &c, "wamid.1", None, t(1))).await;
    let before = store.load_contact(&number(), &c, t(2)).await.unwrap();
    let again = inbound(
        before.state.clone().map(|s| s.value),
        &c,
        "wamid.1",
        Some(1),
        t(2),
    );
    assert_eq!(store.commit(again).await.unwrap(), CommitOutcome::Duplicate);
    // A redelivery decided from a stale read is a duplicate too, not a conflict.
    let stale = inbound(None, &c, "wamid.1", None, t(3));
    assert_eq!(store.commit(stale).await.unwrap(), CommitOutcome::Duplicate);
    let after = store.load_contact(&number(), &c, t(4)).await.unwrap();
    assert_eq!(after, before);
    let log = store.message_log(&number(), &c, 10, None).await.unwrap();
    assert_eq!(log.items.len(), 1);
}

pub async fn expired_dedup_marker_no_longer_blocks<S: Harness>(store: S) {
    // Markers live DEDUP_TTL (8 days); a marker past its expires_at but not yet deleted by TTL
    // (WIN-6) must not block.
    let c = contact(1);
    committed(&store, inbound(None, &c, "wamid.1", None, t(0))).await;
    let state = store
        .load_contact(&number(), &c, t(1))
        .await
        .unwrap()
        .state
        .map(|s| s.value);
    let within = inbound(
        state.clone(),
        &c,
        "wamid.1",
        Some(1),
        t(0) + DEDUP_TTL - Duration::seconds(1),
    );
    assert_eq!(
        store.commit(within).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let later = inbound(state, &c, "wamid.1", Some(1), t(0) + DEDUP_TTL);
    assert_eq!(committed(&store, later).await, 2);
}

pub async fn two_concurrent_writers_exactly_one_wins<S: Harness>(store: S) {
    // ARCHITECTURE invariant 2: both read version 1, both commit; one wins, the loser re-reads.
    let c = contact(1);
    committed(&store, inbound(None, &c, "wamid.0", None, t(0))).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for i in 1..=2 {
        let (store, barrier, c) = (store.clone(), barrier.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            let event = format!("wamid.{i}");
            let loaded = store.load_contact(&number(), &c, t(i)).await.unwrap();
            barrier.wait().await;
            let first = store
                .commit(inbound(
                    loaded.state.clone().map(|s| s.value),
                    &c,
                    &event,
                    loaded.version(),
                    t(i),
                ))
                .await
                .unwrap();
            if first == CommitOutcome::VersionConflict {
                let again = store.load_contact(&number(), &c, t(i)).await.unwrap();
                let retry = store
                    .commit(inbound(
                        again.state.clone().map(|s| s.value),
                        &c,
                        &event,
                        again.version(),
                        t(i),
                    ))
                    .await
                    .unwrap();
                (first, Some(retry))
            } else {
                (first, None)
            }
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners = outcomes
        .iter()
        .filter(|(first, _)| *first == CommitOutcome::Committed { version: 2 })
        .count();
    let losers: Vec<_> = outcomes
        .iter()
        .filter(|(first, _)| *first == CommitOutcome::VersionConflict)
        .collect();
    assert_eq!((winners, losers.len()), (1, 1), "{outcomes:?}");
    assert_eq!(losers[0].1, Some(CommitOutcome::Committed { version: 3 }));
    let loaded = store.load_contact(&number(), &c, t(9)).await.unwrap();
    assert_eq!(loaded.version(), Some(3));
    assert_eq!(
        store
            .message_log(&number(), &c, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
}

pub async fn agent_capacity_never_exceeded_under_20_concurrent_assignments<S: Harness>(store: S) {
    // AUTO-4: conditional counters; 20 concurrent takes on capacity 5 give exactly 5.
    let ana = agent("ana");
    let now = t(1_000);
    store.put_agent(&ana, 5, true).await.unwrap();
    store.put_agent(&agent("bo"), 2, false).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (store, ana) = (store.clone(), ana.clone());
        tasks.push(tokio::spawn(async move {
            store
                .take_capacity(&ana, &format!("take-{i}"), now)
                .await
                .unwrap()
        }));
    }
    let mut taken = 0;
    for task in tasks {
        taken += u32::from(task.await.unwrap().is_some());
    }
    assert_eq!(taken, 5);
    let agents = store.agents().await.unwrap();
    let load = agents.iter().find(|a| a.agent == ana).unwrap();
    assert_eq!((load.open, load.capacity, load.online), (5, 5, true));
    assert_eq!(agents.len(), 2);
    // Updating capacity keeps the open count.
    store.put_agent(&ana, 6, true).await.unwrap();
    assert_eq!(
        store.take_capacity(&ana, "more-1", now).await.unwrap(),
        Some(ana.clone())
    );
    assert_eq!(
        store.take_capacity(&ana, "more-2", now).await.unwrap(),
        None
    );
    // Release never goes below zero.
    let mut released = 0;
    for i in 0..8 {
        released += u32::from(
            store
                .release_capacity(&ana, &format!("release-{i}"), now)
                .await
                .unwrap(),
        );
    }
    assert_eq!(released, 6);
    assert_eq!(
        store
            .take_capacity(&agent("nobody"), "nobody-1", now)
            .await
            .unwrap(),
        None
    );
}

pub async fn capacity_operations_are_keyed<S: Harness>(store: S) {
    // ARCHITECTURE invariant 3: the router repeats an outbox after a crash; a repeated take or
    // release changes nothing, and a repeated take names the agent the first one took.
    let (ana, bo) = (agent("ana"), agent("bo"));
    let now = t(1_000);
    store.put_agent(&ana, 2, true).await.unwrap();
    store.put_agent(&bo, 2, true).await.unwrap();
    assert_eq!(
        store.take_capacity(&ana, "e1#0", now).await.unwrap(),
        Some(ana.clone())
    );
    // The repeat picked another agent this time: the first choice stands, bo is untouched.
    assert_eq!(
        store.take_capacity(&bo, "e1#0", now).await.unwrap(),
        Some(ana.clone())
    );
    let open = |agents: Vec<rules::agents::AgentLoad>, who: &AgentId| {
        agents.into_iter().find(|a| &a.agent == who).unwrap().open
    };
    assert_eq!(open(store.agents().await.unwrap(), &ana), 1);
    assert_eq!(open(store.agents().await.unwrap(), &bo), 0);
    assert_eq!(
        store.capacity_taken_by("e1#0").await.unwrap(),
        Some(ana.clone())
    );
    assert_eq!(store.capacity_taken_by("never").await.unwrap(), None);
    assert!(store.release_capacity(&ana, "e2#0", now).await.unwrap());
    assert!(!store.release_capacity(&ana, "e2#0", now).await.unwrap());
    assert_eq!(open(store.agents().await.unwrap(), &ana), 0);
}

// AUTO-5 (issue 16, case 7): a conversation an agent takes by hand counts toward their open
// conversations even over their reception limit (keyed, once), so the queue offers them nothing
// until they are under it again.
pub async fn auto_5_taking_by_hand_counts_over_the_limit<S: Harness>(store: S) {
    let now = t(1_000);
    let ana = agent("ana");
    store.put_agent(&ana, 2, true).await.unwrap();
    assert!(
        store
            .take_capacity(&ana, "a1", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .take_capacity(&ana, "a2", now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.take_capacity(&ana, "a3", now).await.unwrap(), None);
    assert!(
        store
            .take_capacity_by_hand(&ana, "claim1", now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_capacity_by_hand(&ana, "claim1", now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_capacity_by_hand(&agent("nobody"), "claim2", now)
            .await
            .unwrap()
    );
    let load = |agents: Vec<rules::agents::AgentLoad>| {
        agents.into_iter().find(|a| a.agent == ana).unwrap()
    };
    let a = load(store.agents().await.unwrap());
    assert_eq!((a.open, a.capacity), (3, 2));
    assert!(!a.has_capacity());
    // One closed: 2 of 2, still full; the queue head is not theirs.
    assert!(store.release_capacity(&ana, "close1", now).await.unwrap());
    assert!(!load(store.agents().await.unwrap()).has_capacity());
    assert_eq!(store.take_capacity(&ana, "a4", now).await.unwrap(), None);
}

pub async fn claiming_the_queue_head_is_atomic_and_keyed<S: Harness>(store: S) {
    // AUTO-5: the closing agent gets the oldest queued conversation; capacity and queue move
    // together, once per operation, and two agents never get the same conversation.
    let conv = |s: &str| ConversationId::new(s).unwrap();
    let now = t(1_000);
    let (ana, bo) = (agent("ana"), agent("bo"));
    store.put_agent(&ana, 1, true).await.unwrap();
    store.put_agent(&bo, 5, true).await.unwrap();
    assert_eq!(
        store
            .claim_queue_head(&number(), &ana, "empty", now)
            .await
            .unwrap(),
        None
    );
    store.enqueue(&queued("c-1", 10)).await.unwrap();
    store.enqueue(&queued("c-2", 20)).await.unwrap();
    store.enqueue(&queued("c-3", 30)).await.unwrap();
    let first = store
        .claim_queue_head(&number(), &ana, "close-1", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.conversation, conv("c-1"));
    // Repeated: the same entry, nothing more taken.
    let again = store
        .claim_queue_head(&number(), &ana, "close-1", now)
        .await
        .unwrap();
    assert_eq!(again, Some(first));
    // Ana is full now: no claim, the queue is untouched.
    assert_eq!(
        store
            .claim_queue_head(&number(), &ana, "close-2", now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.queue_position(&number(), &conv("c-2")).await.unwrap(),
        Some(1)
    );
    // Two concurrent claims by bo take two different conversations.
    let n = number();
    let (a, b) = tokio::join!(
        store.claim_queue_head(&n, &bo, "bo-1", now),
        store.claim_queue_head(&n, &bo, "bo-2", now)
    );
    let mut got = vec![
        a.unwrap().unwrap().conversation,
        b.unwrap().unwrap().conversation,
    ];
    got.sort();
    assert_eq!(got, vec![conv("c-2"), conv("c-3")]);
    assert!(store.queue_head(&number(), 10).await.unwrap().is_empty());
    let loads = store.agents().await.unwrap();
    let open = |who: &AgentId| loads.iter().find(|a| &a.agent == who).unwrap().open;
    assert_eq!((open(&ana), open(&bo)), (1, 2));
}

fn outreach(id: &str, wamid: &str, sent_at: Timestamp) -> OutreachRecord {
    OutreachRecord {
        id: OutreachId::new(id).unwrap(),
        wamid: MessageId::new(wamid).unwrap(),
        template: TemplateName::new("spring_sale").unwrap(),
        sent_at,
        buttons: vec!["Yes".into(), "No".into()],
        campaign: None,
    }
}

pub async fn expired_outreach_is_ignored_on_read<S: Harness>(store: S) {
    // WIN-6: TTL deletion runs late; reads filter on expires_at.
    let c = contact(1);
    let expiry = Duration::days(30);
    let old = outreach("o-old", "wamid.old", t(0));
    let new = outreach("o-new", "wamid.new", t(0) + Duration::days(20));
    for o in [&old, &new] {
        let item = NewOutreach {
            record: o.clone(),
            expires_at: outreach_expires_at(o.sent_at, expiry),
        };
        store.put_outreach(&number(), &c, &item).await.unwrap();
    }
    let early = store
        .load_contact(&number(), &c, t(0) + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(early.outreach.len(), 2);
    assert!(early.state.is_none());
    let late = store
        .load_contact(&number(), &c, outreach_expires_at(old.sent_at, expiry))
        .await
        .unwrap();
    assert_eq!(late.outreach, vec![new.clone()]);
    assert_eq!(
        late.outreach_by_wamid(&MessageId::new("wamid.new").unwrap()),
        Some(&new)
    );
    assert_eq!(
        late.outreach_by_wamid(&MessageId::new("wamid.old").unwrap()),
        None
    );
    // Outreach written by a commit reads back the same way.
    let mut commit = inbound(None, &c, "wamid.1", None, t(0) + Duration::days(33));
    let third = outreach("o-3", "wamid.3", t(0) + Duration::days(33));
    commit.outreach.push(NewOutreach {
        expires_at: outreach_expires_at(third.sent_at, expiry),
        record: third.clone(),
    });
    committed(&store, commit).await;
    let after = store
        .load_contact(&number(), &c, t(0) + Duration::days(53))
        .await
        .unwrap();
    assert_eq!(after.outreach, vec![third]);
}

fn wamid(s: &str) -> MessageId {
    MessageId::new(s).unwrap()
}

fn status(w: &str, status: DeliveryStatus, at: i64) -> StatusUpdate {
    StatusUpdate {
        wamid: wamid(w),
        status,
        at: t(at),
        pricing: None,
        error: None,
    }
}

pub async fn statuses_are_monotonic_in_any_order<S: Harness>(store: S) {
    // HOOK-3: a status delivered twice or late (`read` then `delivered`) never moves it back;
    // `failed` is kept with its error.
    // sent < delivered < read, whatever order the webhooks arrive in; pricing kept from the
    // status that carried it; failed is final and keeps its error.
    let c = contact(1);
    assert_eq!(
        store
            .claim_send("evt#0", &number(), &c, t(0), None)
            .await
            .unwrap(),
        SendClaim::Claimed
    );
    let read = store
        .apply_status(&status("wamid.a", DeliveryStatus::Read, 30))
        .await
        .unwrap();
    assert_eq!(read.status(), Some(DeliveryStatus::Read));
    let pricing =
        serde_json::json!({"billable": true, "category": "service", "pricing_model": "PMP"});
    let mut delivered = status("wamid.a", DeliveryStatus::Delivered, 20);
    delivered.pricing = Some(pricing.clone());
    let after = store.apply_status(&delivered).await.unwrap();
    assert_eq!(after.status(), Some(DeliveryStatus::Read));
    assert_eq!(after.pricing_json(), Some(pricing.clone()));
    store
        .record_sent("evt#0", &wamid("wamid.a"), t(10))
        .await
        .unwrap();
    let mut sent_again = status("wamid.a", DeliveryStatus::Sent, 11);
    sent_again.pricing = Some(serde_json::json!({"category": "other"}));
    store.apply_status(&sent_again).await.unwrap();
    let message = store
        .outbound_by_wamid(&wamid("wamid.a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.status(), Some(DeliveryStatus::Read));
    assert_eq!(message.sent_at, Some(t(10)));
    assert_eq!(message.delivered_at, Some(t(20)));
    assert_eq!(message.read_at, Some(t(30)));
    assert_eq!(message.pricing_json(), Some(pricing));
    assert_eq!(message.idempotency_key.as_deref(), Some("evt#0"));
    assert_eq!(message.contact, Some(c.clone()));

    let error = DeliveryError {
        code: 131_047,
        title: "Re-engagement message".into(),
        details: None,
    };
    let mut failed = status("wamid.b", DeliveryStatus::Failed, 5);
    failed.error = Some(error.clone());
    store.apply_status(&failed).await.unwrap();
    let late = store
        .apply_status(&status("wamid.b", DeliveryStatus::Delivered, 6))
        .await
        .unwrap();
    assert_eq!(late.status(), Some(DeliveryStatus::Failed));
    assert_eq!(late.error, Some(error));
    assert_eq!(
        store.outbound_by_wamid(&wamid("wamid.none")).await.unwrap(),
        None
    );
}

pub async fn send_claims_are_idempotent<S: Harness>(store: S) {
    let c = contact(1);
    assert_eq!(
        store
            .claim_send("k1", &number(), &c, t(0), None)
            .await
            .unwrap(),
        SendClaim::Claimed
    );
    assert_eq!(
        store
            .claim_send("k1", &number(), &c, t(1), None)
            .await
            .unwrap(),
        SendClaim::AlreadyClaimed { wamid: None }
    );
    assert_eq!(store.outbound_by_key("k1").await.unwrap(), Some(None));
    store
        .record_sent("k1", &wamid("wamid.k1"), t(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_send("k1", &number(), &c, t(3), None)
            .await
            .unwrap(),
        SendClaim::AlreadyClaimed {
            wamid: Some(wamid("wamid.k1"))
        }
    );
    assert_eq!(
        store.outbound_by_key("k1").await.unwrap(),
        Some(Some(wamid("wamid.k1")))
    );
    assert_eq!(store.outbound_by_key("k2").await.unwrap(), None);
    assert!(matches!(
        store.record_sent("k2", &wamid("wamid.k2"), t(4)).await,
        Err(StoreError::Invalid(_))
    ));
}

// The console's message log shows a contact's outbound sends with their delivery state: every
// claimed send is listed (newest first, within a time range), joined to its wamid and statuses.
pub async fn outbound_log_lists_a_contacts_sends_with_delivery_state<S: Harness>(store: S) {
    let (c, other) = (contact(1), contact(2));
    // The message as requested is kept with the claim, for the log to show.
    let text = serde_json::json!({"type": "text", "body": "Your order ships today"});
    for (k, who, at) in [("a", &c, 0), ("b", &c, 10), ("x", &other, 5), ("c", &c, 20)] {
        let body = (k == "b").then_some(&text);
        store
            .claim_send(k, &number(), who, t(at), body)
            .await
            .unwrap();
    }
    // A redelivered claim adds no second entry.
    store
        .claim_send("b", &number(), &c, t(30), Some(&text))
        .await
        .unwrap();
    store
        .record_sent("b", &wamid("wamid.b"), t(11))
        .await
        .unwrap();
    store
        .apply_status(&StatusUpdate {
            wamid: wamid("wamid.b"),
            status: DeliveryStatus::Delivered,
            at: t(12),
            pricing: None,
            error: None,
        })
        .await
        .unwrap();
    let all = store
        .outbound_log(
            &number(),
            &c,
            Timestamp::EPOCH,
            Timestamp::from_unix(i64::MAX),
            10,
        )
        .await
        .unwrap();
    let keys: Vec<&str> = all.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["c", "b", "a"]);
    assert_eq!(all[1].claimed_at, t(10));
    let b = all[1].message.as_ref().expect("sent");
    assert_eq!(b.status(), Some(DeliveryStatus::Delivered));
    assert_eq!(b.wamid, Some(wamid("wamid.b")));
    assert_eq!(all[1].body.as_ref(), Some(&text));
    assert_eq!(all[0].body, None, "a claim without a body shows none");
    assert_eq!(all[0].message, None); // claimed, not yet accepted by Meta
    // `[from, until)`: the lower bound is in, the upper bound out.
    let window = store
        .outbound_log(&number(), &c, t(10), t(20), 10)
        .await
        .unwrap();
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].idempotency_key, "b");
    let limited = store
        .outbound_log(&number(), &c, Timestamp::EPOCH, t(100), 2)
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].idempotency_key, "c");
    // Another contact's sends are its own; the log leaves `load_contact` untouched.
    let theirs = store
        .outbound_log(&number(), &other, Timestamp::EPOCH, t(100), 10)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        store.load_contact(&number(), &c, t(40)).await.unwrap(),
        LoadedContact::default()
    );
}

fn queued(conv: &str, at: i64) -> QueueEntry {
    QueueEntry {
        number: number(),
        conversation: ConversationId::new(conv).unwrap(),
        contact: contact(at as u32),
        enqueued_at: t(at),
        request: 1,
    }
}

pub async fn queue_is_first_in_first_out<S: Harness>(store: S) {
    // AUTO-4.
    assert_eq!(store.enqueue(&queued("c-b", 20)).await.unwrap(), 1);
    assert_eq!(store.enqueue(&queued("c-a", 10)).await.unwrap(), 1);
    assert_eq!(store.enqueue(&queued("c-c", 30)).await.unwrap(), 3);
    // Queued again: keeps its place.
    assert_eq!(store.enqueue(&queued("c-a", 40)).await.unwrap(), 1);
    let head = store.queue_head(&number(), 10).await.unwrap();
    let order: Vec<_> = head
        .iter()
        .map(|e| e.conversation.as_str().to_owned())
        .collect();
    assert_eq!(order, ["c-a", "c-b", "c-c"]);
    let conv = |s: &str| ConversationId::new(s).unwrap();
    assert_eq!(
        store.queue_position(&number(), &conv("c-c")).await.unwrap(),
        Some(3)
    );
    assert!(store.leave_queue(&number(), &conv("c-a")).await.unwrap());
    assert!(!store.leave_queue(&number(), &conv("c-a")).await.unwrap());
    assert_eq!(
        store.queue_position(&number(), &conv("c-a")).await.unwrap(),
        None
    );
    assert_eq!(
        store.queue_position(&number(), &conv("c-c")).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        store.queue_head(&number(), 1).await.unwrap()[0].conversation,
        conv("c-b")
    );
    let other = BusinessNumberId::new("999").unwrap();
    assert!(store.queue_head(&other, 10).await.unwrap().is_empty());
}

fn profile(first: &str, last: &str, email: &str, phone: &str) -> ContactProfile {
    ContactProfile {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        email: Some(email.into()),
        phone: Some(PhoneNumber::parse(phone).unwrap()),
        profile_name: None,
    }
}

async fn contact_with<S: Store>(
    store: &S,
    i: u32,
    conv: Option<Conversation>,
    assignee: Option<&str>,
    at: i64,
) {
    let c = contact(i);
    let loaded = store.load_contact(&number(), &c, t(at)).await.unwrap();
    let mut next = loaded
        .state
        .clone()
        .map(|s| s.value)
        .unwrap_or_else(|| ContactState::new(number(), c.clone()));
    next.conversation = conv;
    next.assignee = assignee.map(agent);
    let commit = Commit {
        event_key: key(&format!("e-{i}-{at}")),
        expected_version: loaded.version(),
        next,
        effects: Vec::new(),
        log: Vec::new(),
        outreach: Vec::new(),
        now: t(at),
    };
    committed(store, commit).await;
}

fn names(page: &Page<ContactSummary>) -> Vec<String> {
    page.items
        .iter()
        .map(|s| s.contact.as_str().to_owned())
        .collect()
}

pub async fn search_filters_scope_status_and_text<S: Harness>(store: S) {
    // CHAN-4: Mine / All × Open / Snoozed / Closed × first name, last name, email, phone.
    let open = ConversationStatus::Open;
    let snoozed = ConversationStatus::Snoozed { until: t(999) };
    store
        .put_profile(
            &number(),
            &contact(1),
            &profile("Maria", "Rossi", "maria@example.it", "+39 333 1234567"),
            t(0),
        )
        .await
        .unwrap();
    contact_with(
        &store,
        1,
        Some(conversation("c1", open, Some("ana"))),
        None,
        1,
    )
    .await;
    contact_with(&store, 2, Some(conversation("c2", snoozed, None)), None, 2).await;
    contact_with(&store, 3, None, Some("bo"), 3).await;
    store
        .put_profile(
            &number(),
            &contact(3),
            &profile("Jonas", "Weber", "jw@example.de", "+49 170 5550000"),
            t(3),
        )
        .await
        .unwrap();
    store
        .put_profile(
            &number(),
            &contact(4),
            &profile("Ana", "Lima", "ana@example.br", "+55 11 987654321"),
            t(4),
        )
        .await
        .unwrap();

    let search = |scope: Scope, status: InboxStatus, text: Option<&str>| ContactSearch {
        number: number(),
        scope,
        status,
        text: text.map(str::to_owned),
        limit: 10,
        cursor: None,
    };
    let run = |q: ContactSearch| {
        let store = store.clone();
        async move { names(&store.search_contacts(&q).await.unwrap()) }
    };
    let (c1, c2, c3, c4) = (
        contact(1).as_str().to_owned(),
        contact(2).as_str().to_owned(),
        contact(3).as_str().to_owned(),
        contact(4).as_str().to_owned(),
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Open, None)).await,
        [c1.as_str()]
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Snoozed, None)).await,
        [c2.as_str()]
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Closed, None)).await,
        [c4.as_str(), c3.as_str()]
    );
    assert_eq!(
        run(search(Scope::Mine(agent("ana")), InboxStatus::Open, None)).await,
        [c1.as_str()]
    );
    assert!(
        run(search(Scope::Mine(agent("bo")), InboxStatus::Open, None))
            .await
            .is_empty()
    );
    assert_eq!(
        run(search(Scope::Mine(agent("bo")), InboxStatus::Closed, None)).await,
        [c3.as_str()]
    );
    // Text: first name, last name, email, phone; case-insensitive; within the filter.
    assert_eq!(
        run(search(Scope::All, InboxStatus::Open, Some("MARIA"))).await,
        [c1.as_str()]
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Open, Some("ross"))).await,
        [c1.as_str()]
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Open, Some("@example.it"))).await,
        [c1.as_str()]
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Open, Some("+39 333 123"))).await,
        [c1.as_str()]
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Closed, Some("0170 555"))).await,
        [c3.as_str()]
    );
    assert_eq!(
        run(search(Scope::All, InboxStatus::Closed, Some("ana"))).await,
        [c4.as_str()]
    );
    assert!(
        run(search(Scope::All, InboxStatus::Open, Some("weber")))
            .await
            .is_empty()
    );
    assert!(
        run(search(Scope::All, InboxStatus::Closed, Some("nobody")))
            .await
            .is_empty()
    );
    // The derived fields move with the commit (search never lags): close c1's conversation.
    contact_with(&store, 1, None, Some("ana"), 5).await;
    assert!(
        run(search(Scope::All, InboxStatus::Open, None))
            .await
            .is_empty()
    );
    assert_eq!(
        run(search(
            Scope::Mine(agent("ana")),
            InboxStatus::Closed,
            Some("maria")
        ))
        .await,
        [c1.as_str()]
    );
    let summary = store
        .contact_summary(&number(), &contact(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.status, InboxStatus::Closed);
    assert_eq!(summary.assignee, Some(agent("ana")));
    assert_eq!(summary.profile.first_name.as_deref(), Some("Maria"));
}

pub async fn search_pages_newest_first<S: Harness>(store: S) {
    for i in 0..7 {
        let conv = conversation(&format!("c{i}"), ConversationStatus::Open, Some("ana"));
        contact_with(&store, i, Some(conv), None, i64::from(i) * 10).await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = store
            .search_contacts(&ContactSearch {
                number: number(),
                scope: Scope::Mine(agent("ana")),
                status: InboxStatus::Open,
                text: None,
                limit: 3,
                cursor: cursor.clone(),
            })
            .await
            .unwrap();
        pages.push(page.items.len());
        seen.extend(page.items.iter().map(|s| s.updated_at));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, [3, 3, 1]);
    let expected: Vec<_> = (0..7).rev().map(|i| t(i * 10)).collect();
    assert_eq!(seen, expected);
}

pub async fn message_log_pages_newest_first<S: Harness>(store: S) {
    let c = contact(1);
    let mut state = None;
    let mut version = None;
    for i in 0..25 {
        let commit = inbound(state.clone(), &c, &format!("wamid.{i:02}"), version, t(i));
        state = Some(commit.next.clone());
        version = Some(committed(&store, commit).await);
    }
    let mut all = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .message_log(&number(), &c, 10, cursor.as_deref())
            .await
            .unwrap();
        sizes.push(page.items.len());
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    let keys: Vec<_> = all
        .iter()
        .map(|m| m.event_key.as_str().to_owned())
        .collect();
    let expected: Vec<_> = (0..25).rev().map(|i| format!("wamid.{i:02}")).collect();
    assert_eq!(keys, expected);
    assert_eq!(
        all[0].record.body,
        Some(serde_json::json!({"text": "hello wamid.24"}))
    );
    assert_eq!(
        all.iter()
            .map(|m| &m.event_key)
            .collect::<HashSet<_>>()
            .len(),
        25
    );
}

pub async fn outbox_lists_and_marks_done<S: Harness>(store: S) {
    // ARCHITECTURE invariant 3: the effects are committed with the state; a redelivered event
    // finds them by its key.
    let c = contact(1);
    let mut commit = inbound(None, &c, "wamid.1", None, t(1));
    commit.effects.push(send("second"));
    committed(&store, commit).await;
    let pending = store.pending_effects(&number(), &c).await.unwrap().unwrap();
    assert_eq!(pending.event_key, key("wamid.1"));
    let ids: Vec<_> = pending.effects.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["wamid.1#0", "wamid.1#1"]);
    let loaded = store.load_contact(&number(), &c, t(2)).await.unwrap();
    assert!(loaded.is_pending_event(&key("wamid.1")));
    assert!(
        !store
            .mark_effects_done(&number(), &c, &key("wamid.other"))
            .await
            .unwrap()
    );
    assert!(
        store
            .mark_effects_done(&number(), &c, &key("wamid.1"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_effects_done(&number(), &c, &key("wamid.1"))
            .await
            .unwrap()
    );
    assert_eq!(store.pending_effects(&number(), &c).await.unwrap(), None);
    // Marking done does not move the version; the next commit replaces the outbox.
    let loaded = store.load_contact(&number(), &c, t(3)).await.unwrap();
    assert_eq!(loaded.version(), Some(1));
    assert_eq!(loaded.outbox, None);
    let next = inbound(loaded.state.map(|s| s.value), &c, "wamid.2", Some(1), t(3));
    committed(&store, next).await;
    assert_eq!(
        store
            .pending_effects(&number(), &c)
            .await
            .unwrap()
            .unwrap()
            .event_key,
        key("wamid.2")
    );
    // A commit with no effects leaves no outbox.
    let loaded = store.load_contact(&number(), &c, t(4)).await.unwrap();
    let mut quiet = inbound(loaded.state.map(|s| s.value), &c, "wamid.3", Some(2), t(4));
    quiet.effects.clear();
    committed(&store, quiet).await;
    assert_eq!(store.pending_effects(&number(), &c).await.unwrap(), None);
    assert_eq!(
        store.pending_effects(&number(), &contact(9)).await.unwrap(),
        None
    );
}

pub async fn profile_survives_commits<S: Harness>(store: S) {
    let c = contact(1);
    let p = profile("Maria", "Rossi", "maria@example.it", "+39 333 1234567");
    store.put_profile(&number(), &c, &p, t(0)).await.unwrap();
    // A profile alone is not a state: the first commit still expects no version.
    assert_eq!(
        store.load_contact(&number(), &c, t(0)).await.unwrap().state,
        None
    );
    let summary = store.contact_summary(&number(), &c).await.unwrap().unwrap();
    assert_eq!(
        (summary.status, summary.profile.clone()),
        (InboxStatus::Closed, p.clone())
    );
    committed(&store, inbound(None, &c, "wamid.1", None, t(1))).await;
    let summary = store.contact_summary(&number(), &c).await.unwrap().unwrap();
    assert_eq!(summary.profile, p);
    assert_eq!(summary.status, InboxStatus::Open);
    assert_eq!(summary.updated_at, t(1));
    assert_eq!(
        store.contact_summary(&number(), &contact(2)).await.unwrap(),
        None
    );
}

pub async fn corrupt_state_is_a_typed_error_naming_the_key<S: Harness>(store: S) {
    let c = contact(1);
    store.corrupt_state(&number(), &c).await;
    let expected = keys::state(&number(), &c);
    match store.load_contact(&number(), &c, t(0)).await {
        Err(StoreError::Corrupt { pk, sk, .. }) => {
            assert_eq!((pk, sk), (expected.pk.clone(), expected.sk.clone()))
        }
        other => panic!("expected a corrupt-item error, got {other:?}"),
    }
    assert!(matches!(
        store.pending_effects(&number(), &c).await,
        Err(StoreError::Corrupt { .. })
    ));
    let err = store.contact_summary(&number(), &c).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains(&expected.pk), "{err}");
}

pub async fn settings_and_templates_round_trip<S: Harness>(store: S) {
    assert_eq!(store.settings(&number()).await.unwrap(), None);
    let mut settings = NumberSettings::new(number());
    settings.auto_close_after = Some(Duration::hours(24));
    settings.expired_outreach_text = "Expired — how can we help?".into();
    store.put_settings(&settings).await.unwrap();
    assert_eq!(store.settings(&number()).await.unwrap(), Some(settings));

    use rules::templates::{Template, TemplateCategory};
    let a = Template::new(
        TemplateName::new("welcome").unwrap(),
        "en_US",
        TemplateCategory::Utility,
        "Hi {{1}}",
    );
    let mut b = Template::new(
        TemplateName::new("welcome").unwrap(),
        "it",
        TemplateCategory::Utility,
        "Ciao {{1}}",
    );
    store.put_template(&number(), &a).await.unwrap();
    store.put_template(&number(), &b).await.unwrap();
    b.recontact = true;
    store.put_template(&number(), &b).await.unwrap();
    let got = store
        .template(&number(), &TemplateName::new("welcome").unwrap(), "it")
        .await
        .unwrap();
    assert_eq!(got, Some(b.clone()));
    let all = store.templates(&number()).await.unwrap();
    assert_eq!(all, vec![a, b]);
    assert!(
        store
            .templates(&BusinessNumberId::new("other").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn ledger_adds_per_day_and_category<S: Harness>(store: S) {
    let d1 = Date::new(2025, 6, 1);
    let d2 = Date::new(2025, 6, 2);
    let d3 = Date::new(2025, 6, 3);
    store
        .add_to_ledger(&number(), d1, "marketing", LedgerSide::Predicted, 1, 62_500)
        .await
        .unwrap();
    store
        .add_to_ledger(&number(), d1, "marketing", LedgerSide::Predicted, 1, 62_500)
        .await
        .unwrap();
    store
        .add_to_ledger(&number(), d1, "marketing", LedgerSide::Reported, 1, 61_000)
        .await
        .unwrap();
    store
        .add_to_ledger(&number(), d1, "utility", LedgerSide::Predicted, 3, 30_000)
        .await
        .unwrap();
    store
        .add_to_ledger(&number(), d2, "service", LedgerSide::Reported, 1, 0)
        .await
        .unwrap();
    store
        .add_to_ledger(&number(), d3, "marketing", LedgerSide::Predicted, 1, 1)
        .await
        .unwrap();
    let lines = store.ledger(&number(), d1, d2).await.unwrap();
    let summary: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.day.as_str(),
                l.category.as_str(),
                l.predicted_count,
                l.predicted_micros,
                l.reported_count,
                l.reported_micros,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("2025-06-01", "marketing", 2, 125_000, 1, 61_000),
            ("2025-06-01", "utility", 3, 30_000, 0, 0),
            ("2025-06-02", "service", 0, 0, 1, 0),
        ]
    );
}

pub async fn campaign_hopper_counts_follow_rows<S: Harness>(store: S) {
    let id = CampaignId::new("spring").unwrap();
    let record = CampaignRecord {
        id: id.clone(),
        number: number(),
        definition: serde_json::json!({"template": "spring_sale", "respond_within_hours": 48}),
        hopper: Default::default(),
    };
    store.put_campaign(&record).await.unwrap();
    let row = |i: u32, stage: &str| CampaignRow {
        contact: contact(i),
        stage: stage.into(),
        data: serde_json::json!({"first_name": format!("n{i}")}),
    };
    for i in 0..5 {
        assert!(
            store
                .add_campaign_row(&id, &row(i, "queued"))
                .await
                .unwrap()
        );
    }
    assert!(
        !store
            .add_campaign_row(&id, &row(0, "queued"))
            .await
            .unwrap()
    );
    assert!(
        store
            .move_campaign_row(&id, "queued", &row(0, "sent"))
            .await
            .unwrap()
    );
    assert!(
        store
            .move_campaign_row(&id, "queued", &row(1, "sent"))
            .await
            .unwrap()
    );
    assert!(
        store
            .move_campaign_row(&id, "sent", &row(1, "answered"))
            .await
            .unwrap()
    );
    // Moved by someone else already: refused, counters untouched.
    assert!(
        !store
            .move_campaign_row(&id, "queued", &row(1, "sent"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .move_campaign_row(&id, "queued", &row(77, "sent"))
            .await
            .unwrap()
    );
    // Re-putting the definition keeps the counters.
    store.put_campaign(&record).await.unwrap();
    let got = store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(got.definition, record.definition);
    let hopper: Vec<_> = got
        .hopper
        .iter()
        .filter(|(_, n)| **n != 0)
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    assert_eq!(hopper, [("answered", 1), ("queued", 3), ("sent", 1)]);
    let first = store.campaign_rows(&id, 3, None).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let rest = store
        .campaign_rows(&id, 3, first.next.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.next, None);
    assert_eq!(rest.items[1].data, serde_json::json!({"first_name": "n4"}));
    assert_eq!(first.items[1].stage, "answered");
    assert!(
        store
            .campaign(&CampaignId::new("none").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store
            .add_campaign_row(&CampaignId::new("none").unwrap(), &row(1, "queued"))
            .await,
        Err(StoreError::Invalid(_))
    ));
}

/// Campaign writes are versioned: a create is conditional on absence, an update on the version
/// read (the console's 409 on a stale version), every definition write bumps the version, and
/// row moves (hopper counts) do not; the counters survive every definition write.
pub async fn campaign_definition_writes_are_versioned<S: Harness>(store: S) {
    let id = CampaignId::new("versioned").unwrap();
    let record = |step: u32| CampaignRecord {
        id: id.clone(),
        number: number(),
        definition: serde_json::json!({ "step": step }),
        hopper: Default::default(),
    };
    assert!(store.versioned_campaign(&id).await.unwrap().is_none());
    // Updating what does not exist is refused, creating it is not.
    assert_eq!(
        store.put_campaign_if(&record(0), Some(1)).await.unwrap(),
        None
    );
    assert_eq!(
        store.put_campaign_if(&record(1), None).await.unwrap(),
        Some(1)
    );
    // A second create loses.
    assert_eq!(store.put_campaign_if(&record(9), None).await.unwrap(), None);
    let read = store.versioned_campaign(&id).await.unwrap().unwrap();
    assert_eq!(read.version, 1);
    assert_eq!(read.value.definition, serde_json::json!({ "step": 1 }));
    // Rows move the counters, never the version.
    let row = CampaignRow {
        contact: contact(1),
        stage: "fresh".into(),
        data: serde_json::json!({}),
    };
    assert!(store.add_campaign_row(&id, &row).await.unwrap());
    assert_eq!(
        store
            .versioned_campaign(&id)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    // Two writers read version 1: exactly one wins, the other sees a stale version.
    assert_eq!(
        store.put_campaign_if(&record(2), Some(1)).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        store.put_campaign_if(&record(3), Some(1)).await.unwrap(),
        None
    );
    // An unconditional write bumps the version too, so a writer holding 2 is now stale.
    store.put_campaign(&record(4)).await.unwrap();
    let read = store.versioned_campaign(&id).await.unwrap().unwrap();
    assert_eq!(read.version, 3);
    assert_eq!(read.value.definition, serde_json::json!({ "step": 4 }));
    assert_eq!(
        store.put_campaign_if(&record(5), Some(2)).await.unwrap(),
        None
    );
    assert_eq!(
        store.put_campaign_if(&record(5), Some(3)).await.unwrap(),
        Some(4)
    );
    let read = store.versioned_campaign(&id).await.unwrap().unwrap();
    assert_eq!(read.value.hopper.get("fresh"), Some(&1), "counters kept");
    assert_eq!(
        store.campaign(&id).await.unwrap().unwrap().definition,
        serde_json::json!({ "step": 5 })
    );
    // Concurrent conditional writers from one version: exactly one wins.
    let wins = futures_join(&store, &id, 4).await;
    assert_eq!(wins, 1);
}

async fn futures_join<S: Harness>(store: &S, id: &CampaignId, version: u64) -> usize {
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let store = store.clone();
        let record = CampaignRecord {
            id: id.clone(),
            number: number(),
            definition: serde_json::json!({ "writer": i }),
            hopper: Default::default(),
        };
        tasks.push(tokio::spawn(async move {
            store.put_campaign_if(&record, Some(version)).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            wins += 1;
        }
    }
    wins
}

/// DESK-1 (`GET /v1/me`): every number with settings, in id order, once however often written.
pub async fn desk_1_numbers_lists_every_number_with_settings<S: Harness>(store: S) {
    assert!(store.numbers().await.unwrap().is_empty());
    let second = BusinessNumberId::new("206540352242922").unwrap();
    store
        .put_settings(&NumberSettings::new(second.clone()))
        .await
        .unwrap();
    store
        .put_settings(&NumberSettings::new(number()))
        .await
        .unwrap();
    store
        .put_settings(&NumberSettings::new(number()))
        .await
        .unwrap();
    assert_eq!(store.numbers().await.unwrap(), vec![number(), second]);
}

/// DESK-2, DESK-3: a contact's summary carries the name WhatsApp sent (the console's wins), the
/// unread count and since when a customer waits.
pub async fn desk_2_summary_carries_the_whatsapp_name_unread_and_waiting<S: Harness>(store: S) {
    let c = contact(1);
    let mut commit = inbound(None, &c, "wamid.1", None, t(1));
    commit.next.profile_name = Some("Kim".into());
    if let Some(conv) = commit.next.conversation.as_mut() {
        conv.unanswered_since = Some(t(1));
        conv.unanswered_count = 2;
    }
    committed(&store, commit).await;
    let s = store.contact_summary(&number(), &c).await.unwrap().unwrap();
    assert_eq!(
        (s.profile.profile_name.as_deref(), s.unread, s.waiting_since),
        (Some("Kim"), 2, Some(t(1)))
    );
    let mut p = profile("Kim", "Lee", "kim@example.com", "+49 151 1234567");
    p.profile_name = Some("Kimberly".into());
    store.put_profile(&number(), &c, &p, t(2)).await.unwrap();
    let s = store.contact_summary(&number(), &c).await.unwrap().unwrap();
    assert_eq!(s.profile.profile_name.as_deref(), Some("Kimberly"));
}

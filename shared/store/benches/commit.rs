//! Inbound-message commits per second on the embedded store (target: >= 20,000/s with 1,000
//! contacts). Each iteration is the router's path for one inbound text on an existing
//! conversation: `load_contact` (one read) + `commit` (state, outbox, log entry, dedup marker).
//!
//! `cargo bench -p switchboard-store --bench commit`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rules::effect::{Effect, LogEntry, OutboundContent, SendPurpose, SendRequest};
use rules::state::{Conversation, ConversationStatus, Handler, Origin};
use rules::{
    BusinessNumberId, ContactKey, ContactState, ConversationId, EventKey, MessageId, Timestamp,
};
use std::sync::atomic::{AtomicU64, Ordering};
use store::{Commit, CommitOutcome, ContactStore, LogRecord, SqliteStore};

static EVENT: AtomicU64 = AtomicU64::new(0);

/// Concurrent lanes for the 1,000-contact case (the single-contact case has one).
const LANES: usize = 32;

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn contact(i: usize) -> ContactKey {
    ContactKey::new(format!("49151{i:08}")).unwrap()
}

fn inbound(state: Option<ContactState>, c: &ContactKey, expected: Option<u64>) -> Commit {
    let n = EVENT.fetch_add(1, Ordering::Relaxed);
    let at = Timestamp::from_unix(1_750_000_000 + n as i64 / 100);
    let event = format!("wamid.HBgNNDkxNTEyMzQ1Njc4OQ{n:012}");
    let mut next = state.unwrap_or_else(|| ContactState::new(number(), c.clone()));
    let conversation = ConversationId::new(format!("{c}#1")).unwrap();
    next.conversation.get_or_insert(Conversation {
        id: conversation.clone(),
        status: ConversationStatus::Open,
        handler: Handler::Bot {
            recipe: rules::RecipeId::new("faq").unwrap(),
            step: "start".into(),
        },
        opened_at: at,
        origin: Origin::Inbound,
        last_customer_at: Some(at),
        last_agent_at: None,
        unanswered_since: None,
        reminded: false,
        agent_involved: false,
        nudged_for: None,
        referral: None,
    });
    if let Some(conv) = next.conversation.as_mut() {
        conv.last_customer_at = Some(at);
    }
    Commit {
        event_key: EventKey::new(event.clone()).unwrap(),
        expected_version: expected,
        next,
        effects: vec![Effect::Send(SendRequest {
            purpose: SendPurpose::Bot,
            content: OutboundContent::text("Thanks, we got your message."),
            conversation: Some(conversation.clone()),
            recontact_if_closed: false,
        })],
        log: vec![LogRecord {
            entry: LogEntry::Inbound {
                message: MessageId::new(event).unwrap(),
                conversation: Some(conversation),
                at,
            },
            body: Some(
                serde_json::json!({"type": "text", "text": "Hello, is my order on its way?"}),
            ),
        }],
        outreach: Vec::new(),
        now: at,
    }
}

async fn one_message(store: &SqliteStore, c: &ContactKey) {
    let now = Timestamp::from_unix(1_750_000_000);
    let loaded = store.load_contact(&number(), c, now).await.unwrap();
    let version = loaded.version();
    let commit = inbound(loaded.state.map(|s| s.value), c, version);
    match store.commit(commit).await.unwrap() {
        CommitOutcome::Committed { .. } => {}
        other => panic!("{other:?}"),
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("switchboard-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut group = c.benchmark_group("sqlite_inbound");
    group.throughput(Throughput::Elements(1));
    for contacts in [1usize, 1_000] {
        let store = SqliteStore::open(dir.join(format!("bench-{contacts}.db"))).unwrap();
        let keys: Vec<_> = (0..contacts).map(contact).collect();
        runtime.block_on(async {
            for k in &keys {
                one_message(&store, k).await;
            }
        });
        // One lane per contact group, as the runner applies different contacts' events
        // concurrently (each contact's own events stay in order: a lane owns its contacts).
        let lanes = LANES.min(contacts);
        group.bench_function(format!("load_and_commit/{contacts}_contacts"), |b| {
            b.iter_custom(|iterations| {
                let per_lane = (iterations as usize).div_ceil(lanes);
                let start = std::time::Instant::now();
                runtime.block_on(async {
                    let mut tasks = Vec::new();
                    for lane in 0..lanes {
                        let store = store.clone();
                        let mine: Vec<_> = keys.iter().skip(lane).step_by(lanes).cloned().collect();
                        tasks.push(tokio::spawn(async move {
                            for i in 0..per_lane {
                                one_message(&store, &mine[i % mine.len()]).await;
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
                start
                    .elapsed()
                    .mul_f64(iterations as f64 / (per_lane * lanes) as f64)
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);

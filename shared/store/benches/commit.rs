//! Inbound messages per second on the embedded store (target: >= 20,000/s with 1,000 contacts).
//! Each iteration is the router's path for one inbound text from an existing contact on an open
//! conversation: `load_contact` (one read), `rules::decide` on the loaded state, and `commit` of
//! that decision (state with its outbox, the log entry with the message body, the dedup marker).
//! Criterion's `thrpt` is messages/s; a summary line per case is printed at the end as well.
//!
//! Cases: one contact (one lane: each message waits for the previous one), and 1,000 distinct
//! contacts spread over 32 concurrent lanes (the runner applies different contacts' events
//! concurrently, each contact's own events in order). Every contact has an open conversation
//! before measuring starts. The 1,000-contact case runs again without the event log's triggers
//! (EVT-1): the difference is what producing events costs a commit.
//!
//! `cargo bench -p switchboard-store --bench commit`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rules::engine::Context;
use rules::event::{Event, Inbound, InboundContent};
use rules::outreach::OutreachKey;
use rules::{
    BusinessNumberId, ContactKey, ContactState, EventKey, MessageId, NumberSettings, Timestamp,
};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::{Commit, CommitOutcome, ContactStore, SqliteStore};

static EVENT: AtomicU64 = AtomicU64::new(0);

/// Concurrent lanes for the 1,000-contact case (the single-contact case has one).
const LANES: usize = 32;

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn contact(i: usize) -> ContactKey {
    ContactKey::new(format!("49151{i:08}")).unwrap()
}

struct Rules {
    settings: NumberSettings,
    key: OutreachKey,
}

/// One inbound text through the router's path: load, decide, commit.
async fn one_message(store: &SqliteStore, rules: &Rules, c: &ContactKey) {
    let n = EVENT.fetch_add(1, Ordering::Relaxed);
    let at = Timestamp::from_unix(1_750_000_000 + n as i64 / 100);
    let wamid = MessageId::new(format!("wamid.HBgNNDkxNTEyMzQ1Njc4OQ{n:012}")).unwrap();
    let loaded = store.load_contact(&number(), c, at).await.unwrap();
    let version = loaded.version();
    let state = loaded
        .state
        .map(|s| s.value)
        .unwrap_or_else(|| ContactState::new(number(), c.clone()));
    let event = Event::Inbound(Inbound {
        id: wamid.clone(),
        at,
        content: InboundContent::Message,
        context: None,
        outreach: None,
        referral: None,
    });
    let ctx = Context {
        settings: &rules.settings,
        outreach_key: &rules.key,
    };
    let decision = rules::decide(&state, &event, &ctx, at);
    let mut commit = Commit::from_decision(
        EventKey::new(wamid.as_str()).unwrap(),
        version,
        decision,
        at,
    );
    // The shell keeps the message's content in the log.
    for record in &mut commit.log {
        record.body =
            Some(serde_json::json!({"type": "text", "text": "Hello, is my order on its way?"}));
    }
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
    let rules = std::sync::Arc::new(Rules {
        settings: NumberSettings::new(number()),
        key: OutreachKey::new(b"bench-deployment-key".to_vec()),
    });
    let summary: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut group = c.benchmark_group("sqlite_inbound");
    group.throughput(Throughput::Elements(1));
    // The last case measures the same load without the event log's triggers (EVT-1), so one run
    // shows what producing the events costs the commit path.
    for (contacts, event_log) in [(1usize, true), (1_000, true), (1_000, false)] {
        let name = if event_log {
            format!("{contacts}_contacts")
        } else {
            format!("{contacts}_contacts_without_event_log")
        };
        let store = SqliteStore::open(dir.join(format!("bench-{name}.db"))).unwrap();
        if !event_log {
            runtime.block_on(async {
                for trigger in [
                    "event_log_appended",
                    "event_log_created",
                    "event_log_changed",
                ] {
                    store
                        .execute_raw(&format!("DROP TRIGGER {trigger}"))
                        .await
                        .unwrap();
                }
            });
        }
        let keys: Vec<_> = (0..contacts).map(contact).collect();
        // Every contact opens its conversation (and is past the first reply) before measuring.
        runtime.block_on(async {
            for _ in 0..2 {
                for k in &keys {
                    one_message(&store, &rules, k).await;
                }
            }
        });
        let (mut messages, mut elapsed) = (0u64, Duration::ZERO);
        // One lane per contact group, as the runner applies different contacts' events
        // concurrently (each contact's own events stay in order: a lane owns its contacts).
        let lanes = LANES.min(contacts);
        group.bench_function(format!("load_and_commit/{name}"), |b| {
            b.iter_custom(|iterations| {
                let per_lane = (iterations as usize).div_ceil(lanes);
                let start = std::time::Instant::now();
                runtime.block_on(async {
                    let mut tasks = Vec::new();
                    for lane in 0..lanes {
                        let store = store.clone();
                        let rules = rules.clone();
                        let mine: Vec<_> = keys.iter().skip(lane).step_by(lanes).cloned().collect();
                        tasks.push(tokio::spawn(async move {
                            for i in 0..per_lane {
                                one_message(&store, &rules, &mine[i % mine.len()]).await;
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
                let took = start.elapsed();
                messages += (per_lane * lanes) as u64;
                elapsed += took;
                took.mul_f64(iterations as f64 / (per_lane * lanes) as f64)
            })
        });
        if messages > 0 {
            summary.lock().unwrap().push(format!(
                "{name}, {lanes} lane(s): {messages} inbound messages in {:.2} s = {:.0} messages/s (warm-up included)",
                elapsed.as_secs_f64(),
                messages as f64 / elapsed.as_secs_f64()
            ));
        }
    }
    group.finish();
    for line in summary.lock().unwrap().iter() {
        println!("{line}");
    }
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

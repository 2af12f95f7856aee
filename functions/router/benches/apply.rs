//! The router's whole path for one inbound text, on the embedded store: parse nothing (the
//! event is normalised), load, decide, commit, and execute the effects (the bot's reply onto the
//! in-process outbound queue, the timer wheel). One contact's bot conversation, and 1,000
//! contacts over 32 concurrent lanes (as the local runner applies them).
//!
//! `cargo bench -p router --bench apply`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use queue::MemoryQueue;
use router::Router;
use rules::outreach::OutreachKey;
use rules::recipe::{Next, Recipe, RecipeButton, Step};
use rules::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use store::{SettingsStore, SqliteStore};
use timers::TimerWheel;

static SEQ: AtomicU64 = AtomicU64::new(0);
const LANES: usize = 32;

type BenchRouter = Router<SqliteStore, Arc<MemoryQueue>, Arc<TimerWheel>>;

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn settings() -> NumberSettings {
    let mut s = NumberSettings::new(number());
    s.recipe = Some(Recipe {
        id: RecipeId::new("faq").unwrap(),
        start: "menu".into(),
        steps: vec![Step {
            id: "menu".into(),
            text: "Hi! What do you need?".into(),
            buttons: vec![RecipeButton {
                title: "Talk to a person".into(),
                next: Next::HandOff,
            }],
            on_text: None,
        }],
    });
    s
}

fn event(contact: &str) -> whatsapp::Event {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let id = format!("wamid.HBgNNDkxNTEyMzQ1Njc4OQ{n:012}");
    serde_json::from_value(serde_json::json!({
        "key": id,
        "waba_id": "waba-1",
        "business": { "phone_number_id": number().as_str() },
        "body": {
            "kind": "message", "id": id, "timestamp": 1_767_225_600,
            "contact": { "key": contact, "wa_id": contact },
            "content": { "type": "text", "body": "hello" }
        }
    }))
    .unwrap()
}

fn contact(i: usize) -> String {
    format!("49151{i:08}")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("router-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(dir.join("bench.db")).unwrap();
    let queue = Arc::new(MemoryQueue::new());
    let router: Arc<BenchRouter> = Arc::new(Router::new(
        store.clone(),
        queue.clone(),
        Arc::new(TimerWheel::new()),
        OutreachKey::new(b"bench".to_vec()),
    ));
    runtime.block_on(async {
        store.put_settings(&settings()).await.unwrap();
        for i in 0..1000 {
            router
                .apply(&event(&contact(i)), Timestamp::from_unix(1_767_225_600))
                .await
                .unwrap();
        }
    });
    let now = Timestamp::from_unix(1_767_225_660);

    let mut group = c.benchmark_group("router_apply");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_contact", |b| {
        b.iter(|| {
            runtime
                .block_on(router.apply(&event(&contact(0)), now))
                .unwrap();
            queue.take(queue::Destination::Outbound);
        })
    });
    group.throughput(Throughput::Elements(LANES as u64));
    group.bench_function("1000_contacts_32_lanes", |b| {
        let mut next = 0usize;
        b.iter(|| {
            let start = next;
            next = (next + LANES) % 1000;
            runtime.block_on(async {
                let mut tasks = tokio::task::JoinSet::new();
                for lane in 0..LANES {
                    let router = router.clone();
                    let who = contact((start + lane) % 1000);
                    tasks.spawn(async move { router.apply(&event(&who), now).await.unwrap() });
                }
                while tasks.join_next().await.is_some() {}
            });
            queue.take(queue::Destination::Outbound);
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The sender's per-job path on the embedded store with the Graph API twin (so the HTTP round
//! trip is excluded): take the key, load the contact (SEND-1), read the template, pace it (number
//! and recipient, SEND-3), predict its cost (BILL-3), call the twin, record the acceptance (send
//! record, wamid link, status item, ledger line in one write). Pacing runs but never waits in real
//! time: the clock is a manual one that a pacing wait moves forward.
//!
//! Cases: a free-form reply inside the CSW to one of 1,000 contacts; an outreach template (its
//! OUT-8 payloads, outreach record and lane event); a redelivered job (the idempotent no-op); a
//! status webhook with pricing (status, reported ledger line once). 8 jobs run concurrently, as
//! in one SQS batch. Criterion's `thrpt` is jobs/s.
//!
//! `cargo bench -p sender --bench send`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use queue::{MemoryQueue, OutreachPlan, SendJob, SendOrigin};
use rules::outreach::OutreachKey;
use rules::templates::{Button, Template, TemplateCategory, TemplateStatus};
use rules::{
    BusinessNumberId, ContactKey, ContactState, EventKey, MessageId, OutboundContent, OutreachId,
    SendPurpose, SendRequest, TemplateName, Timestamp,
};
use sender::{ManualClock, MemoryGraph, Options, RecordedAlerts, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use store::{Commit, ContactStore, SqliteStore, TemplateStore};

const CONTACTS: usize = 1_000;
const BATCH: usize = 8;
static NEXT: AtomicU64 = AtomicU64::new(0);

type Bench = Sender<SqliteStore, Arc<MemoryQueue>, Arc<MemoryGraph>, ManualClock>;

fn number() -> BusinessNumberId {
    BusinessNumberId::new("200000000000001").unwrap()
}

fn contact(i: usize) -> ContactKey {
    ContactKey::new(format!("1555{i:07}")).unwrap()
}

fn job(i: u64, outreach: bool) -> SendJob {
    let c = contact(i as usize % CONTACTS);
    let (content, plan) = if outreach {
        (
            OutboundContent::Template {
                name: TemplateName::new("order_update").unwrap(),
                language: "en_US".into(),
                header: None,
                parameters: vec![],
                button_payloads: vec![],
            },
            Some(OutreachPlan {
                id: OutreachId::new(format!("o-bench-{i}")).unwrap(),
                buttons: vec!["Track".into(), "Help".into()],
                campaign: None,
            }),
        )
    } else {
        (OutboundContent::text("Your order is on its way."), None)
    };
    SendJob {
        key: format!("bench:{i}"),
        number: number(),
        contact: c,
        request: SendRequest {
            purpose: SendPurpose::Bot,
            content,
            conversation: None,
            recontact_if_closed: false,
        },
        origin: SendOrigin::Router {
            event_key: format!("wamid.in.{i}"),
        },
        requested_at: Timestamp::from_unix(1_760_000_000),
        outreach: plan,
    }
}

fn setup(rt: &tokio::runtime::Runtime) -> (Arc<Bench>, Arc<MemoryQueue>) {
    let dir = std::env::temp_dir().join("switchboard-sender-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    let clock = ManualClock::new(Timestamp::from_unix(1_760_000_000));
    let time = clock.clone();
    let graph = Arc::new(MemoryGraph::new(move || sender::Clock::now_ms(&time)));
    let queue = Arc::new(MemoryQueue::new());
    rt.block_on(async {
        let mut template = Template::new(
            TemplateName::new("order_update").unwrap(),
            "en_US",
            TemplateCategory::Utility,
            "Your order is on its way.",
        );
        template.status = TemplateStatus::Approved;
        template.buttons = vec![
            Button::QuickReply {
                text: "Track".into(),
            },
            Button::QuickReply {
                text: "Help".into(),
            },
        ];
        store.put_template(&number(), &template).await.unwrap();
        // Every contact wrote a minute ago: the CSW is open (the window lasts the whole run,
        // since pacing waits move the manual clock by at most a few hours).
        for i in 0..CONTACTS {
            let mut state = ContactState::new(number(), contact(i));
            state
                .windows
                .record_inbound(Timestamp::from_unix(1_760_000_000 + 36_000), false);
            store
                .commit(Commit {
                    event_key: EventKey::new(format!("in:{i}")).unwrap(),
                    expected_version: None,
                    next: state,
                    effects: vec![],
                    log: vec![],
                    outreach: vec![],
                    now: Timestamp::from_unix(1_760_000_000),
                })
                .await
                .unwrap();
        }
    });
    let sender = Arc::new(Sender::new(
        store,
        queue.clone(),
        graph,
        clock,
        Arc::new(RecordedAlerts::default()),
        OutreachKey::new(b"bench-outreach-key".to_vec()),
        Options::default(),
    ));
    (sender, queue)
}

async fn batch(sender: &Arc<Bench>, jobs: Vec<SendJob>) {
    let mut tasks = tokio::task::JoinSet::new();
    for job in jobs {
        let sender = sender.clone();
        tasks.spawn(async move {
            let outcome = sender.send(job).await.unwrap();
            assert!(
                matches!(
                    outcome,
                    sender::Outcome::Sent { .. } | sender::Outcome::AlreadySent { .. }
                ),
                "{outcome:?}"
            );
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sender, queue) = setup(&rt);
    let mut group = c.benchmark_group("sender");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(30);

    group.bench_function("free_form_in_window", |b| {
        b.iter(|| {
            let jobs = (0..BATCH)
                .map(|_| job(NEXT.fetch_add(1, Ordering::Relaxed), false))
                .collect();
            rt.block_on(batch(&sender, jobs));
        })
    });
    group.bench_function("outreach_template", |b| {
        b.iter(|| {
            let jobs = (0..BATCH)
                .map(|_| job(NEXT.fetch_add(1, Ordering::Relaxed), true))
                .collect();
            rt.block_on(batch(&sender, jobs));
            queue.take(queue::Destination::Inbound);
        })
    });
    group.bench_function("redelivered", |b| {
        let sent: Vec<SendJob> = (0..BATCH as u64).map(|i| job(i, false)).collect();
        b.iter(|| rt.block_on(batch(&sender, sent.clone())))
    });
    group.bench_function("status_with_pricing", |b| {
        let mut n = 0u64;
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..BATCH {
                    n += 1;
                    let event = serde_json::json!({
                        "key": format!("wamid.B{n}:delivered"),
                        "waba_id": "100000000000001",
                        "business": {"phone_number_id": "200000000000001"},
                        "body": {"kind": "status", "message_id": format!("wamid.B{n}"),
                                 "status": "delivered", "timestamp": 1_760_000_005,
                                 "pricing": {"billable": true, "pricing_model": "PMP",
                                             "category": "utility", "pricing_type": "regular"}}
                    });
                    sender.handle_update(&event.to_string()).await.unwrap();
                }
            })
        })
    });
    group.finish();
    let _ = MessageId::new("unused");
}

criterion_group!(benches, bench);
criterion_main!(benches);

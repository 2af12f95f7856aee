//! Sends per second through the whole sender against the fake Graph API on loopback: the real
//! Graph API adapter (`CloudGraph`: the WhatsApp crate's Cloud API client, HTTP/1.1 with kept-alive
//! connections) POSTing to `testkit::fake_graph::FakeGraph`, a real HTTP server on 127.0.0.1 that
//! checks the token and the body and answers a wamid. Everything else as in production on the
//! embedded store: take the key, SEND-1, pacing (SEND-3), BILL-3, the call, the acceptance write.
//!
//! Pacing off (issue 6, item 9): the number allows 1,000/s (SEND-3's maximum), and the clock is a
//! manual one, so a pacing wait never sleeps in real time; what is measured is the sender and the
//! HTTP round trip. Jobs go to the 1,000 contacts in turn, and the clock moves on by SEND-3's pair
//! pace (6 s) each time every contact had one, so no contact is ever held by its own pace however
//! many sends a run makes (without it, the 45,001st send at one instant waited). Cases:
//!
//! - `graph_call_only`: the adapter's call alone (build the body, POST, read the wamid): the
//!   round trip the per-send overhead is measured without;
//! - `send_batch_8`: 8 jobs at once, as one SQS batch of the outbound queue;
//! - `send_batch_32`: 32 jobs at once (several batches in one invocation's runtime).
//!
//! Criterion's `thrpt` is sends/s. `cargo bench -p sender --bench loopback`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use queue::{MemoryQueue, SendJob, SendOrigin};
use rules::outreach::OutreachKey;
use rules::pacing::{MAX_PER_SECOND, PacingSettings, PairPace};
use rules::{
    BusinessNumberId, ContactKey, ContactState, EventKey, OutboundContent, SendPurpose,
    SendRequest, Timestamp,
};
use sender::graph::CloudGraph;
use sender::{GraphApi, ManualClock, Options, OutgoingMessage, RecordedAlerts, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use store::{Commit, ContactStore, SqliteStore};
use testkit::fake_graph::FakeGraph;
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

const CONTACTS: usize = 1_000;
const T0: i64 = 1_760_000_000;
static NEXT: AtomicU64 = AtomicU64::new(0);

type Bench = Sender<SqliteStore, Arc<MemoryQueue>, CloudGraph, ManualClock>;

/// SEND-3's pace between two messages to one recipient once its burst is spent.
const PAIR_PACE: rules::Duration = rules::Duration::seconds(6);

fn number() -> BusinessNumberId {
    BusinessNumberId::new("200000000000001").unwrap()
}

fn contact(i: usize) -> ContactKey {
    ContactKey::new(format!("1555{i:07}")).unwrap()
}

fn job(i: u64) -> SendJob {
    SendJob {
        key: format!("loop:{i}"),
        number: number(),
        contact: contact(i as usize % CONTACTS),
        request: SendRequest {
            purpose: SendPurpose::Bot,
            content: OutboundContent::text("Your order is on its way."),
            conversation: None,
            recontact_if_closed: false,
        },
        origin: SendOrigin::Router {
            event_key: format!("wamid.in.{i}"),
        },
        requested_at: Timestamp::from_unix(T0),
        outreach: None,
    }
}

fn cloud(fake: &FakeGraph) -> CloudGraph {
    CloudGraph::new(
        CloudClient::new(CloudConfig {
            graph_url: fake.url(),
            ..CloudConfig::new(AccessToken::new(fake.token()))
        })
        .unwrap(),
    )
}

fn setup(rt: &tokio::runtime::Runtime, fake: &FakeGraph) -> (Arc<Bench>, ManualClock) {
    let dir = std::env::temp_dir().join("switchboard-sender-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("loopback-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    rt.block_on(async {
        // Every contact wrote recently: the CSW stays open for the whole run.
        for i in 0..CONTACTS {
            let mut state = ContactState::new(number(), contact(i));
            state
                .windows
                .record_inbound(Timestamp::from_unix(T0 + 36_000), false);
            store
                .commit(Commit {
                    event_key: EventKey::new(format!("in:{i}")).unwrap(),
                    expected_version: None,
                    next: state,
                    effects: vec![],
                    log: vec![],
                    outreach: vec![],
                    now: Timestamp::from_unix(T0),
                })
                .await
                .unwrap();
        }
    });
    let clock = ManualClock::new(Timestamp::from_unix(T0));
    let sender = Arc::new(Sender::new(
        store,
        Arc::new(MemoryQueue::new()),
        cloud(fake),
        clock.clone(),
        Arc::new(RecordedAlerts::default()),
        OutreachKey::new(b"bench-outreach-key".to_vec()),
        Options {
            default_pacing: PacingSettings {
                throughput: rules::pacing::Throughput::per_second(MAX_PER_SECOND).unwrap(),
                pair: PairPace::new(45).unwrap(),
                ..PacingSettings::default()
            },
            ..Options::default()
        },
    ));
    (sender, clock)
}

async fn batch(sender: &Arc<Bench>, clock: &ManualClock, size: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..size {
        let sender = sender.clone();
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        if i > 0 && i.is_multiple_of(CONTACTS as u64) {
            clock.advance(PAIR_PACE);
        }
        let job = job(i);
        tasks.spawn(async move {
            let outcome = sender.send(job).await.unwrap();
            assert!(
                matches!(outcome, sender::Outcome::Sent { .. }),
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
    let fake = rt.block_on(FakeGraph::start());
    let (sender, clock) = setup(&rt, &fake);
    let graph = cloud(&fake);
    let mut group = c.benchmark_group("sender_loopback");
    group.sample_size(20);

    group.throughput(Throughput::Elements(1));
    group.bench_function("graph_call_only", |b| {
        b.iter(|| {
            rt.block_on(async {
                let i = NEXT.fetch_add(1, Ordering::Relaxed);
                let message = OutgoingMessage {
                    to: contact(i as usize % CONTACTS),
                    content: OutboundContent::text("Your order is on its way."),
                    callback: format!("call:{i}"),
                };
                graph.send_message(&number(), &message).await.unwrap();
            })
        });
        fake.reset();
    });
    for size in [8usize, 32] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(format!("send_batch_{size}"), |b| {
            b.iter(|| rt.block_on(batch(&sender, &clock, size)));
            // The fake keeps a log of every request: forget it between cases.
            fake.reset();
        });
    }
    group.finish();
    // Every send reached the fake as a real request.
    assert!(fake.connections_accepted() >= 1);
}

criterion_group!(benches, bench);
criterion_main!(benches);

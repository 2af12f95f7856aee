//! The local runner's durable queues and timers (`SqliteQueue`): the queue semantics it keeps of
//! SQS (FIFO per group with deduplication, delays, redelivery, dead letters) and durability
//! across a restart.

use queue::{DelayedQueue, Destination, Envelope, EventQueue, QueueError};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use store::sqlite::StoredTimer;
use store::{SqliteQueue, SqliteStore};

fn path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(testkit::unique("local-queue"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.db"))
}

fn env(key: &str, group: Option<&str>) -> Envelope {
    Envelope {
        key: key.to_owned(),
        group: group.map(str::to_owned),
        body: format!("{{\"key\":\"{key}\"}}"),
    }
}

struct Fixture {
    store: SqliteStore,
    queue: SqliteQueue,
    now: Arc<AtomicI64>,
}

async fn open(path: &std::path::Path) -> Fixture {
    let store = SqliteStore::open(path).unwrap();
    let now = Arc::new(AtomicI64::new(1_000_000));
    let clock = now.clone();
    let queue = SqliteQueue::open(&store, move || clock.load(Ordering::SeqCst))
        .await
        .unwrap();
    Fixture { store, queue, now }
}

fn keys(messages: &[store::sqlite::QueuedMessage]) -> Vec<String> {
    messages.iter().map(|m| m.envelope.key.clone()).collect()
}

#[tokio::test]
async fn fifo_groups_are_handed_out_in_order_one_group_at_a_time() {
    let f = open(&path("fifo")).await;
    f.queue
        .send(
            Destination::Inbound,
            vec![
                env("a1", Some("A")),
                env("b1", Some("B")),
                env("a2", Some("A")),
            ],
        )
        .await
        .unwrap();
    let first = f.queue.receive(Destination::Inbound, 10).await.unwrap();
    assert_eq!(keys(&first), ["a1", "b1", "a2"]);
    // Nothing more while the groups are taken, even a new message of a taken group.
    f.queue
        .send(
            Destination::Inbound,
            vec![env("a3", Some("A")), env("c1", Some("C"))],
        )
        .await
        .unwrap();
    assert_eq!(
        keys(&f.queue.receive(Destination::Inbound, 10).await.unwrap()),
        ["c1"]
    );
    // a1 handled; a2 failed (back with a delay): the group waits behind it, B goes on.
    f.queue
        .delete(vec![first[0].seq, first[1].seq])
        .await
        .unwrap();
    f.queue
        .retry(vec![first[2].seq], Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        f.queue
            .receive(Destination::Inbound, 10)
            .await
            .unwrap()
            .is_empty()
    );
    f.now.fetch_add(5_000, Ordering::SeqCst);
    let again = f.queue.receive(Destination::Inbound, 10).await.unwrap();
    assert_eq!(
        keys(&again),
        ["a2", "a3"],
        "the retried message first, then the rest of its group"
    );
    assert_eq!(again[0].attempts, 1);
}

#[tokio::test]
async fn inbound_keys_deduplicate_while_waiting_and_groups_are_required() {
    let f = open(&path("dedup")).await;
    for _ in 0..2 {
        f.queue
            .send(Destination::Inbound, vec![env("wamid.1", Some("A"))])
            .await
            .unwrap();
    }
    assert_eq!(
        f.queue
            .receive(Destination::Inbound, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let err = f
        .queue
        .send(Destination::Inbound, vec![env("x", None)])
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::MissingGroup { .. }));
    // The standard queues keep every copy (no deduplication, as SQS standard queues).
    f.queue
        .send(Destination::Updates, vec![env("u", None), env("u", None)])
        .await
        .unwrap();
    assert_eq!(
        f.queue
            .receive(Destination::Updates, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn delays_fall_due_on_the_runners_clock() {
    let f = open(&path("delay")).await;
    f.queue
        .send_delayed(
            Destination::Outbound,
            vec![env("later", None)],
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    f.queue
        .send(Destination::Outbound, vec![env("now", None)])
        .await
        .unwrap();
    assert_eq!(
        keys(&f.queue.receive(Destination::Outbound, 10).await.unwrap()),
        ["now"]
    );
    let backlog = f.queue.backlog().await.unwrap();
    assert_eq!((backlog.ready, backlog.taken, backlog.delayed), (0, 1, 1));
    assert_eq!(backlog.next_due_ms, Some(1_000_000 + 30_000));
    f.now.fetch_add(30_000, Ordering::SeqCst);
    assert_eq!(
        keys(&f.queue.receive(Destination::Outbound, 10).await.unwrap()),
        ["later"]
    );
    let err = f
        .queue
        .send_delayed(
            Destination::Inbound,
            vec![env("x", Some("A"))],
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::DelayOnFifo { .. }));
}

#[tokio::test]
async fn dead_letters_keep_the_message_and_the_reason() {
    let f = open(&path("dead")).await;
    f.queue
        .send(Destination::Updates, vec![env("bad", None)])
        .await
        .unwrap();
    let m = f.queue.receive(Destination::Updates, 1).await.unwrap();
    f.queue
        .dead_letter(m[0].seq, "unreadable".into())
        .await
        .unwrap();
    assert!(
        f.queue
            .receive(Destination::Updates, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let dead = f.queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].key.as_str(), dead[0].reason.as_str()),
        ("bad", "unreadable")
    );
}

#[tokio::test]
async fn a_restart_offers_again_what_was_taken_and_keeps_timers() {
    let file = path("restart");
    {
        let f = open(&file).await;
        f.queue
            .send(Destination::Inbound, vec![env("a1", Some("A"))])
            .await
            .unwrap();
        assert_eq!(
            f.queue
                .receive(Destination::Inbound, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        f.queue
            .put_timer(StoredTimer {
                slot: "slot-1".into(),
                due: rules::Timestamp::from_unix(2_000),
                payload: "{\"v\":1}".into(),
            })
            .await
            .unwrap();
        drop(f.queue);
        drop(f.store);
    }
    let f = open(&file).await;
    assert_eq!(
        keys(&f.queue.receive(Destination::Inbound, 10).await.unwrap()),
        ["a1"],
        "taken but never finished: offered again"
    );
    let timers = f.queue.timers().await.unwrap();
    assert_eq!(timers.len(), 1);
    // Firing queues the event and forgets the timer in one step; a timer armed again meanwhile
    // (another payload in the slot) is kept.
    let rearmed = StoredTimer {
        payload: "{\"v\":2}".into(),
        ..timers[0].clone()
    };
    f.queue.put_timer(rearmed.clone()).await.unwrap();
    f.queue
        .fire_timer(timers[0].clone(), env("timer-1", Some("B")))
        .await
        .unwrap();
    assert_eq!(f.queue.timers().await.unwrap(), vec![rearmed.clone()]);
    f.queue
        .fire_timer(rearmed, env("timer-2", Some("B")))
        .await
        .unwrap();
    assert!(f.queue.timers().await.unwrap().is_empty());
    assert_eq!(
        keys(&f.queue.receive(Destination::Inbound, 10).await.unwrap()),
        ["timer-1", "timer-2"],
        "both fired events wait in the contact's group, in firing order"
    );
}

/// Taken is kept in memory: a taken message is not handed out again (by this queue or a clone of
/// it, even by receivers racing each other) until it is deleted, put back or retried; the file
/// is written only by the insert and the delete.
#[tokio::test]
async fn a_taken_message_is_handed_out_once_until_put_back() {
    let f = open(&path("taken")).await;
    let batch: Vec<Envelope> = (0..40).map(|i| env(&format!("u{i}"), None)).collect();
    f.queue.send(Destination::Updates, batch).await.unwrap();
    // Four clones receive at once, a few at a time: every message goes to exactly one of them.
    let receivers = (0..4).map(|_| {
        let q = f.queue.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let m = q.receive(Destination::Updates, 3).await.unwrap();
                if m.is_empty() {
                    return got;
                }
                got.extend(m);
            }
        })
    });
    let mut all = Vec::new();
    for r in receivers {
        all.extend(r.await.unwrap());
    }
    let mut seen = keys(&all);
    seen.sort();
    seen.dedup();
    assert_eq!(
        (all.len(), seen.len()),
        (40, 40),
        "each message handed out once"
    );
    let backlog = f.queue.backlog().await.unwrap();
    assert_eq!((backlog.ready, backlog.taken), (0, 40));

    // Put back: offered again. Deleted: gone for good. Retried: due later, attempt counted.
    let (first, rest) = all.split_at(1);
    f.queue.release(vec![first[0].seq]).await.unwrap();
    let again = f.queue.receive(Destination::Updates, 10).await.unwrap();
    assert_eq!(keys(&again), keys(first));
    f.queue
        .delete(rest[..38].iter().map(|m| m.seq).collect())
        .await
        .unwrap();
    f.queue
        .retry(vec![rest[38].seq], Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        f.queue
            .receive(Destination::Updates, 10)
            .await
            .unwrap()
            .is_empty()
    );
    f.now.fetch_add(5_000, Ordering::SeqCst);
    let retried = f.queue.receive(Destination::Updates, 10).await.unwrap();
    assert_eq!(keys(&retried), keys(&rest[38..]));
    assert_eq!(retried[0].attempts, 1);
    let backlog = f.queue.backlog().await.unwrap();
    assert_eq!((backlog.ready, backlog.taken, backlog.delayed), (0, 2, 0));
}

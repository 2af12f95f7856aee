//! The runner killed mid-load and restarted (EVT-1, EVT-4): `switchboard serve` gets webhooks
//! from many customers at once, is killed with SIGKILL while acknowledging, routing and
//! delivering, and is started again on the same database. Every acknowledged message is in the
//! log, every event of the feed reaches the receiver at least once, none is invented (each
//! delivery is an event of the feed, byte for byte its JSON), and `webhook-id` deduplicates them
//! exactly; the first arrivals keep each conversation's order.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

mod common;
use common::{ADMIN, NUMBER, serve, temp_db, text_webhook};
use testkit::events_out::{receiver, verify_with_reference_library};

const MESSAGES: usize = 120;
const CUSTOMERS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evt_1_evt_4_a_runner_killed_mid_load_delivers_every_event_at_least_once_and_invents_none()
{
    let db = temp_db("crash");
    let mut s = serve(&db, true).await;
    let r = receiver().await;
    // The endpoint gets what happens from its registration on (not the desk file's templates).
    let (_, start) = s.events_after(ADMIN, "").await;
    let (status, hook) = s
        .call(
            "POST",
            "/v1/webhooks",
            ADMIN,
            Some(json!({"url": r.url, "numbers": [NUMBER]})),
        )
        .await;
    assert_eq!(status, 201, "{hook}");

    // Load: a first third, until the receiver has some of it; then the rest at once, and the
    // runner is killed while they are acknowledged, routed and delivered.
    let (http, base) = (s.http.clone(), s.base.clone());
    let post = |i: usize| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let customer = format!("49151000{:05}", i % CUSTOMERS);
            let id = format!("wamid.CRASH{i:04}");
            let (body, signature) = text_webhook(&customer, &id);
            let acked = http
                .post(format!("{base}/webhook"))
                .header("x-hub-signature-256", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            (id, acked)
        }
    };
    let mut acknowledged = HashSet::new();
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..MESSAGES / 3 {
        posts.spawn(post(i));
    }
    while let Some(done) = posts.join_next().await {
        let (id, acked) = done.unwrap();
        assert!(acked, "{id} acknowledged before the kill");
        acknowledged.insert(id);
    }
    for _ in 0..200 {
        if r.deliveries().len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in MESSAGES / 3..MESSAGES {
        posts.spawn(post(i));
    }
    let mut killed = false;
    while let Some(done) = posts.join_next().await {
        let (id, acked) = done.unwrap();
        if acked {
            acknowledged.insert(id);
        }
        if !killed && acknowledged.len() >= MESSAGES / 2 {
            s.child.kill().unwrap(); // SIGKILL
            s.child.wait().unwrap();
            killed = true;
        }
    }
    assert!(killed, "the runner was killed mid-load");
    let before_restart = r.deliveries().len();
    drop(s);

    // Restarted on the same database: what was acknowledged is handled, what was queued for
    // the receiver is delivered.
    let s = serve(&db, true).await;
    // Until the engine is quiet and the receiver has every event of the feed.
    let mut feed: Vec<Value> = Vec::new();
    for _ in 0..100 {
        s.advance(0).await;
        let now = s.events_after(ADMIN, &start).await.0;
        let ids: HashSet<String> = r.deliveries().into_iter().map(|d| d.id).collect();
        let complete = now.iter().all(|e| ids.contains(e["id"].as_str().unwrap()));
        if complete && now.len() == feed.len() {
            break;
        }
        feed = now;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let by_id: BTreeMap<String, Value> = feed
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    assert_eq!(by_id.len(), feed.len(), "event ids are unique in the feed");
    let received_messages: HashSet<String> = feed
        .iter()
        .filter(|e| e["type"] == "message.received")
        .map(|e| e["data"]["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        acknowledged.is_subset(&received_messages),
        "every acknowledged message is in the log: missing {:?}",
        acknowledged
            .difference(&received_messages)
            .collect::<Vec<_>>()
    );
    let got = r.deliveries();
    let mut first_arrivals: Vec<Value> = Vec::new();
    let mut seen = HashSet::new();
    for d in &got {
        let event: Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(event["id"], d.id.as_str(), "webhook-id is the event's id");
        let Some(fed) = by_id.get(&d.id) else {
            panic!("delivered an event the feed does not have: {event}");
        };
        assert_eq!(&event, fed, "a delivery is the feed's event, unchanged");
        if seen.insert(d.id.clone()) {
            first_arrivals.push(event);
        }
    }
    let missing: Vec<String> = feed
        .iter()
        .filter(|e| !seen.contains(e["id"].as_str().unwrap()))
        .map(|e| format!("{} {} {}", e["type"], e["contact"], e["id"]))
        .collect();
    assert_eq!(
        seen.len(),
        by_id.len(),
        "every event at least once, deduplicated exactly by webhook-id; missing {missing:#?}"
    );
    let lanes = |events: &[Value]| {
        let mut lanes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in events {
            lanes
                .entry(format!("{}#{}", e["number"], e["contact"]))
                .or_default()
                .push(e["id"].as_str().unwrap().to_owned());
        }
        lanes
    };
    assert_eq!(
        lanes(&first_arrivals),
        lanes(&feed),
        "in order per conversation"
    );
    let secret = hook["secret"].as_str().unwrap();
    assert_eq!(verify_with_reference_library(secret, &got), got.len());
    println!(
        "crash: {} acknowledged of {MESSAGES}, {} events, {} deliveries ({} before the kill, {} repeats)",
        acknowledged.len(),
        feed.len(),
        got.len(),
        before_restart,
        got.len() - seen.len()
    );
}

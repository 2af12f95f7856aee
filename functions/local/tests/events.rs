//! Events out through the real `switchboard serve` (EVT-3, EVT-4): the feed, the live stream,
//! and webhooks delivered to a receiver on loopback, each delivery verified with the Standard
//! Webhooks reference library (Python `standardwebhooks`, installed by `scripts/test`), never
//! with our own signing code.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

mod common;
use common::{ADMIN, AGENT, NUMBER, serve, temp_db};

type Received = testkit::events_out::SignedDelivery;

use testkit::events_out::{Receiver, receiver};

use testkit::events_out::verify_with_reference_library;

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The ids the receiver got, in arrival order.
fn delivered_ids(r: &Receiver) -> Vec<String> {
    r.got.lock().unwrap().iter().map(|d| d.id.clone()).collect()
}

/// Groups events by lane (number#contact), keeping order.
fn lanes(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut lanes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        let lane = format!("{}#{}", e["number"], e["contact"]);
        let id = e["id"].as_str().unwrap().to_owned();
        let ids = lanes.entry(lane).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    lanes
}

// EVT-3: the feed pages in commit order; agents read it too; foreign cursors and unknown
// numbers are refused with a reason. The SSE stream resumes from Last-Event-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evt_3_feed_and_live_stream_on_the_runner() {
    let s = serve(&temp_db("events"), true).await;
    s.customer_writes("4915100000001", "wamid.EV1").await;
    s.advance(0).await;
    let admin = s.all_events(ADMIN).await;
    let kinds: Vec<&str> = admin.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"message.received"), "{kinds:?}");
    assert!(kinds.contains(&"conversation.opened"), "{kinds:?}");
    assert_eq!(
        s.all_events(AGENT).await,
        admin,
        "agents see the numbers they work on"
    );
    let (status, body) = s
        .call("GET", "/v1/events?after=bm90LWEtY3Vyc29y", ADMIN, None)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = s.call("GET", "/v1/events?number=999", ADMIN, None).await;
    assert_eq!(status, 404);
    let (status, _) = s.call("GET", "/v1/events?limit=0", ADMIN, None).await;
    assert_eq!(status, 400);
    let (status, _) = s.call("GET", "/v1/events", "not-a-token", None).await;
    assert_eq!(status, 401);

    // Live: the stream from the first event's cursor gives the rest, with ids to resume from.
    let (_, first) = s
        .call(
            "GET",
            &format!("/v1/events?number={NUMBER}&limit=1"),
            ADMIN,
            None,
        )
        .await;
    let resume = first["next"].as_str().unwrap().to_owned();
    let mut stream = s
        .http
        .get(format!("{}/v1/events/stream?number={NUMBER}", s.base))
        .bearer_auth(ADMIN)
        .header("last-event-id", &resume)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    s.customer_writes("4915100000002", "wamid.EV2").await;
    let mut text = String::new();
    let want = admin.len() - 1 + 2; // the rest of the first story, and the new message's two
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while text.matches("\ndata: ").count() + usize::from(text.starts_with("data: ")) < want {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("the stream keeps coming")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let streamed: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(
        streamed[..admin.len() - 1],
        admin[1..],
        "resumed right after Last-Event-ID"
    );
    assert!(streamed.iter().any(|e| e["contact"] == "4915100000002"));
    assert!(text.contains("\nid: ") || text.starts_with("id: "));
}

// EVT-4: a receiver that answers 500 for an hour gets everything afterwards, in order per
// conversation, each delivery verified by the Standard Webhooks library; after 24 h of failures
// deliveries are dead letters, listed and redelivered; a rotated secret keeps both signing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evt_4_webhooks_retry_in_order_dead_letter_and_redeliver() {
    let s = serve(&temp_db("events"), true).await;
    let r = receiver().await;

    // Registration: admin only; https or loopback http only; unknown types refused.
    let (status, _) = s
        .call("POST", "/v1/webhooks", AGENT, Some(json!({"url": r.url})))
        .await;
    assert_eq!(status, 403);
    for bad in [
        json!({"url": "http://example.com/hook"}),
        json!({"url": "https://169.254.169.254/latest/meta-data"}),
        json!({"url": "https://10.0.0.8/hook"}),
        json!({"url": r.url, "types": ["message.exploded"]}),
    ] {
        let (status, body) = s
            .call("POST", "/v1/webhooks", ADMIN, Some(bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    // What happened before the endpoint existed (the desk's templates) is not delivered to it.
    let (_, registered_at) = s.events_after(ADMIN, "").await;
    let (status, created) = s
        .call(
            "POST",
            "/v1/webhooks",
            ADMIN,
            Some(json!({"url": r.url, "description": "crm"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let (_, listed) = s.call("GET", "/v1/webhooks", ADMIN, None).await;
    assert!(
        listed.to_string().find(&secret).is_none(),
        "the secret is shown once"
    );

    // The receiver is down for an hour while two customers write.
    r.failing.store(true, Ordering::SeqCst);
    s.customer_writes("4915100000011", "wamid.W1").await;
    s.customer_writes("4915100000012", "wamid.W2").await;
    s.customer_writes("4915100000011", "wamid.W3").await;
    s.advance(0).await;
    wait_until("the first attempts", || !r.got.lock().unwrap().is_empty()).await;
    for _ in 0..12 {
        s.advance(300).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let attempts_while_down = r.got.lock().unwrap().len();
    assert!(
        attempts_while_down >= 2 * 3,
        "retried while down: {attempts_while_down}"
    );
    // Back up: everything arrives, in order per conversation.
    r.failing.store(false, Ordering::SeqCst);
    r.got.lock().unwrap().clear();
    let (events, _) = s.events_after(ADMIN, &registered_at).await;
    let expected = lanes(&events);
    let total: usize = expected.values().map(Vec::len).sum();
    for _ in 0..20 {
        s.advance(3600).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ids: HashSet<String> = delivered_ids(&r).into_iter().collect();
        if expected.values().flatten().all(|id| ids.contains(id)) {
            break;
        }
    }
    let got: Vec<Received> = r.got.lock().unwrap().clone();
    let bodies: Vec<Value> = got
        .iter()
        .map(|d| serde_json::from_str(&d.body).unwrap())
        .collect();
    let delivered = lanes(&bodies);
    for (lane, ids) in &expected {
        let got_lane = &delivered[lane];
        assert!(
            got_lane.len() >= ids.len() && got_lane[..ids.len()] == ids[..],
            "lane {lane} in commit order: expected {ids:?}, got {got_lane:?}; events {events:#?}; bodies {bodies:#?}"
        );
    }
    assert!(bodies.len() >= total, "every event delivered at least once");
    assert_eq!(verify_with_reference_library(&secret, &got), got.len());

    // Rotation: during the grace period both secrets sign, so a receiver on either verifies.
    let (status, rotated) = s
        .call("POST", &format!("/v1/webhooks/{id}/rotate"), ADMIN, None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    r.got.lock().unwrap().clear();
    s.customer_writes("4915100000013", "wamid.W4").await;
    s.advance(0).await;
    wait_until("a delivery after rotation", || {
        !r.got.lock().unwrap().is_empty()
    })
    .await;
    let after_rotation = r.got.lock().unwrap().clone();
    assert!(after_rotation[0].signature.split(' ').count() == 2);
    assert_eq!(
        verify_with_reference_library(&secret, &after_rotation),
        after_rotation.len()
    );
    assert_eq!(
        verify_with_reference_library(&new_secret, &after_rotation),
        after_rotation.len()
    );

    // Gone for more than 24 h: dead letters, listed, then redelivered on request.
    r.failing.store(true, Ordering::SeqCst);
    s.customer_writes("4915100000014", "wamid.W5").await;
    s.advance(0).await;
    for _ in 0..26 {
        s.advance(3600).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (status, dead) = s
        .call(
            "GET",
            &format!("/v1/webhooks/{id}/dead-letters"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, 200, "{dead}");
    let dead = dead.as_array().unwrap().clone();
    assert!(!dead.is_empty(), "dead letters after 24 h");
    assert!(dead.iter().all(|d| d["last_error"] == "HTTP 500"));
    r.failing.store(false, Ordering::SeqCst);
    r.got.lock().unwrap().clear();
    let (status, again) = s
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/dead-letters/redeliver"),
            ADMIN,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, again["queued"].as_u64()),
        (200, Some(dead.len() as u64))
    );
    s.advance(0).await;
    wait_until("redelivered dead letters", || {
        r.got.lock().unwrap().len() >= dead.len()
    })
    .await;
    let redelivered: HashSet<String> = delivered_ids(&r).into_iter().collect();
    assert!(
        dead.iter()
            .all(|d| redelivered.contains(d["event_id"].as_str().unwrap()))
    );
    let (_, dead_now) = s
        .call(
            "GET",
            &format!("/v1/webhooks/{id}/dead-letters"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!(dead_now, json!([]));
    let (status, _) = s
        .call("DELETE", &format!("/v1/webhooks/{id}"), ADMIN, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .call("GET", &format!("/v1/webhooks/{id}"), ADMIN, None)
        .await;
    assert_eq!(status, 404);
}

// EVT-1, EVT-2, EVT-4 under replay: Meta delivers every webhook three times, shuffled. The feed
// has exactly one `message.received` per message and no event twice; the webhook receiver gets
// every event of the feed at least once and nothing else (ids deduplicate them exactly).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evt_1_meta_delivering_three_times_shuffled_invents_and_doubles_nothing() {
    let s = serve(&temp_db("events"), true).await;
    let r = receiver().await;
    let (_, registered_at) = s.events_after(ADMIN, "").await;
    let (status, created) = s
        .call("POST", "/v1/webhooks", ADMIN, Some(json!({"url": r.url})))
        .await;
    assert_eq!(status, 201, "{created}");
    let mut deliveries = Vec::new();
    for contact in 0..3 {
        for message in 0..4 {
            let customer = format!("49151000002{contact:02}");
            let id = format!("wamid.R{contact}M{message}");
            for _ in 0..3 {
                deliveries.push((customer.clone(), id.clone()));
            }
        }
    }
    // A fixed shuffle (linear congruential), so a failure replays the same order.
    let mut seed: u64 = 0x5eed;
    for i in (1..deliveries.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        deliveries.swap(i, (seed >> 33) as usize % (i + 1));
    }
    for (customer, id) in &deliveries {
        s.customer_writes(customer, id).await;
    }
    s.advance(0).await;
    let (events, _) = s.events_after(ADMIN, &registered_at).await;
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no event twice");
    let mut received: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "message.received")
        .map(|e| e["data"]["message"].as_str().unwrap())
        .collect();
    received.sort();
    let mut expected: Vec<String> = deliveries.iter().map(|(_, id)| id.clone()).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(received, expected, "one message.received per message");

    wait_until("every event delivered", || {
        let got: HashSet<String> = delivered_ids(&r).into_iter().collect();
        unique.iter().all(|id| got.contains(*id))
    })
    .await;
    let got: HashSet<String> = delivered_ids(&r).into_iter().collect();
    assert!(
        got.iter().all(|id| unique.contains(id.as_str())),
        "the receiver got nothing that is not in the feed"
    );
}

// EVT-3, the AWS transport: a long poll (`wait`) answers as soon as an event is committed, or
// empty with the same cursor when the wait ends; waits past 20 s are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evt_3_long_poll_answers_on_the_next_event_or_after_the_wait() {
    let s = serve(&temp_db("events"), true).await;
    s.customer_writes("4915100000031", "wamid.LP1").await;
    s.advance(0).await;
    let (_, latest) = s.events_after(ADMIN, "").await;
    let path = format!("/v1/events?number={NUMBER}&after={latest}&wait=1");
    let started = std::time::Instant::now();
    let (status, empty) = s.call("GET", &path, ADMIN, None).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["events"], json!([]));
    assert_eq!(
        empty["next"],
        json!(latest),
        "poll again with the same cursor"
    );
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited");

    let path = format!("/v1/events?number={NUMBER}&after={latest}&wait=15");
    let started = std::time::Instant::now();
    let poll = s.call("GET", &path, AGENT, None);
    let write = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.customer_writes("4915100000032", "wamid.LP2").await;
    };
    let ((status, page), ()) = tokio::join!(poll, write);
    assert_eq!(status, 200, "{page}");
    assert!(!page["events"].as_array().unwrap().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered on the event, not the wait"
    );
    let (status, _) = s.call("GET", "/v1/events?wait=21", ADMIN, None).await;
    assert_eq!(status, 400);
}

// EVT-5 on the runner: the number's bot is external. The customer's message reaches the bot's
// endpoint as a signed event (verified by the reference library); the bot reads it, answers and
// hands off to an agent through /v1 with its integration token; later messages are the agent's.
#[tokio::test]
async fn evt_5_an_external_bot_answers_a_customer_through_v1_and_hands_off_to_an_agent() {
    const CUSTOMER: &str = "4915100000555";
    let s = serve(&temp_db("bot"), true).await;
    let bot_hook = receiver().await;
    let settings_path = format!("/v1/numbers/{NUMBER}/settings");
    let (status, mut settings) = s.call("GET", &settings_path, ADMIN, None).await;
    assert_eq!(status, 200, "{settings}");
    settings["external_bot"] = json!({"id": "crm-bot"});
    let (status, body) = s
        .call("PUT", &settings_path, ADMIN, Some(settings.clone()))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_input")),
        "a recipe and an external bot: {body}"
    );
    settings["recipe"] = Value::Null;
    let (status, body) = s.call("PUT", &settings_path, ADMIN, Some(settings)).await;
    assert_eq!(status, 200, "{body}");
    let (status, hook) = s
        .call(
            "POST",
            "/v1/webhooks",
            ADMIN,
            Some(json!({"url": bot_hook.url, "numbers": [NUMBER], "bot": "crm-bot"})),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["bot"], "crm-bot");
    // Integration tokens: admins only; shown once; the list never shows them.
    let integration = json!({"name": "CRM bot", "numbers": [NUMBER]});
    let (status, _) = s
        .call("POST", "/v1/integrations", AGENT, Some(integration.clone()))
        .await;
    assert_eq!(status, 403);
    let (status, created) = s
        .call("POST", "/v1/integrations", ADMIN, Some(integration))
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sbi_"));
    let (_, listed) = s.call("GET", "/v1/integrations", ADMIN, None).await;
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(!listed.to_string().contains(&token));
    // A token is no agent: the inbox and admin routes refuse it.
    let (status, _) = s.call("GET", "/v1/webhooks", &token, None).await;
    assert_eq!(status, 403);
    let (status, _) = s
        .call(
            "GET",
            &format!("/v1/numbers/{NUMBER}/conversations"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 403);
    // The router reads settings through a one-second cache.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    s.customer_writes(CUSTOMER, "wamid.BOT1").await;
    s.advance(0).await;
    wait_until("the bot's event", || {
        !bot_hook.got.lock().unwrap().is_empty()
    })
    .await;
    let secret = hook["secret"].as_str().unwrap();
    let got = bot_hook.got.lock().unwrap().clone();
    assert_eq!(verify_with_reference_library(secret, &got), 1);
    let event: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(event["type"], "message.received", "{event}");
    assert_eq!(event["data"]["bot"], "crm-bot");
    assert_eq!(event["contact"], CUSTOMER);
    let contact = format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}");

    // The bot reads what the customer wrote, with its token.
    let (status, log) = s
        .call("GET", &format!("{contact}/messages"), &token, None)
        .await;
    assert_eq!(status, 200, "{log}");
    assert!(log.to_string().contains("hello"), "{log}");
    // An agent's token cannot act as the bot.
    let (status, _) = s
        .call("POST", &format!("{contact}/complete"), AGENT, None)
        .await;
    assert_eq!(status, 403);
    // The bot answers, then hands off to Ana.
    let (status, accepted) = s
        .call(
            "POST",
            &format!("{contact}/messages"),
            &token,
            Some(json!({"text": "Hi, I am the CRM's assistant. Let me get Ana."})),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["agent"], "crm-bot");
    s.advance(0).await;
    let (status, body) = s
        .call(
            "POST",
            &format!("{contact}/handoff"),
            &token,
            Some(json!({"to": "ana"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    s.advance(0).await;
    let (_, detail) = s.call("GET", &contact, ADMIN, None).await;
    assert_eq!(detail["assignee"], "ana", "{detail}");
    let types: Vec<String> = s
        .all_events(ADMIN)
        .await
        .iter()
        .filter(|e| e["contact"] == CUSTOMER)
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    for wanted in [
        "message.received",
        "conversation.opened",
        "message.sent",
        "conversation.handed_off",
        "conversation.assigned",
    ] {
        assert!(types.iter().any(|t| t == wanted), "{wanted} in {types:?}");
    }
    // The conversation is Ana's now: the bot's endpoint hears nothing more, and the bot can no
    // longer act on it.
    s.customer_writes(CUSTOMER, "wamid.BOT2").await;
    s.advance(0).await;
    let (status, body) = s
        .call("POST", &format!("{contact}/complete"), &token, None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("not_handled_by_bot"))
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(bot_hook.got.lock().unwrap().len(), 1);
    // Revoked: the token stops working at once.
    let id = created["id"].as_str().unwrap();
    let (status, _) = s
        .call("DELETE", &format!("/v1/integrations/{id}"), ADMIN, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .call("GET", &format!("{contact}/messages"), &token, None)
        .await;
    assert_eq!(status, 401);
}

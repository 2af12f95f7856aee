//! A number's pacing at the console (SEND-3, CAMP-5): throughput, messaging limit and recipient
//! burst read and set by admins with their bounds, and honoured by the real sender over the same
//! store; the resume of a number that sending stopped on (SEND-2, CAMP-6).

use crate::*;
use queue::{SendJob, SendOrigin};
use rules::templates::{Template, TemplateCategory, TemplateStatus};
use rules::{OutboundContent, SendPurpose, SendRequest, TemplateName};
use sender::{ManualClock as SenderClock, MemoryGraph, Options, Outcome, RecordedAlerts, Sender};
use serde_json::json;
use store::{ParkReason, SendingStore, SqliteStore, TemplateStore};

fn limits() -> String {
    format!("/v1/numbers/{NUMBER}/limits")
}

fn resume() -> String {
    format!("/v1/numbers/{NUMBER}/resume")
}

type TestSender = Sender<SqliteStore, Arc<MemoryQueue>, Arc<MemoryGraph>, SenderClock>;

/// The real sender over the console's store and queue, with the Graph API twin. No pacing wait
/// happens in place, so every wait is an outcome the test sees.
fn sender_for(h: &Harness) -> (TestSender, Arc<MemoryGraph>, SenderClock) {
    let clock = SenderClock::new(t(0));
    let time = clock.clone();
    let graph = Arc::new(MemoryGraph::new(move || sender::Clock::now_ms(&time)));
    let sender = Sender::new(
        h.store.clone(),
        h.queue.clone(),
        graph.clone(),
        clock.clone(),
        Arc::new(RecordedAlerts::default()),
        OutreachKey::new(OUTREACH_KEY.to_vec()),
        Options {
            inline_wait_ms: 0,
            ..Options::default()
        },
    );
    (sender, graph, clock)
}

fn job(key: &str, contact: &str, content: OutboundContent) -> SendJob {
    SendJob {
        key: key.into(),
        number: number(),
        contact: ContactKey::new(contact).unwrap(),
        request: SendRequest {
            purpose: SendPurpose::Agent,
            content,
            conversation: None,
            recontact_if_closed: false,
        },
        origin: SendOrigin::Console {
            agent: Some(agent("boss")),
        },
        requested_at: t(0),
        outreach: None,
    }
}

fn template() -> OutboundContent {
    OutboundContent::Template {
        name: TemplateName::new("hello").unwrap(),
        language: "en".into(),
        header: None,
        parameters: vec![],
        button_payloads: vec![],
    }
}

fn fields(r: &Reply) -> Vec<String> {
    r.body["fields"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| f["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

// SEND-3 / CAMP-5: admins read and set the number's throughput, messaging limit and recipient
// burst; every bound is checked and every wrong field named; agents may do neither.
#[tokio::test]
async fn send_3_limits_are_read_and_set_by_admins_within_their_bounds() {
    let h = harness();
    let anonymous = h.request(Method::GET, &limits(), None, &[], None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.get(&limits(), ANA).await.status, StatusCode::FORBIDDEN);
    let agent_put = h.put(&limits(), ANA, json!({"throughput": 10})).await;
    assert_eq!(agent_put.status, StatusCode::FORBIDDEN);
    let anonymous_put = h
        .request(
            Method::PUT,
            &limits(),
            None,
            &[],
            Some(("application/json", br#"{"throughput": 10}"#.to_vec())),
        )
        .await;
    assert_eq!(anonymous_put.status, StatusCode::UNAUTHORIZED);
    let too_long = "9".repeat(300);
    let bad_number = h.get(&format!("/v1/numbers/{too_long}/limits"), BOSS).await;
    assert_eq!(bad_number.status, StatusCode::BAD_REQUEST, "{bad_number:?}");

    // Defaults: SEND-3's 80/s, Meta's first tier, a burst of 5.
    let read = h.get(&limits(), BOSS).await;
    assert_eq!(read.status, StatusCode::OK, "{read:?}");
    assert_eq!(read.body["throughput"], 80);
    assert_eq!(read.body["messaging_limit"], 250);
    assert_eq!(read.body["pair_burst"], 5);
    assert_eq!(read.body["contacts_reached"], 0);
    assert_eq!(read.body["stopped"], false);
    assert!(read.body["limits_as_of"].is_null());

    // Every wrong field is named at once, and nothing is stored.
    let wrong = h
        .put(
            &limits(),
            BOSS,
            json!({"throughput": 0, "messaging_limit": 0, "pair_burst": 46}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        fields(&wrong),
        ["throughput", "pair_burst", "messaging_limit"]
    );
    for (body, field) in [
        (json!({"throughput": 1_001}), "throughput"),
        (json!({"throughput": -5}), "throughput"),
        (json!({"pair_burst": 0}), "pair_burst"),
        (json!({"messaging_limit": -1}), "messaging_limit"),
        (json!({"messaging_limit": 10_000_001}), "messaging_limit"),
        (json!({"messaging_limit": "TIER_XK"}), "messaging_limit"),
        (json!({"messaging_limit": "lots"}), "messaging_limit"),
    ] {
        let r = h.put(&limits(), BOSS, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {r:?}");
        assert_eq!(fields(&r), [field], "{body}");
    }
    let unknown = h.put(&limits(), BOSS, json!({"speed": 5})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let (stored, version) = h.store.number_pacing(&number()).await.unwrap();
    assert_eq!(version, None, "nothing stored: {stored:?}");

    // A change keeps what it does not name.
    h.clock.set(t(60));
    let set = h
        .put(
            &limits(),
            BOSS,
            json!({"throughput": 2, "messaging_limit": "TIER_1K"}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");
    assert_eq!(set.body["throughput"], 2);
    assert_eq!(set.body["messaging_limit"], 1_000);
    assert_eq!(set.body["pair_burst"], 5);
    assert_eq!(set.body["limits_as_of"], T0 + 60);
    let unlimited = h
        .put(
            &limits(),
            BOSS,
            json!({"messaging_limit": "unlimited", "pair_burst": 45}),
        )
        .await;
    assert!(unlimited.body["messaging_limit"].is_null(), "{unlimited:?}");
    assert_eq!(unlimited.body["throughput"], 2);
    assert_eq!(unlimited.body["pair_burst"], 45);
    assert_eq!(h.get(&limits(), BOSS).await.body, unlimited.body);
    // Exactly what the sender reads.
    let (stored, _) = h.store.number_pacing(&number()).await.unwrap();
    assert_eq!(stored.settings.throughput.get(), 2);
    assert_eq!(
        stored.settings.messaging_limit,
        rules::pacing::MessagingLimit::Unlimited
    );
    let counted = h.put(&limits(), BOSS, json!({"messaging_limit": 3})).await;
    assert_eq!(counted.body["messaging_limit"], 3);
}

// SEND-3 / CAMP-5: the sender paces by what the admin set: one message a second, one new contact
// outside a CSW per 24 h; what does not fit waits.
#[tokio::test]
async fn send_3_camp_5_the_sender_paces_by_the_limits_set_at_the_console() {
    let h = harness();
    let set = h
        .put(
            &limits(),
            BOSS,
            json!({"throughput": 1, "messaging_limit": 1}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");
    let (sender, graph, clock) = sender_for(&h);
    // Two contacts inside their CSW: the second send waits for the throughput.
    h.plant("4915100000001", open_with(queued_handler(), 0))
        .await;
    h.plant("4915100000002", open_with(queued_handler(), 0))
        .await;
    let first = sender
        .send(job("k1", "4915100000001", OutboundContent::text("hello")))
        .await
        .unwrap();
    assert!(matches!(first, Outcome::Sent { .. }), "{first:?}");
    let second = sender
        .send(job("k2", "4915100000002", OutboundContent::text("hello")))
        .await
        .unwrap();
    match &second {
        Outcome::Waiting { because, until_ms } => {
            assert!(because.contains("Throughput"), "{because}");
            assert_eq!(*until_ms, (T0 + 1) * 1000, "one per second");
        }
        other => panic!("expected a throughput wait, got {other:?}"),
    }
    // Two new contacts outside a CSW (templates): the second waits for the messaging limit.
    let mut hello = Template::new(
        TemplateName::new("hello").unwrap(),
        "en",
        TemplateCategory::Utility,
        "Hello from us",
    );
    hello.status = TemplateStatus::Approved;
    h.store.put_template(&number(), &hello).await.unwrap();
    clock.advance(rules::Duration::seconds(10));
    let third = sender
        .send(job("k3", "4915100000003", template()))
        .await
        .unwrap();
    assert!(matches!(third, Outcome::Sent { .. }), "{third:?}");
    clock.advance(rules::Duration::seconds(10));
    let fourth = sender
        .send(job("k4", "4915100000004", template()))
        .await
        .unwrap();
    match &fourth {
        Outcome::Waiting { because, .. } => {
            assert!(because.contains("MessagingLimit"), "{because}")
        }
        other => panic!("expected a messaging-limit wait, got {other:?}"),
    }
    assert_eq!(graph.accepted().len(), 2);
    let read = h.get(&limits(), BOSS).await;
    assert_eq!(read.body["contacts_reached"], 1);
}

// SEND-2 / CAMP-6: a token error stops the number (sends are held, not failed); an admin resumes
// it at the console and the held sends go out, each once.
#[tokio::test]
async fn send_2_an_admin_resumes_a_stopped_number_and_held_sends_go_out() {
    let h = harness();
    assert_eq!(
        h.request(Method::POST, &resume(), None, &[], None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let agent_resume = h
        .request(Method::POST, &resume(), Some(ANA), &[], None)
        .await;
    assert_eq!(agent_resume.status, StatusCode::FORBIDDEN);
    let too_long = "9".repeat(300);
    let bad_number = h
        .request(
            Method::POST,
            &format!("/v1/numbers/{too_long}/resume"),
            Some(BOSS),
            &[],
            None,
        )
        .await;
    assert_eq!(bad_number.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_number.body["fields"][0]["field"], "number");
    let not_stopped = h
        .request(Method::POST, &resume(), Some(BOSS), &[], None)
        .await;
    assert_eq!(not_stopped.status, StatusCode::CONFLICT, "{not_stopped:?}");
    assert_eq!(not_stopped.error(), "not_stopped");

    let (sender, graph, clock) = sender_for(&h);
    h.plant("4915100000001", open_with(queued_handler(), 0))
        .await;
    h.plant("4915100000002", open_with(queued_handler(), 0))
        .await;
    graph.script([sender::Scripted::Fail(sender::graph::meta_error(190))]);
    for (key, contact) in [("k1", "4915100000001"), ("k2", "4915100000002")] {
        let outcome = sender
            .send(job(key, contact, OutboundContent::text("hello")))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::Parked {
                on: ParkReason::NumberResumed
            }
        );
    }
    let stopped = h.get(&limits(), BOSS).await;
    assert_eq!(stopped.body["stopped"], true);
    assert!(
        stopped.body["stop_reason"]
            .as_str()
            .unwrap()
            .starts_with("190"),
        "{stopped:?}"
    );

    let resumed = h
        .request(Method::POST, &resume(), Some(BOSS), &[], None)
        .await;
    assert_eq!(resumed.status, StatusCode::OK, "{resumed:?}");
    assert_eq!(resumed.body["released"], 2);
    assert!(
        resumed.body["stop_reason"]
            .as_str()
            .unwrap()
            .starts_with("190")
    );
    assert_eq!(resumed.body["limits"]["stopped"], false);
    // Again: nothing is stopped or held any more.
    let again = h
        .request(Method::POST, &resume(), Some(BOSS), &[], None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // The held sends are back on the outbound queue: the sender sends each once.
    let held = h.queue.take(Destination::Outbound);
    assert_eq!(held.len(), 2);
    for envelope in &held {
        clock.advance(rules::Duration::seconds(1));
        let outcome = sender.handle_outbound(&envelope.body).await.unwrap();
        assert!(matches!(outcome, Outcome::Sent { .. }), "{outcome:?}");
    }
    // A duplicate delivery sends nothing more.
    clock.advance(rules::Duration::seconds(1));
    let outcome = sender.handle_outbound(&held[0].body).await.unwrap();
    assert!(
        matches!(outcome, Outcome::AlreadySent { .. }),
        "{outcome:?}"
    );
    assert_eq!(graph.accepted().len(), 2);
}

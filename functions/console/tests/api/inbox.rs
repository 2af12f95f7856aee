//! Contacts, the inbox and the message log: CHAN-4 search, WIN-4 window check, paging, the log
//! with inbound, outbound (delivery state) and notices.

use crate::*;
use rules::effect::{LogEntry, Notice};
use rules::{MessageId, OutreachId, PhoneNumber};
use serde_json::json;
use store::{
    ConsoleStore, ContactProfile, DeliveryStatus, LogRecord, OutboundStore, QueueEntry, QueueStore,
    StatusUpdate,
};

async fn profile(h: &Harness, contact: &str, first: &str, last: &str, email: &str, phone: &str) {
    h.store
        .put_profile(
            &number(),
            &ContactKey::new(contact).unwrap(),
            &ContactProfile {
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                email: Some(email.into()),
                phone: Some(PhoneNumber::parse(phone).unwrap()),
                profile_name: None,
            },
            t(0),
        )
        .await
        .unwrap();
}

/// Jana (ana's, open), Petr (bo's, open), Eva (closed, kept by ana), Ivo (snoozed, ana's).
async fn desk(h: &Harness) {
    profile(
        h,
        "4915100000001",
        "Jana",
        "Novák",
        "jana@example.com",
        "+4915100000001",
    )
    .await;
    profile(
        h,
        "4915100000002",
        "Petr",
        "Svoboda",
        "petr@example.org",
        "+4915100000002",
    )
    .await;
    profile(
        h,
        "4915100000003",
        "Eva",
        "Dvořák",
        "eva@example.com",
        "+4915100000003",
    )
    .await;
    profile(
        h,
        "4915100000004",
        "Ivo",
        "Kral",
        "ivo@example.com",
        "+4915100000004",
    )
    .await;
    h.plant("4915100000001", open_with(held_by("ana"), 0)).await;
    h.plant("4915100000002", open_with(held_by("bo"), 0)).await;
    h.plant("4915100000003", |s| {
        s.windows.record_inbound(t(-100_000), false);
        s.assignee = Some(agent("ana"));
    })
    .await;
    h.plant("4915100000004", |s| {
        open_with(held_by("ana"), 0)(s);
        s.conversation.as_mut().unwrap().status = ConversationStatus::Snoozed { until: t(3600) };
    })
    .await;
}

fn contacts_of(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["profile"]["first_name"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn chan_4_search_by_name_email_phone_within_mine_or_all_and_status() {
    let h = harness();
    desk(&h).await;
    let search = |q: &str| format!("/v1/numbers/{NUMBER}/contacts?{q}");
    // By first name, last name, email, phone; `all` and `open` by default.
    for (q, who) in [
        ("q=jana", "Jana"),
        ("q=svoboda", "Petr"),
        ("q=petr%40example.org", "Petr"),
        ("q=%2B49%20151%2000000001", "Jana"),
    ] {
        let reply = h.get(&search(q), BO).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(contacts_of(&reply), [who], "{q}");
    }
    // Mine: ana sees Jana, not Petr.
    let reply = h.get(&search("scope=mine"), ANA).await;
    assert_eq!(contacts_of(&reply), ["Jana"]);
    assert_eq!(
        contacts_of(&h.get(&search("scope=all"), ANA).await).len(),
        2
    );
    // Closed: seed 001's way to find a contact to reopen; kept assignee counts as mine (CHAN-3).
    let closed = h.get(&search("scope=mine&status=closed&q=eva"), ANA).await;
    assert_eq!(contacts_of(&closed), ["Eva"]);
    assert_eq!(closed.body["items"][0]["status"], "closed");
    assert_eq!(closed.body["items"][0]["assignee"], "ana");
    assert!(contacts_of(&h.get(&search("scope=mine&status=closed"), BO).await).is_empty());
    let snoozed = h.get(&search("status=snoozed"), BO).await;
    assert_eq!(contacts_of(&snoozed), ["Ivo"]);
    // Text longer than a search term.
    let long = h.get(&search(&format!("q={}", "x".repeat(101))), ANA).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn inbox_lists_mine_all_and_the_queue_in_pages() {
    let h = harness();
    desk(&h).await;
    let inbox = |q: &str| format!("/v1/numbers/{NUMBER}/conversations?{q}");
    // Mine is the default scope.
    assert_eq!(contacts_of(&h.get(&inbox(""), ANA).await), ["Jana"]);
    // Paging: one at a time through `all`.
    let first = h.get(&inbox("scope=all&limit=1"), ANA).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    let next = first.body["next"].as_str().expect("a next page").to_owned();
    let second = h
        .get(&inbox(&format!("scope=all&limit=1&cursor={next}")), ANA)
        .await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    let mut both = contacts_of(&first);
    both.extend(contacts_of(&second));
    both.sort();
    assert_eq!(both, ["Jana", "Petr"]);
    assert!(second.body["next"].is_null());
    let bad = h.get(&inbox("scope=all&cursor=garbage!"), ANA).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    // The queue, first in first out (AUTO-4).
    for (i, c) in ["4915100000009", "4915100000008"].into_iter().enumerate() {
        profile(
            &h,
            c,
            &format!("Q{i}"),
            "Waiting",
            "q@example.com",
            &format!("+{c}"),
        )
        .await;
        h.plant(c, open_with(queued_handler(), 0)).await;
        h.store
            .enqueue(&QueueEntry {
                number: number(),
                conversation: ConversationId::new(format!("{c}#1")).unwrap(),
                contact: ContactKey::new(c).unwrap(),
                enqueued_at: t(i as i64),
                request: 1,
            })
            .await
            .unwrap();
    }
    let queue = h.get(&inbox("scope=queue"), ANA).await;
    assert_eq!(contacts_of(&queue), ["Q0", "Q1"]);
    assert_eq!(queue.body["items"][1]["queue_position"], 2);
}

#[tokio::test]
async fn win_4_window_check_open_closed_and_never_opened() {
    let h = harness();
    h.plant("4915100000001", open_with(held_by("ana"), -3600))
        .await;
    h.plant("4915100000002", |s| {
        s.windows.record_inbound(t(-25 * 3600), false)
    })
    .await;
    profile(
        &h,
        "4915100000003",
        "New",
        "Contact",
        "n@example.com",
        "+4915100000003",
    )
    .await;

    let open = h
        .get(&format!("{}/window", contact_path("4915100000001")), ANA)
        .await;
    assert_eq!(open.status, StatusCode::OK);
    assert_eq!(open.body["state"], "open");
    assert_eq!(open.body["kind"], "service");
    assert_eq!(open.body["closes_at"], T0 - 3600 + 24 * 3600);
    assert_eq!(open.body["free_form"], "allowed");

    let closed = h
        .get(&format!("{}/window", contact_path("4915100000002")), ANA)
        .await;
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(closed.body["closed_since"], T0 - 3600);
    assert_eq!(closed.body["free_form"], "template_only");
    assert_eq!(closed.body["template"], "allowed");
    assert!(
        closed.body["free_form_reason"]
            .as_str()
            .unwrap()
            .contains("templates only")
    );

    let never = h
        .get(&format!("{}/window", contact_path("4915100000003")), ANA)
        .await;
    assert_eq!(never.body["state"], "closed");
    assert!(never.body.get("closed_since").is_none());

    // The same stored state answers differently as time passes (WIN-6).
    h.clock.set(t(23 * 3600));
    let later = h
        .get(&format!("{}/window", contact_path("4915100000001")), ANA)
        .await;
    assert_eq!(later.body["state"], "closed");

    let missing = h
        .get(&format!("{}/window", contact_path("4915199999999")), ANA)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_contact_with_its_conversation_version_and_profile_updates() {
    let h = harness();
    let version = h.plant("4915100000001", open_with(held_by("bo"), 0)).await;
    let reply = h.get(&contact_path("4915100000001"), ANA).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["version"], version);
    assert_eq!(reply.headers["etag"], format!("\"{version}\"").as_str());
    assert_eq!(reply.body["conversation"]["handler"], "agent");
    assert_eq!(reply.body["conversation"]["agent"], "bo");
    assert_eq!(reply.body["window"]["state"], "open");

    // Profiles: agents edit contacts they may act on; bad phones and emails are named.
    let body =
        json!({"first_name": "Jana", "phone": "+49 151 00000001", "email": "jana@example.com"});
    let refused = h
        .put(&contact_path("4915100000001"), ANA, body.clone())
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let ok = h.put(&contact_path("4915100000001"), BO, body).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.body["profile"]["phone"], "+4915100000001");
    let bad_phone = h
        .put(
            &contact_path("4915100000001"),
            BO,
            json!({"phone": "0151 000"}),
        )
        .await;
    assert_eq!(bad_phone.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_phone.body["fields"][0]["field"], "phone");
    let bad_email = h
        .put(&contact_path("4915100000001"), BO, json!({"email": "nope"}))
        .await;
    assert_eq!(bad_email.body["fields"][0]["field"], "email");
    // A new contact (never wrote) is created by its profile.
    let created = h
        .put(
            &contact_path("4915100000077"),
            ANA,
            json!({"first_name": "Ola"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    assert!(created.body["version"].is_null());
    assert_eq!(
        h.get(&contact_path("4915100000077"), BO).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get(&contact_path("4915100000078"), BO).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn message_log_shows_inbound_outbound_with_delivery_state_and_notices() {
    let h = harness();
    let c = ContactKey::new("4915100000001").unwrap();
    let conv = ConversationId::new("4915100000001#1").unwrap();
    // The router's commit: an inbound message and OUT-EXP-4's notice.
    h.store
        .commit(Commit {
            event_key: EventKey::new("wamid.IN1").unwrap(),
            expected_version: None,
            next: {
                let mut s = ContactState::new(number(), c.clone());
                open_with(held_by("ana"), 0)(&mut s);
                s
            },
            effects: Vec::new(),
            log: vec![
                LogRecord {
                    entry: LogEntry::Inbound {
                        message: MessageId::new("wamid.IN1").unwrap(),
                        conversation: Some(conv.clone()),
                        at: t(10),
                        bot: None,
                    },
                    body: Some(json!({"type": "text", "text": {"body": "hello"}})),
                },
                LogRecord {
                    entry: LogEntry::Notice {
                        conversation: conv.clone(),
                        at: t(10),
                        notice: Notice::ExpiredOutreachPressed {
                            outreach: OutreachId::new("o-1").unwrap(),
                        },
                    },
                    body: None,
                },
            ],
            outreach: Vec::new(),
            now: t(10),
        })
        .await
        .unwrap();
    // The sender's side: two sends, one delivered, one failed.
    for (key, at) in [("send-1", 20), ("send-2", 30)] {
        h.store
            .claim_send(key, &number(), &c, t(at), None)
            .await
            .unwrap();
        let wamid = MessageId::new(format!("wamid.{key}")).unwrap();
        h.store.record_sent(key, &wamid, t(at)).await.unwrap();
    }
    h.store
        .apply_status(&StatusUpdate {
            wamid: MessageId::new("wamid.send-1").unwrap(),
            status: DeliveryStatus::Delivered,
            at: t(21),
            pricing: None,
            error: None,
        })
        .await
        .unwrap();
    h.store
        .apply_status(&StatusUpdate {
            wamid: MessageId::new("wamid.send-2").unwrap(),
            status: DeliveryStatus::Failed,
            at: t(31),
            pricing: None,
            error: Some(store::DeliveryError {
                code: 131026,
                title: "Message undeliverable".into(),
                details: None,
            }),
        })
        .await
        .unwrap();
    let log = h
        .get(&format!("{}/messages", contact_path("4915100000001")), BO)
        .await;
    assert_eq!(log.status, StatusCode::OK, "{log:?}");
    let items = log.body["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["outbound", "outbound", "notice", "inbound"],
        "{log:?}"
    );
    assert_eq!(items[0]["delivery"]["status"], "failed");
    assert_eq!(
        items[0]["delivery"]["error"],
        "131026 Message undeliverable"
    );
    assert_eq!(items[1]["delivery"]["status"], "delivered");
    assert_eq!(items[1]["message"], "wamid.send-1");
    assert_eq!(items[2]["notice"]["notice"], "expired_outreach_pressed");
    assert_eq!(items[3]["body"]["text"]["body"], "hello");
    assert_eq!(items[3]["conversation"], "4915100000001#1");

    // Paging: the outbound messages newer than the first page's oldest entry come with it, the
    // older ones with the page they belong to, none twice.
    let first = h
        .get(
            &format!("{}/messages?limit=1", contact_path("4915100000001")),
            BO,
        )
        .await;
    let first_kinds: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(first_kinds, ["outbound", "outbound", "notice"]);
    let next = first.body["next"].as_str().unwrap();
    let second = h
        .get(
            &format!(
                "{}/messages?limit=1&cursor={next}",
                contact_path("4915100000001")
            ),
            BO,
        )
        .await;
    let second_kinds: Vec<&str> = second.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(second_kinds, ["inbound"]);
    assert!(second.body["next"].is_null());
}

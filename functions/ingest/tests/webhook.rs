//! The webhook core through the in-process queue: every fixture under `tests/fixtures/webhooks/`,
//! the 1-, 20-message and ~3 MB bodies, and every refusal (HOOK-1, HOOK-2, HOOK-4, HOOK-5).

use ingest::webhook::MAX_BODY_BYTES;
use ingest::{Webhook, WebhookRequest, WebhookResponse, handle};
use queue::{Destination, Envelope, MemoryQueue};
use switchboard_tests::fixture;
use whatsapp::event::{
    DeliveryStatus, EventBody, MessageContent, PricingModel, PricingType, TemplateEvent,
};
use whatsapp::{AppSecret, Event, sign};

const SECRET: &str = "switchboard-test-secret";
const TOKEN: &str = "switchboard-verify-token";
const NUMBER: &str = "200000000000001";
const ANA: &str = "15550009001";
const BEN: &str = "15550009002";

fn webhook() -> Webhook {
    Webhook {
        secret: AppSecret::new(SECRET),
        verify_token: TOKEN.to_owned(),
    }
}

fn signed(body: &[u8]) -> String {
    sign(&AppSecret::new(SECRET), body)
}

async fn request(
    queue: &MemoryQueue,
    method: &str,
    query: &str,
    signature: Option<&str>,
    body: &[u8],
) -> WebhookResponse {
    let request = WebhookRequest {
        method,
        query,
        signature,
        body,
    };
    handle(&webhook(), queue, request).await
}

/// POSTs a correctly signed body to a fresh queue; panics unless it answers 200.
async fn post_ok(body: &[u8]) -> MemoryQueue {
    let queue = MemoryQueue::new();
    let sig = signed(body);
    let response = request(&queue, "POST", "", Some(&sig), body).await;
    assert_eq!(response.status, 200, "{}", response.body);
    queue
}

fn group(contact: &str) -> String {
    format!("{NUMBER}#{contact}")
}

fn decode(e: &Envelope) -> Event {
    let event: Event = serde_json::from_str(&e.body).unwrap();
    assert_eq!(event.key, e.key, "the envelope carries the event's key");
    event
}

fn events(queue: &MemoryQueue, on: Destination) -> Vec<Event> {
    queue.messages(on).iter().map(decode).collect()
}

/// The single customer message of a fixture: checks its key, its group and that nothing went to
/// the updates queue, and returns it.
async fn single_message(name: &str, key: &str, contact: &str) -> whatsapp::InboundMessage {
    let queue = post_ok(&fixture(&format!("webhooks/{name}.json"))).await;
    let inbound = queue.messages(Destination::Inbound);
    assert_eq!(inbound.len(), 1, "{name}");
    assert_eq!(inbound[0].key, key, "{name}");
    assert_eq!(inbound[0].group.as_deref(), Some(group(contact).as_str()));
    assert!(queue.messages(Destination::Updates).is_empty(), "{name}");
    match decode(&inbound[0]).body {
        EventBody::Message(m) => m,
        other => panic!("{name}: {other:?}"),
    }
}

/// The update events of a fixture, checking that nothing went to the inbound queue.
async fn updates_of(name: &str) -> Vec<Event> {
    let queue = post_ok(&fixture(&format!("webhooks/{name}.json"))).await;
    assert!(queue.messages(Destination::Inbound).is_empty(), "{name}");
    let updates = queue.messages(Destination::Updates);
    assert!(updates.iter().all(|e| e.group.is_none()));
    updates.iter().map(decode).collect()
}

#[tokio::test]
async fn text_message_one_event_on_the_contacts_fifo_group() {
    let m = single_message("text", "wamid.TEST_TEXT_0001", ANA).await;
    assert_eq!(
        m.content,
        MessageContent::Text {
            body: "Hola, is my order on its way?".into()
        }
    );
    assert_eq!(m.timestamp, 1_760_000_000);
    assert_eq!(m.contact.key, ANA);
    assert_eq!(m.contact.profile_name.as_deref(), Some("Ana Test"));
    assert!(m.context.is_none() && m.referral.is_none());
}

#[tokio::test]
async fn text_with_context_keeps_the_quoted_message_id() {
    let m = single_message("text_context", "wamid.TEST_TEXT_CTX_0001", ANA).await;
    let context = m.context.unwrap();
    assert_eq!(context.id.as_deref(), Some("wamid.TEST_OUTBOUND_0001"));
    assert!(matches!(m.content, MessageContent::Text { .. }));
}

#[tokio::test]
async fn every_media_type() {
    for (name, id, media_id) in [
        ("image", "wamid.TEST_IMAGE_0001", "900000000000001"),
        ("video", "wamid.TEST_VIDEO_0001", "900000000000002"),
        ("audio", "wamid.TEST_AUDIO_0001", "900000000000003"),
        ("document", "wamid.TEST_DOCUMENT_0001", "900000000000004"),
        ("sticker", "wamid.TEST_STICKER_0001", "900000000000005"),
    ] {
        let m = single_message(name, id, ANA).await;
        assert_eq!(m.content.type_name(), name);
        let media = match m.content {
            MessageContent::Image(x)
            | MessageContent::Video(x)
            | MessageContent::Audio(x)
            | MessageContent::Document(x)
            | MessageContent::Sticker(x) => x,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(media.id.as_deref(), Some(media_id), "{name}");
        assert!(media.mime_type.is_some(), "{name}");
        match name {
            "image" => assert_eq!(media.caption.as_deref(), Some("The broken part")),
            "audio" => assert_eq!(media.voice, Some(true)),
            "document" => assert_eq!(media.filename.as_deref(), Some("invoice-1042.pdf")),
            "sticker" => assert_eq!(media.animated, Some(false)),
            _ => {}
        }
    }
}

#[tokio::test]
async fn location_keeps_float_coordinates() {
    let m = single_message("location", "wamid.TEST_LOCATION_0001", ANA).await;
    match m.content {
        MessageContent::Location {
            latitude,
            longitude,
            name,
            ..
        } => {
            assert_eq!(latitude, -33.8688197);
            assert_eq!(longitude, 151.2092955);
            assert_eq!(name.as_deref(), Some("Test Cafe"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn shared_contacts() {
    let m = single_message("contacts", "wamid.TEST_CONTACTS_0001", ANA).await;
    match m.content {
        MessageContent::Contacts { contacts } => {
            assert_eq!(contacts.len(), 1);
            let card = &contacts[0];
            let name = card.name.as_ref().unwrap();
            assert_eq!(name.formatted_name.as_deref(), Some("Bea Example"));
            assert_eq!(card.phones[0].wa_id.as_deref(), Some("15550009003"));
            assert_eq!(card.emails[0].email.as_deref(), Some("bea@example.com"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reaction_and_removed_reaction() {
    let m = single_message("reaction", "wamid.TEST_REACTION_0001", ANA).await;
    assert_eq!(
        m.content,
        MessageContent::Reaction {
            message_id: "wamid.TEST_OUTBOUND_0002".into(),
            emoji: Some("\u{1F44D}".into())
        }
    );
    let m = single_message("reaction_removed", "wamid.TEST_REACTION_0002", ANA).await;
    assert_eq!(
        m.content,
        MessageContent::Reaction {
            message_id: "wamid.TEST_OUTBOUND_0002".into(),
            emoji: None
        }
    );
}

#[tokio::test]
async fn interactive_button_and_list_replies_with_their_outreach() {
    let m = single_message(
        "interactive_button_reply",
        "wamid.TEST_BUTTON_REPLY_0001",
        ANA,
    )
    .await;
    assert_eq!(
        m.context.unwrap().id.as_deref(),
        Some("wamid.TEST_OUTBOUND_0003")
    );
    match m.content {
        MessageContent::ButtonReply(r) => {
            assert_eq!(
                (r.id.as_str(), r.title.as_str()),
                ("confirm-delivery", "Confirm")
            )
        }
        other => panic!("{other:?}"),
    }
    let m = single_message("interactive_list_reply", "wamid.TEST_LIST_REPLY_0001", ANA).await;
    assert_eq!(
        m.context.unwrap().id.as_deref(),
        Some("wamid.TEST_OUTBOUND_0004")
    );
    match m.content {
        MessageContent::ListReply(r) => {
            assert_eq!(r.id, "slot-tue-am");
            assert_eq!(r.description.as_deref(), Some("9:00 to 12:00"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn template_quick_reply_button_points_at_the_template() {
    let m = single_message("button", "wamid.TEST_QUICK_REPLY_0001", ANA).await;
    assert_eq!(
        m.context.unwrap().id.as_deref(),
        Some("wamid.TEST_TEMPLATE_0001")
    );
    assert_eq!(
        m.content,
        MessageContent::Button {
            payload: "STOP_PROMOTIONS".into(),
            text: "Stop promotions".into()
        }
    );
}

#[tokio::test]
async fn referrals_from_an_ad_and_a_post() {
    let queue = post_ok(&fixture("webhooks/referral.json")).await;
    let inbound = events(&queue, Destination::Inbound);
    assert_eq!(inbound.len(), 2);
    let referral = |e: &Event| match &e.body {
        EventBody::Message(m) => m.referral.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    let ad = referral(&inbound[0]);
    assert_eq!(ad.source_type.as_deref(), Some("ad"));
    assert_eq!(ad.headline.as_deref(), Some("Chat with us"));
    assert_eq!(ad.ctwa_clid.as_deref(), Some("TEST_CTWA_CLID_0001"));
    let post = referral(&inbound[1]);
    assert_eq!(post.source_type.as_deref(), Some("post"));
    assert_eq!(post.ctwa_clid, None, "ctwa_clid is optional");
    assert_eq!(
        queue.messages(Destination::Inbound)[1].group,
        Some(group(BEN))
    );
}

#[tokio::test]
async fn request_welcome_is_a_customer_event() {
    let m = single_message("request_welcome", "wamid.TEST_WELCOME_0001", ANA).await;
    assert_eq!(m.content, MessageContent::RequestWelcome);
}

#[tokio::test]
async fn system_user_changed_number_without_contacts() {
    // No `contacts` in the value: keyed by the old number, so it queues behind its messages.
    let m = single_message("system_user_changed_number", "wamid.TEST_SYSTEM_0001", ANA).await;
    assert_eq!(m.contact.profile_name, None);
    match m.content {
        MessageContent::System {
            system_type,
            new_wa_id,
            ..
        } => {
            assert_eq!(system_type, "user_changed_number");
            assert_eq!(new_wa_id.as_deref(), Some("15550009009"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn hook_4_unsupported_keeps_metas_error() {
    let m = single_message("unsupported", "wamid.TEST_UNSUPPORTED_0001", ANA).await;
    match m.content {
        MessageContent::Unsupported {
            original_type,
            errors,
        } => {
            assert_eq!(original_type, "unsupported");
            assert_eq!(errors[0].code, Some(131051));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn hook_4_unknown_type_is_kept_as_unsupported() {
    let m = single_message("unknown_type", "wamid.TEST_UNKNOWN_0001", ANA).await;
    assert_eq!(
        m.content,
        MessageContent::Unsupported {
            original_type: "hologram".into(),
            errors: vec![]
        }
    );
}

#[tokio::test]
async fn business_scoped_user_without_phone_is_keyed_by_user_id() {
    let user = "US.1000000000000000001";
    let m = single_message("bsuid_no_phone", "wamid.TEST_BSUID_0001", user).await;
    assert_eq!(m.contact.key, user);
    assert_eq!(m.contact.wa_id, None);
    assert_eq!(m.contact.user_id.as_deref(), Some(user));
    assert_eq!(m.contact.username.as_deref(), Some("@cleo.test"));
    assert_eq!(m.contact.profile_name.as_deref(), Some("Cleo Test"));
}

#[tokio::test]
async fn statuses_go_to_updates_keyed_by_message_and_status() {
    let updates = updates_of("statuses").await;
    let keys: Vec<_> = updates.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "wamid.TEST_OUTBOUND_0010:sent",
            "wamid.TEST_OUTBOUND_0010:delivered",
            "wamid.TEST_OUTBOUND_0011:read",
            "wamid.TEST_OUTBOUND_0012:delivered",
            "wamid.TEST_OUTBOUND_0013:failed",
        ]
    );
    let statuses: Vec<_> = updates
        .into_iter()
        .map(|e| match e.body {
            EventBody::Status(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    let sent = &statuses[0];
    assert_eq!(sent.status, DeliveryStatus::Sent);
    assert_eq!(sent.timestamp, 1_760_000_010);
    assert_eq!(sent.recipient_wa_id.as_deref(), Some(ANA));
    let conversation = sent.conversation.as_ref().unwrap();
    assert_eq!(conversation.id.as_deref(), Some("CONVERSATION_TEST_0001"));
    assert_eq!(conversation.expiration_timestamp, Some(1_760_086_410));
    assert_eq!(conversation.origin_type.as_deref(), Some("marketing"));
    let cbp = sent.pricing.as_ref().unwrap();
    assert_eq!(cbp.pricing_model, Some(PricingModel::Cbp));
    assert_eq!(cbp.billable, Some(true));
    assert_eq!(cbp.pricing_type, None);
    let pmp = statuses[1].pricing.as_ref().unwrap();
    assert_eq!(pmp.pricing_model, Some(PricingModel::Pmp));
    assert_eq!(pmp.pricing_type, Some(PricingType::Regular));
    assert_eq!(statuses[2].status, DeliveryStatus::Read);
    assert_eq!(
        statuses[2].pricing.as_ref().unwrap().pricing_type,
        Some(PricingType::FreeCustomerService)
    );
    assert_eq!(
        statuses[3].pricing.as_ref().unwrap().pricing_type,
        Some(PricingType::FreeEntryPoint)
    );
    let failed = &statuses[4];
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.errors[0].code, Some(131047));
}

fn template_status(e: &Event) -> &whatsapp::event::TemplateStatus {
    match &e.body {
        EventBody::TemplateStatus(t) => t,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn template_status_updates() {
    let approved = updates_of("template_status_approved").await;
    assert_eq!(approved.len(), 1);
    assert_eq!(
        approved[0].key,
        "message_template_status_update:400000000000001:1760000100"
    );
    assert_eq!(approved[0].waba_id, "100000000000001");
    let t = template_status(&approved[0]);
    assert_eq!(t.event, TemplateEvent::Approved);
    assert_eq!(t.name.as_deref(), Some("order_update"));
    assert_eq!(t.time, Some(1_760_000_100));

    let rejected = updates_of("template_status_rejected").await;
    let t = template_status(&rejected[0]);
    assert_eq!(t.event, TemplateEvent::Rejected);
    assert_eq!(t.reason.as_deref(), Some("INVALID_FORMAT"));

    let paused = updates_of("template_status_paused").await;
    let t = template_status(&paused[0]);
    assert_eq!(t.event, TemplateEvent::Paused);
    assert_eq!(t.reason, None);
    assert_eq!(
        t.other_info.as_ref().unwrap().title.as_deref(),
        Some("FIRST_PAUSE")
    );
}

#[tokio::test]
async fn template_quality_update() {
    let updates = updates_of("template_quality").await;
    assert_eq!(
        updates[0].key,
        "message_template_quality_update:400000000000003:1760000400"
    );
    match &updates[0].body {
        EventBody::TemplateQuality(q) => {
            assert_eq!(q.previous_quality_score.as_deref(), Some("GREEN"));
            assert_eq!(q.new_quality_score.as_deref(), Some("YELLOW"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn phone_number_quality_update_reads_tiers() {
    let updates = updates_of("phone_number_quality").await;
    assert_eq!(
        updates[0].key,
        "phone_number_quality_update:100000000000001:1760000500:0"
    );
    match &updates[0].body {
        EventBody::PhoneNumberQuality(q) => {
            assert_eq!(q.event.as_deref(), Some("DOWNGRADE"));
            assert_eq!(q.current_limit.as_ref().unwrap().per_day, Some(1_000));
            assert_eq!(q.old_limit.as_ref().unwrap().per_day, Some(10_000));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn capability_update_as_tier_string_or_integer() {
    for (name, tier, per_day, numbers) in [
        ("capability_tier", Some("TIER_10K"), 10_000, 2),
        ("capability_integer", None, 1_000, 25),
    ] {
        let updates = updates_of(name).await;
        assert!(
            updates[0]
                .key
                .starts_with("business_capability_update:100000000000001:")
        );
        match &updates[0].body {
            EventBody::Capability(c) => {
                let limit = c.messaging_limit.as_ref().unwrap();
                assert_eq!(limit.tier.as_deref(), tier, "{name}");
                assert_eq!(limit.per_day, Some(per_day), "{name}");
                assert_eq!(c.max_phone_numbers_per_business, Some(numbers));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn account_level_errors_are_updates() {
    let updates = updates_of("account_errors").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].key, "errors:200000000000001:1760000800:131056:0");
    assert!(matches!(&updates[0].body, EventBody::AccountError(a) if a.error.code == Some(131056)));
}

#[tokio::test]
async fn mixed_body_splits_customer_events_from_updates() {
    let queue = post_ok(&fixture("webhooks/mixed.json")).await;
    let inbound = queue.messages(Destination::Inbound);
    let keys: Vec<_> = inbound
        .iter()
        .map(|e| (e.key.as_str(), e.group.clone().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            ("wamid.TEST_MIXED_0001", group(ANA)),
            ("wamid.TEST_MIXED_0002", group(BEN))
        ]
    );
    let updates = events(&queue, Destination::Updates);
    let kinds: Vec<_> = updates
        .iter()
        .map(|e| (e.key.as_str(), e.kind_name()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("wamid.TEST_OUTBOUND_0020:read", "status"),
            (
                "message_template_status_update:400000000000009:1760000900",
                "template_status"
            ),
            ("account_update:100000000000002:1760000900:1", "other_field"),
        ]
    );
    assert_eq!(template_status(&updates[1]).event, TemplateEvent::Disabled);
    assert_eq!(updates[1].waba_id, "100000000000002");
}

#[tokio::test]
async fn twenty_messages_keep_each_contacts_order() {
    let queue = post_ok(&fixture("webhooks/batch_20.json")).await;
    let inbound = queue.messages(Destination::Inbound);
    assert_eq!(inbound.len(), 20);
    for c in 0..5 {
        let contact = format!("1555001{c:04}");
        let keys: Vec<_> = queue
            .group(&group(&contact))
            .into_iter()
            .map(|e| e.key)
            .collect();
        let expected: Vec<_> = (0..20)
            .filter(|i| i % 5 == c)
            .map(|i| format!("wamid.TEST_BATCH_{i:04}"))
            .collect();
        assert_eq!(keys, expected);
    }
    // Non-ASCII text survives the queue body.
    match decode(&inbound[0]).body {
        EventBody::Message(m) => assert_eq!(
            m.content,
            MessageContent::Text {
                body: "Message 0 from contact 0: caf\u{e9} \u{1F600}".into()
            }
        ),
        other => panic!("{other:?}"),
    }
}

/// A body of text messages over 50 contacts, as close to `target` bytes as whole messages allow.
fn large_body(target: usize) -> (Vec<u8>, usize) {
    let head = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"100000000000001","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550100001","phone_number_id":"{NUMBER}"}},"messages":["#
    );
    let tail = "]}}]}]}";
    let text = "Lorem ipsum dolor sit amet, ".repeat(20);
    let mut body = head.into_bytes();
    let mut n = 0;
    loop {
        let message = format!(
            r#"{{"from":"1555002{:04}","id":"wamid.TEST_LARGE_{n:06}","timestamp":"{}","type":"text","text":{{"body":"{n} {text}"}}}}"#,
            n % 50,
            1_760_000_000 + n
        );
        if body.len() + message.len() + 1 + tail.len() > target {
            break;
        }
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(message.as_bytes());
        n += 1;
    }
    body.extend_from_slice(tail.as_bytes());
    (body, n)
}

#[tokio::test]
async fn a_body_close_to_3_mb_is_queued_whole() {
    let (body, n) = large_body(MAX_BODY_BYTES);
    assert!(body.len() > MAX_BODY_BYTES - 1024 && body.len() <= MAX_BODY_BYTES);
    let queue = post_ok(&body).await;
    let inbound = queue.messages(Destination::Inbound);
    assert_eq!(inbound.len(), n);
    assert!(n > 4_000, "{n}");
    assert_eq!(
        queue.group(&group("15550020007")).len(),
        n / 50 + usize::from(n % 50 > 7)
    );
    // Every envelope fits one SQS message, so the adapter can split the body into batches.
    assert!(
        inbound
            .iter()
            .all(|e| e.body.len() < queue::MAX_MESSAGE_BYTES)
    );
    let batches = queue::sqs::plan(Destination::Inbound, &inbound).unwrap();
    assert!(batches.len() >= n / queue::MAX_BATCH_ENTRIES);
    assert!(batches.iter().all(|b| b.len() <= queue::MAX_BATCH_ENTRIES));
}

#[tokio::test]
async fn over_3_mb_answers_413_and_queues_nothing() {
    let (mut body, _) = large_body(MAX_BODY_BYTES);
    body.resize(MAX_BODY_BYTES + 1, b' ');
    let queue = MemoryQueue::new();
    let sig = signed(&body);
    let response = request(&queue, "POST", "", Some(&sig), &body).await;
    assert_eq!(response.status, 413);
    assert!(queue.is_empty());
}

#[tokio::test]
async fn hook_1_handshake_answers_the_challenge_as_plain_text() {
    let queue = MemoryQueue::new();
    let query = format!("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={TOKEN}");
    let response = request(&queue, "GET", &query, None, b"").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "1158201444");
    assert!(response.content_type.starts_with("text/plain"));
    for bad in [
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong".to_owned(),
        format!("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={TOKEN}"),
        format!("hub.challenge=1&hub.verify_token={TOKEN}"),
        String::new(),
    ] {
        let response = request(&queue, "GET", &bad, None, b"").await;
        assert_eq!(response.status, 403, "{bad}");
        assert!(!response.body.contains("1158201444"));
    }
}

#[tokio::test]
async fn hook_2_bad_signatures_answer_401_and_queue_nothing() {
    let body = fixture("webhooks/text.json");
    let good = signed(&body);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let reserialised = serde_json::to_vec(&value).unwrap();
    assert_ne!(reserialised, body);
    let other_secret = sign(&AppSecret::new("not-the-secret"), &body);
    let cases: [(&str, Option<&str>, &[u8]); 6] = [
        ("missing", None, &body),
        ("empty", Some(""), &body),
        ("malformed", Some("sha1=abcdef"), &body),
        ("wrong secret", Some(&other_secret), &body),
        ("re-serialised body", Some(&good), &reserialised),
        ("truncated body", Some(&good), &body[..body.len() - 1]),
    ];
    for (case, signature, payload) in cases {
        let queue = MemoryQueue::new();
        let response = request(&queue, "POST", "", signature, payload).await;
        assert_eq!(response.status, 401, "{case}");
        assert!(queue.is_empty(), "{case}");
    }
}

#[tokio::test]
async fn hook_4_well_signed_but_not_whatsapp_answers_400_with_the_reason() {
    let cases: [(&str, &[u8], &str); 6] = [
        ("not JSON", b"hello", "not valid JSON"),
        ("truncated JSON", br#"{"object":"whatsapp_business_account","entry":["#, "not valid JSON"),
        ("a page webhook", br#"{"object":"page","entry":[]}"#, "\"page\""),
        ("an array", b"[1,2,3]", "not a WhatsApp"),
        ("no object", br#"{"entry":[]}"#, "object"),
        (
            "a message without id",
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"messages":[{"from":"3","timestamp":"4","type":"text"}]}}]}]}"#,
            "id",
        ),
    ];
    for (case, body, reason) in cases {
        let queue = MemoryQueue::new();
        let sig = signed(body);
        let response = request(&queue, "POST", "", Some(&sig), body).await;
        assert_eq!(response.status, 400, "{case}");
        assert!(response.body.contains(reason), "{case}: {}", response.body);
        assert!(queue.is_empty(), "{case}");
    }
}

#[tokio::test]
async fn other_methods_answer_405() {
    let body = fixture("webhooks/text.json");
    let sig = signed(&body);
    for method in ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let queue = MemoryQueue::new();
        let response = request(&queue, method, "", Some(&sig), &body).await;
        assert_eq!(response.status, 405, "{method}");
        assert!(queue.is_empty());
    }
}

#[tokio::test]
async fn hook_5_a_queue_failure_answers_500_and_the_redelivery_is_queued_once() {
    let body = fixture("webhooks/mixed.json");
    let sig = signed(&body);
    let queue = MemoryQueue::new();
    queue.fail_next_sends(1);
    let response = request(&queue, "POST", "", Some(&sig), &body).await;
    assert_eq!(response.status, 500);
    // Meta delivers again; the inbound FIFO dedups by event key.
    let response = request(&queue, "POST", "", Some(&sig), &body).await;
    assert_eq!(response.status, 200);
    assert_eq!(queue.messages(Destination::Inbound).len(), 2);
    let update_keys: std::collections::HashSet<_> = queue
        .messages(Destination::Updates)
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(update_keys.len(), 3);
}

#[tokio::test]
async fn redelivery_of_the_same_body_yields_the_same_keys() {
    let body = fixture("webhooks/batch_20.json");
    let a = post_ok(&body).await.messages(Destination::Inbound);
    let b = post_ok(&body).await.messages(Destination::Inbound);
    assert_eq!(a, b);
}

#[tokio::test]
async fn every_fixture_is_accepted_and_every_event_is_keyed_and_routed() {
    let dir = switchboard_tests::fixtures_dir().join("webhooks");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let queue = post_ok(&body).await;
        assert!(!queue.is_empty(), "{}", path.display());
        for e in queue.messages(Destination::Inbound) {
            let event = decode(&e);
            assert!(matches!(event.body, EventBody::Message(_)));
            assert!(e.group.unwrap().starts_with(&format!("{NUMBER}#")));
        }
        for e in queue.messages(Destination::Updates) {
            assert!(!matches!(decode(&e).body, EventBody::Message(_)));
        }
        seen += 1;
    }
    assert!(seen >= 30, "{seen} fixtures");
}

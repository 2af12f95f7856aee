//! The updates queue: statuses (HOOK-3, BILL-3), template events (TPL-4), limits (SEND-3),
//! account errors (SEND-2).

use crate::harness::*;
use rules::pacing::{MAX_PER_SECOND, MessagingLimit};
use rules::templates::{Quality, TemplateCategory, TemplateStatus};
use rules::{BusinessNumberId, MessageId};
use sender::Outcome;
use store::{DeliveryStatus as Stored, LedgerStore, OutboundStore, SendingStore, TemplateStore};
use whatsapp::event::DeliveryStatus;

async fn fixture(w: &World, name: &str) -> Vec<Outcome> {
    let path = format!(
        "{}/../../tests/fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap();
    let mut outcomes = Vec::new();
    for event in whatsapp::parse_events(&body).unwrap() {
        outcomes.push(w.update(&event).await);
    }
    outcomes
}

/// Registers the business number under the account (as any status of it does).
async fn link(w: &World) {
    w.store
        .link_number(
            WABA,
            &store::NumberLink {
                number: number(),
                display_phone_number: Some("15550100001".into()),
            },
        )
        .await
        .unwrap();
}

// BILL-3: the reported pricing goes into the ledger once per message, beside the prediction,
// per number, category and day.
#[tokio::test]
async fn bill_3_reported_pricing_is_counted_once_beside_the_prediction() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Marketing))
        .await;
    let wamid = wamid_of(&w.send(template_job("k1", &contact(1), "offer")).await);
    let pricing = Some(("marketing", true, "regular"));
    for status in [
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Delivered,
    ] {
        w.update(&status_event(&wamid, status, t(5), pricing, None, None))
            .await;
    }
    // BILL-2/3: a marketing template is predicted charged, per message.
    let prediction = w
        .store
        .sent_message(&wamid)
        .await
        .unwrap()
        .unwrap()
        .prediction
        .unwrap();
    assert!(prediction.charged);
    assert_eq!(
        prediction.category,
        rules::billing::PricingCategory::Marketing
    );
    assert_eq!(prediction.model, rules::billing::ModelName::PerMessage);
    let day = t(0).date();
    let ledger = w.store.ledger(&number(), day, day).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].category, "marketing");
    assert_eq!(ledger[0].predicted_count, 1);
    assert_eq!(ledger[0].reported_count, 1);
    let message = w.store.outbound_by_wamid(&wamid).await.unwrap().unwrap();
    assert_eq!(message.status(), Some(Stored::Delivered));
    assert!(message.pricing.is_some());
}

// HOOK-3 / BILL-3: the updates queue replayed twice and shuffled gives the same outbound states
// and the same ledger.
#[tokio::test]
async fn hook_3_updates_replayed_twice_and_shuffled_change_nothing() {
    async fn run(
        order: &[usize],
        repeat: usize,
    ) -> (Vec<Option<store::OutboundMessage>>, Vec<store::LedgerLine>) {
        let w = world();
        w.template(&approved("offer", TemplateCategory::Marketing))
            .await;
        let mut wamids = Vec::new();
        for i in 0..3 {
            wamids.push(wamid_of(
                &w.send(template_job(&format!("k{i}"), &contact(i), "offer"))
                    .await,
            ));
        }
        let pricing = Some(("marketing", true, "regular"));
        let events = [
            status_event(&wamids[0], DeliveryStatus::Sent, t(1), pricing, None, None),
            status_event(
                &wamids[0],
                DeliveryStatus::Delivered,
                t(2),
                pricing,
                None,
                None,
            ),
            status_event(&wamids[0], DeliveryStatus::Read, t(3), pricing, None, None),
            status_event(&wamids[1], DeliveryStatus::Sent, t(1), pricing, None, None),
            status_event(
                &wamids[1],
                DeliveryStatus::Failed,
                t(4),
                None,
                Some(131026),
                None,
            ),
            status_event(
                &wamids[2],
                DeliveryStatus::Delivered,
                t(2),
                Some(("utility", false, "free_customer_service")),
                None,
                None,
            ),
        ];
        for _ in 0..repeat {
            for &i in order {
                w.update(&events[i]).await;
            }
        }
        let mut messages = Vec::new();
        for wamid in &wamids {
            let mut m = w.store.outbound_by_wamid(wamid).await.unwrap();
            // The pricing text is whichever status carried it first: same content, any order.
            if let Some(m) = &mut m {
                m.pricing = m.pricing_json().map(|p| p.to_string());
            }
            messages.push(m);
        }
        let day = t(0).date();
        (messages, w.store.ledger(&number(), day, day).await.unwrap())
    }
    let once = run(&[0, 1, 2, 3, 4, 5], 1).await;
    let shuffled = run(&[5, 2, 4, 0, 3, 1], 2).await;
    assert_eq!(once, shuffled);
    let marketing = once.1.iter().find(|l| l.category == "marketing").unwrap();
    assert_eq!(marketing.predicted_count, 3);
    assert_eq!(
        marketing.reported_count, 2,
        "two marketing messages carried pricing"
    );
    assert_eq!(once.0[0].as_ref().unwrap().status(), Some(Stored::Read));
    assert_eq!(
        once.0[1].as_ref().unwrap().error.as_ref().unwrap().code,
        131026
    );
}

// TPL-4: status and quality webhooks are applied to the catalogue (a redelivery changes nothing);
// TPL-1: sends held for a paused template go out when it is approved again.
#[tokio::test]
async fn tpl_4_template_events_update_the_catalogue_and_release_held_sends() {
    let w = world();
    link(&w).await;
    let mut template = approved("order_update", TemplateCategory::Utility);
    template.status = TemplateStatus::Paused;
    w.template(&template).await;
    w.template(&approved("winback", TemplateCategory::Marketing))
        .await;
    assert!(matches!(
        w.send(template_job("k1", &contact(1), "order_update"))
            .await,
        sender::Outcome::Parked { .. }
    ));
    // The fixture: order_update (en_US) APPROVED.
    let outcomes = fixture(&w, "template_status_approved.json").await;
    assert_eq!(outcomes, vec![Outcome::Applied { what: "template" }]);
    let stored = w
        .store
        .template(&number(), &template.name, "en_US")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, TemplateStatus::Approved);
    assert_eq!(
        stored.status_as_of,
        Some(rules::Timestamp::from_unix(1_760_000_100))
    );
    let outcomes = w.drain(5).await;
    assert!(matches!(outcomes[0], Outcome::Sent { .. }), "{outcomes:?}");
    // A redelivery changes nothing.
    let again = fixture(&w, "template_status_approved.json").await;
    assert!(matches!(again[0], Outcome::Ignored { .. }));
    // Quality: winback GREEN → YELLOW.
    let quality = fixture(&w, "template_quality.json").await;
    assert_eq!(quality, vec![Outcome::Applied { what: "template" }]);
    let winback = rules::TemplateName::new("winback").unwrap();
    let stored = w
        .store
        .template(&number(), &winback, "en_US")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.quality, Quality::Yellow);
}

// SEND-3: messaging-limit and throughput events update the number's pacing (later events win).
#[tokio::test]
async fn send_3_limit_and_throughput_events_update_the_numbers_pacing() {
    let w = world();
    link(&w).await;
    // DOWNGRADE to TIER_1K for display number 15550100001.
    fixture(&w, "phone_number_quality.json").await;
    let (pacing, _) = w.store.number_pacing(&number()).await.unwrap();
    assert_eq!(pacing.settings.messaging_limit, MessagingLimit::TIER_1K);
    // The account's capability: TIER_10K, later.
    fixture(&w, "capability_tier.json").await;
    let (pacing, _) = w.store.number_pacing(&number()).await.unwrap();
    assert_eq!(pacing.settings.messaging_limit, MessagingLimit::TIER_10K);
    // An older event changes nothing.
    fixture(&w, "phone_number_quality.json").await;
    let (pacing, _) = w.store.number_pacing(&number()).await.unwrap();
    assert_eq!(pacing.settings.messaging_limit, MessagingLimit::TIER_10K);
    // Throughput upgrade: 1,000 messages per second.
    let upgrade = whatsapp::Event {
        key: "phone_number_quality_update:x".into(),
        waba_id: WABA.into(),
        business: None,
        body: whatsapp::EventBody::PhoneNumberQuality(whatsapp::event::PhoneNumberQuality {
            display_phone_number: Some("15550100001".into()),
            event: Some("THROUGHPUT_UPGRADE".into()),
            current_limit: Some(whatsapp::event::MessagingLimit::from_tier("TIER_UNLIMITED")),
            old_limit: None,
            time: Some(1_760_000_900),
        }),
    };
    w.update(&upgrade).await;
    let (pacing, _) = w.store.number_pacing(&number()).await.unwrap();
    assert_eq!(pacing.settings.throughput.get(), MAX_PER_SECOND);
    assert_eq!(pacing.settings.messaging_limit, MessagingLimit::TIER_10K);
}

// SEND-2: an account-level error with a stopping code stops the number and alerts; an unknown
// account's template event is ignored, not failed.
#[tokio::test]
async fn send_2_account_errors_act_on_the_number() {
    let w = world();
    link(&w).await;
    let event = whatsapp::Event {
        key: "errors:x".into(),
        waba_id: WABA.into(),
        business: Some(whatsapp::event::BusinessNumber {
            phone_number_id: number().to_string(),
            display_phone_number: None,
        }),
        body: whatsapp::EventBody::AccountError(whatsapp::event::AccountError {
            time: Some(1_760_000_000),
            error: whatsapp::webhook::MetaError {
                code: Some(131031),
                title: Some("Business account locked".into()),
                ..Default::default()
            },
        }),
    };
    w.update(&event).await;
    assert_eq!(w.alerts.alerts().len(), 1);
    let (pacing, _) = w.store.number_pacing(&number()).await.unwrap();
    assert!(pacing.pacing.stopped);
    // The fixture's 131056 changes nothing on the number.
    let outcomes = fixture(&w, "account_errors.json").await;
    assert!(
        matches!(outcomes[0], Outcome::Ignored { .. }),
        "{outcomes:?}"
    );
    let other = world();
    let outcomes = fixture(&other, "template_status_approved.json").await;
    assert!(matches!(outcomes[0], Outcome::Ignored { .. }));
    let _ = BusinessNumberId::new("unused").unwrap();
    let _ = MessageId::new("unused").unwrap();
}

// HOOK-3: the status fixture (a message we never sent among them) is applied without error, and
// `failed` keeps Meta's error.
#[tokio::test]
async fn hook_3_statuses_of_unknown_messages_are_kept() {
    let w = world();
    let outcomes = fixture(&w, "statuses.json").await;
    assert_eq!(outcomes.len(), 5);
    let failed = w
        .store
        .outbound_by_wamid(&MessageId::new("wamid.TEST_OUTBOUND_0013").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status(), Some(Stored::Failed));
    assert_eq!(failed.error.unwrap().code, 131047);
    // Reported pricing of messages Switchboard did not send is still counted (unpredicted).
    let day = rules::Timestamp::from_unix(1_760_000_010).date();
    let ledger = w.store.ledger(&number(), day, day).await.unwrap();
    assert_eq!(ledger.iter().map(|l| l.reported_count).sum::<i64>(), 3);
    assert_eq!(ledger.iter().map(|l| l.predicted_count).sum::<i64>(), 0);
}

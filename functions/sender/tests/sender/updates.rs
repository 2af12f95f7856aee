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

/// 2025-03-10 09:00 UTC: hour 0 of seed 003's examples, under conversation-based pricing.
const CBP_H0: i64 = 1_741_597_200;

fn hour(h: i64) -> rules::Timestamp {
    rules::Timestamp::from_unix(CBP_H0 + h * 3600)
}

/// The categories and charges the sender predicted for these sends.
async fn predicted(w: &World, wamids: &[MessageId]) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for wamid in wamids {
        let p = w
            .store
            .sent_message(wamid)
            .await
            .unwrap()
            .unwrap()
            .prediction
            .unwrap();
        out.push((p.category.to_string(), p.charge().label()));
    }
    out
}

// BILL-5: the sender keeps each contact's open billing conversations (from its accepted sends)
// and predicts from them: seed 003's second example before 2025-07-01 is marketing 2 / service 2,
// as Meta reports it; its first example's utility template at hour 10 falls into the utility
// conversation opened at hour 4 and is no new charge.
#[tokio::test]
async fn bill_5_seed_003_examples_before_july_2025_predict_what_meta_reports() {
    let w = world();
    w.clock.set_ms(hour(0).unix() * 1000);
    w.template(&approved("offer", TemplateCategory::Marketing))
        .await;
    w.template(&approved("shipped", TemplateCategory::Utility))
        .await;
    let (c, d) = (contact(1), contact(2));
    let at = |h: i64| w.clock.set_ms(hour(h).unix() * 1000);

    // Example 2 (contact c): marketing at 0, the customer replies at 4, messages at 5, 25, 26.
    // Example 1 (contact d): marketing at 0, utility at 4 and 10. In time order:
    let (mut example_1, mut example_2) = (Vec::new(), Vec::new());
    for (h, who, what) in [
        (0, &c, "offer"),
        (0, &d, "offer"),
        (4, &d, "shipped"),
        (5, &c, "text"),
        (10, &d, "shipped"),
        (25, &c, "text"),
        (26, &c, "text"),
    ] {
        at(h);
        if h == 4 {
            w.inbound(&c, hour(4)).await;
        }
        let key = format!("{who}-{h}");
        let job = match what {
            "text" => text_job(&key, who, "here you are"),
            name => template_job(&key, who, name),
        };
        let wamid = wamid_of(&w.send(job).await);
        if who == &c {
            &mut example_2
        } else {
            &mut example_1
        }
        .push(wamid);
    }
    assert_eq!(
        predicted(&w, &example_2).await,
        vec![
            ("marketing".to_owned(), "charged"),
            ("marketing".to_owned(), "free_conversation_open"),
            ("service".to_owned(), "free_service_window"),
            ("service".to_owned(), "free_conversation_open"),
        ]
    );
    assert_eq!(
        predicted(&w, &example_1).await,
        vec![
            ("marketing".to_owned(), "charged"),
            ("utility".to_owned(), "charged"),
            ("utility".to_owned(), "free_conversation_open"),
        ]
    );

    // The ledger counts them per category and charge: marketing 3 (2 charged), service 2,
    // utility 2 (1 charged).
    let day = hour(0).date();
    let lines = w
        .store
        .ledger(&number(), day, hour(26).date())
        .await
        .unwrap();
    let count = |category: &str, charge: &str| {
        lines
            .iter()
            .filter(|l| l.category == category && l.charge == charge)
            .map(|l| l.predicted_count)
            .sum::<i64>()
    };
    assert_eq!(count("marketing", "charged"), 2);
    assert_eq!(count("marketing", "free_conversation_open"), 1);
    assert_eq!(count("service", "free_service_window"), 1);
    assert_eq!(count("service", "free_conversation_open"), 1);
    assert_eq!(count("utility", "charged"), 1);
    assert_eq!(count("utility", "free_conversation_open"), 1);
}

// BILL-6: the rate table is read with every send: charged predictions are priced by category,
// market and date, free ones say why; Meta's report is priced and labelled the same way; inside a
// free entry point window the category is `referral_conversion`.
#[tokio::test]
async fn bill_6_rates_price_predictions_and_reports_with_charged_or_free_and_why() {
    use rules::billing::{ANY_MARKET, PricingCategory, Rate, RateTable};
    let w = world();
    let from = rules::Date::new(2025, 7, 1);
    let rate = |category, market: &str, micros| Rate {
        category,
        market: market.into(),
        effective_from: from,
        micros,
    };
    w.store
        .put_rates(&RateTable {
            currency: "USD".into(),
            source: Some("test".into()),
            rates: vec![
                rate(PricingCategory::Marketing, "1", 25_000),
                rate(PricingCategory::Marketing, ANY_MARKET, 60_000),
                rate(PricingCategory::Utility, ANY_MARKET, 4_000),
            ],
        })
        .await
        .unwrap();
    w.template(&approved("offer", TemplateCategory::Marketing))
        .await;
    w.template(&approved("shipped", TemplateCategory::Utility))
        .await;
    let c = contact(1);
    let offer = wamid_of(&w.send(template_job("k-offer", &c, "offer")).await);
    w.inbound(&c, t(10)).await;
    w.clock.set_ms(t(20).unix() * 1000);
    let shipped = wamid_of(&w.send(template_job("k-shipped", &c, "shipped")).await);
    // A contact who came from an ad and was answered: inside the FEP window.
    let ad = contact(2);
    let mut state = rules::ContactState::new(number(), ad.clone());
    state.windows.record_inbound(t(5), true);
    state.windows.record_business_message(t(6));
    w.put_state(state, "ad-state").await;
    let in_fep = wamid_of(&w.send(template_job("k-fep", &ad, "offer")).await);
    assert_eq!(
        predicted(&w, &[offer.clone(), shipped.clone(), in_fep.clone()]).await,
        vec![
            ("marketing".to_owned(), "charged"),
            ("utility".to_owned(), "free_utility_in_service_window"),
            ("referral_conversion".to_owned(), "free_entry_point"),
        ]
    );
    for (wamid, pricing) in [
        (&offer, ("marketing", true, "regular")),
        (&shipped, ("utility", false, "free_customer_service")),
        (&in_fep, ("referral_conversion", false, "free_entry_point")),
    ] {
        w.update(&status_event(
            wamid,
            DeliveryStatus::Delivered,
            t(30),
            Some(pricing),
            None,
            None,
        ))
        .await;
    }
    let day = t(0).date();
    let lines = w.store.ledger(&number(), day, day).await.unwrap();
    let got: Vec<(&str, &str, i64, i64, i64, i64)> = lines
        .iter()
        .map(|l| {
            (
                l.category.as_str(),
                l.charge.as_str(),
                l.predicted_count,
                l.predicted_micros,
                l.reported_count,
                l.reported_micros,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("marketing", "charged", 1, 25_000, 1, 25_000),
            ("referral_conversion", "free_entry_point", 1, 0, 1, 0),
            ("utility", "free_utility_in_service_window", 1, 0, 1, 0),
        ]
    );
}

//! The contract of the sender's port ([`store::SendingStore`]), run against both adapters.

use rules::billing::{ChargePrediction, ModelName, PricingCategory, PricingType, ReportedPricing};
use rules::outreach::OutreachRecord;
use rules::pacing::{MessagingLimit, PacingSettings, RecipientPace};
use rules::{
    BusinessNumberId, CampaignId, ContactKey, Date, MessageId, OutreachId, TemplateName, Timestamp,
};
use std::sync::Arc;
use store::*;

const T0: i64 = 1_760_000_000;

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds)
}

fn number() -> BusinessNumberId {
    BusinessNumberId::new("200000000000001").unwrap()
}

fn contact(i: u32) -> ContactKey {
    ContactKey::new(format!("1555000{i:04}")).unwrap()
}

fn record(key: &str, state: SendState) -> SendRecord {
    SendRecord {
        key: key.to_owned(),
        number: number(),
        contact: contact(1),
        state,
        attempts: 0,
        job: r#"{"job":"send"}"#.to_owned(),
        updated_at: t(0),
        calling: None,
        failure_seen: None,
    }
}

fn in_flight() -> SendState {
    SendState::InFlight {
        since: t(0),
        lease_until: t(30),
        calling: false,
    }
}

fn prediction() -> ChargePrediction {
    ChargePrediction {
        sent_at: t(1),
        model: ModelName::PerMessage,
        rule_from: Date::new(2025, 7, 1),
        category: PricingCategory::Marketing,
        charged: true,
        billable: true,
        pricing_type: Some(PricingType::Regular),
        conversation: None,
        counts_toward_service_allowance: false,
        free_reason: None,
    }
}

fn day() -> Date {
    t(1).date()
}

fn accepted(key: &str, wamid: &MessageId, expected_version: u64) -> AcceptedSend {
    let mut sent = record(
        key,
        SendState::Sent {
            wamid: wamid.clone(),
            at: t(1),
        },
    );
    sent.attempts = 1;
    AcceptedSend {
        record: sent,
        expected_version,
        message: SentMessage {
            wamid: wamid.clone(),
            key: key.to_owned(),
            number: number(),
            contact: contact(1),
            sent_at: t(1),
            prediction: Some(prediction()),
            campaign: Some(CampaignId::new("spring").unwrap()),
            template: Some("spring_sale".into()),
        },
        predicted: Some(LedgerAddition {
            number: number(),
            day: day(),
            category: "marketing".into(),
            charge: "charged".into(),
            micros: 25_000,
        }),
        outreach: Some(NewOutreach {
            record: OutreachRecord {
                id: OutreachId::new("o-1").unwrap(),
                wamid: wamid.clone(),
                template: TemplateName::new("spring_sale").unwrap(),
                sent_at: t(1),
                buttons: vec!["Yes".into(), "No".into()],
                campaign: None,
            },
            expires_at: t(86_400 * 32),
        }),
        opened: None,
    }
}

// SEND-1/idempotency: a send record changes only from the version it was read at.
pub async fn send_records_are_versioned<S: SendingStore>(store: S) {
    assert_eq!(store.send_record("k1").await.unwrap(), None);
    let r = record("k1", in_flight());
    assert_eq!(store.put_send_record(&r, None).await.unwrap(), Some(1));
    assert_eq!(store.put_send_record(&r, None).await.unwrap(), None);
    let waiting = record(
        "k1",
        SendState::Waiting {
            not_before_ms: (T0 + 6) * 1000,
            because: "recipient_pace".into(),
        },
    );
    assert_eq!(
        store.put_send_record(&waiting, Some(1)).await.unwrap(),
        Some(2)
    );
    assert_eq!(store.put_send_record(&r, Some(1)).await.unwrap(), None);
    let read = store.send_record("k1").await.unwrap().unwrap();
    assert_eq!(read.version, 2);
    assert_eq!(read.value, waiting);
}

// SEND-1, BILL-3, OUT-8: acceptance writes the record, the key's wamid, the message, the
// predicted ledger line and the outreach at once, and only from the version read.
pub async fn acceptance_is_one_conditional_write<S: SendingStore + Store>(store: S) {
    let wamid = MessageId::new("wamid.A1").unwrap();
    assert_eq!(
        store
            .put_send_record(&record("k2", in_flight()), None)
            .await
            .unwrap(),
        Some(1)
    );
    // A status that overtook the acceptance is kept (HOOK-3).
    store
        .apply_status(&StatusUpdate {
            wamid: wamid.clone(),
            status: DeliveryStatus::Delivered,
            at: t(3),
            pricing: None,
            error: None,
        })
        .await
        .unwrap();
    let a = accepted("k2", &wamid, 1);
    assert!(store.record_accepted(&a).await.unwrap());
    let read = store.send_record("k2").await.unwrap().unwrap();
    assert_eq!(read.version, 2);
    assert!(matches!(read.value.state, SendState::Sent { .. }));
    assert_eq!(
        store.outbound_by_key("k2").await.unwrap(),
        Some(Some(wamid.clone()))
    );
    let message = store.outbound_by_wamid(&wamid).await.unwrap().unwrap();
    assert_eq!(message.sent_at, Some(t(1)));
    assert_eq!(message.delivered_at, Some(t(3)));
    assert_eq!(message.idempotency_key.as_deref(), Some("k2"));
    assert_eq!(
        store.sent_message(&wamid).await.unwrap(),
        Some(a.message.clone())
    );
    let loaded = store
        .load_contact(&number(), &contact(1), t(2))
        .await
        .unwrap();
    assert_eq!(loaded.outreach.len(), 1);
    assert_eq!(loaded.outreach[0].wamid, wamid);
    // The same acceptance again (a redelivery racing the first): refused, nothing counted twice.
    assert!(!store.record_accepted(&a).await.unwrap());
    let ledger = store.ledger(&number(), day(), day()).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].predicted_count, 1);
    assert_eq!(ledger[0].predicted_micros, 25_000);
    // A stale version writes nothing at all.
    let other = accepted("k3", &MessageId::new("wamid.A2").unwrap(), 7);
    store
        .put_send_record(&record("k3", in_flight()), None)
        .await
        .unwrap();
    assert!(!store.record_accepted(&other).await.unwrap());
    assert_eq!(store.outbound_by_key("k3").await.unwrap(), None);
    assert_eq!(
        store.ledger(&number(), day(), day()).await.unwrap()[0].predicted_count,
        1
    );
}

// BILL-3: the reported line is added once per message, whatever the number of statuses.
pub async fn reported_pricing_counts_once<S: SendingStore + Store>(store: S) {
    let wamid = MessageId::new("wamid.R1").unwrap();
    let reported = ReportedPricing::from_meta(true, "PMP", "marketing", Some("regular")).unwrap();
    let line = LedgerAddition {
        number: number(),
        day: day(),
        category: "marketing".into(),
        charge: "charged".into(),
        micros: 25_000,
    };
    assert!(
        store
            .record_reported_pricing(&wamid, &reported, &line)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_reported_pricing(&wamid, &reported, &line)
            .await
            .unwrap()
    );
    let ledger = store.ledger(&number(), day(), day()).await.unwrap();
    assert_eq!(ledger[0].reported_count, 1);
    assert_eq!(ledger[0].reported_micros, 25_000);
    assert_eq!(ledger[0].predicted_count, 0);
    assert_eq!(ledger[0].charge, "charged");
}

// BILL-5: the billing conversation an accepted send opened joins the recipient's history in the
// acceptance's write (moving the recipient's version), and the next send's one read has it.
pub async fn bill_5_accepted_send_adds_its_conversation_to_the_history<S: SendingStore + Store>(
    store: S,
) {
    use rules::billing::BilledConversation;
    let query = SendContextQuery {
        key: "k-bill5-2".into(),
        number: number(),
        contact: contact(1),
        settings: false,
        template: None,
        now: t(2),
    };
    let before = store.send_context(&query).await.unwrap();
    assert!(before.recipient.0.billing.is_empty());
    assert_eq!(before.recipient.1, None);
    let opened = BilledConversation {
        category: PricingCategory::Marketing,
        opened_at: t(1),
        expires_at: t(1 + 86_400),
    };
    for (key, wamid, conversation) in [
        ("k-bill5-1", "wamid.B1", opened),
        (
            "k-bill5-3",
            "wamid.B3",
            BilledConversation {
                category: PricingCategory::Utility,
                ..opened
            },
        ),
    ] {
        store
            .put_send_record(&record(key, in_flight()), None)
            .await
            .unwrap();
        let mut a = accepted(key, &MessageId::new(wamid).unwrap(), 1);
        a.outreach = None;
        a.opened = Some(conversation);
        assert!(store.record_accepted(&a).await.unwrap());
    }
    let after = store.send_context(&query).await.unwrap();
    let (recipient, version) = after.recipient;
    assert_eq!(
        recipient.billing.conversations,
        vec![
            opened,
            BilledConversation {
                category: PricingCategory::Utility,
                ..opened
            }
        ]
    );
    assert_eq!(
        version,
        Some(2),
        "each acceptance moved the recipient's version"
    );
    // A pacing write from the read before the acceptances is refused: the sender reads again.
    let stale = PacingWrite {
        number: None,
        recipient: Some((number(), contact(1), RecipientRecord::default(), None)),
    };
    assert!(!store.put_pacing(&stale).await.unwrap());
    // A pacing write keeps the history it was given (the sender writes back what it read, the
    // expired conversations dropped).
    let mut kept = recipient.clone();
    kept.billing.conversations.truncate(1);
    let write = PacingWrite {
        number: None,
        recipient: Some((number(), contact(1), kept.clone(), version)),
    };
    assert!(store.put_pacing(&write).await.unwrap());
    assert_eq!(
        store.recipient(&number(), &contact(1)).await.unwrap(),
        (kept, Some(3))
    );
}

// BILL-6: the rate table round-trips, and every send's one read carries it; ledger lines are
// kept per charge (charged, or free and why).
pub async fn bill_6_rate_table_is_stored_and_read_with_the_send<S: SendingStore + Store>(store: S) {
    use rules::billing::{ANY_MARKET, Rate, RateTable};
    let query = SendContextQuery {
        key: "k-bill6".into(),
        number: number(),
        contact: contact(1),
        settings: false,
        template: None,
        now: t(2),
    };
    assert_eq!(store.rates().await.unwrap(), None);
    assert_eq!(store.send_context(&query).await.unwrap().rates, None);
    let table = RateTable {
        currency: "USD".into(),
        source: Some("example".into()),
        rates: vec![
            Rate {
                category: PricingCategory::Marketing,
                market: "1".into(),
                effective_from: Date::new(2025, 7, 1),
                micros: 25_000,
            },
            Rate {
                category: PricingCategory::Utility,
                market: ANY_MARKET.into(),
                effective_from: Date::new(2025, 7, 1),
                micros: 4_000,
            },
        ],
    };
    store.put_rates(&table).await.unwrap();
    assert_eq!(store.rates().await.unwrap(), Some(table.clone()));
    assert_eq!(
        store.send_context(&query).await.unwrap().rates,
        Some(table.clone())
    );
    let mut changed = table.clone();
    changed.rates.truncate(1);
    store.put_rates(&changed).await.unwrap();
    assert_eq!(store.rates().await.unwrap(), Some(changed));

    // One line per day, category and charge.
    let lines = [
        ("wamid.L1", "charged", 25_000),
        ("wamid.L2", "charged", 25_000),
        ("wamid.L3", "free_conversation_open", 0),
    ];
    let reported = ReportedPricing::from_meta(true, "CBP", "marketing", None).unwrap();
    for (wamid, charge, micros) in lines {
        let line = LedgerAddition {
            number: number(),
            day: day(),
            category: "marketing".into(),
            charge: charge.into(),
            micros,
        };
        assert!(
            store
                .record_reported_pricing(&MessageId::new(wamid).unwrap(), &reported, &line)
                .await
                .unwrap()
        );
    }
    let ledger = store.ledger(&number(), day(), day()).await.unwrap();
    let got: Vec<(&str, &str, i64, i64)> = ledger
        .iter()
        .map(|l| {
            (
                l.category.as_str(),
                l.charge.as_str(),
                l.reported_count,
                l.reported_micros,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("marketing", "charged", 2, 50_000),
            ("marketing", "free_conversation_open", 1, 0)
        ]
    );
}

// SEND-3: the number's and the recipient's pacing change together, from the versions read.
pub async fn pacing_writes_are_conditional_and_together<S: SendingStore>(store: S) {
    let (record, version) = store.number_pacing(&number()).await.unwrap();
    assert_eq!(version, None);
    assert_eq!(record, NumberPacingRecord::default());
    let mut limited = record.clone();
    limited.settings = PacingSettings {
        messaging_limit: MessagingLimit::TIER_1K,
        ..PacingSettings::default()
    };
    let (recipient, rv) = store.recipient(&number(), &contact(1)).await.unwrap();
    assert_eq!(rv, None);
    let mut paced = recipient.clone();
    paced.pace = RecipientPace::default();
    paced.pace.record_pair_rate_error(T0 * 1000);
    let write = PacingWrite {
        number: Some((number(), limited.clone(), None)),
        recipient: Some((number(), contact(1), paced.clone(), None)),
    };
    assert!(store.put_pacing(&write).await.unwrap());
    assert!(!store.put_pacing(&write).await.unwrap());
    // A stale recipient version refuses the number's change too.
    let mut stopped = limited.clone();
    stopped.stop_reason = Some("190: token".into());
    let stale = PacingWrite {
        number: Some((number(), stopped, Some(1))),
        recipient: Some((number(), contact(1), paced.clone(), Some(9))),
    };
    assert!(!store.put_pacing(&stale).await.unwrap());
    assert_eq!(
        store.number_pacing(&number()).await.unwrap(),
        (limited, Some(1))
    );
    assert_eq!(
        store.recipient(&number(), &contact(1)).await.unwrap(),
        (paced, Some(1))
    );
}

// SEND-3 across concurrent invocations: of 20 writers from one version, exactly one wins.
pub async fn one_of_twenty_concurrent_pacing_writers_wins<S: SendingStore + 'static>(store: S) {
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..20u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let record = NumberPacingRecord {
                stop_reason: Some(format!("writer {i}")),
                ..NumberPacingRecord::default()
            };
            store
                .put_pacing(&PacingWrite {
                    number: Some((number(), record, None)),
                    recipient: None,
                })
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

// SEND-2: parked sends are kept until released; releasing is for exactly one caller.
pub async fn parked_sends_wait_until_released<S: SendingStore>(store: S) {
    let on = ParkReason::TemplateApproved {
        name: "spring_sale".into(),
        language: "en_US".into(),
    };
    let stopped = ParkReason::NumberResumed;
    for key in ["p2", "p1", "p1"] {
        store
            .park(
                &number(),
                &on,
                &ParkedSend {
                    key: key.into(),
                    job: format!("{{\"key\":\"{key}\"}}"),
                    at: t(0),
                },
            )
            .await
            .unwrap();
    }
    let parked = store.parked(&number(), &on, 10).await.unwrap();
    let keys: Vec<_> = parked.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["p1", "p2"]);
    assert_eq!(store.parked(&number(), &on, 1).await.unwrap().len(), 1);
    assert!(
        store
            .parked(&number(), &stopped, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.unpark(&number(), &on, "p1").await.unwrap());
    assert!(!store.unpark(&number(), &on, "p1").await.unwrap());
    assert_eq!(store.parked(&number(), &on, 10).await.unwrap().len(), 1);
}

// TPL-4, CAMP-6: the numbers of an account and the campaigns of a number are found again.
pub async fn directory_of_accounts_and_campaigns<S: SendingStore + Store>(store: S) {
    let other = BusinessNumberId::new("200000000000002").unwrap();
    store
        .link_number(
            "waba-1",
            &NumberLink {
                number: number(),
                display_phone_number: Some("15550100001".into()),
            },
        )
        .await
        .unwrap();
    // A later link without the display number keeps the one learnt.
    for n in [number(), other.clone()] {
        store
            .link_number(
                "waba-1",
                &NumberLink {
                    number: n,
                    display_phone_number: None,
                },
            )
            .await
            .unwrap();
    }
    let mut links = store.account_numbers("waba-1").await.unwrap();
    links.sort_by(|a, b| a.number.cmp(&b.number));
    assert_eq!(links.len(), 2);
    assert_eq!(
        links[0].display_phone_number.as_deref(),
        Some("15550100001")
    );
    assert_eq!(links[1].number, other);
    assert!(store.account_numbers("waba-2").await.unwrap().is_empty());
    // TPL-2: each number knows its account (the template names are counted per account).
    assert_eq!(
        store.number_account(&other).await.unwrap().as_deref(),
        Some("waba-1")
    );
    let unlinked = BusinessNumberId::new("200000000000003").unwrap();
    assert_eq!(store.number_account(&unlinked).await.unwrap(), None);

    let spring = CampaignId::new("spring").unwrap();
    let autumn = CampaignId::new("autumn").unwrap();
    for c in [&spring, &autumn, &spring] {
        store.link_campaign(&number(), c).await.unwrap();
    }
    let mut campaigns = store.number_campaigns(&number()).await.unwrap();
    campaigns.sort();
    assert_eq!(campaigns, vec![autumn, spring.clone()]);
    // The number's campaign links do not disturb its settings.
    assert_eq!(store.settings(&number()).await.unwrap(), None);

    store
        .put_campaign(&CampaignRecord {
            id: spring.clone(),
            number: number(),
            definition: serde_json::json!({"name": "spring"}),
            hopper: Default::default(),
        })
        .await
        .unwrap();
    let row = CampaignRow {
        contact: contact(3),
        stage: "fresh".into(),
        data: serde_json::json!({"attempts": 0}),
    };
    assert!(store.add_campaign_row(&spring, &row).await.unwrap());
    assert_eq!(
        store.campaign_row(&spring, &contact(3)).await.unwrap(),
        Some(row)
    );
    assert_eq!(
        store.campaign_row(&spring, &contact(4)).await.unwrap(),
        None
    );

    let (sending, version) = store.campaign_sending(&spring).await.unwrap();
    assert_eq!(
        (sending.clone(), version),
        (CampaignSending::default(), None)
    );
    let next = CampaignSending {
        cursor: Some("R#15550003".into()),
        next_tick: Some((1, t(1))),
        seq: 1,
    };
    assert!(
        store
            .put_campaign_sending(&spring, &next, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_campaign_sending(&spring, &next, None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.campaign_sending(&spring).await.unwrap(),
        (next.clone(), Some(1))
    );
    assert!(
        store
            .put_campaign_sending(&spring, &next, Some(1))
            .await
            .unwrap()
    );
    // The sending state is not a row: the hopper scan does not see it.
    let rows = store.campaign_rows(&spring, 10, None).await.unwrap();
    assert_eq!(rows.items.len(), 1);
}

fn context_query(key: &str, settings: bool, template: Option<&str>) -> SendContextQuery {
    SendContextQuery {
        key: key.to_owned(),
        number: number(),
        contact: contact(1),
        settings,
        template: template.map(|name| (TemplateName::new(name).unwrap(), "en".to_owned())),
        now: t(0),
    }
}

fn calling(key: &str) -> SendRecord {
    let mut r = record(
        key,
        SendState::InFlight {
            since: t(0),
            lease_until: t(30),
            calling: true,
        },
    );
    r.attempts = 1;
    r
}

fn paced(expected_number: Option<u64>, expected_recipient: Option<u64>) -> PacingWrite {
    let mut recipient = RecipientRecord::default();
    recipient.pace.record_pair_rate_error(T0 * 1000);
    PacingWrite {
        number: Some((
            number(),
            NumberPacingRecord {
                stop_reason: Some("paced".into()),
                ..NumberPacingRecord::default()
            },
            expected_number,
        )),
        recipient: Some((number(), contact(1), recipient, expected_recipient)),
    }
}

fn template(name: &str) -> rules::templates::Template {
    let mut t = rules::templates::Template::new(
        TemplateName::new(name).unwrap(),
        "en",
        rules::templates::TemplateCategory::Marketing,
        "Hello",
    );
    t.status = rules::templates::TemplateStatus::Approved;
    t
}

// SEND-1 / SEND-3 / TPL-1: one read gives everything a send decides on; what is absent is absent
// (and pacing that was never written comes with its defaults and no version).
pub async fn send_context_reads_everything_at_once<S: SendingStore + Store>(store: S) {
    let empty = store
        .send_context(&context_query("c1", true, Some("spring_sale")))
        .await
        .unwrap();
    assert_eq!(empty, SendContext::default());

    store
        .put_send_record(&record("c1", in_flight()), None)
        .await
        .unwrap();
    store
        .claim_send("c1", &number(), &contact(1), t(-5), None)
        .await
        .unwrap();
    assert!(store.put_pacing(&paced(None, None)).await.unwrap());
    let mut state = rules::ContactState::new(number(), contact(1));
    state.windows.record_inbound(t(-60), false);
    store
        .commit(Commit {
            event_key: rules::EventKey::new("in:1").unwrap(),
            expected_version: None,
            next: state.clone(),
            effects: vec![],
            log: vec![],
            outreach: vec![],
            now: t(-60),
        })
        .await
        .unwrap();
    let mut settings = rules::NumberSettings::new(number());
    settings.outreach_expiry = rules::Duration::days(7);
    store.put_settings(&settings).await.unwrap();
    store
        .put_template(&number(), &template("spring_sale"))
        .await
        .unwrap();

    let full = store
        .send_context(&context_query("c1", true, Some("spring_sale")))
        .await
        .unwrap();
    assert_eq!(
        full.record,
        Some(Versioned {
            version: 1,
            value: record("c1", in_flight())
        })
    );
    assert_eq!(full.claimed_at, Some(t(-5)));
    let written = paced(None, None);
    assert_eq!(full.number_pacing, (written.number.unwrap().1, Some(1)));
    assert_eq!(full.recipient, (written.recipient.unwrap().2, Some(1)));
    assert_eq!(
        full.contact,
        Some(Versioned {
            version: 1,
            value: state
        })
    );
    assert_eq!(full.settings, Some(settings));
    assert_eq!(full.template, Some(template("spring_sale")));

    // Not asked for: not read.
    let lean = store
        .send_context(&context_query("c1", false, None))
        .await
        .unwrap();
    assert_eq!((lean.settings, lean.template), (None, None));
    assert_eq!(lean.contact, full.contact);
    // Another key, another template: absent.
    let other = store
        .send_context(&context_query("c2", false, Some("autumn")))
        .await
        .unwrap();
    assert_eq!(
        (other.record, other.claimed_at, other.template),
        (None, None, None)
    );
    assert_eq!(other.number_pacing.1, Some(1));
}

// Exactly once per key: the write before the call is all or nothing. A stale record version
// writes neither the claim nor the pacing; a stale pacing version writes neither the record nor
// the claim.
pub async fn begin_call_from_a_stale_read_changes_nothing<S: SendingStore + Store>(store: S) {
    let claim = Some(SendClaimWrite {
        claimed_at: t(0),
        body: Some(serde_json::json!({"type": "text", "body": "hi"})),
    });
    store
        .put_send_record(&record("b1", in_flight()), None)
        .await
        .unwrap();
    for expected in [None, Some(7)] {
        let stale = BeginCall {
            record: calling("b1"),
            expected,
            claim: claim.clone(),
            pacing: paced(None, None),
        };
        assert_eq!(
            store.begin_call(&stale).await.unwrap(),
            CallBegun::RecordChanged
        );
    }
    let after = store
        .send_context(&context_query("b1", false, None))
        .await
        .unwrap();
    assert_eq!(after.record.unwrap().value, record("b1", in_flight()));
    assert_eq!(after.claimed_at, None);
    assert_eq!(store.outbound_by_key("b1").await.unwrap(), None);
    assert_eq!(after.number_pacing.1, None);
    assert_eq!(after.recipient.1, None);

    // The pacing went stale (a concurrent send on the number): nothing written either.
    let stale_pacing = BeginCall {
        record: calling("b2"),
        expected: None,
        claim: claim.clone(),
        pacing: paced(Some(3), None),
    };
    assert_eq!(
        store.begin_call(&stale_pacing).await.unwrap(),
        CallBegun::PacingChanged
    );
    let after = store
        .send_context(&context_query("b2", false, None))
        .await
        .unwrap();
    assert_eq!((after.record, after.claimed_at), (None, None));
    assert_eq!((after.number_pacing.1, after.recipient.1), (None, None));

    // From the versions read: everything at once.
    let fresh = BeginCall {
        record: calling("b2"),
        expected: None,
        claim,
        pacing: paced(None, None),
    };
    assert_eq!(
        store.begin_call(&fresh).await.unwrap(),
        CallBegun::Begun { version: 1 }
    );
    let after = store
        .send_context(&context_query("b2", false, None))
        .await
        .unwrap();
    assert_eq!(
        after.record,
        Some(Versioned {
            version: 1,
            value: calling("b2")
        })
    );
    assert_eq!(after.claimed_at, Some(t(0)));
    assert_eq!(store.outbound_by_key("b2").await.unwrap(), Some(None));
    assert_eq!(
        (after.number_pacing.1, after.recipient.1),
        (Some(1), Some(1))
    );
    let log = store
        .outbound_log(&number(), &contact(1), Timestamp::EPOCH, t(100), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].idempotency_key, "b2");
    assert_eq!(log[0].claimed_at, t(0));
    assert_eq!(
        log[0].body,
        Some(serde_json::json!({"type": "text", "body": "hi"}))
    );
    // Again from the record's version, without pacing (a retry after a wait, say).
    let mut again = calling("b2");
    again.attempts = 2;
    let next = BeginCall {
        record: again,
        expected: Some(1),
        claim: None,
        pacing: PacingWrite::default(),
    };
    assert_eq!(
        store.begin_call(&next).await.unwrap(),
        CallBegun::Begun { version: 2 }
    );
}

// SEND-5: a send refused before its call is listed in the contact's outbound log with its
// state and reason (no silent refusal); once Meta accepted a send, the log has its message.
pub async fn send_5_outbound_log_shows_a_refused_send_and_its_reason<S: SendingStore + Store>(
    store: S,
) {
    let refused = SendState::Refused {
        reason: "window closed: templates only (send the recontact template)".into(),
        at: t(1),
    };
    let call = BeginCall {
        record: record("r1", in_flight()),
        expected: None,
        claim: Some(SendClaimWrite {
            claimed_at: t(0),
            body: Some(serde_json::json!({"type": "text", "body": "hi"})),
        }),
        pacing: PacingWrite::default(),
    };
    assert_eq!(
        store.begin_call(&call).await.unwrap(),
        CallBegun::Begun { version: 1 }
    );
    let log = store
        .outbound_log(&number(), &contact(1), Timestamp::EPOCH, t(100), 10)
        .await
        .unwrap();
    assert_eq!(log[0].unsent, Some(in_flight()), "held, not yet decided");
    store
        .put_send_record(&record("r1", refused.clone()), Some(1))
        .await
        .unwrap()
        .unwrap();
    let log = store
        .outbound_log(&number(), &contact(1), Timestamp::EPOCH, t(100), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].message, None);
    assert_eq!(log[0].unsent, Some(refused));
}

// The console's outbound log: a claim made before (by whoever queued the job, or an earlier
// attempt) is kept with its time and body; the log lists the send once.
pub async fn begin_call_keeps_an_existing_claim<S: SendingStore + Store>(store: S) {
    let first = serde_json::json!({"type": "text", "body": "as queued"});
    store
        .claim_send("k1", &number(), &contact(1), t(-30), Some(&first))
        .await
        .unwrap();
    let read = store
        .send_context(&context_query("k1", false, None))
        .await
        .unwrap();
    assert_eq!(read.claimed_at, Some(t(-30)));
    let call = BeginCall {
        record: calling("k1"),
        expected: None,
        claim: Some(SendClaimWrite {
            claimed_at: read.claimed_at.unwrap(),
            body: Some(serde_json::json!({"type": "text", "body": "as sent"})),
        }),
        pacing: PacingWrite::default(),
    };
    assert_eq!(
        store.begin_call(&call).await.unwrap(),
        CallBegun::Begun { version: 1 }
    );
    let log = store
        .outbound_log(&number(), &contact(1), Timestamp::EPOCH, t(100), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].claimed_at, t(-30));
    assert_eq!(log[0].body.as_ref(), Some(&first));
    // A claim time given later than the claim's own (a claim made in between): the claim keeps
    // its time.
    let late = BeginCall {
        record: calling("k2"),
        expected: None,
        claim: Some(SendClaimWrite {
            claimed_at: t(10),
            body: None,
        }),
        pacing: PacingWrite::default(),
    };
    store
        .claim_send("k2", &number(), &contact(2), t(5), None)
        .await
        .unwrap();
    assert_eq!(
        store.begin_call(&late).await.unwrap(),
        CallBegun::Begun { version: 1 }
    );
    let read = store
        .send_context(&context_query("k2", false, None))
        .await
        .unwrap();
    assert_eq!(read.claimed_at, Some(t(5)));
}

// Exactly once per key under concurrency: of 8 invocations that read the same (absent) record
// and pacing, exactly one begins its call; the pacing is taken once.
pub async fn one_of_eight_concurrent_begin_calls_wins<S: SendingStore + 'static>(store: S) {
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut record = calling("race");
            record.job = format!("{{\"invocation\":{i}}}");
            store
                .begin_call(&BeginCall {
                    record,
                    expected: None,
                    claim: Some(SendClaimWrite {
                        claimed_at: t(i64::from(i)),
                        body: None,
                    }),
                    pacing: paced(None, None),
                })
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            CallBegun::Begun { version } => {
                assert_eq!(version, 1);
                wins += 1;
            }
            CallBegun::RecordChanged | CallBegun::PacingChanged => {}
        }
    }
    assert_eq!(wins, 1);
    let read = store
        .send_context(&context_query("race", false, None))
        .await
        .unwrap();
    assert_eq!(read.record.map(|r| r.version), Some(1));
    assert_eq!(read.number_pacing.1, Some(1));
}

// SEND-3 / CAMP-5 at scale: the messaging-limit state of a number that reached 150,000 contacts
// in a day (an unlimited or 100K-tier number) is one small number item plus one recipient item
// per contact, and round-trips through the store. (With one map entry per contact in the
// number's item, as before, this is megabytes: over DynamoDB's 400 KB item limit.) Each
// recipient's own item says it is counted, so a second send to it is not counted again.
pub async fn messaging_limit_state_stays_small_at_any_tier<S: SendingStore>(store: S) {
    use rules::pacing::{NumberPacing, SendPace, SendSlotRequest, Throughput};
    let settings = PacingSettings {
        throughput: Throughput::per_second(1_000).unwrap(),
        messaging_limit: MessagingLimit::Unlimited,
        ..PacingSettings::default()
    };
    let mut pacing = NumberPacing::default();
    let mut kept = None;
    let contacts = 150_000u32;
    for i in 0..contacts {
        let c = ContactKey::new(format!("4917{i:09}")).unwrap();
        let mut recipient = RecipientPace::default();
        // Two sends a second for most of a day, all outside a CSW.
        let now = T0 * 1000 + i64::from(i) * 500;
        let go = pacing.pace(
            &settings,
            &mut recipient,
            SendSlotRequest {
                contact: &c,
                campaign: true,
                outside_service_window: true,
                now,
            },
        );
        assert_eq!(
            go,
            SendPace::Go {
                newly_counted_contact: true
            }
        );
        if i == 7 {
            kept = Some((c, recipient));
        }
    }
    let last = t(i64::from(contacts) / 2);
    assert_eq!(pacing.reach.count(last), u64::from(contacts));
    let record = NumberPacingRecord {
        settings,
        pacing,
        ..NumberPacingRecord::default()
    };
    let size = serde_json::to_string(&record).unwrap().len();
    assert!(size < 16_000, "the number's pacing record is {size} bytes");
    let (c, recipient_pace) = kept.unwrap();
    let recipient = RecipientRecord {
        pace: recipient_pace,
        ..RecipientRecord::default()
    };
    assert!(
        store
            .put_pacing(&PacingWrite {
                number: Some((number(), record.clone(), None)),
                recipient: Some((number(), c.clone(), recipient.clone(), None)),
            })
            .await
            .unwrap()
    );
    let (read, version) = store.number_pacing(&number()).await.unwrap();
    assert_eq!((read.clone(), version), (record, Some(1)));
    let (read_recipient, _) = store.recipient(&number(), &c).await.unwrap();
    assert_eq!(read_recipient, recipient);
    // The recipient counted at the 8th send is still counted at the end (less than 24 h
    // later): its next send is not counted again.
    let mut pacing = read.pacing;
    let mut pace = read_recipient.pace;
    let later = T0 * 1000 + i64::from(contacts) * 500;
    assert!(
        pace.counted_since(rules::pacing::timestamp_at_or_after(later))
            .is_some()
    );
    assert_eq!(
        pacing.pace(
            &read.settings,
            &mut pace,
            SendSlotRequest {
                contact: &c,
                campaign: true,
                outside_service_window: true,
                now: later,
            },
        ),
        SendPace::Go {
            newly_counted_contact: false
        }
    );
}

macro_rules! sending_contract {
    ($adapter:ident, $make:path, [$($test:ident),* $(,)?]) => {
        mod $adapter {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test($make().await).await
                }
            )*
        }
    };
    ($adapter:ident, $make:path) => {
        sending_contract!(
            $adapter,
            $make,
            [
                send_records_are_versioned,
                acceptance_is_one_conditional_write,
                reported_pricing_counts_once,
                pacing_writes_are_conditional_and_together,
                one_of_twenty_concurrent_pacing_writers_wins,
                parked_sends_wait_until_released,
                directory_of_accounts_and_campaigns,
                messaging_limit_state_stays_small_at_any_tier,
                send_context_reads_everything_at_once,
                begin_call_from_a_stale_read_changes_nothing,
                begin_call_keeps_an_existing_claim,
                one_of_eight_concurrent_begin_calls_wins,
                send_5_outbound_log_shows_a_refused_send_and_its_reason,
                bill_5_accepted_send_adds_its_conversation_to_the_history,
                bill_6_rate_table_is_stored_and_read_with_the_send,
            ]
        );
    };
}

sending_contract!(sqlite, crate::harness::sqlite);
sending_contract!(dynamo, crate::harness::dynamo);

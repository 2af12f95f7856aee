//! Campaign sending: ticks, CAMP-3, CAMP-5, CAMP-6, TPL-1 pause and resume, and the 1,000-contact
//! campaign with injected errors.

use crate::harness::*;
use crate::send::max_in_window;
use queue::{CampaignTick, EventQueue};
use rules::campaign::{CampaignStatus, ContactResult, PendingReason, RowState, StopReason};
use rules::pacing::{MessagingLimit, PacingSettings};
use rules::state::CampaignInteraction;
use rules::{CampaignId, ContactKey, ContactState, Duration, OutreachId};
use sender::campaigns::{add_campaign, campaign_of};
use sender::graph::meta_error;
use sender::{Outcome, Scripted};
use std::collections::{BTreeMap, BTreeSet};
use store::{CampaignRowData, CampaignStore, NumberPacingRecord, PacingWrite, SendingStore};
use whatsapp::event::DeliveryStatus;

async fn start(w: &World, id: &str, contacts: std::ops::Range<u32>, retry: bool) -> CampaignId {
    let template = campaign_template("spring_sale");
    w.template(&template).await;
    let mut c = campaign(id, "spring_sale", retry);
    c.start(&template, t(0)).unwrap();
    add_campaign(&w.store, &number(), &mut c, &imported(contacts), t(0))
        .await
        .unwrap();
    let tick = CampaignTick {
        key: format!("start:{id}"),
        campaign: c.id.clone(),
        at: t(0),
    };
    w.queue
        .send(queue::Destination::Outbound, vec![tick.envelope()])
        .await
        .unwrap();
    c.id
}

async fn rows(w: &World, id: &CampaignId) -> BTreeMap<ContactKey, CampaignRowData> {
    let mut out = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = w
            .store
            .campaign_rows(id, 500, cursor.as_deref())
            .await
            .unwrap();
        for row in page.items {
            let data: CampaignRowData = serde_json::from_value(row.data).unwrap();
            assert_eq!(
                row.stage,
                data.contact.state().bucket().name(),
                "stage follows the bucket"
            );
            out.insert(row.contact, data);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

async fn status(w: &World, id: &CampaignId) -> rules::campaign::Campaign {
    campaign_of(&w.store.campaign(id).await.unwrap().unwrap()).unwrap()
}

/// Delivers messages until no campaign contact is due any more (fresh, or retry with a time).
async fn run_campaign(w: &World, id: &CampaignId, limit: usize) {
    for _ in 0..limit / 50 {
        w.drain(50).await;
        let c = status(w, id).await;
        let rows = rows(w, id).await;
        let due = rows.values().any(|r| {
            matches!(
                r.contact.state(),
                RowState::Fresh
                    | RowState::Retry {
                        not_before: Some(_)
                    }
            )
        });
        if !due || c.status() != CampaignStatus::Running {
            return;
        }
    }
    panic!("the campaign did not settle in {limit} deliveries");
}

// CAMP-2 / CAMP-5 / CAMP-7: ticks send every contact once, the hopper counts follow the rows,
// each send is an outreach announced in the contact's lane.
#[tokio::test]
async fn camp_2_ticks_send_every_contact_once_and_the_hopper_adds_up() {
    let w = world();
    let id = start(&w, "spring", 0..25, true).await;
    run_campaign(&w, &id, 2_000).await;
    let accepted = w.graph.accepted();
    assert_eq!(accepted.len(), 25);
    let to: BTreeSet<_> = accepted.iter().map(|r| r.message.to.clone()).collect();
    assert_eq!(to.len(), 25);
    let c = status(&w, &id).await;
    assert_eq!(c.hopper().pending(), 25);
    assert_eq!(c.hopper().total(), 25);
    assert_eq!(w.lane_events().len(), 25);
    for (contact, row) in rows(&w, &id).await {
        let RowState::Pending(PendingReason::AwaitingAnswer { outreach, .. }) = row.contact.state()
        else {
            panic!("{contact} is {:?}", row.contact.state());
        };
        assert!(outreach.as_str().starts_with('o'));
        assert!(row.queued.is_none());
    }
    // The parameters come from the contact's fields (TPL-3).
    let rules::OutboundContent::Template { parameters, .. } = &accepted[0].message.content else {
        panic!("a template");
    };
    assert!(parameters[0].starts_with("Name"));
}

// CAMP-6: an expired token stops the campaign with that reason instead of failing every contact.
#[tokio::test]
async fn camp_6_a_token_error_stops_the_campaign_with_the_reason() {
    let w = world();
    let id = start(&w, "spring", 0..5, true).await;
    w.graph.script([Scripted::Fail(meta_error(190))]);
    w.drain(50).await;
    let c = status(&w, &id).await;
    assert_eq!(c.status(), CampaignStatus::Stopped);
    assert!(
        matches!(c.stop_reason(), Some(StopReason::AccountProblem { reason }) if reason.starts_with("190"))
    );
    assert_eq!(c.hopper().fresh(), 5, "nobody failed: all wait to be sent");
    assert_eq!(w.graph.requests().len(), 1);
    assert_eq!(w.alerts.alerts().len(), 1);
}

// CAMP-6: after a send, a `failed` status moves the contact to retry (temporary) or closes it
// with Meta's code (permanent).
#[tokio::test]
async fn camp_6_failed_statuses_move_contacts_to_retry_or_closed() {
    let w = world();
    let id = start(&w, "spring", 0..2, true).await;
    w.drain(10).await;
    let accepted = w.graph.accepted();
    assert_eq!(accepted.len(), 2);
    let by_contact: BTreeMap<_, _> = accepted
        .iter()
        .map(|r| (r.message.to.clone(), r.wamid.clone().unwrap()))
        .collect();
    for (i, code) in [(0, 131026), (1, 131000)] {
        let event = status_event(
            &by_contact[&contact(i)],
            DeliveryStatus::Failed,
            t(10),
            None,
            Some(code),
            None,
        );
        w.update(&event).await;
        w.update(&event).await; // redelivered: acted on once
    }
    let rows = rows(&w, &id).await;
    assert!(matches!(
        rows[&contact(0)].contact.result(),
        Some(ContactResult::Failed {
            code: Some(131026),
            ..
        })
    ));
    assert!(matches!(
        rows[&contact(1)].contact.state(),
        RowState::Retry {
            not_before: Some(_)
        }
    ));
    let c = status(&w, &id).await;
    assert_eq!((c.hopper().closed(), c.hopper().retry()), (1, 1));
}

// CAMP-3: a contact with another campaign's interaction open is not sent; it waits in pending
// and is sent once that interaction closed.
#[tokio::test]
async fn camp_3_a_contact_with_another_open_interaction_waits_in_pending() {
    let w = world();
    let mut state = ContactState::new(number(), contact(0));
    state.campaign = Some(CampaignInteraction {
        campaign: CampaignId::new("autumn").unwrap(),
        outreach: OutreachId::new("o-autumn").unwrap(),
        sent_at: t(0),
        respond_by: t(3600),
        hand_off: Default::default(),
        buttons: vec![],
    });
    w.put_state(state.clone(), "autumn-sent").await;
    let id = start(&w, "spring", 0..2, true).await;
    w.drain(10).await;
    let rows_now = rows(&w, &id).await;
    assert!(matches!(
        rows_now[&contact(0)].contact.state(),
        RowState::Pending(PendingReason::WaitingForOtherCampaign { .. })
    ));
    assert_eq!(w.graph.accepted().len(), 1, "only the other contact");
    // The other interaction closes (the router cleared it): the contact goes back and is sent.
    state.campaign = None;
    w.put_state(state, "autumn-answered").await;
    w.clock.advance(Duration::minutes(2));
    run_campaign(&w, &id, 500).await;
    assert_eq!(w.graph.accepted().len(), 2);
    let rows_after = rows(&w, &id).await;
    assert!(matches!(
        rows_after[&contact(0)].contact.state(),
        RowState::Pending(PendingReason::AwaitingAnswer { .. })
    ));
}

// TPL-1 / TPL-4: a paused template stops its campaigns; approved again, they resume.
#[tokio::test]
async fn tpl_1_a_paused_template_stops_the_campaign_until_approved() {
    let w = world();
    w.store
        .link_number(
            WABA,
            &store::NumberLink {
                number: number(),
                display_phone_number: None,
            },
        )
        .await
        .unwrap();
    let id = start(&w, "spring", 0..3, true).await;
    // One tick registers the campaign with its number.
    w.drain(1).await;
    let template_event = |event: &str, time: i64| whatsapp::Event {
        key: format!("tpl:{event}:{time}"),
        waba_id: WABA.into(),
        business: None,
        body: whatsapp::EventBody::TemplateStatus(whatsapp::event::TemplateStatus {
            template_id: 1,
            name: Some("spring_sale".into()),
            language: Some("en_US".into()),
            category: None,
            event: event.to_owned().into(),
            reason: None,
            other_info: None,
            time: Some(time),
        }),
    };
    w.update(&template_event("PAUSED", T0 + 1)).await;
    assert_eq!(
        status(&w, &id).await.stop_reason(),
        Some(&StopReason::TemplatePaused)
    );
    // Sends issued before the pause are not sent; the contacts stay fresh.
    w.drain(20).await;
    assert!(w.graph.accepted().is_empty());
    w.update(&template_event("APPROVED", T0 + 2)).await;
    assert_eq!(status(&w, &id).await.status(), CampaignStatus::Running);
    w.clock.advance(Duration::minutes(20));
    run_campaign(&w, &id, 500).await;
    assert_eq!(w.graph.accepted().len(), 3);
}

// CAMP-10: a stopped campaign sends nothing more; its chain of ticks ends.
#[tokio::test]
async fn camp_10_a_stopped_campaign_sends_nothing_more() {
    let w = world();
    let id = start(&w, "spring", 0..3, true).await;
    let record = w.store.campaign(&id).await.unwrap().unwrap();
    let mut c = campaign_of(&record).unwrap();
    c.stop(StopReason::ByUser { by: None }).unwrap();
    w.store
        .put_campaign(&store::CampaignRecord::of(&number(), &c))
        .await
        .unwrap();
    let outcomes = w.drain(20).await;
    assert_eq!(
        outcomes,
        vec![Outcome::Ticked {
            campaign: id.clone(),
            issued: 0,
            next: None
        }]
    );
    assert!(w.graph.requests().is_empty());
}

// The campaign: 1,000 contacts with injected 131056, 130429 and 131026 answers → every
// contact closed or in retry or sent (pending its answer), exactly one successful send per
// contact, and the limits never exceeded (asserted from the Graph API twin's request log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camp_5_a_campaign_of_1000_with_injected_errors_keeps_its_invariants() {
    let w = world();
    let limit = 600;
    let record = NumberPacingRecord {
        settings: PacingSettings {
            messaging_limit: MessagingLimit::contacts(limit).unwrap(),
            ..PacingSettings::default()
        },
        ..NumberPacingRecord::default()
    };
    w.store
        .put_pacing(&PacingWrite {
            number: Some((number(), record, None)),
            recipient: None,
        })
        .await
        .unwrap();
    for i in 0..1000u32 {
        let answers = match i % 50 {
            1..=3 => vec![Scripted::Fail(meta_error(131056))],
            4 => vec![Scripted::Fail(meta_error(130429))],
            5..=7 => vec![Scripted::Fail(meta_error(131026))],
            _ => vec![],
        };
        w.graph.script_for(&contact(i), answers);
    }
    let id = start(&w, "big", 0..1000, true).await;
    run_campaign(&w, &id, 200_000).await;

    let requests = w.graph.requests();
    let accepted = w.graph.accepted();
    let rows = rows(&w, &id).await;
    let c = status(&w, &id).await;
    // The hopper adds up.
    assert_eq!(c.hopper().total(), 1000);
    assert_eq!(
        c.hopper().fresh() + c.hopper().retry() + c.hopper().pending() + c.hopper().closed(),
        1000
    );
    // Exactly one successful send per contact, none to the undeliverable ones.
    let mut sends: BTreeMap<ContactKey, usize> = BTreeMap::new();
    for r in &accepted {
        *sends.entry(r.message.to.clone()).or_default() += 1;
    }
    for i in 0..1000u32 {
        let row = &rows[&contact(i)];
        let n = sends.get(&contact(i)).copied().unwrap_or(0);
        match i % 50 {
            5..=7 => {
                assert_eq!(n, 0);
                assert!(matches!(
                    row.contact.result(),
                    Some(ContactResult::Failed {
                        code: Some(131026),
                        ..
                    })
                ));
            }
            _ => {
                assert_eq!(n, 1, "contact {i}");
                assert!(
                    matches!(
                        row.contact.state(),
                        RowState::Pending(PendingReason::AwaitingAnswer { .. })
                    ),
                    "contact {i}: {:?}",
                    row.contact.state()
                );
            }
        }
    }
    // Throughput: never more than 80 requests in any second.
    let times: Vec<i64> = requests.iter().map(|r| r.at_ms).collect();
    assert!(max_in_window(&times, 1_000) <= 80);
    // Messaging limit: never more than `limit` new contacts in any 24 h.
    let mut first: Vec<i64> = Vec::new();
    let mut seen = BTreeSet::new();
    for r in &accepted {
        if seen.insert(r.message.to.clone()) {
            first.push(r.at_ms);
        }
    }
    assert!(max_in_window(&first, 24 * 3600 * 1000) <= limit as usize);
    assert!(
        first.last().unwrap() - first[0] >= 24 * 3600 * 1000,
        "the rest waited for the window"
    );
    // Pair rate: after a 131056 the recipient was not sent to again within 1 s.
    for i in (0..1000u32).filter(|i| matches!(i % 50, 1..=3)) {
        let to: Vec<_> = requests
            .iter()
            .filter(|r| r.message.to == contact(i))
            .collect();
        assert_eq!(to.len(), 2);
        assert!(to[1].at_ms - to[0].at_ms >= 1_000);
    }
    // Throughput limit: nothing was sent for 60 s after a 130429.
    for r in requests.iter().filter(|r| {
        r.wamid.is_none() && {
            matches!(r.message.to.as_str().parse::<u64>().map(|n| n % 50), Ok(4))
        }
    }) {
        assert!(
            !requests
                .iter()
                .any(|o| o.at_ms > r.at_ms && o.at_ms < r.at_ms + 60_000)
        );
    }
}

// SEND-2 131048: a spam rate limit pauses campaign traffic on the number for an hour; replies
// to customers go on.
#[tokio::test]
async fn send_2_spam_rate_limit_pauses_campaign_traffic_only() {
    let w = world();
    w.inbound(&contact(900), t(0)).await;
    let id = start(&w, "spring", 0..3, true).await;
    w.graph.script([Scripted::Fail(meta_error(131048))]);
    w.drain(4).await;
    let (pacing, _) = w.store.number_pacing(&number()).await.unwrap();
    let paused_until = pacing.pacing.campaign_traffic_paused_until.unwrap();
    assert_eq!(paused_until, (T0 + 3600) * 1000);
    // A conversation reply is not held.
    let reply = w.send(text_job("reply", &contact(900), "hello")).await;
    assert!(matches!(reply, Outcome::Sent { .. }), "{reply:?}");
    run_campaign(&w, &id, 2_000).await;
    let campaign_sends: Vec<_> = w
        .graph
        .accepted()
        .into_iter()
        .filter(|r| r.message.to != contact(900))
        .collect();
    assert_eq!(campaign_sends.len(), 3);
    assert!(campaign_sends.iter().all(|r| r.at_ms >= paused_until));
}

// CAMP-7..9: the router's results close campaign contacts once each (answer in time, free text,
// no answer); the campaign completes when nothing is left.
#[tokio::test]
async fn camp_7_results_close_contacts_once_and_complete_the_campaign() {
    use rules::state::CampaignOutcome;
    let w = world();
    let id = start(&w, "spring", 0..3, true).await;
    run_campaign(&w, &id, 500).await;
    let outcomes = [
        (
            CampaignOutcome::Answered {
                button: 0,
                title: "Yes".into(),
            },
            t(60),
        ),
        (CampaignOutcome::FreeText, t(60)),
        (CampaignOutcome::TimedOut, t(48 * 3600 + 1)),
    ];
    let rows_before = rows(&w, &id).await;
    for (i, (outcome, at)) in outcomes.into_iter().enumerate() {
        let RowState::Pending(PendingReason::AwaitingAnswer { outreach, .. }) =
            rows_before[&contact(i as u32)].contact.state()
        else {
            panic!("pending");
        };
        let result = queue::OutboundJob::CampaignResult(queue::CampaignResult {
            key: format!("result-{i}"),
            campaign: id.clone(),
            number: number(),
            contact: contact(i as u32),
            outreach: outreach.clone(),
            outcome,
            at,
        });
        let body = result.to_json();
        assert_eq!(
            w.sender.handle_outbound(&body).await.unwrap(),
            Outcome::Applied {
                what: "campaign result"
            }
        );
        // Repeated: changes nothing.
        assert!(matches!(
            w.sender.handle_outbound(&body).await.unwrap(),
            Outcome::Ignored { .. }
        ));
    }
    let rows_after = rows(&w, &id).await;
    assert!(matches!(
        rows_after[&contact(0)].contact.result(),
        Some(ContactResult::Answered { button, .. }) if button == "Yes"
    ));
    assert!(matches!(
        rows_after[&contact(1)].contact.result(),
        Some(ContactResult::AnsweredWithText { .. })
    ));
    assert_eq!(
        rows_after[&contact(2)].contact.result(),
        Some(&ContactResult::NoAnswer)
    );
    let c = status(&w, &id).await;
    assert_eq!(c.status(), CampaignStatus::Completed);
    assert_eq!(c.hopper().closed(), 3);
}

// SEND-4 (issue 16, case 5): a campaign contact whose every send gets 131000 is retried with
// backoff (5 s, doubling, at most 15 min apart), not every tick: a handful of calls in ten
// minutes instead of ~105; its attempts are counted and its history keeps one entry for the
// identical failures, with their count.
#[tokio::test]
async fn send_4_a_campaign_contact_failing_with_131000_backs_off_and_counts_attempts() {
    let w = world();
    w.graph.script_for(
        &contact(0),
        (0..200).map(|_| Scripted::Fail(meta_error(131000))),
    );
    let id = start(&w, "backoff", 0..1, true).await;
    while w.now_ms() < (T0 + 600) * 1000 {
        if w.drain(1).await.is_empty() {
            break;
        }
    }
    let calls = w.graph.requests();
    assert!(
        (3..=9).contains(&calls.len()),
        "{} calls in ten minutes",
        calls.len()
    );
    for pair in calls.windows(2) {
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!(gap >= 5_000, "at least 5 s apart: {gap} ms");
        assert!(
            gap <= 15 * 60 * 1000 + 60_000,
            "at most 15 min (and a tick) apart"
        );
    }
    let rows = rows(&w, &id).await;
    let row = &rows[&contact(0)].contact;
    assert_eq!(row.attempts() as usize, calls.len(), "attempts are counted");
    let failures: Vec<u32> = row
        .history()
        .iter()
        .filter_map(|h| match &h.event {
            rules::campaign::HistoryEvent::Failed { attempts, .. } => Some(*attempts),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        vec![calls.len() as u32],
        "one entry counting the attempts"
    );
}

// CAMP-2 (issue 16, case 12): a campaign that reaches its end with contacts never sent shows
// COMPLETED with those contacts closed, each with the reason in its history (not `fresh`).
#[tokio::test]
async fn camp_2_a_campaign_reaching_its_end_closes_unsent_contacts_with_the_reason() {
    let w = world();
    let id = start(&w, "late", 0..3, true).await;
    w.clock.set_ms((T0 + 31 * 86_400) * 1000);
    w.drain(10).await;
    let c = status(&w, &id).await;
    assert_eq!(c.status(), CampaignStatus::Completed);
    assert_eq!((c.hopper().fresh(), c.hopper().closed()), (0, 3));
    assert!(w.graph.requests().is_empty());
    for (_, row) in rows(&w, &id).await {
        assert!(
            matches!(
                row.contact.result(),
                Some(ContactResult::Failed { code: None, reason }) if reason.contains("campaign ended before")
            ),
            "{:?}",
            row.contact.history()
        );
    }
}

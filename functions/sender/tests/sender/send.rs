//! The send path: SEND-1..3, BILL-3 prediction, TPL-1, idempotency and ambiguity.

use crate::harness::*;
use rules::pacing::{MessagingLimit, PacingSettings};
use rules::templates::{TemplateCategory, TemplateStatus};
use rules::{Duration, OutboundContent};
use sender::graph::meta_error;
use sender::send::AMBIGUOUS_MARKETING;
use sender::{Outcome, Scripted};
use store::{
    ConsoleStore, LedgerStore, NumberPacingRecord, OutboundStore, PacingWrite, ParkReason,
    SendState, SendingStore,
};

async fn state_of(w: &World, key: &str) -> SendState {
    w.store.send_record(key).await.unwrap().unwrap().value.state
}

// SEND-1 (WIN-5, CHAN-1): free-form inside the CSW goes out; BILL-3: predicted and recorded.
#[tokio::test]
async fn send_1_free_form_inside_the_window_is_sent_and_its_prediction_recorded() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    w.clock.advance(Duration::hours(1));
    let outcome = w.send(text_job("k1", &contact(1), "hello")).await;
    let wamid = wamid_of(&outcome);
    assert_eq!(w.graph.accepted().len(), 1);
    assert_eq!(w.graph.accepted()[0].message.callback, "k1");
    assert!(matches!(state_of(&w, "k1").await, SendState::Sent { .. }));
    assert_eq!(
        w.store.outbound_by_key("k1").await.unwrap(),
        Some(Some(wamid.clone()))
    );
    let sent = w.store.sent_message(&wamid).await.unwrap().unwrap();
    let prediction = sent.prediction.unwrap();
    assert!(!prediction.charged, "free-form inside the CSW is free");
    let day = t(0).date();
    let ledger = w.store.ledger(&number(), day, day).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].category, "service");
    assert_eq!(ledger[0].predicted_count, 1);
}

// SEND-1 / WIN-5: free-form outside the CSW is refused with the reason kept on the record.
#[tokio::test]
async fn send_1_free_form_outside_the_window_is_refused_with_the_reason() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    w.clock.advance(Duration::hours(25));
    let outcome = w.send(text_job("k1", &contact(1), "hello")).await;
    let Outcome::Refused { reason } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert!(reason.contains("templates only"), "{reason}");
    assert!(w.graph.requests().is_empty());
    assert!(matches!(
        state_of(&w, "k1").await,
        SendState::Refused { .. }
    ));
    // A contact who never wrote: templates only as well.
    let outcome = w.send(text_job("k2", &contact(2), "hello")).await;
    assert!(matches!(outcome, Outcome::Refused { .. }));
}

// SEND-1: the window is checked when the message is sent, not when it was requested.
#[tokio::test]
async fn send_1_the_window_is_checked_at_send_time() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    // Requested at 23:59 inside the window, but waiting on the queue past its close.
    let mut job = text_job("k1", &contact(1), "late");
    job.requested_at = t(23 * 3600 + 59 * 60);
    w.clock.set_ms((t(0).unix() + 24 * 3600 + 1) * 1000);
    assert!(matches!(w.send(job).await, Outcome::Refused { .. }));
    assert!(w.graph.requests().is_empty());
}

// SEND-1 / WIN-5 / TPL-5: free-form outside the CSW becomes the recontact template when asked.
#[tokio::test]
async fn send_1_recontact_template_replaces_free_form_when_asked() {
    let w = world();
    let mut recontact = approved("come_back", TemplateCategory::Utility);
    recontact.recontact = true;
    recontact.body = "Hi {{1}}, we have an answer for you.".into();
    recontact
        .mapping
        .body
        .insert(1, rules::templates::ContactField::FirstName);
    w.template(&recontact).await;
    w.store
        .put_profile(
            &number(),
            &contact(1),
            &store::ContactProfile {
                first_name: Some("Ada".into()),
                ..Default::default()
            },
            t(0),
        )
        .await
        .unwrap();
    let mut job = text_job("k1", &contact(1), "are you there?");
    job.request.recontact_if_closed = true;
    let outcome = w.send(job).await;
    wamid_of(&outcome);
    let sent = &w.graph.accepted()[0].message.content;
    let OutboundContent::Template {
        name, parameters, ..
    } = sent
    else {
        panic!("expected the recontact template, got {sent:?}");
    };
    assert_eq!(name.as_str(), "come_back");
    assert_eq!(parameters, &vec!["Ada".to_owned()]);
    // Without a recontact template it is refused with the reason.
    let w = world();
    let mut job = text_job("k1", &contact(1), "are you there?");
    job.request.recontact_if_closed = true;
    let Outcome::Refused { reason } = w.send(job).await else {
        panic!("expected a refusal");
    };
    assert!(reason.contains("recontact"), "{reason}");
}

// Idempotency: a redelivered job whose key has a wamid is not sent again.
#[tokio::test]
async fn a_redelivered_job_is_sent_once() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    let job = text_job("k1", &contact(1), "hello");
    let first = wamid_of(&w.send(job.clone()).await);
    for _ in 0..3 {
        assert_eq!(
            w.send(job.clone()).await,
            Outcome::AlreadySent {
                wamid: first.clone()
            }
        );
    }
    assert_eq!(w.graph.requests().len(), 1);
    let day = t(0).date();
    assert_eq!(
        w.store.ledger(&number(), day, day).await.unwrap()[0].predicted_count,
        1
    );
}

// Concurrent deliveries of one job: one sends, the other waits for its lease.
#[tokio::test]
async fn concurrent_deliveries_of_one_job_send_once() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    let job = text_job("k1", &contact(1), "hello");
    let (a, b) = tokio::join!(w.sender.send(job.clone()), w.sender.send(job.clone()));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(w.graph.requests().len(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Sent { .. }))
            .count(),
        1
    );
}

// TPL-1: only APPROVED templates are sent; a rejected one is refused, a paused one held.
#[tokio::test]
async fn tpl_1_only_approved_templates_are_sent() {
    let w = world();
    let mut rejected = approved("rejected_one", TemplateCategory::Marketing);
    rejected.status = TemplateStatus::Rejected;
    w.template(&rejected).await;
    let Outcome::Refused { reason } = w
        .send(template_job("k1", &contact(1), "rejected_one"))
        .await
    else {
        panic!("expected a refusal");
    };
    assert!(reason.contains("APPROVED"), "{reason}");
    assert!(matches!(
        w.send(template_job("k2", &contact(1), "unknown_one")).await,
        Outcome::Refused { .. }
    ));
    let mut paused = approved("paused_one", TemplateCategory::Utility);
    paused.status = TemplateStatus::Paused;
    w.template(&paused).await;
    assert_eq!(
        w.send(template_job("k3", &contact(1), "paused_one")).await,
        Outcome::Parked {
            on: ParkReason::TemplateApproved {
                name: "paused_one".into(),
                language: "en_US".into()
            }
        }
    );
    assert!(w.graph.requests().is_empty());
}

// SEND-2 / SEND-4: a service error backs off (5 s, then about 10 s: doubling with jitter) and
// the job is sent again; the record counts the attempts.
#[tokio::test]
async fn send_4_service_errors_retry_with_backoff() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    w.graph.script([
        Scripted::Fail(meta_error(131000)),
        Scripted::Fail(meta_error(131000)),
    ]);
    let outcome = w.send(text_job("k1", &contact(1), "hello")).await;
    let Outcome::Waiting { until_ms, .. } = outcome else {
        panic!("expected a wait, got {outcome:?}");
    };
    assert_eq!(until_ms - w.now_ms(), 5_000);
    let delayed = w.queue.delayed(queue::Destination::Outbound);
    assert_eq!(delayed[0].1, std::time::Duration::from_secs(5));
    let outcomes = w.drain(10).await;
    assert!(
        matches!(outcomes.last(), Some(Outcome::Sent { .. })),
        "{outcomes:?}"
    );
    let requests = w.graph.requests();
    assert_eq!(requests.len(), 3);
    // 5 s, then 7.5 to 10 s (doubling, shortened by up to a quarter of jitter).
    assert_eq!(requests[1].at_ms - requests[0].at_ms, 5_000);
    let second = requests[2].at_ms - requests[1].at_ms;
    assert!((7_000..=10_000).contains(&second), "{second}");
    let record = w.store.send_record("k1").await.unwrap().unwrap();
    assert_eq!(record.value.attempts, 3, "attempts are counted");
}

// SEND-2: a throughput limit throttles the whole number, then retries after the delay.
#[tokio::test]
async fn send_2_throughput_limit_throttles_the_number() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    w.inbound(&contact(2), t(0)).await;
    w.graph.script([Scripted::Fail(meta_error(130429))]);
    let outcome = w.send(text_job("k1", &contact(1), "hello")).await;
    assert!(matches!(outcome, Outcome::Waiting { .. }), "{outcome:?}");
    // Another recipient on the same number waits too (60 s throttle).
    let Outcome::Waiting { until_ms, because } = w.send(text_job("k2", &contact(2), "hi")).await
    else {
        panic!("expected the number to be throttled");
    };
    assert!(because.contains("NumberThrottled"), "{because}");
    assert_eq!(until_ms - w.now_ms(), 60_000);
    let outcomes = w.drain(10).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Sent { .. }))
            .count(),
        2
    );
    assert!(
        w.graph
            .accepted()
            .iter()
            .all(|r| r.at_ms >= (T0 + 60) * 1000)
    );
}

// SEND-2 131056: the pair rate limit delays this recipient only (4^n s).
#[tokio::test]
async fn send_2_pair_rate_limit_delays_this_recipient_only() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    w.inbound(&contact(2), t(0)).await;
    w.graph.script_for(
        &contact(1),
        [
            Scripted::Fail(meta_error(131056)),
            Scripted::Fail(meta_error(131056)),
        ],
    );
    let outcome = w.send(text_job("k1", &contact(1), "one")).await;
    let Outcome::Waiting { until_ms, .. } = outcome else {
        panic!("expected a wait, got {outcome:?}");
    };
    assert_eq!(until_ms - w.now_ms(), 1_000, "4^0 s");
    // Another recipient is not held.
    wamid_of(&w.send(text_job("k2", &contact(2), "two")).await);
    let outcomes = w.drain(10).await;
    assert!(matches!(outcomes.last(), Some(Outcome::Sent { .. })));
    let to_one: Vec<_> = w
        .graph
        .requests()
        .into_iter()
        .filter(|r| r.message.to == contact(1))
        .collect();
    assert_eq!(to_one.len(), 3);
    // The second wait is 4^1 s.
    assert!(to_one[2].at_ms - to_one[1].at_ms >= 4_000);
}

// SEND-2: permanent failures keep Meta's code and title; 131026 flags the contact.
#[tokio::test]
async fn send_2_permanent_failures_keep_code_and_title() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Marketing))
        .await;
    w.graph.script([Scripted::Fail(meta_error(131026))]);
    let outcome = w.send(template_job("k1", &contact(1), "offer")).await;
    assert!(
        matches!(
            outcome,
            Outcome::Failed {
                code: Some(131026),
                ..
            }
        ),
        "{outcome:?}"
    );
    let SendState::Failed {
        code,
        title,
        reason,
        ..
    } = state_of(&w, "k1").await
    else {
        panic!("expected failed");
    };
    assert_eq!(code, Some(131026));
    assert_eq!(title.as_deref(), Some("error 131026"));
    assert!(reason.starts_with("131026: "), "{reason}");
    let (recipient, _) = w.store.recipient(&number(), &contact(1)).await.unwrap();
    assert_eq!(recipient.undeliverable.map(|u| u.code), Some(131026));
    // Not sent again on redelivery.
    assert!(matches!(
        w.send(template_job("k1", &contact(1), "offer")).await,
        Outcome::Failed { .. }
    ));
    assert_eq!(w.graph.requests().len(), 1);
}

// SEND-2: token, permission, payment or policy errors stop the number with an alert; sends are
// held (not failed) until a person resumes it.
#[tokio::test]
async fn send_2_token_errors_stop_the_number_with_an_alert() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    w.inbound(&contact(2), t(0)).await;
    w.graph.script([Scripted::Fail(meta_error(190))]);
    let outcome = w.send(text_job("k1", &contact(1), "hello")).await;
    assert_eq!(
        outcome,
        Outcome::Parked {
            on: ParkReason::NumberResumed
        }
    );
    let alerts = w.alerts.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].code, Some(190));
    let (pacing, _) = w.store.number_pacing(&number()).await.unwrap();
    assert!(pacing.pacing.stopped);
    assert!(pacing.stop_reason.unwrap().starts_with("190"));
    // The next send does not call Meta at all.
    assert!(matches!(
        w.send(text_job("k2", &contact(2), "hi")).await,
        Outcome::Parked { .. }
    ));
    assert_eq!(w.graph.requests().len(), 1);
    assert_eq!(w.alerts.alerts().len(), 1, "one alert per stop");
    // A person fixed the token: both go out.
    assert_eq!(w.sender.resume_number(&number()).await.unwrap(), 2);
    let outcomes = w.drain(10).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Sent { .. }))
            .count(),
        2
    );
}

// DECISIONS 21: an ambiguous marketing send (timeout after the request went out) is not sent again.
#[tokio::test]
async fn an_ambiguous_marketing_send_is_not_retried() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Marketing))
        .await;
    w.graph.script([Scripted::AcceptButLoseAnswer]);
    let outcome = w.send(template_job("k1", &contact(1), "offer")).await;
    assert!(matches!(outcome, Outcome::Ambiguous { .. }), "{outcome:?}");
    let outcomes = w.drain(10).await;
    assert_eq!(
        outcomes,
        vec![Outcome::Failed {
            code: None,
            reason: AMBIGUOUS_MARKETING.into()
        }]
    );
    assert_eq!(w.graph.requests().len(), 1, "never sent twice");
}

// An ambiguous free-form send is tried again once nothing named it in time.
#[tokio::test]
async fn an_ambiguous_service_message_is_retried_after_the_wait() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    w.graph
        .script([Scripted::Fail(sender::GraphError::Ambiguous {
            reason: "connection reset".into(),
        })]);
    assert!(matches!(
        w.send(text_job("k1", &contact(1), "hello")).await,
        Outcome::Ambiguous { .. }
    ));
    let outcomes = w.drain(10).await;
    assert!(matches!(outcomes.last(), Some(Outcome::Sent { .. })));
    let requests = w.graph.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at_ms - requests[0].at_ms >= 10 * 60 * 1000);
}

// An ambiguous send named by its status webhook (biz_opaque_callback_data) is linked to its
// wamid and never sent again.
#[tokio::test]
async fn an_ambiguous_send_is_linked_by_its_status() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Utility))
        .await;
    w.graph.script([Scripted::AcceptButLoseAnswer]);
    let job = outreach_job("k1", &contact(1), "offer");
    assert!(matches!(
        w.send(job.clone()).await,
        Outcome::Ambiguous { .. }
    ));
    let wamid = w.graph.accepted()[0].wamid.clone().unwrap();
    w.update(&status_event(
        &wamid,
        whatsapp::event::DeliveryStatus::Sent,
        t(1),
        None,
        None,
        Some("k1"),
    ))
    .await;
    assert!(matches!(state_of(&w, "k1").await, SendState::Sent { .. }));
    assert_eq!(
        w.send(job).await,
        Outcome::AlreadySent {
            wamid: wamid.clone()
        }
    );
    // The outreach was recorded and announced to the contact's lane.
    let lanes = w.lane_events();
    assert_eq!(lanes.len(), 1);
    let loaded = store::ContactStore::load_contact(&w.store, &number(), &contact(1), t(2))
        .await
        .unwrap();
    assert_eq!(loaded.outreach[0].wamid, wamid);
    w.drain(10).await;
    assert_eq!(w.graph.requests().len(), 1);
}

// OUT-8 / CAMP-7: an outreach carries signed payloads with its send time; its record reaches the
// contact's lane in the contact's FIFO group.
#[tokio::test]
async fn an_outreach_is_recorded_and_announced_in_the_contacts_lane() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Utility))
        .await;
    let wamid = wamid_of(&w.send(outreach_job("k1", &contact(1), "offer")).await);
    let OutboundContent::Template {
        button_payloads, ..
    } = &w.graph.accepted()[0].message.content
    else {
        panic!("a template");
    };
    assert_eq!(button_payloads.len(), 2);
    let key = rules::outreach::OutreachKey::new(b"test-outreach-key".to_vec());
    let payload = rules::outreach::ButtonPayload::verify(&key, &button_payloads[1]).unwrap();
    assert_eq!(payload.outreach.as_str(), "o-k1");
    assert_eq!(payload.button, 1);
    assert_eq!(payload.sent_at, t(0));
    let inbound = w.queue.messages(queue::Destination::Inbound);
    assert_eq!(inbound.len(), 1);
    assert_eq!(
        inbound[0].group.as_deref(),
        Some(format!("{}#{}", number(), contact(1)).as_str())
    );
    let event: whatsapp::Event = serde_json::from_str(&inbound[0].body).unwrap();
    let whatsapp::EventBody::Lane(lane) = event.body else {
        panic!("a lane event");
    };
    let rules::Event::OutreachSent(record) = lane.event else {
        panic!("OutreachSent");
    };
    assert_eq!(record.wamid, wamid);
    assert_eq!(record.buttons, vec!["Yes".to_owned(), "No".to_owned()]);
}

// OUT-10: an agent's template with quick replies that reaches the sender without an outreach
// planned (through the contact's lane) is an outreach all the same: signed payloads, its record,
// the lane told; the id comes from the send key. A template without buttons stays plain.
#[tokio::test]
async fn out_10_a_template_with_buttons_sent_without_a_plan_is_an_outreach() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Utility))
        .await;
    let mut plain = approved("notice", TemplateCategory::Utility);
    plain.buttons.clear();
    w.template(&plain).await;
    let job = template_job("console:ana:k1#0", &contact(1), "offer");
    assert!(job.outreach.is_none());
    let wamid = wamid_of(&w.send(job).await);
    let OutboundContent::Template {
        button_payloads, ..
    } = &w.graph.accepted()[0].message.content
    else {
        panic!("a template");
    };
    assert_eq!(button_payloads.len(), 2, "OUT-8: a payload per quick reply");
    let key = rules::outreach::OutreachKey::new(b"test-outreach-key".to_vec());
    let payload = rules::outreach::ButtonPayload::verify(&key, &button_payloads[0]).unwrap();
    let id = sender::campaigns::outreach_id("console:ana:k1#0");
    assert_eq!(payload.outreach, id);
    assert_eq!(payload.sent_at, t(0));
    let inbound = w.queue.messages(queue::Destination::Inbound);
    assert_eq!(inbound.len(), 1, "the contact's lane hears of the outreach");
    let event: whatsapp::Event = serde_json::from_str(&inbound[0].body).unwrap();
    let whatsapp::EventBody::Lane(lane) = event.body else {
        panic!("a lane event");
    };
    let rules::Event::OutreachSent(record) = lane.event else {
        panic!("OutreachSent");
    };
    assert_eq!((record.id, record.wamid), (id, wamid));
    assert_eq!(record.buttons, vec!["Yes".to_owned(), "No".to_owned()]);
    assert!(record.campaign.is_none());

    // No buttons: a plain template send, no payloads, no outreach.
    wamid_of(
        &w.send(template_job("console:ana:k2#0", &contact(2), "notice"))
            .await,
    );
    let OutboundContent::Template {
        button_payloads, ..
    } = &w.graph.accepted()[1].message.content
    else {
        panic!("a template");
    };
    assert!(button_payloads.is_empty());
    assert_eq!(w.queue.messages(queue::Destination::Inbound).len(), 1);

    // WIN-5: the recontact template that replaces a free-form message is one too when it has
    // buttons; the send record keeps the plan (an ambiguous send linked later records it).
    let w = world();
    let mut recontact = approved("come_back", TemplateCategory::Utility);
    recontact.recontact = true;
    w.template(&recontact).await;
    let mut job = text_job("console:ana:k3#0", &contact(3), "are you there?");
    job.request.recontact_if_closed = true;
    let wamid = wamid_of(&w.send(job).await);
    let OutboundContent::Template {
        name,
        button_payloads,
        ..
    } = &w.graph.accepted()[0].message.content
    else {
        panic!("the recontact template");
    };
    assert_eq!(name.as_str(), "come_back");
    let payload = rules::outreach::ButtonPayload::verify(&key, &button_payloads[1]).unwrap();
    let id = sender::campaigns::outreach_id("console:ana:k3#0");
    assert_eq!((&payload.outreach, payload.button), (&id, 1));
    let inbound = w.queue.messages(queue::Destination::Inbound);
    let event: whatsapp::Event = serde_json::from_str(&inbound[0].body).unwrap();
    let whatsapp::EventBody::Lane(lane) = event.body else {
        panic!("a lane event");
    };
    let rules::Event::OutreachSent(record) = lane.event else {
        panic!("OutreachSent");
    };
    assert_eq!((record.id, record.wamid), (id, wamid));
    assert_eq!(record.template.as_str(), "come_back");
    let kept = w
        .store
        .send_record("console:ana:k3#0")
        .await
        .unwrap()
        .unwrap();
    let job: queue::SendJob = serde_json::from_str(&kept.value.job).unwrap();
    assert!(job.outreach.is_some(), "the record keeps the outreach");
}

// SEND-3: at most the number's throughput in any second, nothing dropped.
#[tokio::test]
async fn send_3_throughput_is_never_exceeded_and_nothing_is_dropped() {
    let w = world();
    for i in 0..200 {
        w.inbound(&contact(i), t(0)).await;
    }
    for i in 0..200 {
        let outcome = w
            .send(text_job(&format!("k{i}"), &contact(i), "hello"))
            .await;
        assert!(matches!(outcome, Outcome::Sent { .. }), "{outcome:?}");
    }
    let times: Vec<i64> = w.graph.accepted().iter().map(|r| r.at_ms).collect();
    assert_eq!(times.len(), 200);
    assert!(
        max_in_window(&times, 1_000) <= 80,
        "{}",
        max_in_window(&times, 1_000)
    );
    // Paced, not bunched: 200 sends at 80/s take at least 2.4 s.
    assert!(times[199] - times[0] >= 2_400);
}

/// The most timestamps in any window of `width` ms.
pub fn max_in_window(times: &[i64], width: i64) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut best = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] >= width {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

// SEND-3 (pair rate): a burst of 5 to one recipient, then one per 6 s; nothing dropped.
#[tokio::test]
async fn send_3_pair_rate_one_message_per_6s_after_a_burst() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    for i in 0..8 {
        w.send(text_job(&format!("k{i}"), &contact(1), "part"))
            .await;
    }
    w.drain(50).await;
    let times: Vec<i64> = w.graph.accepted().iter().map(|r| r.at_ms).collect();
    assert_eq!(times.len(), 8);
    assert!(max_in_window(&times, 6_000) <= 5);
}

// SEND-3 / CAMP-5: the messaging limit counts unique contacts reached outside a CSW in 24 h;
// what does not fit waits until a slot frees, it is never dropped.
#[tokio::test]
async fn camp_5_the_messaging_limit_waits_never_drops() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Marketing))
        .await;
    let record = NumberPacingRecord {
        settings: PacingSettings {
            messaging_limit: MessagingLimit::contacts(2).unwrap(),
            ..PacingSettings::default()
        },
        ..NumberPacingRecord::default()
    };
    assert!(
        w.store
            .put_pacing(&PacingWrite {
                number: Some((number(), record, None)),
                recipient: None,
            })
            .await
            .unwrap()
    );
    // Inside a CSW a send does not count toward the limit.
    w.inbound(&contact(9), t(0)).await;
    wamid_of(&w.send(template_job("in", &contact(9), "offer")).await);
    for i in 0..3 {
        w.send(template_job(&format!("k{i}"), &contact(i), "offer"))
            .await;
    }
    let requests = w.graph.accepted();
    assert_eq!(requests.len(), 3, "two new contacts fit, the third waits");
    let outcomes = w.drain(200).await;
    assert!(
        matches!(outcomes.last(), Some(Outcome::Sent { .. })),
        "{outcomes:?}"
    );
    let third = w.graph.accepted().last().unwrap().at_ms;
    assert!(
        third >= (T0 + 24 * 3600) * 1000,
        "waited for the 24 h window"
    );
}

// SEND-2 131049: Meta chose not to deliver a marketing message: no immediate retry, one a day at
// most.
#[tokio::test]
async fn send_2_marketing_cap_retries_only_a_day_later() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Marketing))
        .await;
    w.graph.script([Scripted::Fail(meta_error(131049))]);
    let outcome = w.send(template_job("k1", &contact(1), "offer")).await;
    let Outcome::Waiting { until_ms, .. } = outcome else {
        panic!("expected a spaced retry, got {outcome:?}");
    };
    assert_eq!(until_ms - w.now_ms(), 24 * 3600 * 1000);
    let outcomes = w.drain(500).await;
    assert!(matches!(outcomes.last(), Some(Outcome::Sent { .. })));
    let requests = w.graph.requests();
    assert_eq!(
        requests.len(),
        2,
        "the queue's 15-minute hops never sent early"
    );
    assert!(requests[1].at_ms - requests[0].at_ms >= 24 * 3600 * 1000);
}

// Meta's limits are checked before anything is sent: the refusal names the field.
#[tokio::test]
async fn content_meta_would_refuse_is_refused_with_the_field() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    let Outcome::Refused { reason } = w
        .send(text_job("k1", &contact(1), &"x".repeat(5_000)))
        .await
    else {
        panic!("expected a refusal");
    };
    assert!(reason.contains("text.body"), "{reason}");
    assert!(w.graph.requests().is_empty());
}

// The console's message log lists the sender's sends (claimed with the key) with their state.
#[tokio::test]
async fn sends_appear_in_the_contacts_outbound_log() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    let wamid = wamid_of(&w.send(text_job("k1", &contact(1), "hello")).await);
    let log = w
        .store
        .outbound_log(&number(), &contact(1), t(-10), t(10), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].idempotency_key, "k1");
    assert_eq!(
        log[0].message.as_ref().and_then(|m| m.wamid.clone()),
        Some(wamid)
    );
}

// Exactly once per key under concurrency: eight deliveries of one job at once read the same
// (absent) record; the conditional write before the call lets exactly one reach Meta, and the
// console's log lists the send once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_deliveries_of_one_job_reach_meta_once() {
    let w = world();
    w.inbound(&contact(1), t(0)).await;
    let job = text_job("k8", &contact(1), "hello");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let sender = w.sender.clone();
            let job = job.clone();
            tokio::spawn(async move { sender.send(job).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(w.graph.requests().len(), 1, "{outcomes:?}");
    let sent = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Sent { .. }))
        .count();
    assert_eq!(sent, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Outcome::Sent { .. } | Outcome::AlreadySent { .. } | Outcome::Busy { .. }
        )),
        "{outcomes:?}"
    );
    let log = w
        .store
        .outbound_log(&number(), &contact(1), t(-10), t(10), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
}

// SEND-1 / SEND-5: a send refused before its call is held and recorded like any other: the
// console's log lists it (with the message as requested) as refused with the reason, the record
// keeps the reason, and the pacing is not taken for a message that never went out.
#[tokio::test]
async fn send_5_a_send_refused_before_its_call_is_listed_refused_and_takes_no_pacing() {
    let w = world();
    let job = text_job("k9", &contact(1), "hello");
    let Outcome::Refused { reason } = w.send(job.clone()).await else {
        panic!("outside the window a free-form message is refused");
    };
    assert!(matches!(
        state_of(&w, "k9").await,
        SendState::Refused { .. }
    ));
    let log = w
        .store
        .outbound_log(&number(), &contact(1), t(-10), t(10), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1, "{reason}");
    assert_eq!(log[0].idempotency_key, "k9");
    assert!(log[0].body.is_some());
    assert!(
        matches!(&log[0].unsent, Some(SendState::Refused { reason: r, .. }) if *r == reason),
        "{:?}",
        log[0].unsent
    );
    assert_eq!(w.store.number_pacing(&number()).await.unwrap().1, None);
    assert_eq!(
        w.store.recipient(&number(), &contact(1)).await.unwrap().1,
        None
    );
    // Delivered again: refused again from the record, nothing more written.
    assert_eq!(w.send(job).await, Outcome::Refused { reason });
    assert!(w.graph.requests().is_empty());
}

// SEND-2 132015 (issue 16, case 11): Meta says the template is paused: the send is held until it
// is approved again, and the catalogue shows it PAUSED (not APPROVED and sendable); Meta's
// approval releases the send.
#[tokio::test]
async fn send_2_132015_holds_the_send_and_pauses_the_template_in_the_catalogue() {
    let w = world();
    w.template(&approved("offer", TemplateCategory::Utility))
        .await;
    w.graph.script([Scripted::Fail(meta_error(132015))]);
    let outcome = w.send(template_job("k1", &contact(1), "offer")).await;
    assert!(matches!(outcome, Outcome::Parked { .. }), "{outcome:?}");
    let name = rules::TemplateName::new("offer").unwrap();
    let stored = store::TemplateStore::template(&w.store, &number(), &name, "en_US")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, TemplateStatus::Paused);
    // Another send of it is held at once, without a call.
    let second = w.send(template_job("k2", &contact(2), "offer")).await;
    assert!(matches!(second, Outcome::Parked { .. }), "{second:?}");
    assert_eq!(w.graph.requests().len(), 1);
}

// Issue 16, case 15 (OUT-8): the message log shows an outreach template with the signed button
// payloads it carried, as they went to Meta.
#[tokio::test]
async fn out_8_the_log_shows_an_outreach_with_its_button_payloads() {
    let w = world();
    w.template(&approved(
        "offer",
        rules::templates::TemplateCategory::Marketing,
    ))
    .await;
    let c = contact(1);
    w.send(outreach_job("k-out", &c, "offer")).await;
    let sent = w.graph.accepted();
    assert_eq!(sent.len(), 1);
    let rules::OutboundContent::Template {
        button_payloads: payloads,
        ..
    } = &sent[0].message.content
    else {
        panic!("not a template: {:?}", sent[0].message.content)
    };
    assert_eq!(payloads.len(), 2);
    let log = w
        .store
        .outbound_log(&number(), &c, t(-10), t(10), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    let body = log[0].body.clone().unwrap();
    assert_eq!(body["type"], "template", "{body}");
    assert_eq!(
        body["button_payloads"],
        serde_json::json!(payloads),
        "{body}"
    );
}

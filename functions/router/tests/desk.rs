//! Router-level tests of the customer side: each SPEC rule through the real router, SQLite
//! store, in-process queues and timer wheel (see `common`). The rules crate tests the decisions
//! one by one; these prove the shell carries them out: what reaches the outbound queue, the
//! store (state, log, agents, queue) and the timers.

mod common;

use common::*;
use rules::campaign::Handoff;
use rules::effect::{CloseReason, Notice, SendPurpose};
use rules::settings::{Csat, Nudge, QueueMessage, Reminder, SilentAgent};
use rules::state::{CampaignOutcome, ConversationStatus, Origin};
use rules::*;

const DAY: i64 = 24 * 60 * 60;

fn desk_settings() -> NumberSettings {
    let mut s = without_bot();
    s.welcome = Some(OutboundContent::text("Welcome to Acme support!"));
    s.unassigned_reply = Some(OutboundContent::text("An agent will be with you shortly."));
    s.queue_message = Some(QueueMessage {
        text: "You are number {position} in the queue.".into(),
    });
    s.reminder = Some(Reminder {
        after: Duration::minutes(5),
        content: OutboundContent::text("Thanks for waiting, we're on it."),
    });
    s.auto_close_after = Some(Duration::hours(24));
    s.csat = Some(Csat {
        question: "How did we do?".into(),
    });
    s
}

fn count(desk: &Desk, purpose: SendPurpose) -> usize {
    desk.purposes()
        .into_iter()
        .filter(|p| *p == purpose)
        .count()
}

/// Moves the clock to `DAY * days` after T0 (outreach tests need history before "now").
fn days_later(desk: &Desk, days: i64) {
    desk.clock
        .set(Timestamp::from_unix(T0) + Duration::seconds(days * DAY));
}

// --- Windows -----------------------------------------------------------------------------------

#[tokio::test]
async fn win_1_a_customer_message_opens_the_24h_service_window() {
    let mut desk = Desk::new(with_bot()).await;
    desk.text().await;
    let state = desk.state().await;
    assert!(window(&state.windows, Channel::WhatsApp, desk.now()).is_open());
    assert!(
        !window(
            &state.windows,
            Channel::WhatsApp,
            desk.now() + Duration::hours(24)
        )
        .is_open()
    );
}

#[tokio::test]
async fn win_2_request_welcome_opens_the_window_and_auto_1_welcomes_once() {
    let mut settings = desk_settings();
    settings.welcome = Some(OutboundContent::text("Welcome!"));
    let mut desk = Desk::new(settings).await;
    let event = desk.message(CUSTOMER, whatsapp::MessageContent::RequestWelcome, None);
    desk.send_in(event).await;
    assert!(window(&desk.state().await.windows, Channel::WhatsApp, desk.now()).is_open());
    assert_eq!(desk.purposes(), vec![SendPurpose::Welcome]);
    desk.text().await;
    assert_eq!(
        count(&desk, SendPurpose::Welcome),
        1,
        "AUTO-1: once per contact"
    );
}

#[tokio::test]
async fn win_3_a_click_to_whatsapp_referral_opens_the_72h_free_entry_point() {
    let mut desk = Desk::new(with_bot()).await;
    let mut event = desk.message(
        CUSTOMER,
        whatsapp::MessageContent::Text {
            body: "I saw your ad".into(),
        },
        None,
    );
    if let whatsapp::EventBody::Message(m) = &mut event.body {
        m.referral = Some(
            serde_json::from_value(serde_json::json!({
                "source_type": "ad", "source_id": "ad-1", "ctwa_clid": "clid-1"
            }))
            .unwrap(),
        );
    }
    desk.send_in(event).await;
    // The bot answered within 24 h of the referral: the free entry point runs 72 h.
    let state = desk.state().await;
    assert!(matches!(
        window(&state.windows, Channel::WhatsApp, desk.now()),
        WindowStatus::Open {
            kind: WindowKind::FreeEntryPoint,
            ..
        }
    ));
    let after_csw = window(
        &state.windows,
        Channel::WhatsApp,
        desk.now() + Duration::hours(30),
    );
    assert!(!after_csw.is_open(), "no free-form outside the CSW");
    assert!(after_csw.free_entry_point_open());
}

// --- Outreach (seed 000) -----------------------------------------------------------------------

#[tokio::test]
async fn out_exp_1_reply_to_an_expired_outreach_is_a_plain_message_for_the_bot() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 40);
    let o = desk.outreach("old1", desk.now() - Duration::days(31)).await;
    desk.reply_to(o.wamid.as_str()).await;
    let c = desk.state().await.conversation.expect("a conversation");
    assert_eq!(c.origin, Origin::Inbound);
    assert!(is_bot(Some(&c.handler)));
    assert_eq!(desk.purposes(), vec![SendPurpose::Bot]);
}

#[tokio::test]
async fn out_exp_2_pressing_an_expired_outreach_without_conversation_sends_the_expired_text() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 40);
    let o = desk.outreach("old1", desk.now() - Duration::days(31)).await;
    desk.press(&o, 1).await;
    assert!(desk.state().await.conversation.is_none());
    assert_eq!(desk.purposes(), vec![SendPurpose::ExpiredOutreach]);
    assert_eq!(
        desk.texts(),
        vec!["The message has expired, how can we help you?".to_string()]
    );
    // The press is in the log, with its content, outside any conversation.
    let log = desk.log().await;
    let inbound = log
        .iter()
        .find(|m| matches!(m.record.entry, LogEntry::Inbound { .. }))
        .unwrap();
    assert!(matches!(
        inbound.record.entry,
        LogEntry::Inbound {
            conversation: None,
            ..
        }
    ));
    assert_eq!(inbound.record.body.as_ref().unwrap()["type"], "button");
}

#[tokio::test]
async fn out_exp_3_expired_press_during_a_bot_conversation_sends_the_text_and_the_bot_goes_on() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 40);
    desk.text().await;
    let before = desk.conversation().await;
    let o = desk.outreach("old1", desk.now() - Duration::days(45)).await;
    desk.press(&o, 0).await;
    assert_eq!(desk.purposes().last(), Some(&SendPurpose::ExpiredOutreach));
    assert_eq!(desk.conversation().await, before);
    assert!(is_bot(desk.handler().await.as_ref()));
}

#[tokio::test]
async fn out_exp_4_expired_press_during_an_agent_conversation_is_shown_with_a_notice() {
    let mut desk = Desk::new(without_bot()).await;
    desk.agent_online("ana", 5).await;
    days_later(&desk, 40);
    desk.text().await;
    assert!(is_agent(desk.handler().await.as_ref(), "ana"));
    let sends = desk.sent.len();
    let o = desk.outreach("old1", desk.now() - Duration::days(31)).await;
    desk.press(&o, 2).await;
    assert_eq!(desk.sent.len(), sends, "nothing is sent automatically");
    assert!(is_agent(desk.handler().await.as_ref(), "ana"));
    assert!(
        desk.notices()
            .await
            .contains(&Notice::ExpiredOutreachPressed {
                outreach: o.id.clone()
            })
    );
}

#[tokio::test]
async fn out_act_1_reply_to_an_active_outreach_starts_a_conversation_from_it() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 10);
    let o = desk.outreach("new1", desk.now() - Duration::days(2)).await;
    desk.reply_to(o.wamid.as_str()).await;
    let c = desk.state().await.conversation.unwrap();
    assert_eq!(
        c.origin,
        Origin::Outreach {
            outreach: o.id.clone(),
            button: None
        }
    );
    assert!(desk.notices().await.contains(&Notice::StartedFromOutreach {
        outreach: o.id.clone(),
        button: None
    }));
}

#[tokio::test]
async fn out_act_2_pressing_an_active_outreach_starts_a_conversation_with_the_button() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 10);
    let o = desk.outreach("new1", desk.now() - Duration::days(2)).await;
    desk.press(&o, 1).await;
    let c = desk.state().await.conversation.unwrap();
    assert_eq!(
        c.origin,
        Origin::Outreach {
            outreach: o.id.clone(),
            button: Some(1)
        }
    );
    assert_eq!(desk.purposes(), vec![SendPurpose::Bot]);
}

#[tokio::test]
async fn out_act_3_pressing_the_same_outreach_again_closes_and_restarts_the_bot_conversation() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 10);
    let o = desk.outreach("new1", desk.now() - Duration::days(2)).await;
    desk.press(&o, 0).await;
    let first = desk.conversation().await.unwrap();
    desk.advance(Duration::minutes(2)).await;
    desk.press(&o, 2).await;
    assert_ne!(desk.conversation().await.unwrap(), first);
    assert!(desk.notices().await.contains(&Notice::ConversationClosed {
        reason: CloseReason::ReplacedByOutreach
    }));
}

#[tokio::test]
async fn out_act_4_pressing_another_outreach_during_a_bot_conversation_starts_from_it() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 10);
    desk.text().await;
    let plain = desk.conversation().await.unwrap();
    let o = desk.outreach("b2", desk.now() - Duration::days(1)).await;
    desk.press(&o, 1).await;
    let c = desk.state().await.conversation.unwrap();
    assert_ne!(c.id, plain);
    assert_eq!(
        c.origin,
        Origin::Outreach {
            outreach: o.id.clone(),
            button: Some(1)
        }
    );
}

#[tokio::test]
async fn out_act_5_pressing_an_active_outreach_during_an_agent_conversation_goes_to_the_agent() {
    let mut desk = Desk::new(without_bot()).await;
    desk.agent_online("ana", 5).await;
    days_later(&desk, 10);
    desk.text().await;
    let before = desk.conversation().await;
    let sends = desk.sent.len();
    let o = desk.outreach("new1", desk.now() - Duration::days(2)).await;
    desk.press(&o, 1).await;
    assert_eq!(desk.conversation().await, before);
    assert_eq!(desk.sent.len(), sends);
    assert!(desk.notices().await.contains(&Notice::OutreachPressed {
        outreach: o.id.clone(),
        button: Some(1)
    }));
}

#[tokio::test]
async fn out_act_6_a_reply_to_an_active_outreach_joins_the_open_conversation() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 10);
    desk.text().await;
    let before = desk.conversation().await;
    let o = desk.outreach("new1", desk.now() - Duration::days(2)).await;
    desk.reply_to(o.wamid.as_str()).await;
    assert_eq!(desk.conversation().await, before);
}

#[tokio::test]
async fn out_7_without_a_recipe_the_conversation_is_unassigned_and_queued() {
    let mut desk = Desk::new(desk_settings()).await;
    days_later(&desk, 10);
    let o = desk.outreach("new1", desk.now() - Duration::days(2)).await;
    desk.press(&o, 0).await;
    assert!(is_unassigned(desk.handler().await.as_ref()));
    assert!(desk.purposes().contains(&SendPurpose::UnassignedReply));
    assert_eq!(desk.queue_len().await, 1, "no agent online: queued");
}

#[tokio::test]
async fn out_8_a_forged_payload_is_a_plain_message() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 40);
    let o = desk.outreach("old1", desk.now() - Duration::days(31)).await;
    let forged = rules::outreach::ButtonPayload {
        outreach: o.id.clone(),
        sent_at: desk.now(),
        button: 0,
    }
    .encode(&rules::outreach::OutreachKey::new(b"attacker".to_vec()))
    .unwrap();
    let event = desk.message(
        CUSTOMER,
        whatsapp::MessageContent::Button {
            payload: forged,
            text: "Phone call".into(),
        },
        Some(o.wamid.as_str()),
    );
    desk.send_in(event).await;
    let c = desk.state().await.conversation.unwrap();
    assert_eq!(c.origin, Origin::Inbound);
    assert_eq!(desk.purposes(), vec![SendPurpose::Bot]);
}

#[tokio::test]
async fn out_8_an_expired_press_is_recognised_after_the_record_expired_from_the_store() {
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 400);
    // Sent 200 days ago: the store no longer returns the record (past its expires_at).
    let o = desk
        .outreach("gone", desk.now() - Duration::days(200))
        .await;
    desk.press(&o, 0).await;
    assert!(desk.state().await.conversation.is_none());
    assert_eq!(desk.purposes(), vec![SendPurpose::ExpiredOutreach]);
}

#[tokio::test]
async fn out_9_a_reply_quoting_an_unknown_message_is_a_plain_message() {
    let mut desk = Desk::new(with_bot()).await;
    desk.reply_to("wamid.never-sent-by-us").await;
    let c = desk.state().await.conversation.unwrap();
    assert_eq!(c.origin, Origin::Inbound);
    assert!(is_bot(Some(&c.handler)));
}

// --- Automation (seed 004) ---------------------------------------------------------------------

#[tokio::test]
async fn auto_3_and_auto_4_unassigned_reply_then_queue_position_when_no_agent_is_free() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.text_from("4915100000001", "first").await;
    desk.text().await;
    assert!(is_unassigned(desk.handler().await.as_ref()));
    assert!(desk.purposes().contains(&SendPurpose::UnassignedReply));
    assert!(desk.purposes().contains(&SendPurpose::QueuePosition));
    assert!(
        desk.texts()
            .contains(&"You are number 2 in the queue.".to_string())
    );
    assert_eq!(desk.queue_len().await, 2);
}

#[tokio::test]
async fn auto_4_the_agent_with_capacity_and_fewest_open_conversations_gets_it() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 1).await;
    desk.agent_online("bo", 2).await;
    desk.text_from("4915100000001", "one").await;
    desk.text_from("4915100000002", "two").await;
    desk.text().await;
    let a = desk
        .state_of("4915100000001")
        .await
        .unwrap()
        .conversation
        .unwrap();
    let b = desk
        .state_of("4915100000002")
        .await
        .unwrap()
        .conversation
        .unwrap();
    assert!(is_agent(Some(&a.handler), "ana"), "ties go by id");
    assert!(is_agent(Some(&b.handler), "bo"));
    assert!(is_agent(desk.handler().await.as_ref(), "bo"));
    assert_eq!(
        (desk.open_count("ana").await, desk.open_count("bo").await),
        (1, 2)
    );
    // Everyone is full now: the next one waits.
    desk.text_from("4915100000003", "three").await;
    assert_eq!(desk.queue_len().await, 1);
}

#[tokio::test]
async fn auto_5_a_closing_agent_gets_the_oldest_queued_conversation() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 1).await;
    desk.text().await;
    assert!(is_agent(desk.handler().await.as_ref(), "ana"));
    desk.text_from("4915100000001", "waiting").await;
    desk.text_from("4915100000002", "waiting too").await;
    assert_eq!(desk.queue_len().await, 2);
    desk.agent_close("ana").await;
    let next = desk
        .state_of("4915100000001")
        .await
        .unwrap()
        .conversation
        .unwrap();
    assert!(is_agent(Some(&next.handler), "ana"));
    assert_eq!(desk.queue_len().await, 1);
    assert_eq!(desk.open_count("ana").await, 1, "released one, took one");
}

#[tokio::test]
async fn auto_5_claiming_a_queued_conversation_takes_it_off_the_queue() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.text().await;
    assert_eq!(desk.queue_len().await, 1);
    desk.agent_online("bo", 3).await;
    desk.agent_action("console:claim", AgentAction::Claim { agent: agent("bo") })
        .await;
    assert!(is_agent(desk.handler().await.as_ref(), "bo"));
    assert_eq!(desk.queue_len().await, 0);
    assert_eq!(desk.open_count("bo").await, 1);
}

// AUTO-5 (issue 16, case 7): a conversation claimed by hand counts, even over the reception
// limit: an agent with a limit of 2 who claims a third shows 3 open, and closing one does not
// hand them the oldest queued conversation (they would serve 3 again).
#[tokio::test]
async fn auto_5_a_claim_over_the_limit_counts_and_closing_one_assigns_nothing_more() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 2).await;
    desk.text_from("4915100000001", "one").await;
    desk.text_from("4915100000002", "two").await;
    assert_eq!(desk.open_count("ana").await, 2);
    desk.text().await;
    desk.text_from("4915100000003", "three").await;
    assert_eq!(desk.queue_len().await, 2);
    desk.agent_action(
        "console:claim",
        AgentAction::Claim {
            agent: agent("ana"),
        },
    )
    .await;
    assert!(is_agent(desk.handler().await.as_ref(), "ana"));
    assert_eq!(desk.open_count("ana").await, 3, "the claim counts");
    desk.agent_close("ana").await;
    assert_eq!(desk.open_count("ana").await, 2);
    let waiting = desk
        .state_of("4915100000003")
        .await
        .unwrap()
        .conversation
        .unwrap();
    assert!(is_unassigned(Some(&waiting.handler)), "still at the limit");
    assert_eq!(desk.queue_len().await, 1);
}

#[tokio::test]
async fn auto_6_one_no_reply_reminder_per_unanswered_stretch() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    desk.advance(Duration::minutes(3)).await;
    desk.text().await;
    desk.advance(Duration::minutes(10)).await;
    assert_eq!(count(&desk, SendPurpose::Reminder), 1);
    desk.text().await;
    desk.advance(Duration::minutes(10)).await;
    assert_eq!(count(&desk, SendPurpose::Reminder), 1, "once per stretch");
    desk.agent_send("ana", "Looking into it").await;
    desk.advance(Duration::minutes(1)).await;
    desk.text().await;
    desk.advance(Duration::minutes(6)).await;
    assert_eq!(count(&desk, SendPurpose::Reminder), 2);
}

#[tokio::test]
async fn auto_7_auto_close_when_the_customer_does_not_answer_the_agent() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    desk.agent_send("ana", "Can you send the order number?")
        .await;
    desk.advance(Duration::hours(23)).await;
    assert!(desk.state().await.conversation.is_some());
    desk.advance(Duration::hours(2)).await;
    assert!(desk.state().await.conversation.is_none());
    assert!(desk.notices().await.contains(&Notice::ConversationClosed {
        reason: CloseReason::AutoClose
    }));
    assert_eq!(desk.open_count("ana").await, 0, "capacity given back");
}

#[tokio::test]
async fn auto_8_the_bot_closes_after_10_quiet_minutes_and_a_message_pushes_the_deadline() {
    let mut desk = Desk::new(with_bot()).await;
    desk.text().await;
    desk.advance(Duration::minutes(9)).await;
    desk.press_bot("menu", 0).await;
    desk.advance(Duration::minutes(9)).await;
    assert!(is_bot(desk.handler().await.as_ref()));
    desk.advance(Duration::minutes(1)).await;
    assert!(desk.state().await.conversation.is_none());
    assert!(desk.notices().await.contains(&Notice::ConversationClosed {
        reason: CloseReason::BotTimeout
    }));
}

#[tokio::test]
async fn auto_8_the_bot_hands_off_to_an_agent() {
    let mut desk = Desk::new(with_bot()).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    desk.press_bot("menu", 1).await; // "Talk to a person"
    assert!(is_agent(desk.handler().await.as_ref(), "ana"));
    assert!(desk.notices().await.contains(&Notice::HandedOffByBot));
}

#[tokio::test]
async fn auto_9_csat_after_an_agent_closes_and_the_answer_is_recorded_without_reopening() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    desk.agent_send("ana", "Hello").await;
    desk.agent_close("ana").await;
    assert_eq!(desk.purposes().last(), Some(&SendPurpose::Csat));
    let event = desk.message(
        CUSTOMER,
        whatsapp::MessageContent::ButtonReply(
            serde_json::from_value(serde_json::json!({ "id": "csat.3", "title": "Satisfied" }))
                .unwrap(),
        ),
        None,
    );
    desk.send_in(event).await;
    assert!(desk.state().await.conversation.is_none(), "never reopens");
    assert!(desk.notices().await.contains(&Notice::CsatAnswered {
        score: 3,
        agent: Some(agent("ana"))
    }));
}

#[tokio::test]
async fn auto_10_a_snoozed_conversation_reopens_at_its_time() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    desk.agent_send("ana", "Tomorrow").await;
    let until = desk.now() + Duration::hours(20);
    desk.agent_action(
        "console:snooze",
        AgentAction::Snooze {
            agent: agent("ana"),
            until,
        },
    )
    .await;
    assert_eq!(
        desk.state().await.conversation.unwrap().status,
        ConversationStatus::Snoozed { until }
    );
    desk.advance(Duration::hours(20)).await;
    assert_eq!(
        desk.state().await.conversation.unwrap().status,
        ConversationStatus::Open
    );
    assert!(desk.notices().await.contains(&Notice::Reopened));
}

#[tokio::test]
async fn auto_11_the_nudge_goes_out_once_before_the_window_closes() {
    let mut settings = desk_settings();
    settings.auto_close_after = None;
    settings.nudge = Some(Nudge {
        before_close: Duration::hours(1),
        content: OutboundContent::text("Still there?"),
    });
    let mut desk = Desk::new(settings).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    desk.agent_send("ana", "Let me check").await;
    desk.advance(Duration::hours(22)).await;
    assert_eq!(count(&desk, SendPurpose::Nudge), 0);
    desk.advance(Duration::minutes(61)).await;
    assert_eq!(count(&desk, SendPurpose::Nudge), 1);
    desk.advance(Duration::hours(48)).await;
    assert_eq!(count(&desk, SendPurpose::Nudge), 1);
}

#[tokio::test]
async fn auto_12_a_silent_agent_loses_the_conversation_to_another_agent() {
    let mut settings = desk_settings();
    settings.silent_agent = Some(SilentAgent {
        after: Duration::minutes(15),
    });
    let mut desk = Desk::new(settings).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    assert!(is_agent(desk.handler().await.as_ref(), "ana"));
    desk.agent_online("bo", 5).await;
    desk.advance(Duration::minutes(16)).await;
    assert!(
        is_agent(desk.handler().await.as_ref(), "bo"),
        "not ana again"
    );
    assert_eq!(
        (desk.open_count("ana").await, desk.open_count("bo").await),
        (0, 1)
    );
}

// AUTO-13: "an agent will be with you shortly" goes only to a conversation that really waits:
// not to one a free agent took in the same step, nor on a silent-agent reassignment that found
// another agent.
#[tokio::test]
async fn auto_13_no_unassigned_reply_when_an_agent_takes_it_in_the_same_step() {
    let mut settings = desk_settings();
    settings.silent_agent = Some(SilentAgent {
        after: Duration::minutes(15),
    });
    let mut desk = Desk::new(settings).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    assert!(is_agent(desk.handler().await.as_ref(), "ana"));
    desk.agent_online("bo", 5).await;
    desk.advance(Duration::minutes(16)).await;
    assert!(is_agent(desk.handler().await.as_ref(), "bo"));
    assert_eq!(count(&desk, SendPurpose::UnassignedReply), 0);
    // (A conversation that waits is told: auto_3_and_auto_4 above.)
}

// --- Campaign answers (CAMP-7..9) ----------------------------------------------------------------

async fn campaign_sent(desk: &mut Desk, hand_off: Handoff) -> rules::outreach::OutreachRecord {
    let o = desk
        .campaign_outreach("camp-c1", desk.now(), Duration::hours(2), hand_off)
        .await;
    desk.outreach_sent(&o).await;
    assert!(desk.state().await.campaign.is_some());
    o
}

fn outcomes(desk: &Desk) -> Vec<CampaignOutcome> {
    desk.campaign_results
        .iter()
        .map(|r| r.outcome.clone())
        .collect()
}

#[tokio::test]
async fn camp_7_a_quick_reply_in_time_is_the_result_forwarded_to_the_sender() {
    let mut desk = Desk::new(with_bot()).await;
    let o = campaign_sent(&mut desk, Handoff::Bot { recipe: None }).await;
    desk.advance(Duration::minutes(30)).await;
    desk.press(&o, 1).await;
    assert_eq!(
        outcomes(&desk),
        vec![CampaignOutcome::Answered {
            button: 1,
            title: "WhatsApp message".into()
        }]
    );
    let result = &desk.campaign_results[0];
    assert_eq!(result.campaign.as_str(), "spring");
    assert_eq!(result.outreach, o.id);
    assert!(is_bot(desk.handler().await.as_ref()));
    desk.advance(Duration::hours(3)).await;
    assert_eq!(outcomes(&desk).len(), 1, "the response timer finds nothing");
}

#[tokio::test]
async fn camp_8_an_answer_after_the_timeout_is_late_and_goes_to_an_agent() {
    let mut desk = Desk::new(with_bot()).await;
    let o = campaign_sent(&mut desk, Handoff::Bot { recipe: None }).await;
    desk.advance(Duration::hours(3)).await;
    assert_eq!(outcomes(&desk), vec![CampaignOutcome::TimedOut]);
    desk.press(&o, 2).await;
    assert_eq!(
        outcomes(&desk),
        vec![CampaignOutcome::TimedOut, CampaignOutcome::Late]
    );
    assert!(is_unassigned(desk.handler().await.as_ref()));
}

#[tokio::test]
async fn camp_9_free_text_instead_of_a_button_ends_the_interaction_for_an_agent() {
    let mut desk = Desk::new(with_bot()).await;
    campaign_sent(&mut desk, Handoff::Bot { recipe: None }).await;
    desk.advance(Duration::minutes(10)).await;
    desk.text().await;
    assert_eq!(outcomes(&desk), vec![CampaignOutcome::FreeText]);
    assert!(desk.state().await.campaign.is_none());
    assert!(is_unassigned(desk.handler().await.as_ref()));
}

// --- CHAN ----------------------------------------------------------------------------------------

#[tokio::test]
async fn chan_2_an_agent_writing_to_a_closed_conversation_reopens_it_for_themselves() {
    let mut desk = Desk::new(desk_settings()).await;
    desk.agent_online("ana", 5).await;
    desk.text().await;
    desk.agent_close("ana").await;
    assert!(desk.state().await.conversation.is_none());
    desk.agent_online("bo", 5).await;
    desk.agent_send("bo", "One more thing").await;
    assert!(is_agent(desk.handler().await.as_ref(), "bo"));
    assert_eq!(desk.open_count("bo").await, 1);
    assert_eq!(desk.purposes().last(), Some(&SendPurpose::Agent));
}

// --- TIME ----------------------------------------------------------------------------------------

#[tokio::test]
async fn time_1_p3_a_ten_message_bot_conversation_costs_at_most_two_timer_calls() {
    let mut desk = Desk::new(with_bot()).await;
    for _ in 0..10 {
        desk.text().await;
        desk.advance(Duration::minutes(1)).await;
    }
    assert!(
        desk.timers.calls() <= 2,
        "{} timer calls for 10 messages",
        desk.timers.calls()
    );
}

#[tokio::test]
async fn time_3_timer_wake_ups_travel_in_the_contacts_lane() {
    let mut desk = Desk::new(with_bot()).await;
    desk.text().await;
    let armed = desk.timers.inner().armed();
    assert!(!armed.is_empty());
    let group = armed[0].group();
    assert_eq!(group, format!("{}#{}", number(), CUSTOMER));
    desk.advance(Duration::minutes(11)).await;
    assert!(desk.state().await.conversation.is_none());
}

#[tokio::test]
async fn win_6_ttl_is_clean_up_not_truth_expired_outreach_records_are_ignored_on_read() {
    // 30 + 2 grace days after the send, the record is gone from reads; the payload still tells.
    let mut desk = Desk::new(with_bot()).await;
    days_later(&desk, 100);
    let o = desk.outreach("gone", desk.now() - Duration::days(33)).await;
    let loaded = {
        use store::ContactStore;
        desk.store
            .load_contact(&number(), &contact(CUSTOMER), desk.now())
            .await
            .unwrap()
    };
    assert!(loaded.outreach.is_empty());
    desk.press(&o, 0).await;
    assert_eq!(desk.purposes(), vec![SendPurpose::ExpiredOutreach]);
}

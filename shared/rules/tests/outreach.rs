//! Seed 000's nine outreach scenarios (OUT-EXP-1..4, OUT-ACT-1..6) and OUT-7..9, through `decide`.

mod common;
use common::*;
use rules::effect::{CloseReason, Effect, Notice, SendPurpose};
use rules::state::Origin;
use rules::*;

const DAY: i64 = 24 * 60;

/// An outreach sent 31 days before now: expired under the default 30 days.
fn expired(w: &World) -> rules::outreach::OutreachRecord {
    w.outreach("old1", w.now - Duration::days(31))
}

fn active(w: &World) -> rules::outreach::OutreachRecord {
    w.outreach("new1", w.now - Duration::days(2))
}

#[test]
fn out_exp_1_reply_to_expired_outreach_without_conversation_is_plain_inbound_for_the_bot() {
    let mut w = World::new(settings_with_bot());
    w.now = at(40 * DAY);
    let o = expired(&w);
    w.reply_to(&o);
    let c = w
        .state
        .conversation
        .as_ref()
        .expect("a new conversation starts");
    assert_eq!(c.origin, Origin::Inbound);
    assert!(is_bot(w.handler()));
    assert_eq!(w.sent_purposes(), vec![SendPurpose::Bot]);
}

#[test]
fn out_exp_2_interaction_with_expired_outreach_without_conversation_sends_expired_text_only() {
    let mut w = World::new(settings_with_bot());
    w.now = at(40 * DAY);
    let o = expired(&w);
    w.press(&o, 1);
    assert!(w.state.conversation.is_none(), "no conversation is opened");
    assert_eq!(w.sends.len(), 1);
    assert_eq!(w.sends[0].purpose, SendPurpose::ExpiredOutreach);
    assert_eq!(
        w.sends[0].content,
        OutboundContent::text("The message has expired, how can we help you?")
    );
    assert!(matches!(
        w.log[0],
        LogEntry::Inbound {
            conversation: None,
            ..
        }
    ));
}

#[test]
fn out_exp_2_expired_text_is_configurable() {
    let mut s = settings_with_bot();
    s.expired_outreach_text = "That offer ended. What can we do for you?".into();
    let mut w = World::new(s);
    w.now = at(40 * DAY);
    let o = expired(&w);
    w.press(&o, 0);
    assert_eq!(
        w.sends[0].content,
        OutboundContent::text("That offer ended. What can we do for you?")
    );
}

#[test]
fn out_exp_3_interaction_with_expired_outreach_during_bot_conversation_sends_expired_text_bot_goes_on()
 {
    let mut w = World::new(settings_with_bot());
    w.now = at(40 * DAY);
    w.text();
    let before = w.conversation_id();
    // This or any other expired outreach.
    for id in ["old1", "old2"] {
        let o = w.outreach(id, w.now - Duration::days(45));
        w.sends.clear();
        w.press(&o, 0);
        assert_eq!(w.sent_purposes(), vec![SendPurpose::ExpiredOutreach]);
        assert_eq!(w.conversation_id(), before, "the bot conversation goes on");
        assert!(is_bot(w.handler()));
    }
}

#[test]
fn out_exp_4_interaction_with_expired_outreach_during_agent_conversation_is_shown_with_notice() {
    let mut w = World::new(settings_without_bot());
    w.now = at(40 * DAY);
    w.text();
    w.assign("ana");
    let before = w.conversation_id();
    w.sends.clear();
    let o = expired(&w);
    w.press(&o, 2);
    assert!(w.sends.is_empty(), "nothing is sent automatically");
    assert_eq!(w.conversation_id(), before);
    assert!(is_agent(w.handler(), "ana"));
    assert!(w.notices().contains(&Notice::ExpiredOutreachPressed {
        outreach: OutreachId::new("old1").unwrap()
    }));
    // The pressed message is in the agent's conversation.
    assert!(matches!(
        w.log.last(),
        Some(LogEntry::Inbound { conversation: Some(c), .. }) if Some(c) == before.as_ref()
    ));
}

#[test]
fn out_act_1_reply_to_active_outreach_starts_conversation_from_it_for_the_bot() {
    let mut w = World::new(settings_with_bot());
    w.now = at(10 * DAY);
    let o = active(&w);
    w.reply_to(&o);
    let c = w.state.conversation.as_ref().unwrap();
    assert_eq!(
        c.origin,
        Origin::Outreach {
            outreach: o.id.clone(),
            button: None
        }
    );
    assert!(is_bot(w.handler()));
    assert!(w.notices().contains(&Notice::StartedFromOutreach {
        outreach: o.id.clone(),
        button: None
    }));
}

#[test]
fn out_act_2_interaction_with_active_outreach_starts_conversation_and_records_button() {
    let mut w = World::new(settings_with_bot());
    w.now = at(10 * DAY);
    let o = active(&w);
    w.press(&o, 1);
    let c = w.state.conversation.as_ref().unwrap();
    assert_eq!(
        c.origin,
        Origin::Outreach {
            outreach: o.id.clone(),
            button: Some(1)
        }
    );
    assert!(is_bot(w.handler()));
    assert_eq!(w.sent_purposes(), vec![SendPurpose::Bot]);
}

#[test]
fn out_act_3_interaction_with_same_outreach_during_its_bot_conversation_closes_and_restarts() {
    let mut w = World::new(settings_with_bot());
    w.now = at(10 * DAY);
    let o = active(&w);
    w.press(&o, 0);
    let first = w.conversation_id().unwrap();
    w.now = w.now + Duration::minutes(2);
    w.press(&o, 2);
    let second = w.conversation_id().unwrap();
    assert_ne!(
        first, second,
        "one campaign may lead to several conversations"
    );
    assert!(w.notices().contains(&Notice::ConversationClosed {
        reason: CloseReason::ReplacedByOutreach
    }));
    assert_eq!(
        w.state.conversation.as_ref().unwrap().origin,
        Origin::Outreach {
            outreach: o.id.clone(),
            button: Some(2)
        }
    );
    assert!(is_bot(w.handler()));
}

#[test]
fn out_act_4_interaction_with_another_outreach_during_bot_conversation_closes_and_starts_from_it() {
    let mut w = World::new(settings_with_bot());
    w.now = at(10 * DAY);
    let first_outreach = w.outreach("a1", w.now - Duration::days(3));
    let other = w.outreach("b2", w.now - Duration::days(1));
    // Bot conversation started by another outreach…
    w.press(&first_outreach, 0);
    let first = w.conversation_id().unwrap();
    w.press(&other, 1);
    let c = w.state.conversation.as_ref().unwrap();
    assert_ne!(c.id, first);
    assert_eq!(
        c.origin,
        Origin::Outreach {
            outreach: other.id.clone(),
            button: Some(1)
        }
    );
    // …or by none.
    let mut w = World::new(settings_with_bot());
    w.now = at(10 * DAY);
    w.text();
    let plain = w.conversation_id().unwrap();
    let o = active(&w);
    w.press(&o, 0);
    assert_ne!(w.conversation_id().unwrap(), plain);
    assert!(is_bot(w.handler()));
}

#[test]
fn out_act_5_interaction_with_active_outreach_during_agent_conversation_goes_to_the_agent() {
    let mut w = World::new(settings_without_bot());
    w.now = at(10 * DAY);
    w.text();
    w.assign("ana");
    let before = w.conversation_id();
    w.sends.clear();
    let o = active(&w);
    w.press(&o, 1);
    assert_eq!(w.conversation_id(), before);
    assert!(is_agent(w.handler(), "ana"));
    assert!(w.sends.is_empty());
    assert!(w.notices().contains(&Notice::OutreachPressed {
        outreach: o.id.clone(),
        button: Some(1)
    }));
}

#[test]
fn out_act_6_reply_to_active_outreach_joins_any_open_conversation() {
    for bot in [true, false] {
        let mut w = World::new(if bot {
            settings_with_bot()
        } else {
            settings_without_bot()
        });
        w.now = at(10 * DAY);
        w.text();
        if !bot {
            w.assign("ana");
        }
        let before = w.conversation_id();
        let o = active(&w);
        w.reply_to(&o);
        assert_eq!(w.conversation_id(), before, "the reply joins (bot: {bot})");
        assert!(matches!(
            w.log.last(),
            Some(LogEntry::Inbound { conversation: Some(c), .. }) if Some(c) == before.as_ref()
        ));
    }
}

#[test]
fn out_7_without_an_enabled_recipe_the_conversation_enters_unassigned() {
    let mut s = settings_without_bot();
    s.unassigned_reply = Some(OutboundContent::text("An agent will be with you shortly."));
    let mut w = World::new(s);
    w.now = at(10 * DAY);
    let o = active(&w);
    let effects = w.press(&o, 0);
    assert!(is_unassigned(w.handler()));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::RequestAgent { .. }))
    );
    w.queue_at(1);
    assert_eq!(w.sent_purposes(), vec![SendPurpose::UnassignedReply]); // AUTO-3, AUTO-13
}

#[test]
fn out_8_forged_payload_is_treated_as_plain_inbound() {
    let mut w = World::new(settings_with_bot());
    w.now = at(40 * DAY);
    let o = expired(&w);
    // A payload signed with another key, claiming a fresh send time.
    let forged = rules::outreach::ButtonPayload {
        outreach: o.id.clone(),
        sent_at: w.now,
        button: 0,
    }
    .encode(&rules::outreach::OutreachKey::new(b"attacker".to_vec()))
    .unwrap();
    w.inbound(
        InboundContent::QuickReply {
            payload: forged,
            text: "Phone call".into(),
        },
        Some(o.clone()),
    );
    // Plain inbound: a conversation with the bot, no expired text, no outreach origin.
    assert!(is_bot(w.handler()));
    assert_eq!(
        w.state.conversation.as_ref().unwrap().origin,
        Origin::Inbound
    );
    assert_eq!(w.sent_purposes(), vec![SendPurpose::Bot]);
}

#[test]
fn out_8_expired_interaction_is_recognised_after_the_record_is_gone() {
    let mut w = World::new(settings_with_bot());
    w.now = at(400 * DAY);
    let o = w.outreach("gone", w.now - Duration::days(200));
    let payload = rules::outreach::ButtonPayload {
        outreach: o.id.clone(),
        sent_at: o.sent_at,
        button: 0,
    }
    .encode(&w.key)
    .unwrap();
    // The record's TTL removed it: the shell found nothing for context.id.
    w.inbound(
        InboundContent::QuickReply {
            payload,
            text: "Phone call".into(),
        },
        None,
    );
    assert!(w.state.conversation.is_none());
    assert_eq!(w.sent_purposes(), vec![SendPurpose::ExpiredOutreach]); // OUT-EXP-2
}

#[test]
fn out_8_expiry_follows_the_numbers_setting() {
    let mut s = settings_with_bot();
    s.outreach_expiry = Duration::days(7);
    let mut w = World::new(s);
    w.now = at(10 * DAY);
    let o = w.outreach("week", w.now - Duration::days(8));
    w.press(&o, 0);
    assert_eq!(w.sent_purposes(), vec![SendPurpose::ExpiredOutreach]);
}

#[test]
fn out_9_reply_quoting_an_unknown_message_is_plain_inbound() {
    let mut w = World::new(settings_with_bot());
    let id = w.next_id();
    w.apply(Event::Inbound(Inbound {
        id,
        at: w.now,
        content: InboundContent::Message,
        context: Some(MessageId::new("wamid.never-ours").unwrap()),
        outreach: None,
        referral: None,
    }));
    assert_eq!(
        w.state.conversation.as_ref().unwrap().origin,
        Origin::Inbound
    );
    assert!(is_bot(w.handler()));
}

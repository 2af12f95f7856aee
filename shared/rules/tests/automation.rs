//! Automation on a business number (AUTO-1..12, seed 004), outbound to closed conversations
//! (CHAN-2, CHAN-3, seed 001), and the timers behind them (TIME-1..3).

mod common;
use common::*;
use rules::effect::{CloseReason, Effect, Notice, SendPurpose};
use rules::settings::{ClosingLogic, Csat, Nudge, QueueMessage, Reminder, SilentAgent};
use rules::state::{ConversationStatus, Origin};
use rules::*;

fn desk() -> rules::NumberSettings {
    let mut s = settings_without_bot();
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

#[test]
fn auto_1_welcome_on_request_welcome_once_per_contact_and_win_2_opens_window() {
    let mut w = World::new(desk());
    w.apply(Event::Welcome { at: w.now });
    assert_eq!(w.sent_purposes(), vec![SendPurpose::Welcome]);
    assert!(w.state.conversation.is_none());
    // WIN-2: the window is open, so the welcome (free-form) may go out.
    assert!(window(&w.state.windows, Channel::WhatsApp, w.now).is_open());
    w.apply(Event::Welcome { at: w.now });
    w.text();
    assert_eq!(
        w.sends
            .iter()
            .filter(|s| s.purpose == SendPurpose::Welcome)
            .count(),
        1,
        "once per contact"
    );
}

#[test]
fn auto_1_first_ever_message_triggers_the_welcome_when_no_request_welcome_came() {
    let mut w = World::new(desk());
    w.text();
    w.text();
    assert_eq!(
        w.sends
            .iter()
            .filter(|s| s.purpose == SendPurpose::Welcome)
            .count(),
        1
    );
    // Without a welcome configured, nothing is sent and nothing waits to be sent later.
    let mut w = World::new(settings_without_bot());
    w.text();
    assert!(w.state.welcomed);
    w.settings.welcome = Some(OutboundContent::text("late"));
    w.text();
    assert!(!w.sent_purposes().contains(&SendPurpose::Welcome));
}

#[test]
fn auto_3_unassigned_auto_reply_when_a_conversation_enters_unassigned() {
    let mut w = World::new(desk());
    let effects = w.text();
    assert!(is_unassigned(w.handler()));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::RequestAgent { .. }))
    );
    // AUTO-13: it goes out once the conversation really waits (no agent had capacity).
    assert!(!w.sent_purposes().contains(&SendPurpose::UnassignedReply));
    w.queue_at(1);
    assert_eq!(
        w.sent_purposes(),
        vec![
            SendPurpose::Welcome,
            SendPurpose::UnassignedReply,
            SendPurpose::QueuePosition
        ]
    );
    // Also after a bot hands off.
    let mut s = settings_with_bot();
    s.unassigned_reply = Some(OutboundContent::text("An agent will be with you shortly."));
    let mut w = World::new(s);
    w.text();
    w.press_bot("menu", 1); // "Talk to a person"
    assert!(is_unassigned(w.handler()));
    w.queue_at(1);
    assert_eq!(
        w.sent_purposes(),
        vec![SendPurpose::Bot, SendPurpose::UnassignedReply]
    );
    assert!(w.notices().contains(&Notice::HandedOffByBot));
}

// AUTO-13: "all our agents are busy" never goes to a conversation an agent took in the same
// step, nor on a silent-agent reassignment that found another agent.
#[test]
fn auto_13_no_unassigned_reply_when_an_agent_takes_the_conversation() {
    let mut s = desk();
    s.silent_agent = Some(SilentAgent {
        after: Duration::minutes(15),
    });
    let mut w = World::new(s);
    w.text();
    w.assign("ana");
    assert!(is_agent(w.handler(), "ana"));
    assert!(!w.sent_purposes().contains(&SendPurpose::UnassignedReply));
    w.advance(Duration::minutes(16));
    assert!(is_unassigned(w.handler()));
    w.assign("bo");
    assert!(is_agent(w.handler(), "bo"));
    assert!(!w.sent_purposes().contains(&SendPurpose::UnassignedReply));
    // A reassignment that finds nobody: the conversation waits, and the customer is told.
    w.advance(Duration::minutes(16));
    w.queue_at(1);
    assert_eq!(
        w.sent_purposes()
            .iter()
            .filter(|p| **p == SendPurpose::UnassignedReply)
            .count(),
        1
    );
}

#[test]
fn auto_4_queue_message_says_the_position_and_assignment_takes_the_conversation() {
    let mut w = World::new(desk());
    w.text();
    w.queue_at(3);
    let q = w.sends.last().unwrap();
    assert_eq!(q.purpose, SendPurpose::QueuePosition);
    assert_eq!(
        q.content,
        OutboundContent::text("You are number 3 in the queue.")
    );
    // Delivered twice: no second queue message.
    let n = w.sends.len();
    w.queue_at(3);
    assert_eq!(w.sends.len(), n);
    w.assign("ana");
    assert!(is_agent(w.handler(), "ana"));
    assert_eq!(w.state.assignee, Some(agent("ana")));
}

#[test]
fn auto_4_assignment_for_a_conversation_that_moved_on_gives_capacity_back() {
    let mut w = World::new(desk());
    w.text();
    let (stale, request) = w.requested().unwrap();
    w.apply(Event::Agent(AgentAction::Close { agent: agent("bo") }));
    let effects = w.apply(Event::AgentAssigned {
        agent: agent("ana"),
        conversation: stale.clone(),
        request,
    });
    assert_eq!(
        effects,
        vec![Effect::ReleaseAgent {
            agent: agent("ana"),
            conversation: stale
        }]
    );
}

#[test]
fn auto_5_closing_releases_the_agent_so_the_queue_can_be_offered_and_claims_work() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    let id = w.conversation_id().unwrap();
    let effects = w.apply(Event::Agent(AgentAction::Close {
        agent: agent("ana"),
    }));
    assert!(effects.contains(&Effect::ReleaseAgent {
        agent: agent("ana"),
        conversation: id
    }));
    // Manual claim of a queued conversation.
    let mut w = World::new(desk());
    w.text();
    w.queue_at(1);
    let id = w.conversation_id().unwrap();
    let effects = w.apply(Event::Agent(AgentAction::Claim { agent: agent("bo") }));
    assert!(effects.contains(&Effect::LeaveQueue {
        conversation: id.clone()
    }));
    assert!(effects.contains(&Effect::TakeCapacity {
        agent: agent("bo"),
        conversation: id
    }));
    assert!(is_agent(w.handler(), "bo"));
}

#[test]
fn auto_6_no_reply_reminder_once_per_unanswered_stretch() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    w.advance(Duration::minutes(3));
    w.text(); // still the same stretch
    w.advance(Duration::minutes(10));
    let reminders = |w: &World| {
        w.sends
            .iter()
            .filter(|s| s.purpose == SendPurpose::Reminder)
            .count()
    };
    assert_eq!(reminders(&w), 1);
    w.text();
    w.advance(Duration::minutes(10));
    assert_eq!(reminders(&w), 1, "once per stretch");
    // The agent answers; a new stretch earns a new reminder.
    w.agent_send("ana", "Looking into it");
    w.advance(Duration::minutes(1));
    w.text();
    w.advance(Duration::minutes(4));
    assert_eq!(reminders(&w), 1, "not yet: 5 minutes");
    w.advance(Duration::minutes(2));
    assert_eq!(reminders(&w), 2);
}

#[test]
fn auto_6_an_agent_answer_in_time_means_no_reminder() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    w.advance(Duration::minutes(4));
    w.agent_send("ana", "Hi!");
    w.advance(Duration::minutes(30));
    assert!(!w.sent_purposes().contains(&SendPurpose::Reminder));
}

#[test]
fn auto_7_auto_close_when_the_customer_does_not_answer_the_agent() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    w.agent_send("ana", "Can you send the order number?");
    w.advance(Duration::hours(23));
    assert!(w.state.conversation.is_some());
    w.text(); // the customer answers: the clock waits for the agent again
    w.advance(Duration::hours(20));
    assert!(
        w.state.conversation.is_some(),
        "waiting for the agent, not the customer"
    );
    w.agent_send("ana", "Thanks, done.");
    w.advance(Duration::hours(24));
    assert!(w.state.conversation.is_none());
    assert!(w.notices().contains(&Notice::ConversationClosed {
        reason: CloseReason::AutoClose
    }));
}

#[test]
fn auto_7_unassigned_conversations_never_auto_close() {
    let mut w = World::new(desk());
    w.text();
    w.queue_at(1);
    w.advance(Duration::hours(100));
    assert!(is_unassigned(w.handler()));
}

#[test]
fn auto_8_bot_conversation_closes_after_10_minutes_without_customer_message() {
    let mut w = World::new(settings_with_bot());
    w.text();
    w.advance(Duration::minutes(9));
    w.press_bot("menu", 0); // pushes the deadline
    w.advance(Duration::minutes(9));
    assert!(is_bot(w.handler()));
    w.advance(Duration::minutes(1));
    assert!(w.state.conversation.is_none());
    assert!(w.notices().contains(&Notice::ConversationClosed {
        reason: CloseReason::BotTimeout
    }));
}

#[test]
fn auto_8_bot_conversation_closes_when_the_recipe_completes() {
    let mut w = World::new(settings_with_bot());
    w.text();
    w.press_bot("menu", 2); // "Nothing" → complete
    assert!(w.state.conversation.is_none());
    assert!(w.notices().contains(&Notice::ConversationClosed {
        reason: CloseReason::BotCompleted
    }));
}

#[test]
fn auto_9_csat_after_agent_conversations_never_after_bot_only_and_answers_never_reopen() {
    let mut s = settings_with_bot();
    s.csat = Some(Csat {
        question: "How did we do?".into(),
    });
    // Bot-only: no survey.
    let mut w = World::new(s.clone());
    w.text();
    w.advance(Duration::minutes(11));
    assert!(!w.sent_purposes().contains(&SendPurpose::Csat));
    // Agent-handled: survey with the fixed buttons.
    let mut w = World::new(s);
    w.text();
    w.press_bot("menu", 1);
    w.assign("ana");
    w.agent_send("ana", "Hello");
    let closed = w.conversation_id().unwrap();
    w.apply(Event::Agent(AgentAction::Close {
        agent: agent("ana"),
    }));
    let survey = w.sends.last().unwrap();
    assert_eq!(survey.purpose, SendPurpose::Csat);
    assert!(
        matches!(&survey.content, OutboundContent::Buttons { buttons, .. } if buttons.len() == 3)
    );
    // The answer is recorded against the closed conversation and opens nothing.
    let effects = w.inbound(
        InboundContent::Reply {
            id: "csat.3".into(),
        },
        None,
    );
    assert_eq!(
        effects,
        vec![Effect::RecordCsat {
            conversation: closed,
            agent: Some(agent("ana")),
            score: 3
        }]
    );
    assert!(w.state.conversation.is_none());
    // A second press is a plain message now (the survey was answered).
    w.inbound(
        InboundContent::Reply {
            id: "csat.1".into(),
        },
        None,
    );
    assert!(w.state.conversation.is_some());
}

#[test]
fn auto_10_snoozed_conversation_reopens_at_its_time_or_on_the_next_message() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    w.agent_send("ana", "I'll get back to you tomorrow");
    let until = w.now + Duration::hours(20);
    w.apply(Event::Agent(AgentAction::Snooze {
        agent: agent("ana"),
        until,
    }));
    assert_eq!(
        w.state.conversation.as_ref().unwrap().status,
        ConversationStatus::Snoozed { until }
    );
    w.advance(Duration::hours(20));
    assert_eq!(
        w.state.conversation.as_ref().unwrap().status,
        ConversationStatus::Open
    );
    assert!(w.notices().contains(&Notice::Reopened));
    // And by the customer's message.
    let until = w.now + Duration::hours(5);
    w.apply(Event::Agent(AgentAction::Snooze {
        agent: agent("ana"),
        until,
    }));
    w.advance(Duration::hours(1));
    w.text();
    assert_eq!(
        w.state.conversation.as_ref().unwrap().status,
        ConversationStatus::Open
    );
}

#[test]
fn auto_11_window_nudge_before_the_csw_closes_off_by_default() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    w.agent_send("ana", "Let me check");
    w.settings.auto_close_after = None;
    w.advance(Duration::hours(30));
    assert!(
        !w.sent_purposes().contains(&SendPurpose::Nudge),
        "off by default"
    );

    let mut s = desk();
    s.auto_close_after = None;
    s.nudge = Some(Nudge {
        before_close: Duration::hours(1),
        content: OutboundContent::text("Still there? Reply to keep chatting for free."),
    });
    let mut w = World::new(s);
    w.text();
    w.assign("ana");
    w.agent_send("ana", "Let me check");
    w.advance(Duration::hours(22));
    assert!(!w.sent_purposes().contains(&SendPurpose::Nudge));
    w.advance(Duration::minutes(61));
    let nudges = w
        .sends
        .iter()
        .filter(|s| s.purpose == SendPurpose::Nudge)
        .count();
    assert_eq!(nudges, 1, "at 23 h");
    w.advance(Duration::hours(48));
    assert_eq!(
        w.sends
            .iter()
            .filter(|s| s.purpose == SendPurpose::Nudge)
            .count(),
        1,
        "once per window"
    );
}

#[test]
fn auto_12_silent_agent_reassignment_goes_back_to_the_queue_excluding_that_agent() {
    let mut s = desk();
    s.silent_agent = Some(SilentAgent {
        after: Duration::minutes(15),
    });
    let mut w = World::new(s);
    w.text();
    w.assign("ana");
    let id = w.conversation_id().unwrap();
    w.effects.clear();
    w.advance(Duration::minutes(16));
    assert!(is_unassigned(w.handler()));
    assert!(w.effects.contains(&Effect::ReleaseAgent {
        agent: agent("ana"),
        conversation: id.clone()
    }));
    assert!(w.effects.iter().any(|e| matches!(e, Effect::RequestAgent {
        conversation,
        preferred: None,
        exclude: Some(a),
        ..
    } if *conversation == id && a.as_str() == "ana")));
    w.assign("bo");
    assert!(is_agent(w.handler(), "bo"));
}

#[test]
fn chan_2_agent_outbound_to_a_closed_conversation_reopens_and_assigns_the_sender() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    w.apply(Event::Agent(AgentAction::Close {
        agent: agent("ana"),
    }));
    assert!(w.state.conversation.is_none());
    w.advance(Duration::hours(2));
    let effects = w.agent_send("bo", "Following up on your order");
    let c = w.state.conversation.as_ref().expect("reopened");
    assert_eq!(c.origin, Origin::AgentOutbound);
    assert!(is_agent(w.handler(), "bo"));
    assert_eq!(w.state.assignee, Some(agent("bo")));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::TakeCapacity { agent: a, .. } if a.as_str() == "bo"))
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Send(s) if s.purpose == SendPurpose::Agent))
    );
}

#[test]
fn chan_2_win_5_free_form_outside_the_window_is_refused_or_sent_as_recontact() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    w.apply(Event::Agent(AgentAction::Close {
        agent: agent("ana"),
    }));
    w.advance(Duration::hours(25));
    let effects = w.agent_send("ana", "Hello again");
    assert!(effects.is_empty(), "free-form refused outside the CSW");
    let effects = w.apply(Event::Agent(AgentAction::Send {
        agent: agent("ana"),
        content: OutboundContent::text("Hello again"),
        recontact_if_closed: true,
    }));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Send(s) if s.recontact_if_closed))
    );
    assert!(is_agent(w.handler(), "ana"));
}

#[test]
fn chan_3_closing_keeps_or_unassigns_per_the_numbers_closing_logic() {
    for (logic, expected) in [
        (ClosingLogic::KeepAssignee, Some(agent("ana"))),
        (ClosingLogic::Unassign, None),
    ] {
        let mut s = desk();
        s.closing = logic;
        let mut w = World::new(s);
        w.text();
        w.assign("ana");
        w.apply(Event::Agent(AgentAction::Close {
            agent: agent("ana"),
        }));
        assert_eq!(w.state.assignee, expected, "{logic:?}");
        // With keep_assignee the next conversation prefers the same agent.
        w.text();
        let preferred = w.effects.iter().rev().find_map(|e| match e {
            Effect::RequestAgent { preferred, .. } => Some(preferred.clone()),
            _ => None,
        });
        assert_eq!(preferred, Some(expected.clone()));
    }
}

#[test]
fn agents_act_only_on_their_own_or_unassigned_conversations() {
    let mut w = World::new(desk());
    w.text();
    w.assign("ana");
    let before = w.state.clone();
    let effects = w.apply(Event::Agent(AgentAction::Close { agent: agent("bo") }));
    assert!(effects.is_empty());
    assert_eq!(w.state.conversation, before.conversation);
    let effects = w.agent_send("bo", "hi");
    assert!(effects.is_empty());
    assert!(matches!(
        w.notices().last(),
        Some(Notice::SendRefused { .. })
    ));
}

#[test]
fn time_1_a_chatty_bot_conversation_costs_at_most_two_scheduler_calls() {
    // Invariant 6 (lazy re-arming): ten customer messages each push the 10-minute deadline.
    let mut w = World::new(settings_with_bot());
    for _ in 0..10 {
        w.text();
        w.advance(Duration::minutes(1));
    }
    w.advance(Duration::minutes(30));
    assert!(w.state.conversation.is_none(), "closed by the bot timeout");
    assert!(
        w.scheduler_calls <= 2,
        "{} scheduler calls",
        w.scheduler_calls
    );
}

#[test]
fn time_2_a_stale_or_repeated_wakeup_does_nothing() {
    let mut w = World::new(settings_with_bot());
    w.text();
    let wake = w.armed[0];
    w.advance(Duration::minutes(11));
    assert!(w.state.conversation.is_none());
    w.text(); // a new conversation
    let before = w.state.clone();
    let effects = w.apply(Event::TimerFired {
        kind: wake.kind,
        token: wake.token,
    });
    assert!(effects.is_empty());
    assert_eq!(w.state, before);
}

#[test]
fn time_3_timer_events_are_ordinary_events_in_the_contacts_lane() {
    // TIME-3: timers and messages share one lane; order decides, never a race.
    // A customer message processed before a due wake-up in the same lane pushes the deadline,
    // so the wake-up that follows re-arms instead of closing the conversation.
    let mut w = World::new(settings_with_bot());
    w.text();
    let wake = w.armed.pop().unwrap();
    w.now = wake.at;
    w.text();
    let effects = w.apply(Event::TimerFired {
        kind: wake.kind,
        token: wake.token,
    });
    assert!(matches!(effects.as_slice(), [Effect::ArmTimer(_)]));
    assert!(is_bot(w.handler()));
}

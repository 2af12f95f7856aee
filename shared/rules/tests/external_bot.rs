//! EVT-5: a number's bot run by an integrator. What "an external bot handles it" means: the
//! conversation is the bot's (`Handler::Bot` with the external bot's id), every customer message
//! in it is addressed to the bot (its `message.received` event names the bot), and the bot acts
//! through `/v1` (`Event::Bot`): answers, hands off to the queue or a named agent, completes.
//! AUTO-8's timeout, AUTO-9's survey rules and the window rules apply as for a recipe.

mod common;
use common::*;
use rules::effect::{CloseReason, Effect, Notice, SendPurpose};
use rules::events::{ItemChange, delivers, project};
use rules::settings::{Csat, EXTERNAL_STEP, ExternalBot, validate};
use rules::*;

fn bot_id() -> RecipeId {
    RecipeId::new("crm-bot").unwrap()
}

fn settings_with_external_bot() -> NumberSettings {
    let mut s = settings_without_bot();
    s.external_bot = Some(ExternalBot { id: bot_id() });
    s.csat = Some(Csat {
        question: "How did we do?".into(),
    });
    s
}

fn bot(w: &mut World, action: BotAction) -> Vec<Effect> {
    w.apply(Event::Bot(action))
}

fn answer(w: &mut World, text: &str) -> Vec<Effect> {
    bot(
        w,
        BotAction::Send {
            bot: bot_id(),
            content: OutboundContent::text(text),
        },
    )
}

/// The bots the customer's messages in the log were addressed to, in order.
fn addressed(w: &World) -> Vec<Option<RecipeId>> {
    w.log
        .iter()
        .filter_map(|l| match l {
            LogEntry::Inbound { bot, .. } => Some(bot.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn evt_5_a_new_conversation_goes_to_the_external_bot_and_every_customer_message_is_addressed_to_it()
{
    let mut w = World::new(settings_with_external_bot());
    let effects = w.text();
    assert_eq!(
        w.handler(),
        Some(&Handler::Bot {
            recipe: bot_id(),
            step: EXTERNAL_STEP.into()
        })
    );
    // Nothing is sent by us: the bot answers; no agent is requested.
    assert!(w.sends.is_empty());
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RequestAgent { .. }))
    );
    w.text();
    assert_eq!(addressed(&w), vec![Some(bot_id()), Some(bot_id())]);
    // The event the bot's endpoint receives names it; an endpoint of another bot or of none
    // filtered to a bot gets nothing.
    let entry = w
        .log
        .iter()
        .find(|l| matches!(l, LogEntry::Inbound { .. }))
        .unwrap();
    let events = project(&ItemChange::LogAppended {
        number: &number(),
        contact: &w.state.contact,
        item_key: "L#1",
        entry,
    });
    assert_eq!(events[0].for_bot(), Some(&bot_id()));
    assert!(delivers(&[], &[], Some(&bot_id()), &events[0]));
    assert!(!delivers(
        &[],
        &[],
        Some(&RecipeId::new("other").unwrap()),
        &events[0]
    ));
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["data"]["bot"], "crm-bot");
}

#[test]
fn evt_5_the_bot_answers_hands_off_to_a_named_agent_and_the_agent_gets_the_survey() {
    let mut w = World::new(settings_with_external_bot());
    w.text();
    answer(&mut w, "Hi, I am the CRM's assistant");
    assert_eq!(w.sent_purposes(), vec![SendPurpose::Bot]);
    let effects = bot(
        &mut w,
        BotAction::HandOff {
            bot: bot_id(),
            to: Some(agent("ana")),
        },
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::TakeCapacity { agent: a, .. } if a == &agent("ana")))
    );
    assert_eq!(
        w.handler(),
        Some(&Handler::Agent {
            agent: agent("ana")
        })
    );
    assert!(w.notices().contains(&Notice::HandedOffByBot));
    // Later customer messages are the agent's, not the bot's.
    w.text();
    assert_eq!(addressed(&w).last(), Some(&None));
    // The bot can no longer speak in it: its send is recorded as refused (SEND-5).
    let before = w.sends.len();
    answer(&mut w, "too late");
    assert_eq!(w.sends.len(), before);
    assert!(
        w.notices()
            .iter()
            .any(|n| matches!(n, Notice::SendRefused { reason } if reason.contains("crm-bot")))
    );
    // AUTO-9: an agent was involved, so the survey follows the agent's close.
    w.agent_send("ana", "Hello, Ana here");
    w.apply(Event::Agent(AgentAction::Close {
        agent: agent("ana"),
    }));
    assert_eq!(w.sends.last().unwrap().purpose, SendPurpose::Csat);
}

#[test]
fn evt_5_the_bot_hands_off_to_the_queue() {
    let mut w = World::new(settings_with_external_bot());
    w.text();
    bot(
        &mut w,
        BotAction::HandOff {
            bot: bot_id(),
            to: None,
        },
    );
    assert!(matches!(w.handler(), Some(Handler::Unassigned { .. })));
    assert!(w.requested().is_some());
}

#[test]
fn evt_5_auto_8_completion_and_the_10_minute_timeout_close_without_a_survey() {
    let mut w = World::new(settings_with_external_bot());
    w.text();
    bot(&mut w, BotAction::Complete { bot: bot_id() });
    assert!(w.state.conversation.is_none());
    assert!(w.notices().contains(&Notice::ConversationClosed {
        reason: CloseReason::BotCompleted
    }));

    let mut w = World::new(settings_with_external_bot());
    w.text();
    w.advance(Duration::minutes(9));
    answer(&mut w, "still there?"); // the bot's own message does not push the deadline
    w.advance(Duration::minutes(1));
    assert!(w.state.conversation.is_none());
    assert!(w.notices().contains(&Notice::ConversationClosed {
        reason: CloseReason::BotTimeout
    }));
    // AUTO-9: never after bot-only conversations.
    assert!(!w.sent_purposes().contains(&SendPurpose::Csat));
    // A completion that comes after the timeout changes nothing.
    let before = w.log.len();
    bot(&mut w, BotAction::Complete { bot: bot_id() });
    assert_eq!(w.log.len(), before);
}

#[test]
fn evt_5_a_customer_message_pushes_the_bot_timeout() {
    let mut w = World::new(settings_with_external_bot());
    w.text();
    w.advance(Duration::minutes(9));
    w.text();
    w.advance(Duration::minutes(9));
    assert!(is_bot(w.handler()));
    w.advance(Duration::minutes(1));
    assert!(w.state.conversation.is_none());
}

#[test]
fn evt_5_win_5_the_bot_cannot_send_free_form_outside_the_window() {
    let mut w = World::new(settings_with_external_bot());
    w.text();
    // The window closes 24 h after the message; keep the conversation the bot's by not firing
    // the timeout (the bot timeout is set long here).
    w.settings.bot_timeout = Duration::hours(48);
    w.text(); // re-arms with the longer timeout
    w.advance(Duration::hours(25));
    assert!(is_bot(w.handler()));
    let before = w.sends.len();
    answer(&mut w, "sorry for the wait");
    assert_eq!(w.sends.len(), before);
    assert!(
        w.notices()
            .iter()
            .any(|n| matches!(n, Notice::SendRefused { .. }))
    );
}

#[test]
fn evt_5_another_bot_or_a_recipe_bot_conversation_is_not_the_external_bots() {
    // A recipe's conversation: the external bot's actions change nothing.
    let mut w = World::new(settings_with_bot());
    w.text();
    let sends = w.sends.len();
    bot(&mut w, BotAction::Complete { bot: bot_id() });
    assert!(is_bot(w.handler()));
    answer(&mut w, "hijack");
    assert_eq!(w.sends.len(), sends);
    assert_eq!(addressed(&w), vec![None]);
}

#[test]
fn evt_5_a_number_has_a_recipe_or_an_external_bot_not_both() {
    let mut s = settings_with_external_bot();
    assert!(validate(&s).is_ok());
    s.recipe = Some(recipe());
    assert!(validate(&s).is_err());
    // Stored settings without the field read as before.
    let old: NumberSettings = serde_json::from_str(r#"{"number":"n1"}"#).unwrap();
    assert!(old.external_bot.is_none());
}

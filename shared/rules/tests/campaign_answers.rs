//! Campaign answers on the contact's side (CAMP-7..9, seed 002): within the response timeout,
//! after it, and free text instead of a button.

mod common;
use common::*;
use rules::campaign::Handoff;
use rules::effect::{Effect, SendPurpose};
use rules::state::CampaignOutcome;
use rules::*;

fn answers(w: &World) -> Vec<CampaignOutcome> {
    w.effects
        .iter()
        .filter_map(|e| match e {
            Effect::CampaignAnswer { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .collect()
}

fn sent(w: &mut World, hand_off: Handoff) -> rules::outreach::OutreachRecord {
    let o = w.campaign_outreach("camp-c1", w.now, Duration::hours(2), hand_off);
    w.apply(Event::OutreachSent(o.clone()));
    assert!(w.state.campaign.is_some(), "the interaction is open");
    o
}

#[test]
fn camp_7_quick_reply_within_the_timeout_is_the_result_and_the_bot_takes_over() {
    let mut w = World::new(settings_with_bot());
    let o = sent(&mut w, Handoff::Bot { recipe: None });
    w.advance(Duration::minutes(30));
    w.press(&o, 1);
    assert_eq!(
        answers(&w),
        vec![CampaignOutcome::Answered {
            button: 1,
            title: "WhatsApp message".into()
        }]
    );
    assert!(w.state.campaign.is_none(), "the interaction closes");
    assert!(is_bot(w.handler()), "hand-off: the bot recipe by default");
    // An inbound conversation inside the CSW.
    assert!(window(&w.state.windows, Channel::WhatsApp, w.now).is_open());
    // The response timer finds nothing to do later.
    w.advance(Duration::hours(3));
    assert_eq!(answers(&w).len(), 1);
}

#[test]
fn camp_7_hand_off_to_an_agent_when_the_campaign_says_so() {
    let mut w = World::new(settings_with_bot());
    let o = sent(&mut w, Handoff::Agent { agent: None });
    w.advance(Duration::minutes(5));
    w.press(&o, 0);
    assert!(matches!(
        answers(&w)[0],
        CampaignOutcome::Answered { button: 0, .. }
    ));
    assert!(is_unassigned(w.handler()));
    assert!(
        w.effects
            .iter()
            .any(|e| matches!(e, Effect::RequestAgent { .. }))
    );
}

#[test]
fn camp_8_answer_after_the_timeout_is_not_counted_and_opens_an_agent_conversation() {
    let mut w = World::new(settings_with_bot());
    let o = sent(&mut w, Handoff::Bot { recipe: None });
    w.advance(Duration::hours(3));
    assert_eq!(answers(&w), vec![CampaignOutcome::TimedOut]);
    w.press(&o, 2);
    assert_eq!(
        answers(&w),
        vec![CampaignOutcome::TimedOut, CampaignOutcome::Late]
    );
    assert!(
        is_unassigned(w.handler()),
        "an agent handles it, not the bot"
    );
    assert!(!w.sent_purposes().contains(&SendPurpose::Bot));
}

#[test]
fn camp_9_free_text_instead_of_a_button_closes_the_interaction_for_an_agent() {
    let mut w = World::new(settings_with_bot());
    sent(&mut w, Handoff::Bot { recipe: None });
    w.advance(Duration::minutes(10));
    w.text(); // "Please contact me by phone call"
    assert_eq!(answers(&w), vec![CampaignOutcome::FreeText]);
    assert!(w.state.campaign.is_none());
    assert!(is_unassigned(w.handler()));
}

#[test]
fn camp_9_free_text_during_a_bot_conversation_hands_it_to_an_agent() {
    let mut w = World::new(settings_with_bot());
    w.text();
    assert!(is_bot(w.handler()));
    sent(&mut w, Handoff::Bot { recipe: None });
    w.advance(Duration::minutes(1));
    let before = w.conversation_id();
    w.text();
    assert_eq!(answers(&w), vec![CampaignOutcome::FreeText]);
    assert_eq!(
        w.conversation_id(),
        before,
        "OUT-ACT-6: the text joins the open conversation"
    );
    assert!(is_unassigned(w.handler()));
}

#[test]
fn camp_7_a_bot_button_press_is_not_a_campaign_answer() {
    let mut w = World::new(settings_with_bot());
    w.text();
    sent(&mut w, Handoff::Bot { recipe: None });
    w.press_bot("menu", 0);
    assert!(answers(&w).is_empty());
    assert!(w.state.campaign.is_some());
}

#[test]
fn camp_7_outreach_recorded_twice_opens_one_interaction() {
    let mut w = World::new(settings_with_bot());
    let o = sent(&mut w, Handoff::Bot { recipe: None });
    let effects = w.apply(Event::OutreachSent(o));
    assert!(effects.is_empty());
}

/// CAMP-7 with one hand-off type from the campaign's settings to the lane: the agent the
/// campaign names takes the answer (as by a claim: AUTO-5 counts it), and takes a late or
/// free-text answer too (CAMP-8, CAMP-9).
#[test]
fn camp_7_the_agent_the_campaign_names_takes_the_answer() {
    let ana = || Some(AgentId::new("ana").unwrap());
    let mut w = World::new(settings_with_bot());
    let o = sent(&mut w, Handoff::Agent { agent: ana() });
    w.advance(Duration::minutes(5));
    w.press(&o, 0);
    assert!(matches!(
        answers(&w)[0],
        CampaignOutcome::Answered { button: 0, .. }
    ));
    assert!(is_agent(w.handler(), "ana"), "{:?}", w.handler());
    assert!(
        w.effects
            .iter()
            .any(|e| matches!(e, Effect::TakeCapacity { agent, .. } if agent.as_str() == "ana"))
    );
    assert!(!w.sent_purposes().contains(&SendPurpose::Bot));

    // CAMP-8: late, still hers.
    let mut w = World::new(settings_with_bot());
    let o = sent(&mut w, Handoff::Agent { agent: ana() });
    w.advance(Duration::hours(3));
    w.press(&o, 1);
    assert_eq!(
        answers(&w),
        vec![CampaignOutcome::TimedOut, CampaignOutcome::Late]
    );
    assert!(is_agent(w.handler(), "ana"), "{:?}", w.handler());

    // CAMP-9: free text during the bot's conversation: the bot hands it to her.
    let mut w = World::new(settings_with_bot());
    w.text();
    sent(&mut w, Handoff::Agent { agent: ana() });
    w.text();
    assert_eq!(answers(&w), vec![CampaignOutcome::FreeText]);
    assert!(is_agent(w.handler(), "ana"), "{:?}", w.handler());
}

/// CAMP-7: a campaign naming the number's recipe starts it; one naming a recipe the number no
/// longer runs leaves the answer to the queue rather than to a bot the campaign did not choose.
#[test]
fn camp_7_the_bot_the_campaign_names_takes_the_answer_while_it_is_the_numbers() {
    let mine = recipe().id;
    let mut w = World::new(settings_with_bot());
    let o = sent(&mut w, Handoff::Bot { recipe: Some(mine) });
    w.press(&o, 0);
    assert!(is_bot(w.handler()));

    let mut w = World::new(settings_with_bot());
    let gone = RecipeId::new("spring-menu").unwrap();
    let o = sent(&mut w, Handoff::Bot { recipe: Some(gone) });
    w.press(&o, 0);
    assert!(matches!(
        answers(&w)[0],
        CampaignOutcome::Answered { button: 0, .. }
    ));
    assert!(is_unassigned(w.handler()), "{:?}", w.handler());
    assert!(!w.sent_purposes().contains(&SendPurpose::Bot));
}

/// Outreach records and open interactions stored before the hand-off named its bot or agent
/// read as the number's bot and the queue.
#[test]
fn camp_7_hand_offs_stored_before_they_named_anyone_still_read() {
    let link: rules::outreach::CampaignLink = serde_json::from_value(serde_json::json!({
        "campaign": "spring", "response_timeout": 7200, "hand_off": "agent"
    }))
    .unwrap();
    assert_eq!(link.hand_off, Handoff::Agent { agent: None });
    let link: rules::outreach::CampaignLink = serde_json::from_value(serde_json::json!({
        "campaign": "spring", "response_timeout": 7200, "hand_off": "bot"
    }))
    .unwrap();
    assert_eq!(link.hand_off, Handoff::Bot { recipe: None });
    let now = serde_json::to_value(Handoff::Agent {
        agent: Some(AgentId::new("ana").unwrap()),
    })
    .unwrap();
    let link: rules::outreach::CampaignLink = serde_json::from_value(serde_json::json!({
        "campaign": "spring", "response_timeout": 7200, "hand_off": now
    }))
    .unwrap();
    assert_eq!(
        link.hand_off,
        Handoff::Agent {
            agent: Some(AgentId::new("ana").unwrap())
        }
    );
}

//! A small harness that drives `rules::decide` like the shells do: it keeps the state, collects
//! effects, plays the scheduler (armed wake-ups fire when the clock passes them) and lets the test
//! answer agent requests. Time moves by assignment, never by sleeping.
#![allow(dead_code)]

use rules::campaign::Handoff;
use rules::effect::{Effect, SendPurpose, SendRequest, Wake};
use rules::outreach::{ButtonPayload, CampaignLink, OutreachKey, OutreachRecord};
use rules::recipe::{Next, Recipe, RecipeButton, Step};
use rules::settings::NumberSettings;
use rules::*;

pub const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix(T0) + Duration::minutes(minutes)
}

pub fn key() -> OutreachKey {
    OutreachKey::new(b"test-deployment-key".to_vec())
}

pub fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

pub fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

pub fn recipe() -> Recipe {
    Recipe {
        id: RecipeId::new("support").unwrap(),
        start: "menu".into(),
        steps: vec![
            Step {
                id: "menu".into(),
                text: "Hi! What do you need?".into(),
                buttons: vec![
                    RecipeButton {
                        title: "Opening hours".into(),
                        next: Next::Step("hours".into()),
                    },
                    RecipeButton {
                        title: "Talk to a person".into(),
                        next: Next::HandOff,
                    },
                    RecipeButton {
                        title: "Nothing".into(),
                        next: Next::Complete,
                    },
                ],
                on_text: None,
            },
            Step {
                id: "hours".into(),
                text: "We are open 9-17.".into(),
                buttons: vec![],
                on_text: Some(Next::HandOff),
            },
        ],
    }
}

pub fn settings_with_bot() -> NumberSettings {
    let mut s = NumberSettings::new(number());
    s.recipe = Some(recipe());
    s
}

pub fn settings_without_bot() -> NumberSettings {
    NumberSettings::new(number())
}

pub struct World {
    pub settings: NumberSettings,
    pub key: OutreachKey,
    pub state: ContactState,
    pub now: Timestamp,
    /// Armed wake-ups, as the scheduler holds them.
    pub armed: Vec<Wake>,
    pub sends: Vec<SendRequest>,
    pub effects: Vec<Effect>,
    pub log: Vec<LogEntry>,
    pub scheduler_calls: usize,
    seq: u32,
}

impl World {
    pub fn new(settings: NumberSettings) -> Self {
        World {
            settings,
            key: key(),
            state: ContactState::new(number(), ContactKey::new("4915123456789").unwrap()),
            now: at(0),
            armed: Vec::new(),
            sends: Vec::new(),
            effects: Vec::new(),
            log: Vec::new(),
            scheduler_calls: 0,
            seq: 0,
        }
    }

    /// Applies an event at the current time and returns the effects of this one decision.
    pub fn apply(&mut self, event: Event) -> Vec<Effect> {
        let ctx = Context {
            settings: &self.settings,
            outreach_key: &self.key,
        };
        let d = decide(&self.state, &event, &ctx, self.now);
        self.state = d.next;
        for e in &d.effects {
            match e {
                Effect::Send(s) => self.sends.push(s.clone()),
                Effect::ArmTimer(w) => {
                    self.scheduler_calls += 1;
                    self.armed.retain(|a| a.kind != w.kind);
                    self.armed.push(*w);
                }
                _ => {}
            }
        }
        self.effects.extend(d.effects.iter().cloned());
        self.log.extend(d.log);
        d.effects
    }

    pub fn next_id(&mut self) -> MessageId {
        self.seq += 1;
        MessageId::new(format!("wamid.in{}", self.seq)).unwrap()
    }

    pub fn inbound(
        &mut self,
        content: InboundContent,
        outreach: Option<OutreachRecord>,
    ) -> Vec<Effect> {
        let id = self.next_id();
        let context = outreach.as_ref().map(|o| o.wamid.clone());
        self.apply(Event::Inbound(Inbound {
            id,
            at: self.now,
            content,
            context,
            outreach,
            referral: None,
        }))
    }

    pub fn text(&mut self) -> Vec<Effect> {
        self.inbound(InboundContent::Message, None)
    }

    pub fn press_bot(&mut self, step: &str, index: usize) -> Vec<Effect> {
        self.inbound(
            InboundContent::Reply {
                id: rules::recipe::button_id(step, index),
            },
            None,
        )
    }

    /// The customer presses quick reply `button` of `outreach` (a template `button` message).
    pub fn press(&mut self, outreach: &OutreachRecord, button: u8) -> Vec<Effect> {
        let payload = ButtonPayload {
            outreach: outreach.id.clone(),
            sent_at: outreach.sent_at,
            button,
        }
        .encode(&self.key)
        .unwrap();
        let text = outreach
            .buttons
            .get(usize::from(button))
            .cloned()
            .unwrap_or_default();
        self.inbound(
            InboundContent::QuickReply { payload, text },
            Some(outreach.clone()),
        )
    }

    /// The customer replies (writes text) quoting `outreach`.
    pub fn reply_to(&mut self, outreach: &OutreachRecord) -> Vec<Effect> {
        self.inbound(InboundContent::Message, Some(outreach.clone()))
    }

    /// Moves the clock and fires every wake-up that falls due, in time order.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            self.armed.sort_by_key(|w| w.at);
            let Some(pos) = self.armed.iter().position(|w| w.at <= until) else {
                break;
            };
            let w = self.armed.remove(pos);
            self.now = self.now.max(w.at);
            self.apply(Event::TimerFired {
                kind: w.kind,
                token: w.token,
            });
        }
        self.now = until;
    }

    /// Answers the latest `RequestAgent` with an assignment.
    pub fn assign(&mut self, who: &str) -> Vec<Effect> {
        let (conversation, request) = self.requested().expect("an agent was requested");
        self.apply(Event::AgentAssigned {
            agent: agent(who),
            conversation,
            request,
        })
    }

    pub fn queue_at(&mut self, position: u32) -> Vec<Effect> {
        let (conversation, request) = self.requested().expect("an agent was requested");
        self.apply(Event::Queued {
            position,
            conversation,
            request,
        })
    }

    /// The latest `RequestAgent`: its conversation and request number.
    pub fn requested(&self) -> Option<(ConversationId, u64)> {
        self.effects.iter().rev().find_map(|e| match e {
            Effect::RequestAgent {
                conversation,
                request,
                ..
            } => Some((conversation.clone(), *request)),
            _ => None,
        })
    }

    pub fn agent_send(&mut self, who: &str, text: &str) -> Vec<Effect> {
        self.apply(Event::Agent(AgentAction::Send {
            agent: agent(who),
            content: OutboundContent::text(text),
            recontact_if_closed: false,
        }))
    }

    pub fn handler(&self) -> Option<&Handler> {
        self.state.conversation.as_ref().map(|c| &c.handler)
    }

    pub fn conversation_id(&self) -> Option<ConversationId> {
        self.state.conversation.as_ref().map(|c| c.id.clone())
    }

    pub fn sent_purposes(&self) -> Vec<SendPurpose> {
        self.sends.iter().map(|s| s.purpose).collect()
    }

    pub fn notices(&self) -> Vec<Notice> {
        self.log
            .iter()
            .filter_map(|l| match l {
                LogEntry::Notice { notice, .. } => Some(notice.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn outreach(&self, id: &str, sent_at: Timestamp) -> OutreachRecord {
        OutreachRecord {
            id: OutreachId::new(id).unwrap(),
            wamid: MessageId::new(format!("wamid.out-{id}")).unwrap(),
            template: TemplateName::new("spring_offer").unwrap(),
            sent_at,
            buttons: vec![
                "Phone call".into(),
                "WhatsApp message".into(),
                "Email".into(),
            ],
            campaign: None,
        }
    }

    pub fn campaign_outreach(
        &self,
        id: &str,
        sent_at: Timestamp,
        timeout: Duration,
        hand_off: Handoff,
    ) -> OutreachRecord {
        let mut o = self.outreach(id, sent_at);
        o.campaign = Some(CampaignLink {
            campaign: CampaignId::new("spring").unwrap(),
            response_timeout: timeout,
            hand_off,
        });
        o
    }
}

pub fn is_bot(h: Option<&Handler>) -> bool {
    matches!(h, Some(Handler::Bot { .. }))
}

pub fn is_agent(h: Option<&Handler>, who: &str) -> bool {
    matches!(h, Some(Handler::Agent { agent }) if agent.as_str() == who)
}

pub fn is_unassigned(h: Option<&Handler>) -> bool {
    matches!(h, Some(Handler::Unassigned { .. }))
}

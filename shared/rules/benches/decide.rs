//! `decide` over a realistic mixed stream: inbound texts, bot button presses, outreach
//! interactions (active and expired), campaign answers, agent assignments and replies, and timer
//! wake-ups, across 1,000 contacts. Each sample replays the recorded (state, event, now) triples,
//! so the figure is the cost of one decision from a realistic prior state.
//!
//! cargo bench -p switchboard-rules --bench decide

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rules::campaign::Handoff;
use rules::effect::Effect;
use rules::outreach::{ButtonPayload, CampaignLink, OutreachKey, OutreachRecord};
use rules::recipe::{Next, Recipe, RecipeButton, Step, button_id};
use rules::settings::{Csat, Reminder};
use rules::*;
use std::hint::black_box;

const T0: i64 = 1_767_225_600;

fn settings() -> NumberSettings {
    let mut s = NumberSettings::new(BusinessNumberId::new("106540352242922").unwrap());
    s.recipe = Some(Recipe {
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
    });
    s.welcome = Some(OutboundContent::text("Welcome!"));
    s.unassigned_reply = Some(OutboundContent::text("An agent will be with you shortly."));
    s.reminder = Some(Reminder {
        after: Duration::minutes(5),
        content: OutboundContent::text("Thanks for waiting."),
    });
    s.auto_close_after = Some(Duration::hours(24));
    s.csat = Some(Csat {
        question: "How did we do?".into(),
    });
    s
}

struct Recorder<'a> {
    ctx: Context<'a>,
    state: ContactState,
    now: Timestamp,
    armed: Vec<rules::effect::Wake>,
    requests: Vec<(ConversationId, u64)>,
    out: &'a mut Vec<(ContactState, Event, Timestamp)>,
}

impl Recorder<'_> {
    fn apply(&mut self, event: Event) {
        self.out.push((self.state.clone(), event.clone(), self.now));
        let d = decide(&self.state, &event, &self.ctx, self.now);
        for e in &d.effects {
            match e {
                Effect::ArmTimer(w) => {
                    self.armed.retain(|a| a.kind != w.kind);
                    self.armed.push(*w);
                }
                Effect::RequestAgent {
                    conversation,
                    request,
                    ..
                } => self.requests.push((conversation.clone(), *request)),
                _ => {}
            }
        }
        self.state = d.next;
    }

    fn advance(&mut self, minutes: i64) {
        let until = self.now + Duration::minutes(minutes);
        self.armed.sort_by_key(|w| w.at);
        while let Some(pos) = self.armed.iter().position(|w| w.at <= until) {
            let w = self.armed.remove(pos);
            self.now = self.now.max(w.at);
            self.apply(Event::TimerFired {
                kind: w.kind,
                token: w.token,
            });
        }
        self.now = until;
    }

    fn inbound(&mut self, n: &mut u64, content: InboundContent, outreach: Option<OutreachRecord>) {
        *n += 1;
        self.apply(Event::Inbound(Inbound {
            id: MessageId::new(format!("wamid.HBgLNDkxNTEyMzQ1Njc4OQ{n:08}")).unwrap(),
            at: self.now,
            context: outreach.as_ref().map(|o| o.wamid.clone()),
            content,
            outreach,
            referral: None,
        }));
    }
}

fn stream(settings: &NumberSettings, key: &OutreachKey) -> Vec<(ContactState, Event, Timestamp)> {
    let mut out = Vec::new();
    let mut n = 0u64;
    for c in 0..1_000u64 {
        let mut r = Recorder {
            ctx: Context {
                settings,
                outreach_key: key,
            },
            state: ContactState::new(
                settings.number.clone(),
                ContactKey::new(format!("49151{c:08}")).unwrap(),
            ),
            now: Timestamp::from_unix(T0 + (c as i64) * 7),
            armed: Vec::new(),
            requests: Vec::new(),
            out: &mut out,
        };
        let outreach = OutreachRecord {
            id: OutreachId::new(format!("camp1-{c}")).unwrap(),
            wamid: MessageId::new(format!("wamid.out{c}")).unwrap(),
            template: TemplateName::new("spring_offer").unwrap(),
            sent_at: r.now,
            buttons: vec!["Yes".into(), "No".into()],
            campaign: (c % 3 == 0).then(|| CampaignLink {
                campaign: CampaignId::new("spring").unwrap(),
                response_timeout: Duration::hours(4),
                hand_off: Handoff::Bot { recipe: None },
            }),
        };
        let press = |o: &OutreachRecord, sent_at: Timestamp, b: u8| InboundContent::QuickReply {
            payload: ButtonPayload {
                outreach: o.id.clone(),
                sent_at,
                button: b,
            }
            .encode(key)
            .unwrap(),
            text: "Yes".into(),
        };
        r.apply(Event::OutreachSent(outreach.clone()));
        r.advance(30);
        // Campaign answer or active interaction → bot conversation.
        r.inbound(
            &mut n,
            press(&outreach, outreach.sent_at, 0),
            Some(outreach.clone()),
        );
        r.advance(1);
        r.inbound(&mut n, InboundContent::Message, None);
        r.inbound(
            &mut n,
            InboundContent::Reply {
                id: button_id("menu", 1),
            },
            None,
        );
        // Hand-off: the agent takes it, customer and agent talk.
        if let Some((conversation, request)) = r.requests.last().cloned() {
            r.apply(Event::AgentAssigned {
                agent: AgentId::new(format!("agent-{}", c % 20)).unwrap(),
                conversation,
                request,
            });
        }
        for i in 0..4 {
            r.inbound(&mut n, InboundContent::Message, None);
            r.advance(if i % 2 == 0 { 2 } else { 7 });
            let agent = r.state.agent().cloned();
            if let Some(agent) = agent {
                r.apply(Event::Agent(AgentAction::Send {
                    agent,
                    content: OutboundContent::text("On it"),
                    recontact_if_closed: false,
                }));
            }
            r.advance(3);
        }
        // An expired outreach pressed, then the day passes (auto-close, CSAT).
        let old_sent = r.now - Duration::days(40);
        r.inbound(&mut n, press(&outreach, old_sent, 1), None);
        r.advance(60 * 25);
    }
    out
}

fn bench(c: &mut Criterion) {
    let settings = settings();
    let key = OutreachKey::new(b"bench-key".to_vec());
    let ctx = Context {
        settings: &settings,
        outreach_key: &key,
    };
    let recorded = stream(&settings, &key);
    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(recorded.len() as u64));
    group.bench_function(
        format!("mixed stream ({} decisions)", recorded.len()),
        |b| {
            b.iter(|| {
                for (state, event, now) in &recorded {
                    black_box(decide(black_box(state), black_box(event), &ctx, *now));
                }
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

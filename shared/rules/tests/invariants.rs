//! Property tests for the invariants of ARCHITECTURE.md that live in the rules:
//! - no event sequence with duplicates produces two sends for one event key (invariant 1);
//! - a window never closes earlier because an older message arrived late (WIN-1);
//! - a stale timer never produces an effect (TIME-2, invariant 6);
//! - every decision is deterministic for the same inputs (invariant 5).
//!
//! The hopper invariant (CAMP-2) is proved in `rules::campaign`.

mod common;
use common::*;
use proptest::prelude::*;
use rules::campaign::Handoff;
use rules::effect::Effect;
use rules::settings::{Csat, QueueMessage, Reminder, SilentAgent};
use rules::*;

#[derive(Debug, Clone)]
enum Op {
    Text,
    PressBot(usize),
    PressOutreach {
        days_ago: i64,
        button: u8,
    },
    ReplyOutreach {
        days_ago: i64,
    },
    Welcome,
    CampaignSent,
    Assign(u8),
    Queue(u32),
    AgentSend(u8),
    Close(u8),
    Advance(i64),
    /// Deliver again one of the last events (redelivery), by distance from the end.
    Redeliver(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Text),
        2 => (0usize..3).prop_map(Op::PressBot),
        2 => (0i64..60, 0u8..3).prop_map(|(d, b)| Op::PressOutreach { days_ago: d, button: b }),
        1 => (0i64..60).prop_map(|d| Op::ReplyOutreach { days_ago: d }),
        1 => Just(Op::Welcome),
        1 => Just(Op::CampaignSent),
        2 => (0u8..2).prop_map(Op::Assign),
        1 => (1u32..5).prop_map(Op::Queue),
        2 => (0u8..2).prop_map(Op::AgentSend),
        1 => (0u8..2).prop_map(Op::Close),
        3 => (1i64..2000).prop_map(Op::Advance),
        4 => (1usize..8).prop_map(Op::Redeliver),
    ]
}

fn settings(with_bot: bool) -> NumberSettings {
    let mut s = if with_bot {
        settings_with_bot()
    } else {
        settings_without_bot()
    };
    s.welcome = Some(OutboundContent::text("welcome"));
    s.unassigned_reply = Some(OutboundContent::text("wait"));
    s.queue_message = Some(QueueMessage {
        text: "#{position}".into(),
    });
    s.reminder = Some(Reminder {
        after: Duration::minutes(5),
        content: OutboundContent::text("reminder"),
    });
    s.auto_close_after = Some(Duration::hours(2));
    s.csat = Some(Csat {
        question: "ok?".into(),
    });
    s.silent_agent = Some(SilentAgent {
        after: Duration::minutes(30),
    });
    s
}

/// Plays `ops`, turning each into an event (with its key) and applying it. Returns, per delivery,
/// the event key and the effects it produced.
fn play(with_bot: bool, ops: &[Op]) -> (World, Vec<(String, bool, Vec<Effect>)>) {
    let mut w = World::new(settings(with_bot));
    let mut history: Vec<(String, Event, Timestamp)> = Vec::new();
    let mut out = Vec::new();
    let mut n = 0;
    for op in ops {
        n += 1;
        let event = match op {
            Op::Text => {
                let id = w.next_id();
                Event::Inbound(Inbound {
                    id,
                    at: w.now,
                    content: InboundContent::Message,
                    context: None,
                    outreach: None,
                    referral: None,
                })
            }
            Op::PressBot(i) => {
                let id = w.next_id();
                Event::Inbound(Inbound {
                    id,
                    at: w.now,
                    content: InboundContent::Reply {
                        id: rules::recipe::button_id("menu", *i),
                    },
                    context: None,
                    outreach: None,
                    referral: None,
                })
            }
            Op::PressOutreach { days_ago, button } => {
                let o = w.outreach(&format!("o{days_ago}"), w.now - Duration::days(*days_ago));
                let payload = rules::outreach::ButtonPayload {
                    outreach: o.id.clone(),
                    sent_at: o.sent_at,
                    button: *button,
                }
                .encode(&w.key)
                .unwrap();
                let id = w.next_id();
                Event::Inbound(Inbound {
                    id,
                    at: w.now,
                    content: InboundContent::QuickReply {
                        payload,
                        text: "x".into(),
                    },
                    context: Some(o.wamid.clone()),
                    outreach: Some(o),
                    referral: None,
                })
            }
            Op::ReplyOutreach { days_ago } => {
                let o = w.outreach(&format!("o{days_ago}"), w.now - Duration::days(*days_ago));
                let id = w.next_id();
                Event::Inbound(Inbound {
                    id,
                    at: w.now,
                    content: InboundContent::Message,
                    context: Some(o.wamid.clone()),
                    outreach: Some(o),
                    referral: None,
                })
            }
            Op::Welcome => Event::Welcome { at: w.now },
            Op::CampaignSent => Event::OutreachSent(w.campaign_outreach(
                &format!("c{n}"),
                w.now,
                Duration::hours(1),
                Handoff::Bot { recipe: None },
            )),
            Op::Assign(a) => match w.requested() {
                Some((conversation, request)) => Event::AgentAssigned {
                    agent: agent(&format!("a{a}")),
                    conversation,
                    request,
                },
                None => continue,
            },
            Op::Queue(p) => match w.requested() {
                Some((conversation, request)) => Event::Queued {
                    position: *p,
                    conversation,
                    request,
                },
                None => continue,
            },
            Op::AgentSend(a) => Event::Agent(AgentAction::Send {
                agent: agent(&format!("a{a}")),
                content: OutboundContent::text("hi"),
                recontact_if_closed: false,
            }),
            Op::Close(a) => Event::Agent(AgentAction::Close {
                agent: agent(&format!("a{a}")),
            }),
            Op::Advance(minutes) => {
                // Fire due wake-ups as their own keyed events.
                let until = w.now + Duration::minutes(*minutes);
                loop {
                    w.armed.sort_by_key(|x| x.at);
                    let Some(pos) = w.armed.iter().position(|x| x.at <= until) else {
                        break;
                    };
                    let wake = w.armed.remove(pos);
                    w.now = w.now.max(wake.at);
                    let e = Event::TimerFired {
                        kind: wake.kind,
                        token: wake.token,
                    };
                    let key = format!("timer:{}:{}", wake.kind.as_str(), wake.token);
                    let effects = w.apply(e.clone());
                    history.push((key.clone(), e, w.now));
                    out.push((key, false, effects));
                }
                w.now = until;
                continue;
            }
            Op::Redeliver(back) => {
                if history.is_empty() {
                    continue;
                }
                let i = history.len().saturating_sub(*back);
                let (key, event, _) = history[i].clone();
                // Agent actions and agent answers are deduplicated by their request ids in the
                // store; the rules' own guard covers messages, timers and outreach records.
                if matches!(event, Event::Agent(_)) {
                    continue;
                }
                let effects = w.apply(event);
                out.push((key, true, effects));
                continue;
            }
        };
        let key = match &event {
            Event::Inbound(m) => m.id.to_string(),
            Event::Welcome { at } => format!("welcome:{}", at.unix()),
            Event::OutreachSent(o) => format!("outreach:{}", o.id),
            // One answer per request: the request number is part of the key.
            Event::AgentAssigned {
                agent,
                conversation,
                request,
            } => format!("assigned:{agent}:{conversation}:{request}"),
            Event::Queued {
                position,
                conversation,
                request,
            } => format!("queued:{position}:{conversation}:{request}"),
            Event::Agent(_) => format!("agent:{n}"),
            Event::MediaNotFetched { message, .. } => format!("media:{message}"),
            Event::Bot(_) => format!("bot:{n}"),
            Event::TimerFired { .. } => unreachable!("timers are keyed above"),
        };
        let effects = w.apply(event.clone());
        history.push((key.clone(), event, w.now));
        out.push((key, false, effects));
    }
    (w, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Invariant 1: a redelivered event sends nothing (and the first delivery's sends are all
    /// there are for its key).
    #[test]
    fn no_event_key_sends_twice(with_bot in any::<bool>(), ops in prop::collection::vec(op(), 1..60)) {
        let (_, deliveries) = play(with_bot, &ops);
        let mut sending_keys = std::collections::HashMap::<String, usize>::new();
        for (key, redelivered, effects) in &deliveries {
            let sends = effects.iter().filter(|e| matches!(e, Effect::Send(_))).count();
            if *redelivered {
                // AgentAssigned after the conversation moved on gives capacity back; no sends.
                prop_assert_eq!(sends, 0, "redelivery of {} sent", key);
            }
            if sends > 0 {
                *sending_keys.entry(key.clone()).or_default() += 1;
            }
        }
        for (key, n) in sending_keys {
            prop_assert_eq!(n, 1, "{} produced sends in {} deliveries", key, n);
        }
    }

    /// Redelivered messages, timers and outreach records change nothing at all.
    #[test]
    fn redelivery_changes_nothing(with_bot in any::<bool>(), ops in prop::collection::vec(op(), 1..40)) {
        let (w, _) = play(with_bot, &ops);
        // Deliver each recent message again: no effects, same state.
        let recent: Vec<LogEntry> = w.log.iter().rev().take(8).cloned().collect();
        let mut again = World::new(w.settings.clone());
        again.state = w.state.clone();
        again.now = w.now;
        for entry in recent {
            if let LogEntry::Inbound { message, at, .. } = entry {
                let before = again.state.clone();
                let effects = again.apply(Event::Inbound(Inbound {
                    id: message,
                    at,
                    content: InboundContent::Message,
                    context: None,
                    outreach: None,
                    referral: None,
                }));
                prop_assert!(effects.is_empty());
                prop_assert_eq!(&again.state, &before);
            }
        }
    }

    /// WIN-1: delivered in any order, the CSW close time only ever moves later, and ends at the
    /// latest message + 24 h.
    #[test]
    fn window_never_closes_earlier_because_of_a_late_message(offsets in prop::collection::vec(0i64..10_000, 1..30)) {
        let mut w = World::new(settings_without_bot());
        let mut last_close = None;
        for (i, m) in offsets.iter().enumerate() {
            w.now = at(20_000);
            w.apply(Event::Inbound(Inbound {
                id: MessageId::new(format!("wamid.{i}")).unwrap(),
                at: at(*m),
                content: InboundContent::Message,
                context: None,
                outreach: None,
                referral: None,
            }));
            let close = w.state.windows.last_inbound_at.map(|t| t + Duration::hours(24));
            prop_assert!(close >= last_close);
            last_close = close;
        }
        let latest = offsets.iter().max().unwrap();
        prop_assert_eq!(last_close, Some(at(*latest) + Duration::hours(24)));
    }

    /// TIME-2: a wake-up whose token is not the armed one does nothing, whatever the state.
    #[test]
    fn stale_timer_never_acts(with_bot in any::<bool>(), ops in prop::collection::vec(op(), 1..50), later in 0i64..5000, bogus in 0u64..1000) {
        let (mut w, _) = play(with_bot, &ops);
        w.now = w.now + Duration::minutes(later);
        for kind in TimerKind::ALL {
            let armed = w.state.timers.armed(kind).map(|a| a.token);
            for token in [bogus, bogus + 1_000_000] {
                if Some(token) == armed {
                    continue;
                }
                let before = w.state.clone();
                let effects = w.apply(Event::TimerFired { kind, token });
                prop_assert!(effects.is_empty());
                prop_assert_eq!(&w.state, &before);
            }
        }
    }

    /// Invariant 5: the same inputs give the same decisions, every time.
    #[test]
    fn decisions_are_deterministic(with_bot in any::<bool>(), ops in prop::collection::vec(op(), 1..50)) {
        let (a, da) = play(with_bot, &ops);
        let (b, db) = play(with_bot, &ops);
        prop_assert_eq!(a.state, b.state);
        prop_assert_eq!(da, db);
        prop_assert_eq!(a.log, b.log);
    }
}

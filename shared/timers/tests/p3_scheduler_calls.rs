//! Goal P3 (Scheduler ≤ 0.2 calls per inbound message) through the timer port: a shell that runs
//! `rules::decide`, executes every `Effect::ArmTimer` through a counted port and feeds fired
//! wake-ups back as `Event::TimerFired`, with time moved by the manual clock.

use rules::effect::{CloseReason, Effect, Notice};
use rules::outreach::OutreachKey;
use rules::recipe::{Next, Recipe, RecipeButton, Step};
use rules::*;
use timers::{Arming, Clock, CountingTimers, ManualClock, TimerPort, TimerWheel, WakeUp};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix(T0) + Duration::minutes(minutes)
}

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn contact() -> ContactKey {
    ContactKey::new("4915123456789").unwrap()
}

fn settings_with_bot() -> NumberSettings {
    let mut s = NumberSettings::new(number());
    s.recipe = Some(Recipe {
        id: RecipeId::new("support").unwrap(),
        start: "menu".into(),
        steps: vec![Step {
            id: "menu".into(),
            text: "Hi! What do you need?".into(),
            buttons: vec![
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
        }],
    });
    s
}

/// The router's part in miniature: decide, then execute the timer effects through the port.
struct Shell {
    settings: NumberSettings,
    key: OutreachKey,
    state: ContactState,
    clock: ManualClock,
    timers: CountingTimers<TimerWheel>,
    notices: Vec<(Timestamp, Notice)>,
    messages: u32,
}

impl Shell {
    fn new() -> Shell {
        Shell {
            settings: settings_with_bot(),
            key: OutreachKey::new(b"test-deployment-key".to_vec()),
            state: ContactState::new(number(), contact()),
            clock: ManualClock::new(at(0)),
            timers: CountingTimers::new(TimerWheel::new()),
            notices: Vec::new(),
            messages: 0,
        }
    }

    async fn apply(&mut self, event: Event) -> Vec<Effect> {
        let ctx = Context {
            settings: &self.settings,
            outreach_key: &self.key,
        };
        let now = self.clock.now();
        let decision = decide(&self.state, &event, &ctx, now);
        self.state = decision.next;
        for entry in decision.log {
            if let LogEntry::Notice { notice, .. } = entry {
                self.notices.push((now, notice));
            }
        }
        for effect in &decision.effects {
            if let Effect::ArmTimer(wake) = effect {
                let arming = self.timers.arm(&number(), &contact(), *wake).await.unwrap();
                assert_eq!(arming, Arming::Armed { at: wake.at });
            }
        }
        decision.effects
    }

    async fn customer_writes(&mut self) {
        self.messages += 1;
        let id = MessageId::new(format!("wamid.in{}", self.messages)).unwrap();
        let now = self.clock.now();
        self.apply(Event::Inbound(Inbound {
            id,
            at: now,
            content: InboundContent::Message,
            context: None,
            outreach: None,
            referral: None,
        }))
        .await;
    }

    /// Moves the clock a minute and applies every wake-up that falls due, as the lane would.
    async fn minute_passes(&mut self) -> Vec<WakeUp> {
        self.clock.advance(Duration::minutes(1));
        let due = self.timers.inner().due(self.clock.now());
        for wake_up in &due {
            self.apply(wake_up.rules_event()).await;
        }
        due
    }
}

#[tokio::test]
async fn time_1_time_2_p3_a_ten_message_bot_conversation_costs_at_most_two_scheduler_calls() {
    let mut shell = Shell::new();
    let mut fired = Vec::new();
    // Ten customer messages, one a minute: each pushes the bot's 10-minute deadline (AUTO-8).
    for _ in 0..10 {
        shell.customer_writes().await;
        fired.extend(shell.minute_passes().await);
    }
    assert!(
        matches!(
            shell.state.conversation.as_ref().map(|c| &c.handler),
            Some(Handler::Bot { .. })
        ),
        "the bot still has the conversation after ten chatty minutes"
    );
    // Then silence: the wake-up armed at minute 0 fired at minute 10, found the deadline moved to
    // minute 19 and re-armed once; that one closes the conversation.
    for _ in 0..30 {
        fired.extend(shell.minute_passes().await);
    }
    assert!(
        shell.state.conversation.is_none(),
        "closed by the bot timeout"
    );
    assert_eq!(
        shell.notices.last(),
        Some(&(
            at(19),
            Notice::ConversationClosed {
                reason: CloseReason::BotTimeout
            }
        ))
    );
    let calls = shell.timers.calls();
    assert!(
        (1..=2).contains(&calls),
        "{calls} timer port calls for 10 messages (P3: at most 2)"
    );
    assert!(calls * 5 <= shell.messages as usize, "≤ 0.2 per message");
    assert_eq!(
        fired.iter().map(|w| w.deadline).collect::<Vec<_>>(),
        [at(10), at(19)]
    );
    assert!(shell.timers.inner().is_empty());

    // TIME-2: the same wake-ups delivered again (late, twice) change nothing and arm nothing.
    let before = shell.state.clone();
    for wake_up in &fired {
        assert!(shell.apply(wake_up.rules_event()).await.is_empty());
    }
    assert_eq!(shell.state, before);
    assert_eq!(shell.timers.calls(), calls);
}

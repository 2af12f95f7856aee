//! `decide`: one event applied to one contact's state, returning the next state, the effects to
//! execute and the message-log entries. Pure and deterministic: the same inputs always give the
//! same decision, and `now` is an argument (ARCHITECTURE invariant 5).
//!
//! The outreach table of seed 000 (OUT-EXP-1..4, OUT-ACT-1..6) is [`Engine::inbound`]; the
//! campaign answers (CAMP-7..9) are [`Engine::campaign_answer`]; automation (AUTO-1..12) and
//! timers (TIME-2) follow. Where the seeds disagree or are silent, `DECISIONS.md` says what was
//! chosen and why.

use crate::campaign::Handoff;
use crate::channel::Sender;
use crate::effect::{
    CloseReason, Decision, Effect, LogEntry, MediaKind, Notice, OutboundContent, SendPurpose,
    SendRequest,
};
use crate::event::{AgentAction, BotAction, Event, Inbound, InboundContent};
use crate::ids::{AgentId, ConversationId, MessageId, OutreachId, RecipeId};
use crate::outreach::{ButtonPayload, OutreachKey, OutreachRecord};
use crate::recipe::{BotInput, Next, button_id};
use crate::settings::{EXTERNAL_STEP, NumberSettings};
use crate::state::{
    CampaignInteraction, CampaignOutcome, ClosedConversation, ContactState, Conversation,
    ConversationStatus, Firing, Handler, Origin, TimerKind, fnv1a,
};
use crate::time::Timestamp;

/// What a decision needs besides the state and the event.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub settings: &'a NumberSettings,
    /// The deployment's key for outreach button payloads (OUT-8).
    pub outreach_key: &'a OutreachKey,
}

/// The CSAT survey's fixed buttons (AUTO-9): ids `csat.<score>`.
pub const CSAT_BUTTONS: [(u8, &str); 3] = [(3, "Satisfied"), (2, "Neutral"), (1, "Unsatisfied")];

/// Applies `event` to `state` at `now`.
pub fn decide(state: &ContactState, event: &Event, ctx: &Context<'_>, now: Timestamp) -> Decision {
    let mut e = Engine {
        s: state.clone(),
        effects: Vec::new(),
        log: Vec::new(),
        settings: ctx.settings,
        key: ctx.outreach_key,
        now,
    };
    match event {
        Event::Inbound(m) => e.inbound(m),
        Event::Welcome { at } => e.welcome(*at),
        Event::TimerFired { kind, token } => e.timer(*kind, *token),
        Event::OutreachSent(record) => e.outreach_sent(record),
        Event::AgentAssigned {
            agent,
            conversation,
            request,
        } => e.assigned(agent, conversation, *request),
        Event::Queued {
            position,
            conversation,
            request,
        } => e.queued(*position, conversation, *request),
        Event::Agent(action) => e.agent_action(action),
        Event::MediaNotFetched {
            message,
            kind,
            reason,
        } => e.media_not_fetched(message, *kind, reason),
        Event::Bot(action) => e.bot_action(action),
    }
    Decision {
        next: e.s,
        effects: e.effects,
        log: e.log,
    }
}

/// How the customer's message relates to an outreach.
#[derive(Debug, Clone, PartialEq)]
enum Touch {
    /// Not about an outreach (or OUT-9: quoting something unknown; OUT-8: forged payload).
    Plain,
    /// Wrote something quoting the outreach.
    Reply(OutreachRecord),
    /// Pressed a button or call to action of the outreach.
    Interaction {
        outreach: OutreachId,
        sent_at: Timestamp,
        button: Option<u8>,
        record: Option<OutreachRecord>,
    },
}

/// Who should take a conversation that a campaign answer opens or touches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// The number's bot (its external bot, else its enabled recipe), else the queue (OUT-7).
    Default,
    /// CAMP-7: a campaign's hand-off naming a bot: that one if it is the number's bot now, else
    /// the queue.
    Bot(RecipeId),
    /// An agent (CAMP-8, CAMP-9, or a campaign whose hand-off is an agent): the one the campaign
    /// names, else the queue chooses.
    Agent(Option<AgentId>),
}

impl Route {
    /// CAMP-7..9: where a settled campaign interaction sends the conversation. An answer in time
    /// goes to the campaign's hand-off; a late or free-text answer to a person: the agent the
    /// campaign names, else the queue.
    fn after_campaign(outcome: &CampaignOutcome, hand_off: &Handoff) -> Route {
        match (outcome, hand_off) {
            (_, Handoff::Agent { agent }) => Route::Agent(agent.clone()),
            (CampaignOutcome::Answered { .. }, Handoff::Bot { recipe: None }) => Route::Default,
            (CampaignOutcome::Answered { .. }, Handoff::Bot { recipe: Some(r) }) => {
                Route::Bot(r.clone())
            }
            (_, Handoff::Bot { .. }) => Route::Agent(None),
        }
    }
}

struct Engine<'a> {
    s: ContactState,
    effects: Vec<Effect>,
    log: Vec<LogEntry>,
    settings: &'a NumberSettings,
    key: &'a OutreachKey,
    now: Timestamp,
}

impl Engine<'_> {
    // ----- customer side -------------------------------------------------------------------

    fn inbound(&mut self, m: &Inbound) {
        // Invariant 1, second line: a message seen recently changes nothing.
        let hash = fnv1a(m.id.as_str().as_bytes());
        if self.s.recent_messages.contains(hash) {
            return;
        }
        self.s.recent_messages.remember(hash);

        if m.content == InboundContent::System {
            // `user_changed_number` and the like: logged, not the customer writing.
            self.log.push(LogEntry::Inbound {
                message: m.id.clone(),
                conversation: None,
                at: m.at,
                bot: None,
            });
            return;
        }

        // WIN-1, WIN-3.
        self.s.windows.record_inbound(m.at, m.referral.is_some());
        // AUTO-1: the first-ever inbound message triggers the welcome when no request_welcome came.
        self.welcome_once();
        // AUTO-10: the customer's message wakes a snoozed conversation.
        self.wake_snoozed();

        // AUTO-9: a CSAT answer is recorded against the closed conversation, never reopening it.
        if let InboundContent::Reply { id } = &m.content
            && let Some(score) = parse_csat(id)
            && let Some(closed) = self.s.last_closed.as_mut()
            && closed.csat_pending
        {
            closed.csat_pending = false;
            let conversation = closed.id.clone();
            self.effects.push(Effect::RecordCsat {
                conversation: conversation.clone(),
                agent: closed.agent.clone(),
                score,
            });
            self.log.push(LogEntry::Inbound {
                message: m.id.clone(),
                conversation: Some(conversation),
                at: m.at,
                bot: None,
            });
            return;
        }

        let touch = self.classify(m);
        let route = self.campaign_answer(m, &touch);
        let expiry = self.settings.outreach_expiry;

        match touch {
            // OUT-EXP-1 (reply to an expired outreach), OUT-9 (unknown context), plain messages.
            Touch::Plain => self.join_or_open(m, Origin::Inbound, route),
            Touch::Reply(record) if !record.is_active(expiry, m.at) => {
                self.join_or_open(m, Origin::Inbound, route) // OUT-EXP-1
            }
            Touch::Reply(record) => {
                // OUT-ACT-6 joins an open conversation; OUT-ACT-1 starts one from the outreach.
                let origin = Origin::Outreach {
                    outreach: record.id.clone(),
                    button: None,
                };
                self.join_or_open(m, origin, route)
            }
            Touch::Interaction {
                outreach,
                sent_at,
                button,
                ..
            } => {
                let active = crate::outreach::is_active(sent_at, expiry, m.at);
                if active {
                    self.active_interaction(m, outreach, button, route);
                } else {
                    self.expired_interaction(m, outreach);
                }
            }
        }
    }

    /// OUT-8, OUT-9: what the message is to the outreach it may answer.
    fn classify(&self, m: &Inbound) -> Touch {
        let payload = match &m.content {
            InboundContent::QuickReply { payload, .. } => Some(payload.as_str()),
            InboundContent::Reply { id } => Some(id.as_str()),
            _ => None,
        };
        if let Some(p) = payload.and_then(|p| ButtonPayload::verify_at(self.key, p, self.now).ok())
        {
            let record = m.outreach.clone().filter(|r| r.id == p.outreach);
            return Touch::Interaction {
                outreach: p.outreach,
                sent_at: p.sent_at,
                button: Some(p.button),
                record,
            };
        }
        match (&m.content, &m.outreach) {
            // A press on an outreach whose payload is not ours or forged: plain inbound (OUT-8).
            (InboundContent::QuickReply { .. }, _) => Touch::Plain,
            // A call to action or interactive reply quoting a known outreach.
            (InboundContent::Reply { .. }, Some(record)) => Touch::Interaction {
                outreach: record.id.clone(),
                sent_at: record.sent_at,
                button: None,
                record: Some(record.clone()),
            },
            (InboundContent::Message, Some(record)) => Touch::Reply(record.clone()),
            _ => Touch::Plain,
        }
    }

    /// CAMP-7..9: settle the open campaign interaction, if this message answers it, and say who
    /// should take the conversation.
    fn campaign_answer(&mut self, m: &Inbound, touch: &Touch) -> Route {
        if let Some(ci) = self.s.campaign.clone() {
            let outcome = match touch {
                Touch::Interaction {
                    outreach,
                    button: Some(b),
                    ..
                } if *outreach == ci.outreach => {
                    if m.at <= ci.respond_by {
                        CampaignOutcome::Answered {
                            button: *b,
                            title: ci.buttons.get(usize::from(*b)).cloned().unwrap_or_default(),
                        }
                    } else {
                        CampaignOutcome::Late
                    }
                }
                // A press on something else (a bot button, another outreach) is not an answer.
                Touch::Interaction { .. } => return Route::Default,
                _ if m.content != InboundContent::Message => return Route::Default,
                _ => CampaignOutcome::FreeText,
            };
            self.s.campaign = None;
            self.s.timers.clear(TimerKind::CampaignResponse);
            let route = Route::after_campaign(&outcome, &ci.hand_off);
            self.effects.push(Effect::CampaignAnswer {
                campaign: ci.campaign,
                outreach: ci.outreach,
                outcome,
            });
            return route;
        }
        // No open interaction: a press on a campaign's outreach after it was settled.
        if let Touch::Interaction {
            outreach,
            sent_at,
            button: Some(b),
            record:
                Some(OutreachRecord {
                    campaign: Some(link),
                    buttons,
                    ..
                }),
        } = touch
        {
            let in_time = m.at <= *sent_at + link.response_timeout;
            let outcome = if in_time {
                // The answer overtook the outreach's own record in the lane: still counts.
                CampaignOutcome::Answered {
                    button: *b,
                    title: buttons.get(usize::from(*b)).cloned().unwrap_or_default(),
                }
            } else {
                CampaignOutcome::Late // CAMP-8
            };
            let route = Route::after_campaign(&outcome, &link.hand_off);
            self.effects.push(Effect::CampaignAnswer {
                campaign: link.campaign.clone(),
                outreach: outreach.clone(),
                outcome,
            });
            return route;
        }
        Route::Default
    }

    /// OUT-ACT-2..5.
    fn active_interaction(
        &mut self,
        m: &Inbound,
        outreach: OutreachId,
        button: Option<u8>,
        route: Route,
    ) {
        let origin = Origin::Outreach {
            outreach: outreach.clone(),
            button,
        };
        match self.s.conversation.as_ref().map(|c| &c.handler) {
            None => self.open_from(m, origin, route), // OUT-ACT-2
            Some(Handler::Bot { .. }) => {
                // OUT-ACT-3 (same outreach) and OUT-ACT-4 (another one): close, start anew.
                self.close(CloseReason::ReplacedByOutreach);
                self.open_from(m, origin, route);
            }
            Some(Handler::Agent { .. } | Handler::Unassigned { .. }) => {
                // OUT-ACT-5: shown in the agent's conversation; the agent handles it.
                let id = self.current_id();
                self.notice(&id, Notice::OutreachPressed { outreach, button });
                self.customer_message(m, false);
            }
        }
    }

    /// OUT-EXP-2..4.
    fn expired_interaction(&mut self, m: &Inbound, outreach: OutreachId) {
        let expired_text = OutboundContent::text(self.settings.expired_outreach_text.clone());
        match self.s.conversation.as_ref().map(|c| &c.handler) {
            None => {
                // OUT-EXP-2: the expired message is sent; no conversation is opened.
                self.log.push(LogEntry::Inbound {
                    message: m.id.clone(),
                    conversation: None,
                    at: m.at,
                    bot: None,
                });
                self.send(SendPurpose::ExpiredOutreach, expired_text, None);
            }
            Some(Handler::Bot { .. }) => {
                // OUT-EXP-3: the expired message is sent; the bot conversation goes on.
                let id = self.current_id();
                self.log.push(LogEntry::Inbound {
                    message: m.id.clone(),
                    conversation: Some(id.clone()),
                    at: m.at,
                    bot: None,
                });
                self.touch_customer(m.at);
                self.mark_for_external_bot(m);
                self.send(SendPurpose::ExpiredOutreach, expired_text, Some(id));
                self.arm_bot_timeout();
            }
            Some(Handler::Agent { .. } | Handler::Unassigned { .. }) => {
                // OUT-EXP-4: shown to the agent with an "expired" notice; nothing is sent.
                let id = self.current_id();
                self.notice(&id, Notice::ExpiredOutreachPressed { outreach });
                self.customer_message(m, false);
            }
        }
    }

    /// Joins the open conversation (OUT-ACT-6), or opens one (OUT-EXP-1, OUT-ACT-1, plain).
    /// A campaign routed to an agent (CAMP-8/9) takes a bot conversation away from the bot.
    fn join_or_open(&mut self, m: &Inbound, origin: Origin, route: Route) {
        if self.s.conversation.is_none() {
            self.open_from(m, origin, route);
            return;
        }
        if let Route::Agent(to) = &route
            && matches!(
                self.s.conversation.as_ref().map(|c| &c.handler),
                Some(Handler::Bot { .. })
            )
        {
            self.customer_message(m, true);
            if self.s.conversation.is_some() {
                self.hand_off_from_bot_to(to.clone());
            }
            return;
        }
        self.customer_message(m, false);
    }

    /// Opens a conversation for the customer's message `m` and takes the message into it.
    fn open_from(&mut self, m: &Inbound, origin: Origin, route: Route) {
        let from_outreach = match &origin {
            Origin::Outreach { outreach, button } => Some((outreach.clone(), *button)),
            _ => None,
        };
        let id = self.open(origin, m.at);
        if let Some(referral) = &m.referral
            && let Some(c) = self.s.conversation.as_mut()
        {
            c.referral = Some(referral.clone()); // WIN-3: kept on the conversation
        }
        if let Some((outreach, button)) = from_outreach {
            self.notice(&id, Notice::StartedFromOutreach { outreach, button });
        }
        // The first message starts the handler; it is not input to the bot's first step.
        self.customer_message(m, true);
        self.start_handler(route);
        self.mark_for_external_bot(m);
    }

    fn open(&mut self, origin: Origin, at: Timestamp) -> ConversationId {
        self.s.conversations_opened += 1;
        let id = ConversationId::new(format!(
            "{}#{}",
            self.s.contact, self.s.conversations_opened
        ))
        .expect("contact keys are non-empty");
        self.s.conversation = Some(Conversation {
            id: id.clone(),
            status: ConversationStatus::Open,
            handler: Handler::Unassigned {
                position: None,
                request: 0,
            },
            opened_at: at,
            origin,
            last_customer_at: None,
            last_agent_at: None,
            unanswered_since: None,
            unanswered_count: 0,
            reminded: false,
            agent_involved: false,
            nudged_for: None,
            referral: None,
        });
        self.notice(&id, Notice::ConversationOpened);
        id
    }

    /// Starts the handler of a just-opened conversation: the number's enabled recipe, else the
    /// queue (OUT-7); the bot or agent a campaign names (CAMP-7); a person when the route says
    /// so (CAMP-8, CAMP-9, agent hand-off).
    fn start_handler(&mut self, route: Route) {
        if let Route::Agent(Some(agent)) = route {
            // CAMP-7: the campaign's agent takes it, as by a claim (AUTO-5 counts it).
            let id = self.current_id();
            self.effects.push(Effect::TakeCapacity {
                agent: agent.clone(),
                conversation: id,
            });
            self.take(agent);
            return;
        }
        // A campaign naming a bot that is no longer the number's leaves it to the queue.
        let wanted = |id: &RecipeId| match &route {
            Route::Default => true,
            Route::Bot(named) => named == id,
            Route::Agent(_) => false,
        };
        let recipe = self.settings.recipe.as_ref().filter(|r| wanted(&r.id));
        let external = self
            .settings
            .external_bot
            .as_ref()
            .filter(|b| wanted(&b.id));
        match (recipe, external) {
            (_, Some(bot)) => {
                // EVT-5: the external bot takes it; it hears of the message as an event.
                if let Some(c) = self.s.conversation.as_mut() {
                    c.handler = Handler::Bot {
                        recipe: bot.id.clone(),
                        step: EXTERNAL_STEP.to_owned(),
                    };
                }
                self.arm_bot_timeout();
            }
            (Some(recipe), None) => {
                let step = recipe.start.clone();
                if let Some(c) = self.s.conversation.as_mut() {
                    c.handler = Handler::Bot {
                        recipe: recipe.id.clone(),
                        step: step.clone(),
                    };
                }
                self.send_step(&step);
                self.arm_bot_timeout();
            }
            _ => self.enter_unassigned(None),
        }
    }

    /// A customer message inside the current conversation.
    fn customer_message(&mut self, m: &Inbound, opening: bool) {
        let id = self.current_id();
        self.log.push(LogEntry::Inbound {
            message: m.id.clone(),
            conversation: Some(id),
            at: m.at,
            bot: None,
        });
        self.touch_customer(m.at);
        let handler = self.s.conversation.as_ref().map(|c| c.handler.clone());
        match handler {
            // EVT-5: the message reaches the external bot as its event; AUTO-8 runs again.
            Some(Handler::Bot { recipe, .. }) if self.settings.is_external_bot(&recipe) => {
                self.mark_for_external_bot(m);
                self.arm_bot_timeout();
            }
            Some(Handler::Bot { step, recipe }) if !opening => {
                let input = match &m.content {
                    InboundContent::Reply { id } => BotInput::Button(id),
                    _ => BotInput::Other,
                };
                let next = match &self.settings.recipe {
                    Some(r) if r.id == recipe => r.advance(&step, input),
                    // The recipe was disabled or replaced: a person takes over.
                    _ => Next::HandOff,
                };
                self.bot_next(next);
            }
            Some(Handler::Bot { .. }) => self.arm_bot_timeout(),
            Some(Handler::Agent { .. } | Handler::Unassigned { .. }) => {
                self.start_unanswered(m.at);
                // AUTO-7: the customer answered the agent; auto-close waits for the agent again.
                self.s.timers.clear(TimerKind::AutoClose);
            }
            None => {}
        }
        self.arm_nudge();
    }

    fn bot_next(&mut self, next: Next) {
        match next {
            Next::Step(step) => {
                if let Some(Conversation {
                    handler: Handler::Bot { step: current, .. },
                    ..
                }) = self.s.conversation.as_mut()
                {
                    *current = step.clone();
                }
                self.send_step(&step);
                self.arm_bot_timeout();
            }
            Next::HandOff => self.hand_off_from_bot(),
            Next::Complete => self.close(CloseReason::BotCompleted), // AUTO-8
        }
    }

    fn hand_off_from_bot(&mut self) {
        self.hand_off_from_bot_to(None);
    }

    /// The bot hands off: to the queue (AUTO-3/4), or to a named agent (EVT-5), who takes it as
    /// by a claim. Either way the customer's last message is now waiting for a person.
    fn hand_off_from_bot_to(&mut self, agent: Option<AgentId>) {
        self.s.timers.clear(TimerKind::BotInactivity);
        let id = self.current_id();
        self.notice(&id, Notice::HandedOffByBot);
        if let Some(c) = self.s.conversation.as_mut()
            && let Some(at) = c.last_customer_at
        {
            c.unanswered_since.get_or_insert(at);
        }
        match agent {
            None => self.enter_unassigned(None),
            Some(agent) => {
                self.effects.push(Effect::TakeCapacity {
                    agent: agent.clone(),
                    conversation: id,
                });
                self.take(agent);
            }
        }
    }

    /// EVT-5: the external bot handling the current conversation, if one does.
    fn external_bot(&self) -> Option<RecipeId> {
        match self.s.conversation.as_ref().map(|c| &c.handler) {
            Some(Handler::Bot { recipe, .. }) if self.settings.is_external_bot(recipe) => {
                Some(recipe.clone())
            }
            _ => None,
        }
    }

    /// EVT-5: the customer's message `m` is for the external bot handling the conversation (its
    /// `message.received` event names the bot, so the bot's endpoint receives it).
    fn mark_for_external_bot(&mut self, m: &Inbound) {
        let Some(handling) = self.external_bot() else {
            return;
        };
        for entry in self.log.iter_mut().rev() {
            if let LogEntry::Inbound { message, bot, .. } = entry
                && *message == m.id
            {
                *bot = Some(handling);
                return;
            }
        }
    }

    /// EVT-5: the external bot answers, hands off or completes, while it handles the
    /// conversation.
    fn bot_action(&mut self, action: &BotAction) {
        let (BotAction::Send { bot, .. }
        | BotAction::HandOff { bot, .. }
        | BotAction::Complete { bot }) = action;
        let handling = self.external_bot();
        if handling.as_ref() != Some(bot) {
            // Too late (the bot timed out, an agent claimed it) or not this bot's: a send is
            // recorded as refused (SEND-5); a hand-off or completion changes nothing.
            if let (BotAction::Send { .. }, Some(id)) =
                (action, self.s.conversation.as_ref().map(|c| c.id.clone()))
            {
                self.notice(
                    &id,
                    Notice::SendRefused {
                        reason: format!("the bot {bot} does not handle this conversation"),
                    },
                );
            }
            return;
        }
        match action {
            BotAction::Send { content, .. } => {
                // WIN-5, CHAN-1: an automated send; the sender checks again at send time.
                let may = crate::sending::may_go(
                    self.s.channel,
                    self.s.windows.last_inbound_at,
                    content.kind(),
                    Sender::Automation,
                    false,
                    self.now,
                );
                let id = self.current_id();
                if let crate::sending::MayGo::Refuse(reason) = may {
                    self.notice(&id, Notice::SendRefused { reason });
                    return;
                }
                self.send(SendPurpose::Bot, content.clone(), Some(id));
            }
            BotAction::HandOff { to, .. } => self.hand_off_from_bot_to(to.clone()),
            BotAction::Complete { .. } => self.close(CloseReason::BotCompleted), // AUTO-8
        }
    }

    fn send_step(&mut self, step: &str) {
        let Some(recipe) = self.settings.recipe.as_ref() else {
            return;
        };
        let Some(s) = recipe.step(step) else {
            return;
        };
        let content = if s.buttons.is_empty() {
            OutboundContent::text(s.text.clone())
        } else {
            OutboundContent::Buttons {
                body: s.text.clone(),
                buttons: s
                    .buttons
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (button_id(step, i), b.title.clone()))
                    .collect(),
            }
        };
        let conversation = self.s.conversation.as_ref().map(|c| c.id.clone());
        self.send(SendPurpose::Bot, content, conversation);
    }

    /// AUTO-3, AUTO-4: the conversation waits for an agent.
    fn enter_unassigned(&mut self, exclude: Option<AgentId>) {
        let preferred = self
            .s
            .assignee
            .clone()
            .filter(|a| Some(a) != exclude.as_ref());
        let Some(c) = self.s.conversation.as_mut() else {
            return;
        };
        let request = self.s.next_token;
        self.s.next_token += 1;
        c.handler = Handler::Unassigned {
            position: None,
            request,
        };
        let id = c.id.clone();
        self.notice(&id, Notice::Unassigned);
        // AUTO-3 / AUTO-13: the auto-reply waits for the answer to this request: it goes out
        // only when the conversation really waits (`queued`), not when an agent takes it.
        self.effects.push(Effect::RequestAgent {
            conversation: id,
            request,
            preferred,
            exclude,
        });
    }

    /// AUTO-6, AUTO-12: a stretch of customer messages waiting for an agent starts (once).
    fn start_unanswered(&mut self, at: Timestamp) {
        let Some(c) = self.s.conversation.as_mut() else {
            return;
        };
        if c.unanswered_since.is_some() {
            return;
        }
        c.unanswered_since = Some(at);
        c.reminded = false;
        if matches!(c.handler, Handler::Agent { .. }) {
            self.arm_agent_clocks(at);
        }
    }

    /// The reminder and silent-agent clocks of a stretch that an agent now owns.
    fn arm_agent_clocks(&mut self, from: Timestamp) {
        if let Some(reminder) = &self.settings.reminder {
            self.set_timer(TimerKind::NoReplyReminder, from + reminder.after);
        }
        if let Some(silent) = self.settings.silent_agent {
            self.set_timer(TimerKind::SilentAgent, from + silent.after);
        }
    }

    fn touch_customer(&mut self, at: Timestamp) {
        if let Some(c) = self.s.conversation.as_mut() {
            c.last_customer_at = Some(c.last_customer_at.map_or(at, |t| t.max(at)));
            c.unanswered_count = c.unanswered_count.saturating_add(1);
        }
    }

    /// AUTO-8: 10 minutes (configurable) after the latest customer message.
    fn arm_bot_timeout(&mut self) {
        let Some(c) = self.s.conversation.as_ref() else {
            return;
        };
        if !matches!(c.handler, Handler::Bot { .. }) {
            return;
        }
        let from = c.last_customer_at.unwrap_or(self.now);
        self.set_timer(TimerKind::BotInactivity, from + self.settings.bot_timeout);
    }

    /// AUTO-11: a nudge before the CSW of an open conversation closes (off by default).
    fn arm_nudge(&mut self) {
        let Some(nudge) = &self.settings.nudge else {
            return;
        };
        let Some(close) = self.s.windows.service_window_closes(self.now) else {
            return;
        };
        if self.s.conversation.is_some() {
            self.set_timer(TimerKind::WindowNudge, close - nudge.before_close);
        }
    }

    fn welcome_once(&mut self) {
        if self.s.welcomed {
            return;
        }
        self.s.welcomed = true;
        if let Some(welcome) = self.settings.welcome.clone() {
            self.send(SendPurpose::Welcome, welcome, None);
        }
    }

    fn wake_snoozed(&mut self) {
        if let Some(c) = self.s.conversation.as_mut()
            && matches!(c.status, ConversationStatus::Snoozed { .. })
        {
            c.status = ConversationStatus::Open;
            let id = c.id.clone();
            self.s.timers.clear(TimerKind::SnoozeWake);
            self.notice(&id, Notice::Reopened);
        }
    }

    /// WIN-2, AUTO-1.
    fn welcome(&mut self, at: Timestamp) {
        self.s.windows.record_inbound(at, false);
        self.welcome_once();
    }

    // ----- closing ---------------------------------------------------------------------------

    fn close(&mut self, reason: CloseReason) {
        let Some(c) = self.s.conversation.take() else {
            return;
        };
        for kind in TimerKind::ALL {
            if kind != TimerKind::CampaignResponse {
                self.s.timers.clear(kind);
            }
        }
        let agent = match &c.handler {
            Handler::Agent { agent } => Some(agent.clone()),
            _ => None,
        };
        match &c.handler {
            Handler::Agent { agent } => self.effects.push(Effect::ReleaseAgent {
                agent: agent.clone(),
                conversation: c.id.clone(),
            }),
            Handler::Unassigned { .. } => self.effects.push(Effect::LeaveQueue {
                conversation: c.id.clone(),
            }),
            Handler::Bot { .. } => {}
        }
        self.notice(&c.id, Notice::ConversationClosed { reason });
        // AUTO-9: the survey after a conversation an agent handled, never after bot-only ones,
        // and only while the window still allows a free-form message.
        let survey = match &self.settings.csat {
            Some(csat) if c.agent_involved && self.csw_open() => Some(csat.question.clone()),
            _ => None,
        };
        if let Some(question) = &survey {
            let buttons = CSAT_BUTTONS
                .iter()
                .map(|(score, title)| (format!("csat.{score}"), (*title).to_owned()))
                .collect();
            self.send(
                SendPurpose::Csat,
                OutboundContent::Buttons {
                    body: question.clone(),
                    buttons,
                },
                Some(c.id.clone()),
            );
        }
        // CHAN-3: the contact keeps its agent or is unassigned, per the number's closing logic.
        if let Some(agent) = &agent {
            self.s.assignee = match self.settings.closing {
                crate::settings::ClosingLogic::KeepAssignee => Some(agent.clone()),
                crate::settings::ClosingLogic::Unassign => None,
            };
        }
        self.s.last_closed = Some(ClosedConversation {
            id: c.id,
            closed_at: self.now,
            agent,
            csat_pending: survey.is_some(),
        });
    }

    fn csw_open(&self) -> bool {
        self.s.windows.check(self.s.channel, self.now).is_open()
    }

    // ----- timers ----------------------------------------------------------------------------

    fn timer(&mut self, kind: TimerKind, token: u64) {
        match self
            .s
            .timers
            .fire(kind, token, self.now, &mut self.s.next_token)
        {
            Firing::Stale => {}
            Firing::Rearm(wake) => self.effects.push(Effect::ArmTimer(wake)),
            Firing::Due => self.due(kind),
        }
    }

    fn due(&mut self, kind: TimerKind) {
        let handler = self.s.conversation.as_ref().map(|c| c.handler.clone());
        match (kind, handler) {
            (TimerKind::BotInactivity, Some(Handler::Bot { .. })) => {
                self.close(CloseReason::BotTimeout) // AUTO-8
            }
            (TimerKind::AutoClose, Some(Handler::Agent { .. })) => {
                self.close(CloseReason::AutoClose) // AUTO-7
            }
            (TimerKind::NoReplyReminder, Some(Handler::Agent { .. })) => {
                // AUTO-6: once per unanswered stretch.
                let c = self.s.conversation.as_mut().expect("matched above");
                if c.unanswered_since.is_some() && !c.reminded {
                    c.reminded = true;
                    let id = c.id.clone();
                    if let Some(r) = self.settings.reminder.clone() {
                        self.send(SendPurpose::Reminder, r.content, Some(id));
                    }
                }
            }
            (TimerKind::SilentAgent, Some(Handler::Agent { agent })) => {
                // AUTO-12: back to the queue or the next agent with capacity.
                let c = self.s.conversation.as_ref().expect("matched above");
                if c.unanswered_since.is_some() {
                    let id = c.id.clone();
                    self.s.timers.clear(TimerKind::NoReplyReminder);
                    self.effects.push(Effect::ReleaseAgent {
                        agent: agent.clone(),
                        conversation: id,
                    });
                    self.enter_unassigned(Some(agent));
                }
            }
            (TimerKind::CampaignResponse, _) => {
                if let Some(ci) = self.s.campaign.take() {
                    self.effects.push(Effect::CampaignAnswer {
                        campaign: ci.campaign,
                        outreach: ci.outreach,
                        outcome: CampaignOutcome::TimedOut,
                    });
                }
            }
            (TimerKind::SnoozeWake, Some(_)) => self.wake_snoozed(), // AUTO-10
            (TimerKind::WindowNudge, Some(_)) => self.nudge(),
            _ => {}
        }
    }

    /// AUTO-11: once per window, while the conversation is open and the CSW still is.
    fn nudge(&mut self) {
        let anchor = self.s.windows.last_inbound_at;
        let Some(c) = self.s.conversation.as_mut() else {
            return;
        };
        if c.status != ConversationStatus::Open || c.nudged_for == anchor {
            return;
        }
        c.nudged_for = anchor;
        let id = c.id.clone();
        if self.csw_open()
            && let Some(n) = self.settings.nudge.clone()
        {
            self.send(SendPurpose::Nudge, n.content, Some(id));
        }
    }

    fn set_timer(&mut self, kind: TimerKind, at: Timestamp) {
        if let Some(wake) = self.s.timers.set(kind, at, &mut self.s.next_token) {
            self.effects.push(Effect::ArmTimer(wake));
        }
    }

    // ----- business side ---------------------------------------------------------------------

    /// CAMP-3, CAMP-7: a campaign's outreach reached this contact; the interaction opens.
    fn outreach_sent(&mut self, record: &OutreachRecord) {
        self.s.windows.record_business_message(record.sent_at);
        let Some(link) = &record.campaign else {
            return;
        };
        if let Some(open) = &self.s.campaign {
            if open.outreach == record.id {
                return; // delivered twice
            }
            // A newer campaign outreach supersedes an interaction that never got its answer.
            let old = self.s.campaign.take().expect("checked above");
            self.effects.push(Effect::CampaignAnswer {
                campaign: old.campaign,
                outreach: old.outreach,
                outcome: CampaignOutcome::TimedOut,
            });
        }
        let respond_by = record.sent_at + link.response_timeout;
        self.s.campaign = Some(CampaignInteraction {
            campaign: link.campaign.clone(),
            outreach: record.id.clone(),
            sent_at: record.sent_at,
            respond_by,
            hand_off: link.hand_off.clone(),
            buttons: record.buttons.clone(),
        });
        self.set_timer(TimerKind::CampaignResponse, respond_by);
    }

    fn assigned(&mut self, agent: &AgentId, conversation: &ConversationId, request: u64) {
        let current = self.s.conversation.as_ref();
        match current.map(|c| (&c.id, &c.handler)) {
            Some((id, Handler::Unassigned { request: r, .. }))
                if id == conversation && *r == request =>
            {
                self.take(agent.clone());
            }
            // Delivered twice: already done.
            Some((id, Handler::Agent { agent: a })) if id == conversation && a == agent => {}
            // The conversation moved on (closed, claimed): give the capacity back.
            _ => self.effects.push(Effect::ReleaseAgent {
                agent: agent.clone(),
                conversation: conversation.clone(),
            }),
        }
    }

    /// The agent takes the current conversation (assignment, claim, transfer target).
    fn take(&mut self, agent: AgentId) {
        let Some(c) = self.s.conversation.as_mut() else {
            return;
        };
        c.handler = Handler::Agent {
            agent: agent.clone(),
        };
        c.agent_involved = true;
        let id = c.id.clone();
        let unanswered = c.unanswered_since;
        self.s.assignee = Some(agent.clone());
        self.notice(&id, Notice::AssignedTo { agent });
        self.s.timers.clear(TimerKind::BotInactivity);
        // The reminder clock runs from when an agent has the conversation.
        if unanswered.is_some() {
            self.arm_agent_clocks(self.now);
        }
    }

    fn queued(&mut self, position: u32, conversation: &ConversationId, request: u64) {
        let Some(c) = self.s.conversation.as_mut() else {
            return;
        };
        if &c.id != conversation {
            return;
        }
        let Handler::Unassigned {
            position: p,
            request: r,
        } = &mut c.handler
        else {
            return;
        };
        if *r != request {
            return; // an answer to an older request
        }
        if p.is_some() {
            return; // one answer per request: delivered twice
        }
        *p = Some(position);
        let id = c.id.clone();
        self.notice(&id, Notice::Queued { position });
        // AUTO-3 / AUTO-13: no agent took it: the conversation really waits.
        if let Some(reply) = self.settings.unassigned_reply.clone() {
            self.send(SendPurpose::UnassignedReply, reply, Some(id.clone()));
        }
        if let Some(q) = &self.settings.queue_message {
            let text = q.text.replace("{position}", &position.to_string());
            self.send(
                SendPurpose::QueuePosition,
                OutboundContent::text(text),
                Some(id),
            );
        }
    }

    fn agent_action(&mut self, action: &AgentAction) {
        match action {
            AgentAction::Send {
                agent,
                content,
                recontact_if_closed,
            } => self.agent_send(agent, content, *recontact_if_closed),
            AgentAction::Close { agent } => {
                if self.acts_on_current(agent) {
                    self.close(CloseReason::Agent);
                }
            }
            AgentAction::Claim { agent } => {
                if let Some(Conversation {
                    id,
                    handler: Handler::Unassigned { .. } | Handler::Bot { .. },
                    ..
                }) = self.s.conversation.as_ref()
                {
                    let id = id.clone();
                    self.effects.push(Effect::LeaveQueue {
                        conversation: id.clone(),
                    });
                    self.effects.push(Effect::TakeCapacity {
                        agent: agent.clone(),
                        conversation: id,
                    });
                    self.take(agent.clone());
                }
            }
            AgentAction::Transfer { from, to } => {
                if self.s.agent() == Some(from) && from != to {
                    let id = self.current_id();
                    self.effects.push(Effect::ReleaseAgent {
                        agent: from.clone(),
                        conversation: id.clone(),
                    });
                    self.effects.push(Effect::TakeCapacity {
                        agent: to.clone(),
                        conversation: id,
                    });
                    self.take(to.clone());
                }
            }
            AgentAction::Snooze { agent, until } => {
                if self.acts_on_current(agent) && *until > self.now {
                    let c = self.s.conversation.as_mut().expect("checked");
                    c.status = ConversationStatus::Snoozed { until: *until };
                    let id = c.id.clone();
                    self.notice(&id, Notice::Snoozed { until: *until });
                    self.set_timer(TimerKind::SnoozeWake, *until); // AUTO-10
                }
            }
        }
    }

    /// An agent acts on the current conversation only when it is theirs or nobody's.
    fn acts_on_current(&self, agent: &AgentId) -> bool {
        match self.s.conversation.as_ref().map(|c| &c.handler) {
            Some(Handler::Agent { agent: a }) => a == agent,
            Some(_) => true,
            None => false,
        }
    }

    fn agent_send(&mut self, agent: &AgentId, content: &OutboundContent, recontact: bool) {
        // WIN-5, CHAN-1: decided now; the sender checks again at send time (SEND-1).
        let may = crate::sending::may_go(
            self.s.channel,
            self.s.windows.last_inbound_at,
            content.kind(),
            Sender::Agent,
            recontact,
            self.now,
        );
        if let crate::sending::MayGo::Refuse(reason) = may {
            if let Some(id) = self.s.conversation.as_ref().map(|c| c.id.clone()) {
                self.notice(&id, Notice::SendRefused { reason });
            }
            return;
        }
        if let Some(Handler::Agent { agent: other }) =
            self.s.conversation.as_ref().map(|c| &c.handler)
            && other != agent
        {
            let id = self.current_id();
            self.notice(
                &id,
                Notice::SendRefused {
                    reason: format!("the conversation is assigned to {other}"),
                },
            );
            return;
        }
        self.wake_snoozed();
        match self.s.conversation.as_ref().map(|c| c.handler.clone()) {
            None => {
                // CHAN-2: reopening by an outbound message assigns the contact to the sender.
                let id = self.open(Origin::AgentOutbound, self.now);
                self.effects.push(Effect::TakeCapacity {
                    agent: agent.clone(),
                    conversation: id,
                });
                self.take(agent.clone());
            }
            Some(Handler::Unassigned { .. } | Handler::Bot { .. }) => {
                let id = self.current_id();
                self.effects.push(Effect::LeaveQueue {
                    conversation: id.clone(),
                });
                self.effects.push(Effect::TakeCapacity {
                    agent: agent.clone(),
                    conversation: id,
                });
                self.take(agent.clone());
            }
            Some(Handler::Agent { .. }) => {}
        }
        let id = self.current_id();
        let c = self.s.conversation.as_mut().expect("opened above");
        c.last_agent_at = Some(self.now);
        c.unanswered_since = None;
        c.unanswered_count = 0;
        c.reminded = false;
        self.s.timers.clear(TimerKind::NoReplyReminder);
        self.s.timers.clear(TimerKind::SilentAgent);
        self.s.windows.record_business_message(self.now);
        self.effects.push(Effect::Send(SendRequest {
            purpose: SendPurpose::Agent,
            content: content.clone(),
            conversation: Some(id),
            recontact_if_closed: recontact,
        }));
        // AUTO-7: the customer now has `auto_close_after` to answer.
        if let Some(after) = self.settings.auto_close_after {
            self.set_timer(TimerKind::AutoClose, self.now + after);
        }
    }

    // ----- helpers ---------------------------------------------------------------------------

    fn send(
        &mut self,
        purpose: SendPurpose,
        content: OutboundContent,
        conversation: Option<ConversationId>,
    ) {
        // WIN-3: the business answering a referral opens the free entry point window.
        self.s.windows.record_business_message(self.now);
        self.effects.push(Effect::Send(SendRequest {
            purpose,
            content,
            conversation,
            recontact_if_closed: false,
        }));
    }

    /// MEDIA-1: a failed fetch is noted in the conversation the customer is in, or the one
    /// that just closed; a contact with neither has no log to show it in (the file's record
    /// keeps the reason).
    fn media_not_fetched(&mut self, message: &MessageId, kind: MediaKind, reason: &str) {
        let conversation = match (&self.s.conversation, &self.s.last_closed) {
            (Some(c), _) => c.id.clone(),
            (None, Some(closed)) => closed.id.clone(),
            (None, None) => return,
        };
        self.notice(
            &conversation,
            Notice::MediaNotFetched {
                message: message.clone(),
                kind,
                reason: reason.to_owned(),
            },
        );
    }

    fn notice(&mut self, conversation: &ConversationId, notice: Notice) {
        self.log.push(LogEntry::Notice {
            conversation: conversation.clone(),
            at: self.now,
            notice,
        });
    }

    fn current_id(&self) -> ConversationId {
        self.s
            .conversation
            .as_ref()
            .map(|c| c.id.clone())
            .expect("called only with a current conversation")
    }
}

fn parse_csat(id: &str) -> Option<u8> {
    let score = id.strip_prefix("csat.")?.parse::<u8>().ok()?;
    CSAT_BUTTONS
        .iter()
        .any(|(s, _)| *s == score)
        .then_some(score)
}

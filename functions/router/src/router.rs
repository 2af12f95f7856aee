//! The router's core: one event in, decided once, committed once, its effects executed
//! idempotently.
//!
//! | effect | executed as | idempotent because |
//! |---|---|---|
//! | `Send` | a [`SendJob`] on the outbound queue, key = the outbox effect id | the sender claims the key before it sends |
//! | `ArmTimer` | [`TimerPort::arm`] (or straight onto the inbound queue when overdue) | one schedule per (contact, kind); a repeat re-arms the same deadline and token |
//! | `RequestAgent` | choose an agent, take its capacity keyed by the effect id; else enqueue; the answer is a follow-up event | capacity ops are keyed; `enqueue` keeps the place; the answer has a derived key and a dedup marker |
//! | `TakeCapacity` / `ReleaseAgent` | keyed capacity ops; AUTO-5 claims the queue head for the agent, keyed, and puts `AgentAssigned` in that contact's lane | keyed; the lane event's key is derived |
//! | `LeaveQueue` | remove from the number's queue | removing twice is a no-op |
//! | `CampaignAnswer` | a [`CampaignResult`] on the outbound queue for the sender (it owns the campaign rows) | keyed by the effect id |
//! | `RecordCsat` | written with the commit as a `CsatAnswered` notice in the message log | part of the commit |
//!
//! The outbox is not marked done after a first, successful execution: the next commit of the
//! contact replaces it anyway, and marking it would be a third DynamoDB write per message (goal
//! P3 allows two). A redelivered event whose outbox is still pending re-executes it, which the
//! table above makes harmless, and then marks it done.

use crate::translate::{self, Lane, TranslateError};
use queue::{
    CampaignResult, Destination, Envelope, EventQueue, OutboundJob, QueueError, SendJob, SendOrigin,
};
use rules::agents::choose_agent;
use rules::outreach::OutreachKey;
use rules::{
    AgentId, BusinessNumberId, ContactState, ConversationId, Effect, EventKey, LogEntry, Notice,
    NumberSettings, Timestamp,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use store::{
    AgentStore, Commit, CommitOutcome, ContactStore, LoadedContact, LogRecord, Outbox, QueueEntry,
    QueueStore, SettingsStore, StoreError, Versioned,
};
use timers::{ArmError, TimerPort, arm_or_deliver};

/// How many times one event is decided again after version conflicts before the record fails
/// (and SQS retries it later).
const MAX_ATTEMPTS: usize = 8;
/// Follow-up events (agent request answers) one event may lead to.
const MAX_FOLLOW_UPS: usize = 8;
/// How often an agent request retries when the chosen agent filled up meanwhile.
const AGENT_TRIES: usize = 4;

/// OPS-2's router metrics (EMF, see `aws_wiring::telemetry`). `QueuedConversations`, by
/// `number` (the business number's id): the number's queue length each time a conversation
/// joins it (its position; no extra read), so the period's maximum is the queue's peak.
pub const QUEUED_CONVERSATIONS: &str = "QueuedConversations";
/// Agents' sends refused in the lane because the window is closed, by `reason`
/// ([`rules::sending::window_refusal`]'s label); the sender counts the same metric at send time.
pub const WINDOW_REFUSALS: &str = "WindowRefusals";

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The record can never be applied (not a contact event, bad ids): it goes to the DLQ.
    #[error("event {key}: {source}")]
    Unusable {
        key: String,
        #[source]
        source: TranslateError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Timer(#[from] ArmError),
    #[error("event {key}: still conflicting after {MAX_ATTEMPTS} attempts")]
    Contended { key: String },
    #[error("event {key}: more than {MAX_FOLLOW_UPS} follow-up events")]
    RunawayFollowUps { key: String },
}

impl RouterError {
    /// Retrying cannot help (the record belongs in the dead-letter queue).
    pub fn is_permanent(&self) -> bool {
        matches!(self, RouterError::Unusable { .. })
    }
}

/// What [`Router::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Decided and committed; `effects` executed (including follow-ups' effects).
    Decided { effects: usize, follow_ups: usize },
    /// Applied before and finished: nothing changed.
    Duplicate,
    /// Applied before, but its effects were still pending: executed them (again).
    Resumed { effects: usize },
}

/// The router over its ports: the store, the queues (inbound for lane events, outbound for
/// sends) and the timers. Cheap to share behind an `Arc`.
pub struct Router<S, Q, T> {
    store: S,
    queue: Q,
    timers: T,
    /// Swapped when the key rotates ([`Router::set_outreach_key`]).
    outreach_key: std::sync::RwLock<Arc<OutreachKey>>,
    settings: SettingsCache,
    /// MEDIA-1: put a fetch job on the media queue for every inbound media message.
    fetch_media: bool,
}

/// Number settings, read once per number and kept for `ttl` (the router must not read them per
/// message). A number without settings runs on `NumberSettings::new` (every automation off).
struct SettingsCache {
    ttl: std::time::Duration,
    entries: Mutex<HashMap<BusinessNumberId, (Arc<NumberSettings>, Instant)>>,
}

/// The event being decided: from the queue, or a follow-up the router made.
enum Source<'a> {
    Queued(&'a whatsapp::Event),
    FollowUp(&'a rules::Event),
}

enum Step {
    Committed {
        state: Versioned<ContactState>,
        outbox: Outbox,
    },
    Duplicate,
}

impl<S, Q, T> Router<S, Q, T>
where
    S: ContactStore + SettingsStore + AgentStore + QueueStore,
    Q: EventQueue,
    T: TimerPort,
{
    pub fn new(store: S, queue: Q, timers: T, outreach_key: OutreachKey) -> Self {
        Router {
            store,
            queue,
            timers,
            outreach_key: std::sync::RwLock::new(Arc::new(outreach_key)),
            settings: SettingsCache {
                ttl: std::time::Duration::from_secs(60),
                entries: Mutex::default(),
            },
            fetch_media: false,
        }
    }

    /// MEDIA-1: queue a fetch job ([`queue::FetchJob`]) on `Destination::Media` for every inbound
    /// image, audio, video, document and sticker (off by default: the local runner queues its
    /// own).
    pub fn fetch_media(mut self) -> Self {
        self.fetch_media = true;
        self
    }

    /// MEDIA-1: the event's fetch job, queued before the event is applied (beside the contact's
    /// load, so it adds no wait), so that a retried event queues it again rather than never; the
    /// fetcher recognises a repeat. A message without media costs nothing.
    async fn queue_media_fetch(&self, event: &whatsapp::Event) -> Result<(), RouterError> {
        if !self.fetch_media {
            return Ok(());
        }
        match queue::FetchJob::of_event(event) {
            Some(job) => Ok(self
                .queue
                .send(Destination::Media, vec![job.envelope(0)])
                .await?),
            None => Ok(()),
        }
    }

    /// How long number settings are cached (default 60 s; the local runner, whose console
    /// writes them in the same process, uses a short one).
    pub fn settings_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.settings.ttl = ttl;
        self
    }

    /// Uses `key` from the next event on (a rotated outreach key, with the previous one for its
    /// grace period: OUT-8).
    pub fn set_outreach_key(&self, key: OutreachKey) {
        *self.outreach_key.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }

    /// OPS-3: an event key as a log line shows it (a timer's embeds the contact's wa_id).
    fn log_id(&self, key: &str) -> String {
        self.outreach_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .log_id(key)
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Applies one inbound event at `now`.
    pub async fn apply(
        &self,
        event: &whatsapp::Event,
        now: Timestamp,
    ) -> Result<Applied, RouterError> {
        let unusable = |source: TranslateError| RouterError::Unusable {
            key: event.key.clone(),
            source,
        };
        let key = EventKey::new(event.key.clone()).map_err(|e| unusable(e.into()))?;
        let lane = translate::lane_of(event).map_err(unusable)?;
        let settings = self.settings(&lane.number).await?;
        let (loaded, ()) = futures_util::try_join!(
            async {
                Ok::<_, RouterError>(
                    self.store
                        .load_contact(&lane.number, &lane.contact, now)
                        .await?,
                )
            },
            self.queue_media_fetch(event),
        )?;
        if pending_for(&loaded, &key) {
            return self.resume(&lane, &settings, loaded, now).await;
        }
        match self
            .decide_and_commit(&lane, &settings, loaded, &key, Source::Queued(event), now)
            .await?
        {
            Step::Committed { state, outbox } => {
                let (effects, follow_ups) = self
                    .finish(&lane, &settings, state, outbox, now, false)
                    .await?;
                tracing::debug!(event = %self.log_id(key.as_str()), effects, follow_ups, "event applied");
                Ok(Applied::Decided {
                    effects,
                    follow_ups,
                })
            }
            Step::Duplicate => {
                let loaded = self
                    .store
                    .load_contact(&lane.number, &lane.contact, now)
                    .await?;
                if pending_for(&loaded, &key) {
                    return self.resume(&lane, &settings, loaded, now).await;
                }
                tracing::info!(event = %self.log_id(key.as_str()), "duplicate event ignored");
                Ok(Applied::Duplicate)
            }
        }
    }

    /// Re-executes the pending outbox of an event committed before (a redelivery after a
    /// crash or a failed effect), then marks it done.
    async fn resume(
        &self,
        lane: &Lane,
        settings: &NumberSettings,
        loaded: LoadedContact,
        now: Timestamp,
    ) -> Result<Applied, RouterError> {
        let (Some(state), Some(outbox)) = (loaded.state, loaded.outbox) else {
            return Ok(Applied::Duplicate);
        };
        let key = outbox.event_key.clone();
        tracing::info!(event = %self.log_id(key.as_str()), "resuming the pending effects of a committed event");
        let (effects, follow_ups) = self
            .finish(lane, settings, state, outbox, now, true)
            .await?;
        if follow_ups == 0 {
            self.store
                .mark_effects_done(&lane.number, &lane.contact, &key)
                .await?;
        }
        Ok(Applied::Resumed { effects })
    }

    async fn settings(&self, number: &BusinessNumberId) -> Result<Arc<NumberSettings>, StoreError> {
        {
            let entries = self
                .settings
                .entries
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((settings, at)) = entries.get(number)
                && at.elapsed() < self.settings.ttl
            {
                return Ok(settings.clone());
            }
        }
        let settings = Arc::new(match self.store.settings(number).await? {
            Some(settings) => settings,
            None => {
                tracing::warn!(%number, "no settings for this number: every automation is off");
                NumberSettings::new(number.clone())
            }
        });
        self.settings
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(number.clone(), (settings.clone(), Instant::now()));
        Ok(settings)
    }

    /// Decides `source` on the loaded state and commits it; re-reads and decides again on a
    /// version conflict.
    async fn decide_and_commit(
        &self,
        lane: &Lane,
        settings: &NumberSettings,
        mut loaded: LoadedContact,
        key: &EventKey,
        source: Source<'_>,
        now: Timestamp,
    ) -> Result<Step, RouterError> {
        let outreach_key = self
            .outreach_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let context = rules::Context {
            settings,
            outreach_key: &outreach_key,
        };
        for _ in 0..MAX_ATTEMPTS {
            let (event, body) = match &source {
                Source::Queued(e) => {
                    translate::rules_event(e, &loaded).map_err(|source| RouterError::Unusable {
                        key: key.to_string(),
                        source,
                    })?
                }
                Source::FollowUp(e) => ((*e).clone(), None),
            };
            let fresh;
            let state = match &loaded.state {
                Some(v) => &v.value,
                None => {
                    fresh = ContactState::new(lane.number.clone(), lane.contact.clone());
                    &fresh
                }
            };
            let mut decision = rules::decide(state, &event, &context, now);
            // The name WhatsApp shows for the contact, kept for the desk (not a decision).
            if let Source::Queued(e) = &source
                && let Some(name) = translate::profile_name(e)
            {
                decision.next.profile_name = Some(name.to_owned());
            }
            let next = decision.next.clone();
            let commit = commit_of(key.clone(), loaded.version(), decision, &event, body, now);
            let outbox = Outbox::new(key, &commit.effects);
            let refusals = window_refusals(&commit.log);
            match self.store.commit(commit).await? {
                CommitOutcome::Committed { version } => {
                    for reason in refusals {
                        metrics::counter!(WINDOW_REFUSALS, "reason" => reason).increment(1);
                    }
                    return Ok(Step::Committed {
                        state: Versioned {
                            version,
                            value: next,
                        },
                        outbox,
                    });
                }
                CommitOutcome::Duplicate => return Ok(Step::Duplicate),
                CommitOutcome::VersionConflict => {
                    tracing::debug!(event = %self.log_id(key.as_str()), "version conflict: deciding again");
                    loaded = self
                        .store
                        .load_contact(&lane.number, &lane.contact, now)
                        .await?;
                }
            }
        }
        Err(RouterError::Contended {
            key: key.to_string(),
        })
    }

    /// Executes `outbox`, then decides and executes the follow-up events it produced, in order.
    /// Returns the effects executed and the follow-ups applied.
    async fn finish(
        &self,
        lane: &Lane,
        settings: &NumberSettings,
        state: Versioned<ContactState>,
        outbox: Outbox,
        now: Timestamp,
        mut repeat: bool,
    ) -> Result<(usize, usize), RouterError> {
        let first = outbox.event_key.to_string();
        let (mut current, mut outbox) = (state, outbox);
        let mut chain: VecDeque<(EventKey, rules::Event)> = VecDeque::new();
        let (mut effects, mut follow_ups) = (0, 0);
        loop {
            chain.extend(self.execute(lane, &outbox, now, repeat).await?);
            effects += outbox.effects.len();
            let Some((key, event)) = chain.pop_front() else {
                return Ok((effects, follow_ups));
            };
            follow_ups += 1;
            if follow_ups > MAX_FOLLOW_UPS {
                return Err(RouterError::RunawayFollowUps { key: first });
            }
            let loaded = LoadedContact {
                state: Some(current.clone()),
                outbox: None,
                outreach: Vec::new(),
            };
            match self
                .decide_and_commit(lane, settings, loaded, &key, Source::FollowUp(&event), now)
                .await?
            {
                Step::Committed {
                    state,
                    outbox: next,
                } => {
                    (current, outbox, repeat) = (state, next, false);
                }
                Step::Duplicate => {
                    // Applied before a crash: finish its effects if they are still pending.
                    let loaded = self
                        .store
                        .load_contact(&lane.number, &lane.contact, now)
                        .await?;
                    match (loaded.is_pending_event(&key), loaded.state, loaded.outbox) {
                        (true, Some(state), Some(pending)) => {
                            (current, outbox, repeat) = (state, pending, true);
                        }
                        (_, Some(state), _) => {
                            current = state;
                            outbox = Outbox::new(&key, &[]);
                        }
                        _ => outbox = Outbox::new(&key, &[]),
                    }
                }
            }
        }
    }

    /// Executes one outbox; returns the follow-up events for this contact. `repeat`: the outbox
    /// may have run before (partly or fully).
    async fn execute(
        &self,
        lane: &Lane,
        outbox: &Outbox,
        now: Timestamp,
        repeat: bool,
    ) -> Result<Vec<(EventKey, rules::Event)>, RouterError> {
        let mut outbound: Vec<Envelope> = Vec::new();
        let mut other_lanes: Vec<Envelope> = Vec::new();
        let mut follow = Vec::new();
        for item in &outbox.effects {
            let id = item.id.as_str();
            match &item.effect {
                Effect::Send(request) => outbound.push(
                    SendJob {
                        key: id.to_owned(),
                        number: lane.number.clone(),
                        contact: lane.contact.clone(),
                        request: request.clone(),
                        origin: SendOrigin::Router {
                            event_key: outbox.event_key.to_string(),
                        },
                        requested_at: now,
                        outreach: None,
                    }
                    .envelope(),
                ),
                Effect::ArmTimer(wake) => {
                    arm_or_deliver(
                        &self.timers,
                        &self.queue,
                        &lane.number,
                        &lane.contact,
                        *wake,
                    )
                    .await?;
                }
                Effect::RequestAgent {
                    conversation,
                    request,
                    preferred,
                    exclude,
                } => {
                    let answer = self
                        .request_agent(
                            lane,
                            id,
                            conversation,
                            *request,
                            preferred.as_ref(),
                            exclude.as_ref(),
                            now,
                            repeat,
                        )
                        .await?;
                    follow.push((derived_key(id, "answer")?, answer));
                }
                Effect::TakeCapacity {
                    agent,
                    conversation,
                } => {
                    // AUTO-5: the agent acted (claim, transfer, reopen): the conversation is
                    // theirs and counts, even over their reception limit.
                    self.store.take_capacity_by_hand(agent, id, now).await?;
                    tracing::debug!(%agent, conversation = %self.log_id(conversation.as_str()), "agent took a conversation by hand");
                }
                Effect::ReleaseAgent {
                    agent,
                    conversation,
                } => {
                    self.store.release_capacity(agent, id, now).await?;
                    if let Some(envelope) = self.offer_next(lane, agent, id, now).await? {
                        other_lanes.push(envelope);
                    }
                    tracing::debug!(%agent, conversation = %self.log_id(conversation.as_str()), "agent released");
                }
                Effect::LeaveQueue { conversation } => {
                    self.store.leave_queue(&lane.number, conversation).await?;
                }
                Effect::CampaignAnswer {
                    campaign,
                    outreach,
                    outcome,
                } => outbound.push(
                    OutboundJob::CampaignResult(CampaignResult {
                        key: id.to_owned(),
                        campaign: campaign.clone(),
                        number: lane.number.clone(),
                        contact: lane.contact.clone(),
                        outreach: outreach.clone(),
                        outcome: outcome.clone(),
                        at: now,
                    })
                    .envelope(),
                ),
                // Kept with the commit (`Notice::CsatAnswered`), exactly once.
                Effect::RecordCsat { .. } => {}
            }
        }
        if !outbound.is_empty() {
            self.queue.send(Destination::Outbound, outbound).await?;
        }
        if !other_lanes.is_empty() {
            self.queue.send(Destination::Inbound, other_lanes).await?;
        }
        Ok(follow)
    }

    /// AUTO-4: the agent with free capacity and the fewest open conversations, else the queue.
    #[allow(clippy::too_many_arguments)]
    async fn request_agent(
        &self,
        lane: &Lane,
        op: &str,
        conversation: &ConversationId,
        request: u64,
        preferred: Option<&AgentId>,
        exclude: Option<&AgentId>,
        now: Timestamp,
        repeat: bool,
    ) -> Result<rules::Event, RouterError> {
        let assigned = |agent: AgentId| rules::Event::AgentAssigned {
            agent,
            conversation: conversation.clone(),
            request,
        };
        if repeat && let Some(agent) = self.store.capacity_taken_by(op).await? {
            // The first run assigned before it crashed; it may have queued first, too.
            self.store.leave_queue(&lane.number, conversation).await?;
            return Ok(assigned(agent));
        }
        for _ in 0..AGENT_TRIES {
            let loads = self.store.agents().await?;
            let Some(agent) = choose_agent(&loads, preferred, exclude).cloned() else {
                break;
            };
            if let Some(agent) = self.store.take_capacity(&agent, op, now).await? {
                if repeat {
                    self.store.leave_queue(&lane.number, conversation).await?;
                }
                return Ok(assigned(agent));
            }
        }
        let position = self
            .store
            .enqueue(&QueueEntry {
                number: lane.number.clone(),
                conversation: conversation.clone(),
                contact: lane.contact.clone(),
                enqueued_at: now,
                request,
            })
            .await?;
        metrics::gauge!(QUEUED_CONVERSATIONS, "number" => lane.number.as_str().to_owned())
            .set(position);
        Ok(rules::Event::Queued {
            position,
            conversation: conversation.clone(),
            request,
        })
    }

    /// AUTO-5: the released agent, if online, takes the oldest queued conversation; its contact
    /// learns it through a lane event.
    async fn offer_next(
        &self,
        lane: &Lane,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> Result<Option<Envelope>, RouterError> {
        let online = self
            .store
            .agents()
            .await?
            .iter()
            .any(|a| &a.agent == agent && a.online);
        if !online {
            return Ok(None);
        }
        let op = format!("{op}:next");
        let Some(entry) = self
            .store
            .claim_queue_head(&lane.number, agent, &op, now)
            .await?
        else {
            return Ok(None);
        };
        let event = whatsapp::lane_event(
            entry.number.as_str(),
            entry.contact.as_str(),
            op,
            rules::Event::AgentAssigned {
                agent: agent.clone(),
                conversation: entry.conversation.clone(),
                request: entry.request,
            },
        );
        Ok(Some(Envelope::of_event(&event)))
    }
}

/// Whether the contact's pending outbox belongs to `key`: its own, or a follow-up's (an agent
/// request's answer, whose key is derived from `key`'s effect ids). Either way the event was
/// committed and its effects may not all have run: a redelivery resumes them.
fn pending_for(loaded: &LoadedContact, key: &EventKey) -> bool {
    loaded.outbox.as_ref().is_some_and(|o| {
        let pending = o.event_key.as_str();
        pending == key.as_str()
            || pending
                .strip_prefix(key.as_str())
                .is_some_and(|rest| rest.starts_with('#'))
    })
}

/// The window refusals among a commit's notices (OPS-2), as metric labels.
fn window_refusals(log: &[LogRecord]) -> Vec<&'static str> {
    log.iter()
        .filter_map(|record| match &record.entry {
            LogEntry::Notice {
                notice: Notice::SendRefused { reason },
                ..
            } => rules::sending::window_refusal(reason),
            _ => None,
        })
        .collect()
}

fn derived_key(id: &str, suffix: &str) -> Result<EventKey, RouterError> {
    let key = format!("{id}:{suffix}");
    EventKey::new(key.clone()).map_err(|e| RouterError::Unusable {
        key,
        source: e.into(),
    })
}

/// The commit of a decision: the log carries the inbound message's content (for the console),
/// and a CSAT answer is recorded as a notice in the same write.
fn commit_of(
    key: EventKey,
    version: Option<u64>,
    decision: rules::Decision,
    event: &rules::Event,
    body: Option<serde_json::Value>,
    now: Timestamp,
) -> Commit {
    let csat: Vec<LogRecord> = decision
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::RecordCsat {
                conversation,
                agent,
                score,
            } => Some(LogRecord {
                entry: LogEntry::Notice {
                    conversation: conversation.clone(),
                    at: now,
                    notice: Notice::CsatAnswered {
                        score: *score,
                        agent: agent.clone(),
                    },
                },
                body: None,
            }),
            _ => None,
        })
        .collect();
    let mut commit = Commit::from_decision(key, version, decision, now);
    if let (rules::Event::Inbound(inbound), Some(body)) = (event, body) {
        for record in &mut commit.log {
            if matches!(&record.entry, LogEntry::Inbound { message, .. } if *message == inbound.id)
            {
                record.body = Some(body.clone());
            }
        }
    }
    commit.log.extend(csat);
    commit
}

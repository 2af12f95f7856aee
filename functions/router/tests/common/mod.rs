//! A support desk around the real router: SQLite store (a temporary file), the in-process queues,
//! the in-process timer wheel behind a call counter, and a manual clock. Customer messages go in
//! as normalised webhook events on the inbound queue; `pump` drains it in FIFO order and fires
//! every wake-up that falls due, like the local runner does. Time moves by `advance`, never by
//! sleeping.
#![allow(dead_code)]

use queue::{CampaignResult, Destination, EventQueue, MemoryQueue, OutboundJob, SendJob};
use router::{Applied, Router};
use rules::campaign::Handoff;
use rules::outreach::{ButtonPayload, CampaignLink, OutreachKey, OutreachRecord};
use rules::recipe::{Next, Recipe, RecipeButton, Step};
use rules::*;
use std::sync::Arc;
use store::{
    AgentStore, ConsoleStore, ContactStore, LoggedMessage, NewOutreach, OutboundStore, QueueStore,
    SettingsStore, SqliteStore,
};
use timers::{Clock, CountingTimers, ManualClock, TimerWheel};
use whatsapp::event::{BusinessNumber, ContactRef};
use whatsapp::{EventBody, InboundMessage, MessageContent};

pub const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
pub const CUSTOMER: &str = "4915123456789";

pub fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

pub fn contact(key: &str) -> ContactKey {
    ContactKey::new(key).unwrap()
}

pub fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

pub fn key() -> OutreachKey {
    OutreachKey::new(b"test-deployment-key".to_vec())
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

pub fn with_bot() -> NumberSettings {
    let mut s = NumberSettings::new(number());
    s.recipe = Some(recipe());
    s
}

pub fn without_bot() -> NumberSettings {
    NumberSettings::new(number())
}

pub type TestRouter = Router<SqliteStore, Arc<Flaky>, Arc<CountingTimers<TimerWheel>>>;

/// The in-process queue, with failures injected on chosen sends (a crash between the commit and
/// the effects, as far as the router can tell).
#[derive(Debug)]
pub struct Flaky {
    pub inner: Arc<MemoryQueue>,
    /// Sends counted from the start; the ones listed here fail.
    sends: std::sync::atomic::AtomicUsize,
    fail_at: std::sync::Mutex<Vec<usize>>,
}

impl Flaky {
    /// Makes the `n`-th send from now fail (1 = the next one).
    pub fn fail_send(&self, n: usize) {
        let now = self.sends.load(std::sync::atomic::Ordering::SeqCst);
        self.fail_at.lock().unwrap().push(now + n);
    }
}

impl EventQueue for Flaky {
    async fn send(
        &self,
        to: Destination,
        envelopes: Vec<queue::Envelope>,
    ) -> Result<(), queue::QueueError> {
        let n = self.sends.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if self.fail_at.lock().unwrap().contains(&n) {
            return Err(queue::QueueError::Unavailable("injected failure".into()));
        }
        self.inner.send(to, envelopes).await
    }
}

pub struct Desk {
    pub router: TestRouter,
    pub store: SqliteStore,
    pub queue: Arc<MemoryQueue>,
    pub flaky: Arc<Flaky>,
    pub timers: Arc<CountingTimers<TimerWheel>>,
    pub clock: ManualClock,
    /// Every send job the router queued, in order.
    pub sent: Vec<SendJob>,
    pub campaign_results: Vec<CampaignResult>,
    /// Every inbound event applied, with what the router did.
    pub applied: Vec<(String, Applied)>,
    /// Failed attempts that were redelivered.
    pub failures: usize,
    seq: u32,
    _dir: TempDir,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Desk {
    pub async fn new(settings: NumberSettings) -> Desk {
        let dir = std::env::temp_dir().join(testkit::unique("router-test"));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(dir.join("switchboard.db")).unwrap();
        store.put_settings(&settings).await.unwrap();
        let queue = Arc::new(MemoryQueue::new());
        let flaky = Arc::new(Flaky {
            inner: queue.clone(),
            sends: Default::default(),
            fail_at: Default::default(),
        });
        let timers = Arc::new(CountingTimers::new(TimerWheel::new()));
        let router = Router::new(store.clone(), flaky.clone(), timers.clone(), key())
            .settings_ttl(std::time::Duration::ZERO);
        Desk {
            router,
            store,
            queue,
            flaky,
            timers,
            clock: ManualClock::new(Timestamp::from_unix(T0)),
            sent: Vec::new(),
            campaign_results: Vec::new(),
            applied: Vec::new(),
            failures: 0,
            seq: 0,
            _dir: TempDir(dir),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub async fn settings(&self, settings: NumberSettings) {
        self.store.put_settings(&settings).await.unwrap();
    }

    pub async fn agent_online(&self, id: &str, capacity: u32) {
        self.store
            .put_agent(&agent(id), capacity, true)
            .await
            .unwrap();
    }

    pub fn next_wamid(&mut self) -> String {
        self.seq += 1;
        format!("wamid.in{}", self.seq)
    }

    /// A normalised customer message event (as ingest queues it).
    pub fn message(
        &mut self,
        from: &str,
        content: MessageContent,
        context: Option<&str>,
    ) -> whatsapp::Event {
        let id = self.next_wamid();
        let context = context.map(|c| {
            serde_json::from_value::<whatsapp::webhook::Context>(
                serde_json::json!({ "id": c, "from": number().as_str() }),
            )
            .unwrap()
        });
        whatsapp::Event {
            key: id.clone(),
            waba_id: "waba-1".into(),
            business: Some(BusinessNumber {
                phone_number_id: number().to_string(),
                display_phone_number: None,
            }),
            body: EventBody::Message(InboundMessage {
                id,
                timestamp: self.now().unix(),
                replaced_timestamp: None,
                contact: ContactRef {
                    key: from.into(),
                    wa_id: Some(from.into()),
                    user_id: None,
                    profile_name: None,
                    username: None,
                },
                context,
                referral: None,
                content,
            }),
        }
    }

    /// Puts `event` on the inbound queue in its contact's group.
    pub async fn queue_event(&self, event: &whatsapp::Event) {
        let whatsapp::Route::Inbound { group } = event.route() else {
            panic!("not an inbound event");
        };
        self.queue
            .send(
                Destination::Inbound,
                vec![queue::Envelope {
                    key: event.key.clone(),
                    group: Some(group),
                    body: serde_json::to_string(event).unwrap(),
                }],
            )
            .await
            .unwrap();
    }

    /// Queues the event and runs the desk until nothing is left to do.
    pub async fn send_in(&mut self, event: whatsapp::Event) {
        self.queue_event(&event).await;
        self.pump().await;
    }

    pub async fn text_from(&mut self, from: &str, body: &str) {
        let event = self.message(from, MessageContent::Text { body: body.into() }, None);
        self.send_in(event).await;
    }

    pub async fn text(&mut self) {
        self.text_from(CUSTOMER, "hello").await;
    }

    /// The customer presses button `index` of the bot's step `step`.
    pub async fn press_bot(&mut self, step: &str, index: usize) {
        let id = rules::recipe::button_id(step, index);
        let event = self.message(
            CUSTOMER,
            MessageContent::ButtonReply(
                serde_json::from_value(serde_json::json!({ "id": id, "title": "x" })).unwrap(),
            ),
            None,
        );
        self.send_in(event).await;
    }

    /// The customer presses quick reply `button` of `outreach` (a template `button` message).
    pub async fn press(&mut self, outreach: &OutreachRecord, button: u8) {
        let payload = ButtonPayload {
            outreach: outreach.id.clone(),
            sent_at: outreach.sent_at,
            button,
        }
        .encode(&key())
        .unwrap();
        let text = outreach
            .buttons
            .get(usize::from(button))
            .cloned()
            .unwrap_or_default();
        let event = self.message(
            CUSTOMER,
            MessageContent::Button { payload, text },
            Some(outreach.wamid.as_str()),
        );
        self.send_in(event).await;
    }

    /// The customer writes, quoting `wamid`.
    pub async fn reply_to(&mut self, wamid: &str) {
        let event = self.message(
            CUSTOMER,
            MessageContent::Text {
                body: "about this".into(),
            },
            Some(wamid),
        );
        self.send_in(event).await;
    }

    /// An agent's console action, as the console queues it (a lane event).
    pub async fn agent_action(&mut self, key: &str, action: AgentAction) {
        let event = whatsapp::lane_event(
            number().as_str(),
            CUSTOMER,
            key.into(),
            rules::Event::Agent(action),
        );
        self.send_in(event).await;
    }

    pub async fn agent_send(&mut self, who: &str, text: &str) {
        self.seq += 1;
        let key = format!("console:{}", self.seq);
        self.agent_action(
            &key,
            AgentAction::Send {
                agent: agent(who),
                content: OutboundContent::text(text),
                recontact_if_closed: false,
            },
        )
        .await;
    }

    pub async fn agent_close(&mut self, who: &str) {
        self.seq += 1;
        let key = format!("console:{}", self.seq);
        self.agent_action(&key, AgentAction::Close { agent: agent(who) })
            .await;
    }

    /// Drains the inbound queue in FIFO order (and the outbound queue into `sent`), firing
    /// due wake-ups, until nothing is left.
    pub async fn pump(&mut self) {
        loop {
            let mut work: Vec<whatsapp::Event> = self
                .queue
                .take(Destination::Inbound)
                .into_iter()
                .map(|e| serde_json::from_str(&e.body).unwrap())
                .collect();
            if work.is_empty() {
                work = self
                    .timers
                    .inner()
                    .due(self.now())
                    .into_iter()
                    .map(|w| w.event())
                    .collect();
            }
            if work.is_empty() {
                break;
            }
            for event in work {
                // SQS redelivers a failed record (FIFO: before anything later in its group).
                let mut tries = 0;
                let applied = loop {
                    match self.router.apply(&event, self.now()).await {
                        Ok(applied) => break applied,
                        Err(error) => {
                            tries += 1;
                            assert!(!error.is_permanent() && tries < 5, "{error}");
                            self.failures += 1;
                        }
                    }
                };
                self.applied.push((event.key.clone(), applied));
            }
        }
        for envelope in self.queue.take(Destination::Outbound) {
            match OutboundJob::parse(&envelope.body).unwrap() {
                OutboundJob::Send(job) => self.sent.push(job),
                OutboundJob::CampaignResult(r) => self.campaign_results.push(r),
                OutboundJob::CampaignTick(_) => panic!("the router never ticks campaigns"),
            }
        }
    }

    /// Moves the clock forward, firing what falls due on the way, in time order.
    pub async fn advance(&mut self, by: Duration) {
        let until = self.now() + by;
        while let Some(next) = self.timers.inner().next_deadline() {
            if next > until {
                break;
            }
            if next > self.now() {
                self.clock.set(next);
            }
            self.pump().await;
        }
        self.clock.set(until);
        self.pump().await;
    }

    pub async fn state_of(&self, who: &str) -> Option<ContactState> {
        self.store
            .load_contact(&number(), &contact(who), self.now())
            .await
            .unwrap()
            .state
            .map(|v| v.value)
    }

    pub async fn state(&self) -> ContactState {
        self.state_of(CUSTOMER).await.expect("the contact exists")
    }

    pub async fn handler(&self) -> Option<Handler> {
        self.state().await.conversation.map(|c| c.handler)
    }

    pub async fn conversation(&self) -> Option<ConversationId> {
        self.state().await.conversation.map(|c| c.id)
    }

    /// Purposes of the sends queued for `who`, in order.
    pub fn purposes_for(&self, who: &str) -> Vec<SendPurpose> {
        self.sent
            .iter()
            .filter(|j| j.contact.as_str() == who)
            .map(|j| j.request.purpose)
            .collect()
    }

    pub fn purposes(&self) -> Vec<SendPurpose> {
        self.purposes_for(CUSTOMER)
    }

    pub fn texts(&self) -> Vec<String> {
        self.sent
            .iter()
            .filter_map(|j| match &j.request.content {
                OutboundContent::Text { body } => Some(body.clone()),
                OutboundContent::Buttons { body, .. } => Some(body.clone()),
                _ => None,
            })
            .collect()
    }

    /// The contact's message log, oldest first.
    pub async fn log(&self) -> Vec<LoggedMessage> {
        let mut page = self
            .store
            .message_log(&number(), &contact(CUSTOMER), 200, None)
            .await
            .unwrap()
            .items;
        page.reverse();
        page
    }

    pub async fn notices(&self) -> Vec<Notice> {
        self.log()
            .await
            .into_iter()
            .filter_map(|m| match m.record.entry {
                LogEntry::Notice { notice, .. } => Some(notice),
                _ => None,
            })
            .collect()
    }

    pub async fn open_count(&self, who: &str) -> u32 {
        self.store
            .agents()
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.agent.as_str() == who)
            .map(|a| a.open)
            .unwrap_or(0)
    }

    pub async fn queue_len(&self) -> usize {
        self.store.queue_head(&number(), 100).await.unwrap().len()
    }

    /// An outreach sent to the customer at `sent_at` (recorded as the sender does).
    pub async fn outreach(&self, id: &str, sent_at: Timestamp) -> OutreachRecord {
        self.outreach_with(id, sent_at, None).await
    }

    pub async fn campaign_outreach(
        &self,
        id: &str,
        sent_at: Timestamp,
        timeout: Duration,
        hand_off: Handoff,
    ) -> OutreachRecord {
        let link = CampaignLink {
            campaign: CampaignId::new("spring").unwrap(),
            response_timeout: timeout,
            hand_off,
        };
        self.outreach_with(id, sent_at, Some(link)).await
    }

    async fn outreach_with(
        &self,
        id: &str,
        sent_at: Timestamp,
        campaign: Option<CampaignLink>,
    ) -> OutreachRecord {
        let record = OutreachRecord {
            id: OutreachId::new(id).unwrap(),
            wamid: MessageId::new(format!("wamid.out-{id}")).unwrap(),
            template: TemplateName::new("spring_offer").unwrap(),
            sent_at,
            buttons: vec![
                "Phone call".into(),
                "WhatsApp message".into(),
                "Email".into(),
            ],
            campaign,
        };
        self.store
            .put_outreach(
                &number(),
                &contact(CUSTOMER),
                &NewOutreach {
                    expires_at: store::outreach_expires_at(sent_at, Duration::days(30)),
                    record: record.clone(),
                },
            )
            .await
            .unwrap();
        record
    }

    /// The sender tells the contact's lane that an outreach went out (CAMP-3, CAMP-7).
    pub async fn outreach_sent(&mut self, record: &OutreachRecord) {
        let event = whatsapp::lane_event(
            number().as_str(),
            CUSTOMER,
            format!("sent:{}", record.id),
            rules::Event::OutreachSent(record.clone()),
        );
        self.send_in(event).await;
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

//! A sender on the embedded store (a fresh SQLite file), the in-process queues, the Graph API twin
//! and a manual clock; a driver that delivers queued jobs (and delayed ones when they fall due,
//! moving the clock) as SQS would.

use queue::{Destination, Envelope, MemoryQueue, OutreachPlan, SendJob, SendOrigin};
use rules::campaign::{Campaign, CampaignSettings, Handoff, ImportedContact, ListId};
use rules::outreach::OutreachKey;
use rules::pacing::Millis;
use rules::templates::{
    Button, ContactField, ContactFields, Template, TemplateCategory, TemplateStatus,
};
use rules::{
    BusinessNumberId, CampaignId, ContactKey, ContactState, Duration, EventKey, MessageId,
    OutboundContent, OutreachId, PhoneNumber, SendPurpose, SendRequest, TemplateName, Timestamp,
};
use sender::{ManualClock, MemoryGraph, Options, Outcome, RecordedAlerts, Sender};
use std::sync::Arc;
use store::{Commit, ContactStore, SqliteStore, TemplateStore};
use whatsapp::event::{BusinessNumber, DeliveryStatus, Pricing, StatusUpdate};
use whatsapp::{Event, EventBody};

pub const T0: i64 = 1_760_000_000;
pub const WABA: &str = "100000000000001";

pub type TestSender = Sender<SqliteStore, Arc<MemoryQueue>, Arc<MemoryGraph>, ManualClock>;

pub fn t(seconds: i64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds)
}

pub fn number() -> BusinessNumberId {
    BusinessNumberId::new("200000000000001").unwrap()
}

pub fn contact(i: u32) -> ContactKey {
    ContactKey::new(format!("1555{i:07}")).unwrap()
}

pub struct World {
    pub sender: Arc<TestSender>,
    pub store: SqliteStore,
    pub queue: Arc<MemoryQueue>,
    pub graph: Arc<MemoryGraph>,
    pub clock: ManualClock,
    pub alerts: Arc<RecordedAlerts>,
    /// Delayed envelopes not yet due, with their due time.
    pending: std::sync::Mutex<Vec<(Millis, Envelope)>>,
}

pub fn store() -> SqliteStore {
    let dir = std::env::temp_dir().join("switchboard-sender-tests");
    std::fs::create_dir_all(&dir).unwrap();
    SqliteStore::open(dir.join(format!("{}.db", testkit::unique("s")))).unwrap()
}

pub fn world() -> World {
    world_with(store(), Options::default())
}

pub fn world_with(store: SqliteStore, options: Options) -> World {
    let clock = ManualClock::new(t(0));
    let queue = Arc::new(MemoryQueue::new());
    let time = clock.clone();
    let graph = Arc::new(MemoryGraph::new(move || sender::Clock::now_ms(&time)));
    let alerts = Arc::new(RecordedAlerts::default());
    let sender = Arc::new(Sender::new(
        store.clone(),
        queue.clone(),
        graph.clone(),
        clock.clone(),
        alerts.clone(),
        OutreachKey::new(b"test-outreach-key".to_vec()),
        options,
    ));
    World {
        sender,
        store,
        queue,
        graph,
        clock,
        alerts,
        pending: std::sync::Mutex::new(Vec::new()),
    }
}

impl World {
    pub fn now_ms(&self) -> Millis {
        sender::Clock::now_ms(&self.clock)
    }

    /// The contact wrote at `at` (its CSW opens, WIN-1).
    pub async fn inbound(&self, c: &ContactKey, at: Timestamp) {
        let loaded = self.store.load_contact(&number(), c, at).await.unwrap();
        let version = loaded.version();
        let mut state = loaded
            .state
            .map(|s| s.value)
            .unwrap_or_else(|| ContactState::new(number(), c.clone()));
        state.windows.record_inbound(at, false);
        let key = EventKey::new(format!("in:{c}:{}", at.unix())).unwrap();
        self.store
            .commit(Commit {
                event_key: key,
                expected_version: version,
                next: state,
                effects: vec![],
                log: vec![],
                outreach: vec![],
                now: at,
            })
            .await
            .unwrap();
    }

    /// Commits a contact state as the router would.
    pub async fn put_state(&self, state: ContactState, key: &str) {
        let loaded = self
            .store
            .load_contact(&state.number, &state.contact, t(0))
            .await
            .unwrap();
        self.store
            .commit(Commit {
                event_key: EventKey::new(key).unwrap(),
                expected_version: loaded.version(),
                next: state,
                effects: vec![],
                log: vec![],
                outreach: vec![],
                now: t(0),
            })
            .await
            .unwrap();
    }

    pub async fn template(&self, t: &Template) {
        self.store.put_template(&number(), t).await.unwrap();
    }

    pub async fn send(&self, job: SendJob) -> Outcome {
        self.sender.send(job).await.unwrap()
    }

    pub async fn update(&self, event: &Event) -> Outcome {
        self.sender
            .handle_update(&serde_json::to_string(event).unwrap())
            .await
            .unwrap()
    }

    /// Moves queued messages into the driver: immediate ones are due now, delayed ones later.
    fn collect(&self) {
        let now = self.now_ms();
        let mut pending = self.pending.lock().unwrap();
        for e in self.queue.take(Destination::Outbound) {
            pending.push((now, e));
        }
        for (e, delay) in self.queue.take_delayed(Destination::Outbound) {
            pending.push((now + delay.as_millis() as Millis, e));
        }
    }

    /// Delivers outbound messages as SQS would until none is left (moving the clock to each
    /// delayed one's due time), at most `limit` deliveries. Returns the outcomes.
    pub async fn drain(&self, limit: usize) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for _ in 0..limit {
            self.collect();
            let next = {
                let mut pending = self.pending.lock().unwrap();
                if pending.is_empty() {
                    break;
                }
                let i = (0..pending.len())
                    .min_by_key(|&i| pending[i].0)
                    .expect("not empty");
                pending.remove(i)
            };
            if next.0 > self.now_ms() {
                self.clock.set_ms(next.0);
            }
            outcomes.push(self.sender.handle_outbound(&next.1.body).await.unwrap());
        }
        outcomes
    }

    /// The lane events the sender put on the inbound queue.
    pub fn lane_events(&self) -> Vec<Event> {
        self.queue
            .messages(Destination::Inbound)
            .iter()
            .map(|e| serde_json::from_str(&e.body).unwrap())
            .collect()
    }
}

pub fn text_job(key: &str, c: &ContactKey, text: &str) -> SendJob {
    SendJob {
        key: key.into(),
        number: number(),
        contact: c.clone(),
        request: SendRequest {
            purpose: SendPurpose::Bot,
            content: OutboundContent::text(text),
            conversation: None,
            recontact_if_closed: false,
        },
        origin: SendOrigin::Router {
            event_key: format!("wamid.in.{key}"),
        },
        requested_at: t(0),
        outreach: None,
    }
}

pub fn template_job(key: &str, c: &ContactKey, name: &str) -> SendJob {
    SendJob {
        request: SendRequest {
            purpose: SendPurpose::Agent,
            content: OutboundContent::Template {
                name: TemplateName::new(name).unwrap(),
                language: "en_US".into(),
                header: None,
                parameters: vec![],
                button_payloads: vec![],
            },
            conversation: None,
            recontact_if_closed: false,
        },
        origin: SendOrigin::Console { agent: None },
        ..text_job(key, c, "")
    }
}

pub fn outreach_job(key: &str, c: &ContactKey, name: &str) -> SendJob {
    SendJob {
        outreach: Some(OutreachPlan {
            id: OutreachId::new(format!("o-{key}")).unwrap(),
            buttons: vec!["Yes".into(), "No".into()],
            campaign: None,
        }),
        ..template_job(key, c, name)
    }
}

pub fn approved(name: &str, category: TemplateCategory) -> Template {
    let mut t = Template::new(
        TemplateName::new(name).unwrap(),
        "en_US",
        category,
        "Hello, do you want our offer?",
    );
    t.status = TemplateStatus::Approved;
    t.buttons = vec![
        Button::QuickReply { text: "Yes".into() },
        Button::QuickReply { text: "No".into() },
    ];
    t
}

/// A campaign template with one variable mapped to the first name (TPL-3).
pub fn campaign_template(name: &str) -> Template {
    let mut t = approved(name, TemplateCategory::Marketing);
    t.body = "Hello {{1}}, do you want our offer?".into();
    t.mapping.body.insert(1, ContactField::FirstName);
    t
}

pub fn campaign(id: &str, template: &str, retry: bool) -> Campaign {
    Campaign::new(
        CampaignId::new(id).unwrap(),
        CampaignSettings {
            name: id.into(),
            template: TemplateName::new(template).unwrap(),
            language: "en_US".into(),
            lists: vec![ListId::new("list-1").unwrap()],
            starts_at: t(0),
            ends_at: t(30 * 86_400),
            response_timeout: Duration::hours(48),
            retry_enabled: retry,
            handoff: Handoff::default(),
        },
    )
    .unwrap()
}

pub fn imported(range: std::ops::Range<u32>) -> Vec<ImportedContact> {
    range
        .map(|i| {
            let phone = PhoneNumber::parse(&format!("+1555{i:07}")).unwrap();
            ImportedContact {
                row: i + 2,
                contact: contact(i),
                fields: ContactFields {
                    first_name: Some(format!("Name{i}")),
                    phone: Some(phone.as_str().to_owned()),
                    ..ContactFields::default()
                },
                phone,
            }
        })
        .collect()
}

/// A status webhook event for `wamid`.
pub fn status_event(
    wamid: &MessageId,
    status: DeliveryStatus,
    at: Timestamp,
    pricing: Option<(&str, bool, &str)>,
    error: Option<u32>,
    callback: Option<&str>,
) -> Event {
    Event {
        key: format!("{wamid}:{}", status.as_str()),
        waba_id: WABA.into(),
        business: Some(BusinessNumber {
            phone_number_id: number().to_string(),
            display_phone_number: Some("15550100001".into()),
        }),
        body: EventBody::Status(StatusUpdate {
            message_id: wamid.to_string(),
            status,
            timestamp: at.unix(),
            recipient_wa_id: None,
            recipient_user_id: None,
            conversation: None,
            pricing: pricing.map(|(category, billable, kind)| Pricing {
                billable: Some(billable),
                pricing_model: Some(whatsapp::event::PricingModel::Pmp),
                category: Some(category.into()),
                pricing_type: Some(kind.to_owned().into()),
            }),
            errors: error
                .map(|code| {
                    vec![whatsapp::webhook::MetaError {
                        code: Some(code.into()),
                        title: Some(format!("error {code}")),
                        ..Default::default()
                    }]
                })
                .unwrap_or_default(),
            biz_opaque_callback_data: callback.map(str::to_owned),
        }),
    }
}

pub fn wamid_of(outcome: &Outcome) -> MessageId {
    match outcome {
        Outcome::Sent { wamid } => wamid.clone(),
        other => panic!("expected a send, got {other:?}"),
    }
}

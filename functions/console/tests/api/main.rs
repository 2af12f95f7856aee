//! The console driven through its router (`tower::ServiceExt::oneshot`) over the embedded store
//! (SQLite in a temp dir), the in-process queues and the template-submission twin. Each operation
//! and each refusal; tests name the SPEC rule they prove.

mod actions;
mod admin;
mod campaigns;
mod inbox;
mod limits;
mod openapi;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use console::{Console, StaticTokens, SubmitterTwin};
use queue::{Destination, MemoryQueue};
use rules::outreach::OutreachKey;
use rules::state::{Conversation, ConversationStatus, Handler, Origin};
use rules::{
    AgentId, BusinessNumberId, ContactKey, ContactState, ConversationId, EventKey, Timestamp,
};
use serde_json::Value;
use std::sync::Arc;
use store::{Commit, ContactStore, SqliteStore};
use timers::ManualClock;
use tower::ServiceExt;

pub const NUMBER: &str = "106540352242922";
pub const T0: i64 = 1_750_000_000;
pub const ANA: &str = "ana-token-0123456789";
pub const BO: &str = "bo-token-0123456789ab";
pub const BOSS: &str = "boss-token-0123456789";
pub const OUTREACH_KEY: &[u8] = b"console-test-outreach-key";

pub fn t(seconds: i64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds)
}

pub fn number() -> BusinessNumberId {
    BusinessNumberId::new(NUMBER).unwrap()
}

pub fn agent(a: &str) -> AgentId {
    AgentId::new(a).unwrap()
}

pub struct Harness {
    pub app: Router,
    pub store: SqliteStore,
    pub queue: Arc<MemoryQueue>,
    pub submitter: Arc<SubmitterTwin>,
    pub clock: ManualClock,
    planted: std::sync::atomic::AtomicU64,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    /// The error code of an error answer.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

pub fn harness() -> Harness {
    let dir = std::env::temp_dir().join("switchboard-console-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(dir.join(format!("{}.db", uuid::Uuid::new_v4()))).unwrap();
    let queue = Arc::new(MemoryQueue::new());
    let submitter = Arc::new(SubmitterTwin::new());
    let clock = ManualClock::new(t(0));
    let tokens = StaticTokens::new()
        .with(ANA, agent("ana"), console::Role::Agent)
        .with(BO, agent("bo"), console::Role::Agent)
        .with(BOSS, agent("boss"), console::Role::Admin);
    let app = console::app(Console {
        store: store.clone(),
        queue: queue.clone(),
        submitter: submitter.clone(),
        identity: Arc::new(tokens),
        clock: Arc::new(clock.clone()),
        outreach_key: OutreachKey::new(OUTREACH_KEY.to_vec()),
    });
    Harness {
        app,
        store,
        queue,
        submitter,
        clock,
        planted: std::sync::atomic::AtomicU64::new(0),
    }
}

impl Harness {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some((content_type, bytes)) => req
                .header("content-type", content_type)
                .body(Body::from(bytes)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        if status.is_client_error() || status.is_server_error() {
            // Every error is the API's JSON shape.
            assert!(body["error"].is_string(), "{status} {body}");
            assert!(body["message"].is_string(), "{status} {body}");
        }
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), &[], None)
            .await
    }

    pub async fn send(&self, method: Method, path: &str, token: &str, body: Value) -> Reply {
        self.request(
            method,
            path,
            Some(token),
            &[],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, token, body).await
    }

    /// Commits a contact state as the router would (a real conditional commit). Returns the new
    /// version.
    pub async fn plant(&self, contact: &str, build: impl FnOnce(&mut ContactState)) -> u64 {
        let c = ContactKey::new(contact).unwrap();
        let loaded = self.store.load_contact(&number(), &c, t(0)).await.unwrap();
        let mut state = loaded
            .state
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| ContactState::new(number(), c.clone()));
        build(&mut state);
        let n = self
            .planted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = self
            .store
            .commit(Commit {
                event_key: EventKey::new(format!("plant-{contact}-{n}")).unwrap(),
                expected_version: loaded.version(),
                next: state,
                effects: Vec::new(),
                log: Vec::new(),
                outreach: Vec::new(),
                now: t(0),
            })
            .await
            .unwrap();
        match outcome {
            store::CommitOutcome::Committed { version } => version,
            other => panic!("plant: {other:?}"),
        }
    }

    /// The lane events queued on the inbound FIFO: (key, group, rules event).
    pub fn lane_events(&self) -> Vec<(String, String, rules::Event)> {
        self.queue
            .messages(Destination::Inbound)
            .into_iter()
            .map(|e| {
                let event: whatsapp::Event = serde_json::from_str(&e.body).unwrap();
                let whatsapp::EventBody::Lane(lane) = event.body else {
                    panic!("not a lane event: {}", e.body)
                };
                assert_eq!(event.key, e.key);
                (e.key, e.group.unwrap(), lane.event)
            })
            .collect()
    }

    pub fn outbound_jobs(&self) -> Vec<queue::OutboundJob> {
        self.queue
            .messages(Destination::Outbound)
            .into_iter()
            .map(|e| queue::OutboundJob::parse(&e.body).unwrap())
            .collect()
    }
}

/// A conversation held by `handler`, opened at `t(0)`.
pub fn conversation(n: u64, handler: Handler, status: ConversationStatus) -> Conversation {
    Conversation {
        id: ConversationId::new(format!("c#{n}")).unwrap(),
        status,
        handler,
        opened_at: t(0),
        origin: Origin::Inbound,
        last_customer_at: Some(t(0)),
        last_agent_at: None,
        unanswered_since: None,
        unanswered_count: 0,
        reminded: false,
        agent_involved: false,
        nudged_for: None,
        referral: None,
    }
}

pub fn held_by(a: &str) -> Handler {
    Handler::Agent { agent: agent(a) }
}

pub fn queued_handler() -> Handler {
    Handler::Unassigned {
        position: Some(1),
        request: 1,
    }
}

/// A contact who wrote at `t(at)` and whose conversation `handler` holds (open).
pub fn open_with(handler: Handler, at: i64) -> impl FnOnce(&mut ContactState) {
    move |s| {
        s.windows.record_inbound(t(at), false);
        s.conversations_opened += 1;
        s.conversation = Some(conversation(
            s.conversations_opened,
            handler,
            ConversationStatus::Open,
        ));
    }
}

pub fn contact_path(contact: &str) -> String {
    format!("/v1/numbers/{NUMBER}/contacts/{contact}")
}

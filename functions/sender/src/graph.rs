//! The sender's port to Meta's Graph API ([`GraphApi`]): send one message for a business number,
//! get Meta's `wamid` or a failure the sender can classify (SEND-2). The Cloud API client of the
//! WhatsApp crate is its adapter in production; [`MemoryGraph`] is the in-process twin the
//! sender's tests and benchmark use (the end-to-end tests use the real client against the fake
//! Graph API server).

use rules::pacing::Millis;
use rules::send_error::SendFailure;
use rules::{BusinessNumberId, ContactKey, MessageId, OutboundContent};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub to: ContactKey,
    pub content: OutboundContent,
    /// Echoed by Meta in the message's status webhooks (`biz_opaque_callback_data`): the
    /// idempotency key, so a send whose answer was lost is linked to its wamid later.
    pub callback: String,
}

/// How a send failed, as the adapter saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Meta answered with an error object.
    #[error("Meta error {code} ({title}), HTTP {http_status:?}")]
    Api {
        http_status: Option<u16>,
        code: u32,
        title: String,
        message: String,
        details: Option<String>,
    },
    /// An HTTP error without Meta's error body (a gateway's 502).
    #[error("HTTP {status} without a Meta error")]
    Http { status: u16 },
    /// The request may have reached Meta: a timeout after it went out, a connection lost during
    /// the answer, an answer that could not be read. Meta has no idempotency key, so sending again
    /// may send twice.
    #[error("no clear answer from Meta: {reason}")]
    Ambiguous { reason: String },
    /// The request never left (connection refused, name resolution): safe to send again.
    #[error("not sent: {reason}")]
    NotSent { reason: String },
}

impl GraphError {
    /// The failure as SEND-2 classifies it (`None`: ambiguous, handled apart).
    pub fn failure(&self) -> Option<SendFailure> {
        match self {
            GraphError::Api {
                code, http_status, ..
            } => Some(SendFailure::Meta {
                code: *code,
                http_status: *http_status,
            }),
            GraphError::Http { status } => Some(SendFailure::Http { status: *status }),
            // Never reached Meta: a service error, retried with backoff.
            GraphError::NotSent { .. } => Some(SendFailure::Http { status: 503 }),
            GraphError::Ambiguous { .. } => None,
        }
    }

    /// Meta's code and title, kept on the message (SEND-2).
    pub fn code_and_title(&self) -> (Option<u32>, Option<String>) {
        match self {
            GraphError::Api { code, title, .. } => (Some(*code), Some(title.clone())),
            _ => (None, None),
        }
    }
}

/// The port.
pub trait GraphApi: Send + Sync {
    fn send_message(
        &self,
        number: &BusinessNumberId,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<MessageId, GraphError>> + Send;
}

impl<G: GraphApi> GraphApi for std::sync::Arc<G> {
    fn send_message(
        &self,
        number: &BusinessNumberId,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<MessageId, GraphError>> + Send {
        (**self).send_message(number, message)
    }
}

/// The production adapter: the WhatsApp crate's Cloud API client (`POST
/// /{version}/{phone_number_id}/messages` over rustls). The body is `whatsapp::message_body` of
/// the content, with the idempotency key as `biz_opaque_callback_data`.
#[derive(Debug, Clone)]
pub struct CloudGraph {
    client: whatsapp::cloud::CloudClient,
}

impl CloudGraph {
    pub fn new(client: whatsapp::cloud::CloudClient) -> CloudGraph {
        CloudGraph { client }
    }

    /// A client from the sender's configuration.
    /// The Graph API client (to set a rotated access token on it: its clones share the token).
    pub fn client(&self) -> &whatsapp::cloud::CloudClient {
        &self.client
    }

    pub fn from_config(config: &crate::Config) -> Result<CloudGraph, GraphError> {
        use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};
        let settings = CloudConfig {
            graph_url: config.graph_url.clone(),
            version: config.graph_version.clone(),
            ..CloudConfig::new(AccessToken::new(config.access_token.expose()))
        };
        CloudClient::new(settings)
            .map(CloudGraph::new)
            .map_err(|e| GraphError::NotSent {
                reason: e.to_string(),
            })
    }
}

/// The Graph API body of a message: what `whatsapp::outbound` builds (after checking Meta's
/// limits), with the key Meta echoes in the message's statuses.
pub fn request_body(
    message: &OutgoingMessage,
) -> Result<serde_json::Value, whatsapp::OutgoingError> {
    let outgoing = whatsapp::Outgoing::try_from(&message.content)?;
    let mut body = whatsapp::checked_body(message.to.as_str(), &outgoing, None)?;
    if let Some(fields) = body.as_object_mut() {
        fields.insert(
            "biz_opaque_callback_data".into(),
            serde_json::Value::String(message.callback.clone()),
        );
    }
    Ok(body)
}

impl From<whatsapp::cloud::CloudError> for GraphError {
    fn from(e: whatsapp::cloud::CloudError) -> GraphError {
        use whatsapp::cloud::CloudError;
        match e {
            CloudError::Api {
                http_status,
                code,
                title,
                message,
                details,
                ..
            } => match u32::try_from(code) {
                Ok(code) => GraphError::Api {
                    http_status: Some(http_status),
                    code,
                    title: title.unwrap_or_else(|| message.clone()),
                    message,
                    details,
                },
                Err(_) => GraphError::Http {
                    status: http_status,
                },
            },
            CloudError::Http { http_status, .. } => GraphError::Http {
                status: http_status,
            },
            // The message went out; its wamid is unknown until a status names the key.
            CloudError::Ambiguous { reason } | CloudError::Decode { reason } => {
                GraphError::Ambiguous { reason }
            }
            CloudError::NotSent { reason } => GraphError::NotSent { reason },
            // Nothing was attempted and repeating cannot help: a permanent refusal.
            CloudError::Config { reason } => {
                tracing::error!(%reason, "the Graph API client cannot make this request");
                GraphError::Http { status: 400 }
            }
        }
    }
}

impl GraphApi for CloudGraph {
    async fn send_message(
        &self,
        number: &BusinessNumberId,
        message: &OutgoingMessage,
    ) -> Result<MessageId, GraphError> {
        let body = request_body(message).map_err(|e| GraphError::Api {
            http_status: None,
            code: 100,
            title: "invalid parameter".into(),
            message: e.to_string(),
            details: Some(e.field().to_owned()),
        })?;
        let accepted = self.client.send_message(number.as_str(), &body).await?;
        MessageId::new(accepted.wamid).map_err(|e| GraphError::Ambiguous {
            reason: format!("Meta's answer carried no usable wamid: {e}"),
        })
    }
}

/// What the twin does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    /// Fail with this error (nothing is sent).
    Fail(GraphError),
    /// Send it (a wamid is issued and the request counts as delivered to Meta), but answer as if
    /// the answer was lost: the ambiguous case.
    AcceptButLoseAnswer,
}

/// One request the twin received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub number: BusinessNumberId,
    pub message: OutgoingMessage,
    /// When it arrived, by the twin's clock.
    pub at_ms: Millis,
    /// The wamid Meta issued (`None`: refused).
    pub wamid: Option<MessageId>,
}

type TimeSource = Box<dyn Fn() -> Millis + Send + Sync>;

/// The in-process Graph API: issues wamids, records every request with its time, and answers
/// scripted failures (the next requests, or the next requests to one recipient).
pub struct MemoryGraph {
    state: Mutex<GraphState>,
    time: TimeSource,
}

#[derive(Default)]
struct GraphState {
    requests: Vec<Request>,
    next: VecDeque<Scripted>,
    per_recipient: HashMap<ContactKey, VecDeque<Scripted>>,
    issued: u64,
}

impl std::fmt::Debug for MemoryGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryGraph").finish_non_exhaustive()
    }
}

impl MemoryGraph {
    /// `time` stamps each request (a test passes its clock).
    pub fn new(time: impl Fn() -> Millis + Send + Sync + 'static) -> MemoryGraph {
        MemoryGraph {
            state: Mutex::new(GraphState::default()),
            time: Box::new(time),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GraphState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next requests (to anyone) get these answers, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state().next.extend(answers);
    }

    /// The next requests to `to` get these answers, in order (after any general script).
    pub fn script_for(&self, to: &ContactKey, answers: impl IntoIterator<Item = Scripted>) {
        self.state()
            .per_recipient
            .entry(to.clone())
            .or_default()
            .extend(answers);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// The requests Meta took (a wamid was issued).
    pub fn accepted(&self) -> Vec<Request> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.wamid.is_some())
            .cloned()
            .collect()
    }
}

/// Meta's error for a code, as the twin answers it (HTTP status as Meta uses them).
pub fn meta_error(code: u32) -> GraphError {
    let http_status = match code {
        190 => 401,
        10 | 200..=299 => 403,
        4 | 80007 | 130429 | 131056 | 131048 => 429,
        1 | 2 | 131000 | 131016 => 500,
        _ => 400,
    };
    GraphError::Api {
        http_status: Some(http_status),
        code,
        title: format!("error {code}"),
        message: format!("scripted error {code}"),
        details: None,
    }
}

impl GraphApi for MemoryGraph {
    async fn send_message(
        &self,
        number: &BusinessNumberId,
        message: &OutgoingMessage,
    ) -> Result<MessageId, GraphError> {
        let at_ms = (self.time)();
        let mut s = self.state();
        let scripted = match s.next.pop_front() {
            Some(answer) => Some(answer),
            None => s
                .per_recipient
                .get_mut(&message.to)
                .and_then(VecDeque::pop_front),
        };
        let wamid = match &scripted {
            Some(Scripted::Fail(_)) => None,
            _ => {
                s.issued += 1;
                Some(
                    MessageId::new(format!("wamid.SB{:08}", s.issued))
                        .expect("a generated wamid is a valid id"),
                )
            }
        };
        s.requests.push(Request {
            number: number.clone(),
            message: message.clone(),
            at_ms,
            wamid: wamid.clone(),
        });
        match (scripted, wamid) {
            (Some(Scripted::Fail(e)), _) => Err(e),
            (Some(Scripted::AcceptButLoseAnswer), _) => Err(GraphError::Ambiguous {
                reason: "timed out after the request was sent".into(),
            }),
            (None, Some(wamid)) => Ok(wamid),
            (None, None) => Err(GraphError::NotSent {
                reason: "unreachable".into(),
            }),
        }
    }
}

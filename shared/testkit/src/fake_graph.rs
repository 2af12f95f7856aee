//! A fake Graph API: a real HTTP/1.1 server on 127.0.0.1 (random port) that answers the two calls
//! Switchboard makes, the way Meta does, and records every request for assertions.
//!
//! - `POST /{version}/{phone_number_id}/messages` → `{messaging_product, contacts:[{input, wa_id}],
//!   messages:[{id}]}` with a `wamid.…` unique per request (templates also get
//!   `message_status: "accepted"`);
//! - `POST /{version}/{waba_id}/message_templates` → `{id, status: "PENDING", category}`;
//! - `POST /{version}/{phone_number_id}/conversational_automation` → `{success: true}` (at most
//!   3 `prompts` of at most 80 characters, as Meta's v23 specification says; more is code 100);
//! - `Authorization: Bearer <token>` is checked first ([`FAKE_TOKEN`] unless configured): a wrong
//!   or missing token answers 401 with Meta's envelope, code 190;
//! - a body that is not JSON, or lacks what Meta requires (`messaging_product: "whatsapp"`, `to`,
//!   `type` and the object named by `type`; a template's name and language), answers 400 with
//!   code 100, like Meta;
//! - scripted failures ([`FakeGraph::fail_next`], [`FakeGraph::fail_recipient`]) answer one
//!   request each, in order, recipient scripts first: any Meta error ([`FakeFailure::meta`] has
//!   Meta's codes with their texts), a bare gateway status, a hang, or a closed connection.
//!
//! Error envelopes have Meta's shape:
//! `{"error":{"message","type","code","error_subcode"?,"error_user_title"?,
//! "error_data":{"messaging_product":"whatsapp","details"},"fbtrace_id"}}`.

mod media;

pub use media::{FakeMediaFile, FakeUpload};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};

/// The token a [`FakeGraph::start`] server expects.
pub const FAKE_TOKEN: &str = "fake-graph-access-token";

/// A scripted answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeFailure {
    /// Meta's error envelope with this status and code. `error_data.details` is Meta's text for
    /// known codes, else `message`.
    Api {
        http_status: u16,
        code: i64,
        subcode: Option<i64>,
        title: Option<String>,
        message: String,
    },
    /// A status without Meta's envelope, as a gateway in front of Meta would answer (502, 504).
    Bare { http_status: u16 },
    /// Read the request and never answer (the client's timeout: Meta may have sent it).
    Hang,
    /// Read the request and close the connection without answering.
    CloseConnection,
}

/// What Meta answers for the codes SEND-2 names: `(code, http status, title, details)`.
const META_ERRORS: &[(i64, u16, &str, &str)] = &[
    (
        1,
        500,
        "API Unknown",
        "Invalid request or possible server error.",
    ),
    (
        2,
        503,
        "API Service",
        "Temporary due to downtime or due to being overloaded.",
    ),
    (
        4,
        400,
        "API Too Many Calls",
        "The app has reached its API call rate limit.",
    ),
    (
        10,
        403,
        "Permission Denied",
        "Permission is either not granted or has been removed.",
    ),
    (
        100,
        400,
        "Invalid parameter",
        "The request included invalid or unsupported parameters.",
    ),
    (
        190,
        401,
        "Access token has expired",
        "Your access token has expired.",
    ),
    (
        368,
        403,
        "Temporarily blocked for policies violations",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.",
    ),
    (
        80007,
        400,
        "Rate limit issues",
        "The WhatsApp Business Account has reached its rate limit.",
    ),
    (
        130429,
        400,
        "Rate limit hit",
        "Cloud API message throughput has been reached.",
    ),
    (
        130472,
        400,
        "User's number is part of an experiment",
        "Message was not sent as part of an experiment.",
    ),
    (
        131000,
        500,
        "Something went wrong",
        "Message failed to send due to an unknown error.",
    ),
    (
        131005,
        403,
        "Access denied",
        "Permission is either not granted or has been removed.",
    ),
    (
        131008,
        400,
        "Required parameter is missing",
        "The request is missing a required parameter.",
    ),
    (
        131009,
        400,
        "Parameter value is not valid",
        "One or more parameter values are invalid.",
    ),
    (
        131016,
        500,
        "Service unavailable",
        "A service is temporarily unavailable.",
    ),
    (
        131026,
        400,
        "Message Undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the new Terms of Service; the recipient is using an old WhatsApp version.",
    ),
    (
        131031,
        403,
        "Account has been locked",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy, or the data could not be verified.",
    ),
    (
        131042,
        400,
        "Business eligibility payment issue",
        "Message failed to send because there were one or more errors related to your payment method.",
    ),
    (
        131047,
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    (
        131048,
        400,
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.",
    ),
    (
        131049,
        400,
        "Meta chose not to deliver",
        "This message was not delivered to maintain healthy ecosystem engagement.",
    ),
    (
        131056,
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
    ),
    (
        131057,
        500,
        "Account in maintenance mode",
        "Business Account is in maintenance mode.",
    ),
    (
        132000,
        400,
        "Template Param Count Mismatch",
        "The number of variable parameter values included in the request did not match the number of variable parameters defined in the template.",
    ),
    (
        132001,
        404,
        "Template does not exist",
        "The template does not exist in the specified language or the template has not been approved.",
    ),
    (
        132005,
        400,
        "Template Hydrated Text Too Long",
        "Translated text is too long.",
    ),
    (
        132007,
        400,
        "Template Format Character Policy Violated",
        "Template content violates a WhatsApp policy.",
    ),
    (
        132012,
        400,
        "Template Parameter Format Mismatch",
        "Variable parameter values formatted incorrectly.",
    ),
    (
        132015,
        400,
        "Template is Paused",
        "Template is paused due to low quality so it cannot be sent in a template message.",
    ),
    (
        132016,
        400,
        "Template is Disabled",
        "Template has been paused too many times due to low quality and is now permanently disabled.",
    ),
];

impl FakeFailure {
    /// Meta's answer for `code`, with the status and texts Meta uses for it (190 also carries
    /// subcode 463, an expired session). Unknown codes answer 400 with a generic text.
    pub fn meta(code: i64) -> FakeFailure {
        let (http_status, title) = META_ERRORS
            .iter()
            .find(|(c, ..)| *c == code)
            .map(|(_, status, title, _)| (*status, *title))
            .unwrap_or((400, "Unknown error"));
        FakeFailure::Api {
            http_status,
            code,
            subcode: (code == 190).then_some(463),
            title: Some(title.to_string()),
            message: format!("(#{code}) {title}"),
        }
    }
}

/// Meta's error envelope (what the fake answers; also handy for fixtures).
pub fn meta_error_body(
    code: i64,
    subcode: Option<i64>,
    title: Option<&str>,
    message: &str,
    trace: &str,
) -> Value {
    let details = META_ERRORS
        .iter()
        .find(|(c, ..)| *c == code)
        .map_or(message, |(.., details)| *details);
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": { "messaging_product": "whatsapp", "details": details },
        "fbtrace_id": trace,
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    if let Some(title) = title {
        error["error_user_title"] = json!(title);
    }
    json!({ "error": error })
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// The body as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
    pub received_at: Instant,
    pub outcome: Outcome,
}

impl RecordedRequest {
    /// The body's `to`, for messages.
    pub fn to(&self) -> Option<&str> {
        self.body.get("to").and_then(Value::as_str)
    }
}

/// What the fake did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A message accepted with this wamid.
    Sent {
        wamid: String,
    },
    /// A template created with this id.
    TemplateCreated {
        id: String,
    },
    /// A number's conversational automation set.
    AutomationSet,
    /// An error answer; `code` is Meta's when the answer carried the envelope.
    Refused {
        http_status: u16,
        code: Option<i64>,
    },
    Hung,
    Closed,
}

#[derive(Default)]
struct Script {
    next: VecDeque<FakeFailure>,
    by_recipient: HashMap<String, VecDeque<FakeFailure>>,
}

struct State {
    port: u16,
    token: Mutex<String>,
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<Script>,
    counter: AtomicU64,
    accepted: AtomicU64,
    connections: Mutex<Vec<AbortHandle>>,
    /// The media endpoints' files, uploads and scripts (`media.rs`).
    media: media::Media,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the log from the others.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The running fake; stops (every connection too) when dropped.
pub struct FakeGraph {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

/// The service's error: hyper closes the connection without answering.
#[derive(Debug)]
struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted connection close")
    }
}

impl std::error::Error for CloseConnection {}

impl FakeGraph {
    /// Starts a fake expecting [`FAKE_TOKEN`].
    pub async fn start() -> FakeGraph {
        FakeGraph::start_with_token(FAKE_TOKEN).await
    }

    pub async fn start_with_token(token: &str) -> FakeGraph {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Graph API on 127.0.0.1");
        let addr = listener.local_addr().expect("the fake's address");
        let state = Arc::new(State {
            port: addr.port(),
            token: Mutex::new(token.to_string()),
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(Script::default()),
            counter: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            connections: Mutex::new(Vec::new()),
            media: media::Media::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, state.clone()));
        FakeGraph {
            addr,
            state,
            accept,
        }
    }

    /// `http://127.0.0.1:<port>`: the client's `graph_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> String {
        lock(&self.state.token).clone()
    }

    /// Expect another token from now on (a rotated or revoked token).
    pub fn set_token(&self, token: &str) {
        *lock(&self.state.token) = token.to_string();
    }

    /// The next `n` requests (that pass the token and body checks) get `failure`, after the
    /// failures already scripted.
    pub fn fail_next(&self, n: usize, failure: FakeFailure) {
        let mut script = lock(&self.state.script);
        script.next.extend(std::iter::repeat_n(failure, n));
    }

    /// The next `n` messages to `to` get `failure`; checked before [`FakeGraph::fail_next`].
    pub fn fail_recipient(&self, to: &str, n: usize, failure: FakeFailure) {
        let mut script = lock(&self.state.script);
        script
            .by_recipient
            .entry(to.to_string())
            .or_default()
            .extend(std::iter::repeat_n(failure, n));
    }

    /// Every request so far, in the order received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// The messages accepted so far (bodies of the requests that got a wamid).
    pub fn sent(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| matches!(r.outcome, Outcome::Sent { .. }))
            .collect()
    }

    /// TCP connections accepted so far (a client that keeps its connections alive opens few).
    pub fn connections_accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::Relaxed)
    }

    /// Forgets the log and every scripted failure.
    pub fn reset(&self) {
        lock(&self.state.requests).clear();
        *lock(&self.state.script) = Script::default();
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.accept.abort();
        for connection in lock(&self.state.connections).drain(..) {
            connection.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        state.accepted.fetch_add(1, Ordering::Relaxed);
        let service_state = state.clone();
        let connection = tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = service_state.clone();
                async move { answer(&state, request).await }
            });
            // Errors here are the scripted closes and clients going away.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        let mut connections = lock(&state.connections);
        connections.retain(|c| !c.is_finished());
        connections.push(connection.abort_handle());
    }
}

enum Reply {
    Json(u16, Value),
    Bare(u16),
    Hang,
    Close,
}

async fn answer(
    state: &State,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, CloseConnection> {
    let received_at = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    if media::is_media_route(state, &method, &path) {
        return media::answer(state, request).await;
    }
    let authorization = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let bytes = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Err(CloseConnection),
    };
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let n = state.counter.fetch_add(1, Ordering::Relaxed);
    let trace = format!("Afake{}x{n}", state.port);

    let (reply, outcome) = decide(
        state,
        &method,
        &path,
        authorization.as_deref(),
        &body,
        n,
        &trace,
    );
    lock(&state.requests).push(RecordedRequest {
        method,
        path,
        authorization,
        body,
        received_at,
        outcome,
    });
    match reply {
        Reply::Json(status, value) => Ok(respond(status, "application/json", value.to_string())),
        Reply::Bare(status) => Ok(respond(
            status,
            "text/html",
            "<html><body>Bad Gateway</body></html>".into(),
        )),
        Reply::Hang => std::future::pending().await,
        Reply::Close => Err(CloseConnection),
    }
}

fn respond(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn refuse(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    title: Option<&str>,
    message: &str,
    trace: &str,
) -> (Reply, Outcome) {
    (
        Reply::Json(
            status,
            meta_error_body(code, subcode, title, message, trace),
        ),
        Outcome::Refused {
            http_status: status,
            code: Some(code),
        },
    )
}

fn decide(
    state: &State,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &Value,
    n: u64,
    trace: &str,
) -> (Reply, Outcome) {
    let expected = format!("Bearer {}", lock(&state.token));
    if authorization != Some(expected.as_str()) {
        return refuse(
            401,
            190,
            None,
            None,
            "Invalid OAuth access token - Cannot parse access token",
            trace,
        );
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (node, edge) = match segments[..] {
        [version, node, edge] if version.starts_with('v') && !node.is_empty() => (node, edge),
        _ => ("", ""),
    };
    if method != "POST"
        || !matches!(
            edge,
            "messages" | "message_templates" | "conversational_automation"
        )
    {
        return refuse(
            400,
            100,
            Some(33),
            None,
            &format!(
                "Unsupported {method} request. Object with ID '{node}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
            trace,
        );
    }
    let problem = match edge {
        "messages" => message_problem(body),
        "message_templates" => template_problem(body),
        _ => automation_problem(body),
    };
    if let Some(problem) = problem {
        return refuse(400, 100, None, None, &format!("(#100) {problem}"), trace);
    }

    let scripted = {
        let mut script = lock(&state.script);
        let by_recipient = body
            .get("to")
            .and_then(Value::as_str)
            .and_then(|to| script.by_recipient.get_mut(to))
            .and_then(VecDeque::pop_front);
        by_recipient.or_else(|| script.next.pop_front())
    };
    match scripted {
        Some(FakeFailure::Api {
            http_status,
            code,
            subcode,
            title,
            message,
        }) => {
            return refuse(
                http_status,
                code,
                subcode,
                title.as_deref(),
                &message,
                trace,
            );
        }
        Some(FakeFailure::Bare { http_status }) => {
            return (
                Reply::Bare(http_status),
                Outcome::Refused {
                    http_status,
                    code: None,
                },
            );
        }
        Some(FakeFailure::Hang) => return (Reply::Hang, Outcome::Hung),
        Some(FakeFailure::CloseConnection) => return (Reply::Close, Outcome::Closed),
        None => {}
    }

    if edge == "conversational_automation" {
        return (
            Reply::Json(200, json!({ "success": true })),
            Outcome::AutomationSet,
        );
    }
    if edge == "messages" {
        let to = body["to"].as_str().unwrap_or_default();
        let wamid = format!("wamid.FAKE{}x{n:08}", state.port);
        let mut message = json!({ "id": wamid });
        if body["type"] == "template" {
            message["message_status"] = json!("accepted");
        }
        let answer = json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": to, "wa_id": to.trim_start_matches('+') }],
            "messages": [message],
        });
        (Reply::Json(200, answer), Outcome::Sent { wamid })
    } else {
        let id = format!("{}{n:06}", state.port);
        let answer = json!({ "id": id, "status": "PENDING", "category": body["category"] });
        (Reply::Json(200, answer), Outcome::TemplateCreated { id })
    }
}

/// What Meta refuses before looking further: the envelope of every message.
fn message_problem(body: &Value) -> Option<String> {
    if !body.is_object() {
        return Some("The request body is not a JSON object".into());
    }
    if body["messaging_product"] != "whatsapp" {
        return Some("The parameter messaging_product is required and must be whatsapp".into());
    }
    if body["to"].as_str().is_none_or(str::is_empty) {
        return Some("The parameter to is required.".into());
    }
    let Some(kind) = body["type"].as_str() else {
        return Some("The parameter type is required.".into());
    };
    if !body[kind].is_object() {
        return Some(format!("The parameter {kind} is required."));
    }
    if kind == "template"
        && (body["template"]["name"].as_str().is_none()
            || body["template"]["language"]["code"].as_str().is_none())
    {
        return Some(
            "The parameters template.name and template.language.code are required.".into(),
        );
    }
    None
}

/// Meta's limits on conversational automation (`ConversationalAutomationRequest` in its v23
/// specification): at most 3 prompts of at most 80 characters; a boolean welcome flag.
fn automation_problem(body: &Value) -> Option<String> {
    if !body.is_object() {
        return Some("The request body is not a JSON object".into());
    }
    if !(body["enable_welcome_message"].is_null() || body["enable_welcome_message"].is_boolean()) {
        return Some("The parameter enable_welcome_message must be a boolean.".into());
    }
    let prompts = match &body["prompts"] {
        Value::Null => return None,
        Value::Array(prompts) => prompts,
        _ => return Some("The parameter prompts must be an array.".into()),
    };
    if prompts.len() > 3 {
        return Some("Too many prompts provided. Maximum allowed is 3".into());
    }
    if prompts
        .iter()
        .any(|p| p.as_str().is_none_or(|p| p.chars().count() > 80))
    {
        return Some("Prompt text exceeds maximum length of 80 characters".into());
    }
    None
}

fn template_problem(body: &Value) -> Option<String> {
    for field in ["name", "language", "category"] {
        if body[field].as_str().is_none_or(str::is_empty) {
            return Some(format!("The parameter {field} is required."));
        }
    }
    if !body["components"].is_array() {
        return Some("The parameter components is required.".into());
    }
    None
}

#[cfg(test)]
mod tests {
    //! The fake over raw HTTP/1.1, so that its answers are checked without the client under test.

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Sends one request and reads until the server closes or answers in full; `None` when the
    /// connection closed without an answer.
    async fn raw(
        fake: &FakeGraph,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> Option<(u16, Value)> {
        let mut stream = TcpStream::connect(fake.addr).await.unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: graph\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8(answer).unwrap();
        if answer.is_empty() {
            return None;
        }
        let status = answer[9..12].parse().unwrap();
        let json = answer.split("\r\n\r\n").nth(1).unwrap();
        Some((status, serde_json::from_str(json).unwrap_or(Value::Null)))
    }

    const TEXT: &str = r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"15550001111","type":"text","text":{"body":"hi"}}"#;

    #[tokio::test]
    async fn answers_like_meta_and_records_everything() {
        let fake = FakeGraph::start().await;
        let (status, answer) = raw(&fake, "/v23.0/200/messages", Some(FAKE_TOKEN), TEXT)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(answer["contacts"][0]["wa_id"], "15550001111");
        let wamid = answer["messages"][0]["id"].as_str().unwrap().to_string();
        assert!(wamid.starts_with("wamid."));

        let (status, answer) = raw(&fake, "/v23.0/200/messages", Some("wrong"), TEXT)
            .await
            .unwrap();
        assert_eq!((status, answer["error"]["code"].clone()), (401, json!(190)));
        assert_eq!(answer["error"]["type"], "OAuthException");
        assert!(answer["error"]["fbtrace_id"].is_string());

        let (status, answer) = raw(
            &fake,
            "/v23.0/200/messages",
            Some(FAKE_TOKEN),
            r#"{"to":"1"}"#,
        )
        .await
        .unwrap();
        assert_eq!((status, answer["error"]["code"].clone()), (400, json!(100)));
        let (status, _) = raw(&fake, "/v23.0/200/contacts", Some(FAKE_TOKEN), TEXT)
            .await
            .unwrap();
        assert_eq!(status, 400);

        let requests = fake.requests();
        assert_eq!(requests.len(), 4);
        assert_eq!(requests[0].outcome, Outcome::Sent { wamid });
        assert_eq!(requests[0].to(), Some("15550001111"));
        assert_eq!(
            requests[1].outcome,
            Outcome::Refused {
                http_status: 401,
                code: Some(190)
            }
        );
        assert_eq!(fake.sent().len(), 1);
        fake.reset();
        assert!(fake.requests().is_empty());
    }

    #[tokio::test]
    async fn scripted_failures_answer_in_order_then_it_recovers() {
        let fake = FakeGraph::start().await;
        fake.fail_next(1, FakeFailure::meta(131056));
        fake.fail_next(1, FakeFailure::Bare { http_status: 502 });
        fake.fail_next(1, FakeFailure::CloseConnection);
        let (status, answer) = raw(&fake, "/v23.0/200/messages", Some(FAKE_TOKEN), TEXT)
            .await
            .unwrap();
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["code"], 131056);
        assert_eq!(
            answer["error"]["error_user_title"],
            "(Business Account, Consumer Account) pair rate limit hit"
        );
        assert!(
            answer["error"]["error_data"]["details"]
                .as_str()
                .unwrap()
                .starts_with("Too many messages")
        );
        let (status, answer) = raw(&fake, "/v23.0/200/messages", Some(FAKE_TOKEN), TEXT)
            .await
            .unwrap();
        assert_eq!((status, answer), (502, Value::Null));
        assert_eq!(
            raw(&fake, "/v23.0/200/messages", Some(FAKE_TOKEN), TEXT).await,
            None
        );
        let (status, _) = raw(&fake, "/v23.0/200/messages", Some(FAKE_TOKEN), TEXT)
            .await
            .unwrap();
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn a_hang_never_answers() {
        let fake = FakeGraph::start().await;
        fake.fail_next(1, FakeFailure::Hang);
        let answer = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            raw(&fake, "/v23.0/200/messages", Some(FAKE_TOKEN), TEXT),
        )
        .await;
        assert!(answer.is_err(), "answered: {answer:?}");
        assert_eq!(fake.requests()[0].outcome, Outcome::Hung);
    }

    #[tokio::test]
    async fn templates_are_created_pending() {
        let fake = FakeGraph::start().await;
        let body = r#"{"name":"offer","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"Hi"}]}"#;
        let (status, answer) = raw(
            &fake,
            "/v23.0/300/message_templates",
            Some(FAKE_TOKEN),
            body,
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            (answer["status"].clone(), answer["category"].clone()),
            (json!("PENDING"), json!("MARKETING"))
        );
        let (status, _) = raw(
            &fake,
            "/v23.0/300/message_templates",
            Some(FAKE_TOKEN),
            r#"{"name":"x"}"#,
        )
        .await
        .unwrap();
        assert_eq!(status, 400);
    }
}

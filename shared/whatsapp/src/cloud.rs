//! The Graph API client that sends what [`crate::outbound`] builds (cargo feature `cloud`).
//!
//! - `POST {graph_url}/{version}/{phone_number_id}/messages` ([`CloudClient::send_message`]) and
//!   `POST {graph_url}/{version}/{waba_id}/message_templates` ([`CloudClient::create_template`]),
//!   `POST {graph_url}/{version}/{phone_number_id}/conversational_automation`
//!   ([`CloudClient::set_conversational_automation`]), with `Authorization: Bearer <access token>`.
//! - TLS is rustls with the webpki roots compiled in: nothing reads the system's certificate store,
//!   which keeps a Lambda's cold start short. `http://` base URLs work too (tests use a loopback
//!   server). HTTP/1.1 with keep-alive: one [`CloudClient`] (cheap to clone) reuses its
//!   connections.
//! - Proxies from the environment are ignored: the Graph URL is dialled directly.
//! - Logs carry ids (phone number id, wamid, Meta's error code and trace id), never the token, a
//!   body or a recipient.
//!
//! Failures ([`CloudError`]) say what Meta may have done with the request, because Meta's send
//! API has no idempotency key:
//!
//! | variant | what happened | sent? | [`CloudError::retry_safe`] |
//! |---|---|---|---|
//! | `Api` | Meta answered with its error envelope | no | yes |
//! | `Http` | a non-2xx without Meta's envelope (a gateway's 502) | 5xx: maybe; else no | 5xx: no; else yes |
//! | `Ambiguous` | timeout or connection loss after the request was written | maybe | no |
//! | `NotSent` | DNS, refused, connect timeout, TLS handshake | no | yes |
//! | `Decode` | 2xx whose body we cannot read (no wamid) | yes | no |
//! | `Config` | bad base URL, version, token or id | no | yes (but will fail again) |
//!
//! `retry_safe` says only that a retry cannot send a duplicate; whether a retry is worth it is
//! SEND-2's decision ([`CloudError::failure`] gives `rules::send_error` its input).

pub mod media;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use rules::send_error::SendFailure;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_VERSION: &str = "v23.0";
/// The whole request, connect included. Meta answers in well under a second when healthy.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Connecting (DNS, TCP, TLS). A connect timeout is [`CloudError::NotSent`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The system user's access token. Debug never shows it; there is no Display.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(Arc::from(token.into()))
    }

    /// The token itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// Where and how to reach the Graph API. Build with [`CloudConfig::new`] and override fields:
/// `CloudConfig { graph_url, ..CloudConfig::new(token) }`.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// Without the version: `https://graph.facebook.com`, or a local server in tests.
    pub graph_url: String,
    /// `v23.0`.
    pub version: String,
    pub access_token: AccessToken,
    /// The whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Connecting only; should be shorter than `timeout` so that a slow connect is told apart
    /// (as [`CloudError::NotSent`]) from a slow answer ([`CloudError::Ambiguous`]).
    pub connect_timeout: Duration,
}

impl CloudConfig {
    /// Meta's Graph API, `v23.0`, the default timeouts.
    pub fn new(access_token: AccessToken) -> Self {
        CloudConfig {
            graph_url: DEFAULT_GRAPH_URL.to_string(),
            version: DEFAULT_VERSION.to_string(),
            access_token,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Meta accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The message's id (`wamid.…`); its statuses arrive by webhook.
    pub wamid: String,
    /// The recipient's WhatsApp id, when Meta returns it.
    pub wa_id: Option<String>,
    /// `accepted`, `held_for_quality_assessment`, … (templates, when Meta says).
    pub message_status: Option<String>,
}

/// A template submitted for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCreated {
    pub id: String,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    pub category: String,
}

/// Why a call failed; see the module's table for what each says about the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// Meta's error envelope (`{"error":{"code":…}}`).
    #[error("Meta error {code}{} (HTTP {http_status}): {message}", subcode.map(|s| format!("/{s}")).unwrap_or_default())]
    Api {
        http_status: u16,
        code: i64,
        /// `error.error_subcode`.
        subcode: Option<i64>,
        /// `error.error_user_title`.
        title: Option<String>,
        message: String,
        /// `error.error_data.details`, else `error.error_user_msg`.
        details: Option<String>,
        fbtrace_id: Option<String>,
    },
    /// A non-2xx answer without Meta's envelope (a proxy or gateway spoke).
    #[error("HTTP {http_status} without a Meta error: {reason}")]
    Http { http_status: u16, reason: String },
    /// The request went out and no answer came back: Meta may have sent the message.
    #[error("no answer, Meta may have sent it: {reason}")]
    Ambiguous { reason: String },
    /// The request never reached Meta.
    #[error("not sent: {reason}")]
    NotSent { reason: String },
    /// Meta answered 2xx but the body is not a send answer: it was sent, the wamid is unknown.
    #[error("unreadable answer from Meta: {reason}")]
    Decode { reason: String },
    /// The client's configuration or an id in the path is unusable.
    #[error("Graph API client configuration: {reason}")]
    Config { reason: String },
}

impl CloudError {
    /// A retry cannot produce a second message (Meta refused, or never saw the request).
    pub fn retry_safe(&self) -> bool {
        match self {
            CloudError::Api { .. } | CloudError::NotSent { .. } | CloudError::Config { .. } => true,
            CloudError::Http { http_status, .. } => *http_status < 500,
            CloudError::Ambiguous { .. } | CloudError::Decode { .. } => false,
        }
    }

    /// The failure as SEND-2's table reads it (`rules::send_error::classify`). `None` when the
    /// message was sent (`Decode`) or nothing was attempted (`Config`). A refused connection is
    /// read like a timeout: a service error, retried with backoff.
    pub fn failure(&self) -> Option<SendFailure> {
        match self {
            CloudError::Api {
                http_status, code, ..
            } => Some(match u32::try_from(*code) {
                Ok(code) => SendFailure::Meta {
                    code,
                    http_status: Some(*http_status),
                },
                Err(_) => SendFailure::Http {
                    status: *http_status,
                },
            }),
            CloudError::Http { http_status, .. } => Some(SendFailure::Http {
                status: *http_status,
            }),
            CloudError::Ambiguous { .. } | CloudError::NotSent { .. } => Some(SendFailure::Timeout),
            CloudError::Decode { .. } | CloudError::Config { .. } => None,
        }
    }
}

/// The Graph API client. Clones share one connection pool.
#[derive(Clone)]
pub struct CloudClient {
    http: reqwest::Client,
    /// `{graph_url}/{version}`, without a trailing slash.
    base: Arc<str>,
    /// `Bearer <token>`, shared by the clones, replaced when the token rotates.
    authorization: Arc<std::sync::RwLock<HeaderValue>>,
}

impl fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// `Bearer <token>`, marked sensitive.
fn bearer(token: &AccessToken) -> Result<HeaderValue, CloudError> {
    let token = token.expose();
    if token.trim().is_empty() {
        return Err(config_error("the access token is empty"));
    }
    let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| config_error("the access token has characters a header cannot carry"))?;
    authorization.set_sensitive(true);
    Ok(authorization)
}

fn config_error(reason: impl Into<String>) -> CloudError {
    CloudError::Config {
        reason: reason.into(),
    }
}

impl CloudClient {
    pub fn new(config: CloudConfig) -> Result<CloudClient, CloudError> {
        let graph_url = config.graph_url.trim_end_matches('/');
        let host = graph_url
            .strip_prefix("https://")
            .or_else(|| graph_url.strip_prefix("http://"))
            .ok_or_else(|| config_error("graph_url must start with https:// or http://"))?;
        if host.is_empty() || graph_url.contains(['?', '#']) {
            return Err(config_error(
                "graph_url must be a base URL such as https://graph.facebook.com",
            ));
        }
        let version_ok = config
            .version
            .strip_prefix('v')
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'));
        if !version_ok {
            return Err(config_error("version must look like v23.0"));
        }
        let authorization = bearer(&config.access_token)?;
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(config_error("timeouts must be longer than zero"));
        }

        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];

        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(55))
            .tcp_nodelay(true)
            .no_proxy()
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error(format!("HTTP client: {e}")))?;
        Ok(CloudClient {
            http,
            base: Arc::from(format!("{graph_url}/{}", config.version)),
            authorization: Arc::new(std::sync::RwLock::new(authorization)),
        })
    }

    /// Uses `token` from now on, in this client and every clone of it (a rotated access token,
    /// picked up without a restart). A token a header cannot carry is refused and the old one
    /// stays.
    pub fn set_access_token(&self, token: &AccessToken) -> Result<(), CloudError> {
        let authorization = bearer(token)?;
        *self
            .authorization
            .write()
            .unwrap_or_else(|e| e.into_inner()) = authorization;
        Ok(())
    }

    /// The `Authorization` header of a request.
    pub(crate) fn authorization(&self) -> HeaderValue {
        self.authorization
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends one message: `body` as built by [`crate::outbound::message_body`].
    pub async fn send_message(
        &self,
        phone_number_id: &str,
        body: &Value,
    ) -> Result<Accepted, CloudError> {
        let answer = self
            .post(
                path_id("phone_number_id", phone_number_id)?,
                "messages",
                body,
            )
            .await
            .inspect_err(|e| log_failure("send_message", phone_number_id, e))?;
        let accepted = parse_accepted(&answer)
            .inspect_err(|e| log_failure("send_message", phone_number_id, e))?;
        tracing::debug!(
            phone_number_id,
            wamid = %accepted.wamid,
            message_status = accepted.message_status.as_deref(),
            "message accepted"
        );
        Ok(accepted)
    }

    /// Submits a template for review (`POST /{waba_id}/message_templates`).
    pub async fn create_template(
        &self,
        waba_id: &str,
        body: &Value,
    ) -> Result<TemplateCreated, CloudError> {
        let answer = self
            .post(path_id("waba_id", waba_id)?, "message_templates", body)
            .await
            .inspect_err(|e| log_failure("create_template", waba_id, e))?;
        #[derive(Deserialize)]
        struct Created {
            id: String,
            status: String,
            category: String,
        }
        let created: Created = serde_json::from_slice(&answer).map_err(|e| CloudError::Decode {
            reason: format!("template answer: {e}"),
        })?;
        tracing::info!(waba_id, template_id = %created.id, status = %created.status, "template submitted");
        Ok(TemplateCreated {
            id: created.id,
            status: created.status,
            category: created.category,
        })
    }

    /// Sets the number's conversational automation (`POST /{phone_number_id}/
    /// conversational_automation`: ice breakers as `prompts`, `enable_welcome_message`). Meta
    /// answers `{"success": true}`; anything else is a failure.
    pub async fn set_conversational_automation(
        &self,
        phone_number_id: &str,
        body: &Value,
    ) -> Result<(), CloudError> {
        let answer = self
            .post(
                path_id("phone_number_id", phone_number_id)?,
                "conversational_automation",
                body,
            )
            .await
            .inspect_err(|e| log_failure("set_conversational_automation", phone_number_id, e))?;
        #[derive(Deserialize)]
        struct Done {
            success: bool,
        }
        match serde_json::from_slice::<Done>(&answer) {
            Ok(Done { success: true }) => {
                tracing::info!(phone_number_id, "conversational automation set");
                Ok(())
            }
            Ok(Done { success: false }) => Err(CloudError::Decode {
                reason: "conversational automation answered success: false".into(),
            }),
            Err(e) => Err(CloudError::Decode {
                reason: format!("conversational automation answer: {e}"),
            }),
        }
    }

    /// POSTs `body` to `{base}/{id}/{edge}`; the 2xx answer's bytes, or the failure.
    async fn post(&self, id: &str, edge: &str, body: &Value) -> Result<Vec<u8>, CloudError> {
        let bytes = serde_json::to_vec(body).map_err(|e| CloudError::Config {
            reason: format!("body: {e}"),
        })?;
        let response = self
            .http
            .post(format!("{}/{id}/{edge}", self.base))
            .header(AUTHORIZATION, self.authorization())
            .header(CONTENT_TYPE, "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let answer = response.bytes().await;
        if status.is_success() {
            return answer
                .map(|b| b.to_vec())
                .map_err(|e| CloudError::Ambiguous {
                    reason: format!("HTTP {status} but the answer was cut: {}", error_chain(&e)),
                });
        }
        let http_status = status.as_u16();
        let answer = answer.map_err(|e| CloudError::Http {
            http_status,
            reason: format!("answer unreadable: {}", error_chain(&e)),
        })?;
        Err(parse_error(http_status, &answer))
    }
}

fn path_id<'a>(name: &str, id: &'a str) -> Result<&'a str, CloudError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(config_error(format!("{name} must be Meta's numeric id")));
    }
    Ok(id)
}

/// reqwest's message and its causes (hyper's and the OS's are the useful part).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A failure before any answer: connecting failed (not sent) or the answer never came (maybe
/// sent). reqwest marks connect failures, connect timeouts included, with `is_connect`.
fn transport_error(error: reqwest::Error) -> CloudError {
    let reason = error_chain(&error);
    if error.is_connect() || error.is_builder() {
        CloudError::NotSent { reason }
    } else if error.is_timeout() {
        CloudError::Ambiguous {
            reason: format!("timed out: {reason}"),
        }
    } else {
        CloudError::Ambiguous { reason }
    }
}

fn log_failure(call: &'static str, id: &str, error: &CloudError) {
    match error {
        CloudError::Api {
            http_status,
            code,
            subcode,
            fbtrace_id,
            ..
        } => tracing::warn!(
            call,
            id,
            http_status,
            code,
            subcode,
            fbtrace_id = fbtrace_id.as_deref(),
            "Graph API refused the request"
        ),
        CloudError::Http { http_status, .. } => {
            tracing::warn!(
                call,
                id,
                http_status,
                "Graph API answered without Meta's error"
            )
        }
        CloudError::Ambiguous { reason } => {
            tracing::warn!(call, id, reason = %reason, "Graph API request outcome unknown")
        }
        CloudError::NotSent { reason } => {
            tracing::warn!(call, id, reason = %reason, "Graph API not reached")
        }
        CloudError::Decode { reason } => {
            tracing::error!(call, id, reason = %reason, "Graph API answer unreadable")
        }
        CloudError::Config { reason } => {
            tracing::error!(call, id, reason = %reason, "Graph API client misconfigured")
        }
    }
}

/// `{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id","message_status"?}]}`.
fn parse_accepted(answer: &[u8]) -> Result<Accepted, CloudError> {
    #[derive(Deserialize)]
    struct SendAnswer {
        #[serde(default)]
        contacts: Vec<Contact>,
        #[serde(default)]
        messages: Vec<Sent>,
    }
    #[derive(Deserialize)]
    struct Contact {
        wa_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Sent {
        id: String,
        message_status: Option<String>,
    }
    let answer: SendAnswer = serde_json::from_slice(answer).map_err(|e| CloudError::Decode {
        reason: format!("send answer: {e}"),
    })?;
    let sent = answer
        .messages
        .into_iter()
        .next()
        .filter(|m| !m.id.is_empty())
        .ok_or_else(|| CloudError::Decode {
            reason: "send answer without messages[0].id".into(),
        })?;
    Ok(Accepted {
        wamid: sent.id,
        wa_id: answer.contacts.into_iter().next().and_then(|c| c.wa_id),
        message_status: sent.message_status,
    })
}

/// Meta's error envelope, or [`CloudError::Http`] when the body is not one.
fn parse_error(http_status: u16, answer: &[u8]) -> CloudError {
    #[derive(Deserialize)]
    struct Envelope {
        error: MetaError,
    }
    #[derive(Deserialize)]
    struct MetaError {
        code: i64,
        #[serde(default)]
        message: String,
        error_subcode: Option<i64>,
        error_user_title: Option<String>,
        error_user_msg: Option<String>,
        error_data: Option<Value>,
        fbtrace_id: Option<String>,
    }
    let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(answer) else {
        return CloudError::Http {
            http_status,
            reason: format!("{} bytes that are not Meta's error envelope", answer.len()),
        };
    };
    // `error_data` is an object in the Cloud API and a JSON string in some older Graph errors.
    let details = match error.error_data {
        Some(Value::Object(data)) => data
            .get("details")
            .and_then(Value::as_str)
            .map(String::from),
        Some(Value::String(text)) => serde_json::from_str::<Value>(&text).ok().and_then(|data| {
            data.get("details")
                .and_then(Value::as_str)
                .map(String::from)
        }),
        _ => None,
    }
    .or(error.error_user_msg);
    CloudError::Api {
        http_status,
        code: error.code,
        subcode: error.error_subcode,
        title: error.error_user_title,
        message: error.message,
        details,
        fbtrace_id: error.fbtrace_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_shows_in_debug() {
        let config = CloudConfig::new(AccessToken::new("EAAG-secret-token"));
        assert!(!format!("{config:?}").contains("secret"));
        let client = CloudClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("secret"));
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        let token = AccessToken::new("t");
        for (config, needle) in [
            (
                CloudConfig {
                    graph_url: "graph.facebook.com".into(),
                    ..CloudConfig::new(token.clone())
                },
                "graph_url",
            ),
            (
                CloudConfig {
                    version: "23".into(),
                    ..CloudConfig::new(token.clone())
                },
                "version",
            ),
            (CloudConfig::new(AccessToken::new(" ")), "empty"),
            (CloudConfig::new(AccessToken::new("a\nb")), "header"),
        ] {
            let err = CloudClient::new(config).unwrap_err();
            assert!(
                matches!(&err, CloudError::Config { reason } if reason.contains(needle)),
                "{err}"
            );
        }
    }

    #[test]
    fn envelopes_parse_with_details_from_error_data_or_the_user_message() {
        let err = parse_error(
            400,
            br#"{"error":{"message":"(#131056) pair rate limit hit","type":"OAuthException","code":131056,"error_data":{"messaging_product":"whatsapp","details":"Too many messages"},"fbtrace_id":"Atrace"}}"#,
        );
        assert_eq!(
            err,
            CloudError::Api {
                http_status: 400,
                code: 131056,
                subcode: None,
                title: None,
                message: "(#131056) pair rate limit hit".into(),
                details: Some("Too many messages".into()),
                fbtrace_id: Some("Atrace".into()),
            }
        );
        let err = parse_error(
            403,
            br#"{"error":{"message":"m","code":10,"error_subcode":2494049,"error_user_title":"T","error_user_msg":"U","error_data":"{\"details\":\"D\"}"}}"#,
        );
        assert!(matches!(
            &err,
            CloudError::Api { code: 10, subcode: Some(2494049), title: Some(t), details: Some(d), .. }
                if t == "T" && d == "D"
        ));
        let err = parse_error(
            400,
            br#"{"error":{"message":"m","code":100,"error_user_msg":"U"}}"#,
        );
        assert!(matches!(&err, CloudError::Api { details: Some(d), .. } if d == "U"));
        let gateway = parse_error(502, b"<html>Bad Gateway</html>");
        assert!(matches!(
            gateway,
            CloudError::Http {
                http_status: 502,
                ..
            }
        ));
        assert!(!gateway.retry_safe());
        assert_eq!(gateway.failure(), Some(SendFailure::Http { status: 502 }));
    }

    #[test]
    fn answers_parse_and_an_answer_without_a_wamid_is_a_decode_error() {
        let ok = parse_accepted(
            br#"{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.X","message_status":"accepted"}]}"#,
        )
        .unwrap();
        assert_eq!(ok.wamid, "wamid.X");
        assert_eq!(ok.wa_id.as_deref(), Some("16505551234"));
        assert_eq!(ok.message_status.as_deref(), Some("accepted"));
        for bad in [&b"{}"[..], b"not json", br#"{"messages":[{"id":""}]}"#] {
            let err = parse_accepted(bad).unwrap_err();
            assert!(matches!(err, CloudError::Decode { .. }), "{err}");
            assert!(!err.retry_safe());
            assert_eq!(err.failure(), None);
        }
    }

    /// Every answer example in Meta's specification reads as an accepted message.
    #[test]
    fn metas_answer_examples_parse() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/meta-openapi/examples/spec_send_message_examples.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let examples: Value = serde_json::from_str(&text).unwrap();
        let mut parsed = 0;
        for (name, answer) in examples["response_200_examples"].as_object().unwrap() {
            if answer.get("messages").is_none() {
                continue; // the typing indicator answers `{"success": true}`
            }
            let accepted = parse_accepted(answer.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(accepted.wamid.starts_with("wamid."), "{name}");
            assert!(accepted.wa_id.is_some(), "{name}");
            parsed += 1;
        }
        assert!(parsed >= 40, "{parsed}");
    }

    #[test]
    fn path_ids_cannot_change_the_path() {
        for bad in ["", "1/2", "1?x", "../v1", "1 2"] {
            assert!(path_id("phone_number_id", bad).is_err(), "{bad}");
        }
        assert_eq!(path_id("waba_id", "102290129340398"), Ok("102290129340398"));
    }
}

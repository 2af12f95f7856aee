//! The webhook core: request parts in, response out. No Lambda types, so the local runner serves
//! the same code behind its own HTTP server.
//!
//! | request | answer |
//! |---|---|
//! | `GET` with `hub.mode=subscribe` and the right `hub.verify_token` | 200, `hub.challenge` as text (HOOK-1) |
//! | any other `GET` | 403 |
//! | `POST` over [`MAX_BODY_BYTES`] | 413 |
//! | `POST` with a missing, malformed or wrong `X-Hub-Signature-256` | 401 (HOOK-2) |
//! | `POST`, well signed, not JSON or not a WhatsApp payload | 400 with the reason (HOOK-4) |
//! | `POST`, well signed, outside HOOK-6's bounds (a number id not digits, an empty id, …) | 400 with the reason |
//! | `POST`, well signed, one event over the queue's per-message limit | 413 with the reason (HOOK-6) |
//! | `POST`, well signed, every event queued | 200 (HOOK-5) |
//! | `POST`, well signed, a queue failed | 500, so that Meta delivers again (HOOK-5) |
//! | any other method | 405 |
//!
//! Nothing is queued unless the whole body verified and parsed.

use queue::{Destination, Envelope, EventQueue, QueueError};
use whatsapp::Timestamp;
use whatsapp::{AppSecret, PayloadError, Route, SignatureError};

/// The largest body accepted (Meta's webhooks stay well below; 3 MB is the contract).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What the webhook needs to know: the app secret (signatures) and the verify token (handshake).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub secret: AppSecret,
    pub verify_token: String,
}

/// The parts of an HTTP request the webhook reads.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub method: &'a str,
    /// The raw, percent-encoded query string, without `?` (empty when none).
    pub query: &'a str,
    /// The `X-Hub-Signature-256` header's value; `Some("")` for a value that is not text.
    pub signature: Option<&'a str>,
    /// The raw body bytes, exactly as received.
    pub body: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl WebhookResponse {
    fn text(status: u16, body: impl Into<String>) -> WebhookResponse {
        WebhookResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

/// Why a POST was refused before anything was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("body of {0} bytes is over the {MAX_BODY_BYTES}-byte limit")]
    TooLarge(usize),
    /// HOOK-6: one event is larger than one queue message may be; Meta would get the same answer
    /// on every redelivery, so it is refused (413) rather than answered 5xx.
    #[error(
        "event {key} is {bytes} bytes once normalised, over the queue's {}-byte limit per event; nothing in this body was queued",
        queue::MAX_MESSAGE_BYTES
    )]
    EventTooLarge { key: String, bytes: usize },
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("{0}")]
    Payload(#[from] PayloadError),
}

impl Rejection {
    pub fn status(&self) -> u16 {
        match self {
            Rejection::TooLarge(_) | Rejection::EventTooLarge { .. } => 413,
            Rejection::Signature(_) => 401,
            Rejection::Payload(_) => 400,
        }
    }
}

/// A verified body, normalised and serialised into queue envelopes, split by destination.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub inbound: Vec<Envelope>,
    pub updates: Vec<Envelope>,
    /// HOOK-6: timestamps replaced by the arrival time (negative, or too far ahead).
    pub replaced_timestamps: usize,
}

impl Prepared {
    pub fn len(&self) -> usize {
        self.inbound.len() + self.updates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Verifies, parses and normalises a POST body that arrived at `arrival` into envelopes (HOOK-6's
/// bounds applied); the CPU part of the webhook.
pub fn prepare(
    webhook: &Webhook,
    signature: Option<&str>,
    body: &[u8],
    arrival: Timestamp,
) -> Result<Prepared, Rejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::TooLarge(body.len()));
    }
    whatsapp::verify(&webhook.secret, signature, body)?;
    let mut events = whatsapp::parse_events(body)?;
    let mut prepared = Prepared {
        replaced_timestamps: whatsapp::bound_timestamps(&mut events, arrival),
        ..Prepared::default()
    };
    for event in events {
        let body = serde_json::to_string(&event).map_err(|e| {
            // Unreachable for these types (no maps with non-string keys, no NaN from JSON).
            PayloadError::NotWhatsApp(format!("event {} cannot be serialised: {e}", event.key))
        })?;
        // HOOK-6: what the queue would refuse for its size is refused now, as the permanent
        // condition it is (the queue's own check, on the body as SQS will get it).
        let bytes = queue::sqs::sqs_body(&body).len();
        if bytes > queue::MAX_MESSAGE_BYTES {
            return Err(Rejection::EventTooLarge {
                key: event.key,
                bytes,
            });
        }
        match event.route() {
            Route::Inbound { group } => prepared.inbound.push(Envelope {
                key: event.key,
                group: Some(group),
                body,
            }),
            Route::Updates => prepared.updates.push(Envelope {
                key: event.key,
                group: None,
                body,
            }),
        }
    }
    Ok(prepared)
}

/// Answers one webhook request (see the module's table), arrived now by the system clock.
pub async fn handle<Q: EventQueue>(
    webhook: &Webhook,
    queue: &Q,
    request: WebhookRequest<'_>,
) -> WebhookResponse {
    handle_at(webhook, queue, request, system_now()).await
}

/// The system clock, in whole seconds (the Lambda's arrival time).
pub fn system_now() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix(seconds)
}

/// Answers one webhook request that arrived at `arrival` (the local runner passes its engine's
/// clock, so the test clock's stories are judged on their own time).
pub async fn handle_at<Q: EventQueue>(
    webhook: &Webhook,
    queue: &Q,
    request: WebhookRequest<'_>,
    arrival: Timestamp,
) -> WebhookResponse {
    match request.method {
        "GET" => match whatsapp::verify_handshake(request.query, &webhook.verify_token) {
            Ok(challenge) => {
                tracing::info!("webhook subscription verified");
                WebhookResponse::text(200, challenge)
            }
            Err(e) => {
                tracing::warn!(reason = %e, "webhook handshake refused");
                WebhookResponse::text(403, "forbidden")
            }
        },
        "POST" => post(webhook, queue, request.signature, request.body, arrival).await,
        _ => WebhookResponse::text(405, "method not allowed"),
    }
}

async fn post<Q: EventQueue>(
    webhook: &Webhook,
    queue: &Q,
    signature: Option<&str>,
    body: &[u8],
    arrival: Timestamp,
) -> WebhookResponse {
    let prepared = match prepare(webhook, signature, body, arrival) {
        Ok(p) => p,
        Err(rejection) => {
            // The reason names a position or a field, never the body's content in logs.
            tracing::warn!(
                status = rejection.status(),
                kind = rejection_kind(&rejection),
                bytes = body.len(),
                "webhook refused"
            );
            return WebhookResponse::text(rejection.status(), rejection.to_string());
        }
    };
    let (inbound, updates) = (prepared.inbound.len(), prepared.updates.len());
    let keys = prepared
        .inbound
        .iter()
        .chain(&prepared.updates)
        .take(LOGGED_KEYS)
        .map(|e| e.key.as_str())
        .collect::<Vec<_>>()
        .join(",");
    tracing::info!(inbound, updates, keys = %keys, "webhook parsed");
    if prepared.replaced_timestamps > 0 {
        // HOOK-6: the messages keep Meta's stamp beside the arrival time (`replaced_timestamp`).
        tracing::warn!(
            replaced = prepared.replaced_timestamps,
            keys = %keys,
            "timestamps negative or ahead of arrival replaced by the arrival time"
        );
    }
    match enqueue(queue, prepared).await {
        Ok(()) => WebhookResponse::text(200, "ok"),
        Err(e) => {
            tracing::error!(error = %e, inbound, updates, keys = %keys, "queueing failed; Meta will deliver again");
            WebhookResponse::text(500, "events not queued; deliver again")
        }
    }
}

/// Keys logged per webhook (the counts are always logged); a 3 MB body holds thousands.
const LOGGED_KEYS: usize = 20;

fn rejection_kind(r: &Rejection) -> &'static str {
    match r {
        Rejection::TooLarge(_) => "too_large",
        Rejection::EventTooLarge { .. } => "event_too_large",
        Rejection::Signature(SignatureError::Missing) => "signature_missing",
        Rejection::Signature(SignatureError::Malformed(_)) => "signature_malformed",
        Rejection::Signature(SignatureError::Mismatch) => "signature_mismatch",
        Rejection::Payload(PayloadError::NotJson(_)) => "not_json",
        Rejection::Payload(PayloadError::NotWhatsApp(_)) => "not_whatsapp",
    }
}

/// Both queues at once; HOOK-5: `Ok` only when both accepted everything.
async fn enqueue<Q: EventQueue>(queue: &Q, prepared: Prepared) -> Result<(), QueueError> {
    let Prepared {
        inbound, updates, ..
    } = prepared;
    let to_inbound = async {
        if inbound.is_empty() {
            Ok(())
        } else {
            queue.send(Destination::Inbound, inbound).await
        }
    };
    let to_updates = async {
        if updates.is_empty() {
            Ok(())
        } else {
            queue.send(Destination::Updates, updates).await
        }
    };
    let (a, b) = tokio::join!(to_inbound, to_updates);
    a.and(b)
}

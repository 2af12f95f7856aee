//! The Lambda translation: an API Gateway request (HTTP API v2 or REST v1, decoded by
//! `lambda_http`, base64 bodies included) into [`WebhookRequest`], and the answer back.

use crate::webhook::{self, Webhook, WebhookRequest};
use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
use lambda_http::{Body, Request, Response};
use queue::EventQueue;
use whatsapp::signature::SIGNATURE_HEADER;

/// The business metric of every webhook request (OPS-2), by [`outcome`].
pub const WEBHOOKS: &str = "Webhooks";

/// What a webhook request came to, for the metric's `outcome` dimension: accepted, or why it was
/// refused (the classes of `webhook`'s answer table), never anything from the body.
pub fn outcome(method: &str, status: u16) -> &'static str {
    match (method, status) {
        ("GET", 200) => "handshake",
        ("GET", _) => "handshake_refused",
        (_, 200) => "accepted",
        (_, 401) => "refused_signature",
        (_, 400) => "refused_invalid",
        (_, 413) => "refused_too_large",
        (_, 405) => "refused_method",
        (_, 500..) => "failed_retryable",
        _ => "refused_other",
    }
}

/// Answers one API Gateway request.
pub async fn handle<Q: EventQueue>(
    webhook: &Webhook,
    queue: &Q,
    request: Request,
) -> Response<Body> {
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        // A header value that is not text is malformed, not missing.
        .map(|v| v.to_str().unwrap_or(""));
    let parts = WebhookRequest {
        method: request.method().as_str(),
        query: request.uri().query().unwrap_or(""),
        signature,
        body: request.body().as_ref(),
    };
    let method = parts.method;
    let answer = webhook::handle(webhook, queue, parts).await;
    metrics::counter!(WEBHOOKS, "outcome" => outcome(method, answer.status)).increment(1);
    let mut response = Response::builder()
        .status(answer.status)
        .header(CONTENT_TYPE, answer.content_type);
    if answer.status == 405 {
        response = response.header(ALLOW, "GET, POST");
    }
    response
        .body(Body::Text(answer.body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

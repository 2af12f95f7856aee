//! The Lambda translation: an API Gateway request (HTTP API v2 or REST v1, decoded by
//! `lambda_http`, base64 bodies included) into [`WebhookRequest`], and the answer back.

use crate::webhook::{self, Webhook, WebhookRequest};
use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
use lambda_http::{Body, Request, Response};
use queue::EventQueue;
use whatsapp::signature::SIGNATURE_HEADER;

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
    let answer = webhook::handle(webhook, queue, parts).await;
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

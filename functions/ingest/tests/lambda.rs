//! The Lambda translation with the API Gateway events shipped for `cargo lambda invoke`
//! (`tests/fixtures/lambda/`): HTTP API v2 and REST v1 payloads, base64 bodies, headers, statuses.

use ingest::Webhook;
use ingest::handler::handle;
use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
use lambda_http::{Body, Response};
use queue::{Destination, MemoryQueue};
use switchboard_tests::fixture;
use whatsapp::AppSecret;

fn webhook() -> Webhook {
    // The documented test secret and token the fixtures are signed with.
    Webhook {
        secret: AppSecret::new("switchboard-test-secret"),
        verify_token: "switchboard-verify-token".to_owned(),
    }
}

async fn invoke(event: &str) -> (Response<Body>, MemoryQueue) {
    invoke_json(&String::from_utf8(fixture(&format!("lambda/{event}.json"))).unwrap()).await
}

async fn invoke_json(json: &str) -> (Response<Body>, MemoryQueue) {
    let request = lambda_http::request::from_str(json).expect("an API Gateway event");
    let queue = MemoryQueue::new();
    let response = handle(&webhook(), &queue, request).await;
    (response, queue)
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8(response.body().to_vec()).unwrap()
}

#[tokio::test]
async fn http_api_v2_post_is_verified_and_queued() {
    let (response, queue) = invoke("apigw_v2_post_text").await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    let inbound = queue.messages(Destination::Inbound);
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0].key, "wamid.TEST_TEXT_0001");
    assert_eq!(
        inbound[0].group.as_deref(),
        Some("200000000000001#15550009001")
    );
}

#[tokio::test]
async fn hook_2_http_api_v2_forged_post_answers_401() {
    let (response, queue) = invoke("apigw_v2_post_forged").await;
    assert_eq!(response.status(), 401);
    assert!(queue.is_empty());
}

#[tokio::test]
async fn rest_api_v1_base64_post_is_verified_over_the_decoded_bytes() {
    let (response, queue) = invoke("apigw_v1_post_text_base64").await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    assert_eq!(queue.messages(Destination::Inbound).len(), 1);
}

#[tokio::test]
async fn hook_1_handshakes_v2_and_v1() {
    for event in ["apigw_v2_get_handshake", "apigw_v1_get_handshake"] {
        let (response, _) = invoke(event).await;
        assert_eq!(response.status(), 200, "{event}");
        assert_eq!(text(&response), "1158201444", "{event}");
        let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("text/plain"), "{event}");
    }
    let wrong = String::from_utf8(fixture("lambda/apigw_v2_get_handshake.json"))
        .unwrap()
        .replace("switchboard-verify-token", "guess");
    let (response, _) = invoke_json(&wrong).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn other_methods_answer_405_with_allow() {
    let put = String::from_utf8(fixture("lambda/apigw_v2_post_text.json"))
        .unwrap()
        .replace("\"method\": \"POST\"", "\"method\": \"PUT\"");
    assert!(put.contains("\"PUT\""));
    let (response, queue) = invoke_json(&put).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()[ALLOW], "GET, POST");
    assert!(queue.is_empty());
}

#[tokio::test]
async fn hook_2_a_signature_header_with_another_case_is_the_same_header() {
    let upper = String::from_utf8(fixture("lambda/apigw_v2_post_text.json"))
        .unwrap()
        .replace("x-hub-signature-256", "X-Hub-Signature-256");
    let (response, _) = invoke_json(&upper).await;
    assert_eq!(response.status(), 200);
}

//! The console's Graph API adapter against the fake Graph API on 127.0.0.1: template submission
//! reaches `POST /{version}/{waba_id}/message_templates` with the token, Meta's answer is kept,
//! Meta's refusals are 422 and outages 502; ice breakers and the welcome reach
//! `POST /{version}/{phone_number_id}/conversational_automation` the same way.

use console::submitter::GraphSubmitter;
use console::{Console, StaticTokens, TemplateSubmitter};
use queue::MemoryQueue;
use rules::outreach::OutreachKey;
use rules::templates::{Template, TemplateCategory};
use rules::{AgentId, BusinessNumberId, TemplateName, Timestamp};
use serde_json::json;
use std::sync::Arc;
use store::{SqliteStore, TemplateStore};
use testkit::fake_graph::{FakeFailure, FakeGraph};
use timers::ManualClock;
use tower::ServiceExt;
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

const NUMBER: &str = "106540352242922";
const TOKEN: &str = "boss-token-0123456789";

fn submitter(graph: &FakeGraph) -> GraphSubmitter {
    let client = CloudClient::new(CloudConfig {
        graph_url: graph.url(),
        ..CloudConfig::new(AccessToken::new(graph.token()))
    })
    .unwrap();
    GraphSubmitter::new(client)
}

#[tokio::test]
async fn the_adapter_submits_and_reads_metas_answer() {
    let graph = FakeGraph::start().await;
    let body = json!({
        "name": "spring_offer",
        "language": "en_US",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Hello"}]
    });
    let created = submitter(&graph)
        .create_template("102290129340398", &body)
        .await
        .unwrap();
    assert_eq!(created.status, "PENDING");
    assert_eq!(created.category.as_deref(), Some("MARKETING"));
    assert!(!created.id.is_empty());
    let requests = graph.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v23.0/102290129340398/message_templates");
    assert_eq!(requests[0].body, body);
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some(format!("Bearer {}", graph.token()).as_str())
    );
}

async fn post_submit(app: &axum::Router) -> (u16, serde_json::Value) {
    call(
        app,
        "POST",
        &format!("/v1/numbers/{NUMBER}/templates/spring_offer/en_US/submit"),
        Some(json!({"waba_id": "102290129340398"})),
    )
    .await
}

/// The console on `store`, sending to the fake Graph API, with one admin token.
fn console_app(graph: &FakeGraph, store: SqliteStore) -> axum::Router {
    console::app(Console {
        store,
        queue: Arc::new(MemoryQueue::new()),
        submitter: submitter(graph),
        identity: Arc::new(StaticTokens::new().with(
            TOKEN,
            AgentId::new("boss").unwrap(),
            console::Role::Admin,
        )),
        clock: Arc::new(ManualClock::new(Timestamp::from_unix(1_750_000_000))),
        outreach_key: OutreachKey::new(b"k".to_vec()),
    })
}

fn fresh_store() -> SqliteStore {
    let dir = std::env::temp_dir().join("switchboard-console-tests");
    std::fs::create_dir_all(&dir).unwrap();
    SqliteStore::open(dir.join(format!("{}.db", uuid::Uuid::new_v4()))).unwrap()
}

#[tokio::test]
async fn the_console_submits_through_the_graph_api_and_maps_its_failures() {
    let graph = FakeGraph::start().await;
    let store = fresh_store();
    let number = BusinessNumberId::new(NUMBER).unwrap();
    store
        .put_template(
            &number,
            &Template::new(
                TemplateName::new("spring_offer").unwrap(),
                "en_US",
                TemplateCategory::Marketing,
                "Hi {{1}}, spring is here.",
            ),
        )
        .await
        .unwrap();
    let app = console_app(&graph, store);
    // Meta refuses (a 4xx with its envelope): 422 with Meta's words.
    graph.fail_next(1, FakeFailure::meta(100));
    let (status, refused) = post_submit(&app).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("100"),
        "{refused}"
    );
    // A gateway error: 502.
    graph.fail_next(1, FakeFailure::Bare { http_status: 503 });
    let (status, down) = post_submit(&app).await;
    assert_eq!(status, 502, "{down}");
    // Accepted: Meta's id and status are kept; the body Meta saw is the template's.
    let (status, ok) = post_submit(&app).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["template"]["status"], "PENDING");
    let last = graph.requests().pop().unwrap();
    assert_eq!(last.body["name"], "spring_offer");
    assert_eq!(last.body["components"][0]["type"], "BODY");
    assert_eq!(
        last.body["components"][0]["example"]["body_text"],
        json!([["example 1"]])
    );
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(match body {
            Some(b) => axum::body::Body::from(b.to_string()),
            None => axum::body::Body::empty(),
        })
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

// AUTO-1, AUTO-2 (issue 16, case 14): ice breakers and the welcome, validated and stored, reach
// Meta's conversational automation endpoint when set and on every change, through the Graph API
// adapter; a save that changes neither calls nobody; Meta's refusal (it takes at most 3 prompts)
// is a 422 and an outage a 502, and then the settings are not saved.
#[tokio::test]
async fn auto_2_ice_breakers_and_welcome_are_pushed_to_metas_conversational_automation() {
    let graph = FakeGraph::start().await;
    let app = console_app(&graph, fresh_store());
    let path = format!("/v1/numbers/{NUMBER}/settings");
    let automation_path = format!("/v23.0/{NUMBER}/conversational_automation");
    let pushed = |graph: &FakeGraph| -> Vec<serde_json::Value> {
        graph
            .requests()
            .into_iter()
            .filter(|r| r.path == automation_path)
            .map(|r| r.body)
            .collect()
    };

    // Nothing set: nothing pushed.
    let (status, _) = call(&app, "PUT", &path, Some(json!({"auto_close_after": 86400}))).await;
    assert_eq!(status, 200);
    assert!(pushed(&graph).is_empty());

    // Set: pushed with Meta's field names, then saved.
    let set = json!({
        "ice_breakers": ["Where is my order?", "Opening hours"],
        "welcome": {"type": "text", "body": "Welcome to Acme!"}
    });
    let (status, saved) = call(&app, "PUT", &path, Some(set.clone())).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        pushed(&graph),
        [
            json!({"enable_welcome_message": true, "prompts": ["Where is my order?", "Opening hours"]})
        ]
    );
    let last = graph.requests().pop().unwrap();
    assert_eq!(
        last.authorization.as_deref(),
        Some(format!("Bearer {}", graph.token()).as_str())
    );
    // The same again: no call.
    let (status, _) = call(&app, "PUT", &path, Some(set)).await;
    assert_eq!(status, 200);
    assert_eq!(pushed(&graph).len(), 1);

    // Four ice breakers pass AUTO-2 but Meta takes three: its refusal is the answer, not saved.
    let four = json!({
        "ice_breakers": ["One", "Two", "Three", "Four"],
        "welcome": {"type": "text", "body": "Welcome to Acme!"}
    });
    let (status, refused) = call(&app, "PUT", &path, Some(four)).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"], "meta_refused", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("Maximum allowed is 3"),
        "{refused}"
    );
    let (_, read) = call(&app, "GET", &path, None).await;
    assert_eq!(
        read["ice_breakers"],
        json!(["Where is my order?", "Opening hours"])
    );

    // An outage: 502, not saved; saving again pushes again.
    let one = json!({"ice_breakers": ["Where is my order?"]});
    graph.fail_next(1, FakeFailure::Bare { http_status: 503 });
    let (status, down) = call(&app, "PUT", &path, Some(one.clone())).await;
    assert_eq!(status, 502, "{down}");
    let (_, read) = call(&app, "GET", &path, None).await;
    assert_eq!(read["ice_breakers"].as_array().map(Vec::len), Some(2));
    let (status, _) = call(&app, "PUT", &path, Some(one)).await;
    assert_eq!(status, 200);
    assert_eq!(
        pushed(&graph).last(),
        Some(&json!({"enable_welcome_message": false, "prompts": ["Where is my order?"]}))
    );
    let (_, read) = call(&app, "GET", &path, None).await;
    assert_eq!(read["ice_breakers"], json!(["Where is my order?"]));
}

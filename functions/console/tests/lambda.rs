//! The Lambda path: API Gateway HTTP API (v2) events carrying the JWT authorizer's claims,
//! through lambda_http's adapter, into the console's router, over DynamoDB on moto (the real
//! adapter). Needs moto (`AWS_ENDPOINT_URL` / `SWITCHBOARD_MOTO_URL`); panics without it.

use console::{Console, JwtClaims, SubmitterTwin};
use lambda_http::{Context, LambdaEvent};
use queue::MemoryQueue;
use rules::Timestamp;
use rules::outreach::OutreachKey;
use serde_json::{Value, json};
use std::sync::Arc;
use store::{AgentStore, DynamoStore};
use timers::ManualClock;
use tower::ServiceExt;

const NUMBER: &str = "106540352242922";

async fn store() -> DynamoStore {
    let config = testkit::moto_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        testkit::unique("console"),
    );
    store.create_table().await.expect("create table on moto");
    store
}

fn app(store: DynamoStore) -> axum::Router {
    console::app(Console {
        store,
        queue: Arc::new(MemoryQueue::new()),
        submitter: Arc::new(SubmitterTwin::new()),
        identity: Arc::new(JwtClaims::default()),
        clock: Arc::new(ManualClock::new(Timestamp::from_unix(1_750_000_000))),
        outreach_key: OutreachKey::new(b"lambda-test-key".to_vec()),
    })
}

/// An HTTP API v2 event as API Gateway sends it after its JWT authorizer ran (`claims: None`:
/// a route without the authorizer).
fn event(
    method: &str,
    path: &str,
    query: &str,
    body: Option<Value>,
    claims: Option<Value>,
) -> Value {
    let mut context = json!({
        "routeKey": "$default",
        "accountId": "123456789012",
        "stage": "$default",
        "requestId": "req-1",
        "apiId": "api-id",
        "domainName": "console.example.com",
        "domainPrefix": "console",
        "time": "15/Jun/2025:15:06:40 +0000",
        "timeEpoch": 1_750_000_000_000_i64,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "console-test"
        }
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let mut e = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "console.example.com"},
        "requestContext": context,
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        e["body"] = Value::String(body.to_string());
    }
    e
}

async fn invoke(app: &axum::Router, event: Value) -> (u16, Value) {
    let payload: lambda_http::request::LambdaRequest =
        serde_json::from_value(event).expect("an API Gateway v2 event");
    let adapter = lambda_http::Adapter::from(app.clone());
    let response = adapter
        .oneshot(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("the router never fails");
    let response = serde_json::to_value(&response).unwrap();
    let status = response["statusCode"].as_u64().unwrap() as u16;
    let body = response["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap())
        .unwrap_or(Value::Null);
    (status, body)
}

fn claims(sub: &str, role: &str) -> Option<Value> {
    Some(json!({"sub": sub, "role": role, "iss": "https://issuer.example", "aud": "console"}))
}

#[tokio::test]
async fn jwt_claims_identify_callers_and_the_console_runs_on_dynamodb() {
    let store = store().await;
    let app = app(store.clone());

    let (status, me) = invoke(
        &app,
        event("GET", "/v1/me", "", None, claims("boss", "admin")),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me, json!({"agent": "boss", "role": "admin", "numbers": []}));

    // An admin creates an agent: written to DynamoDB.
    let (status, agent) = invoke(
        &app,
        event(
            "PUT",
            "/v1/agents/ana",
            "",
            Some(json!({"capacity": 2, "online": true})),
            claims("boss", "admin"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{agent}");
    let agents = store.agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].capacity, 2);

    // An agent may not.
    let (status, refused) = invoke(
        &app,
        event(
            "PUT",
            "/v1/agents/bo",
            "",
            Some(json!({"capacity": 2})),
            claims("ana", "agent"),
        ),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(refused["error"], "forbidden");

    // A contact's profile, then CHAN-4 search through the table's inbox index.
    let contact = format!("/v1/numbers/{NUMBER}/contacts/4915100000001");
    let (status, created) = invoke(
        &app,
        event(
            "PUT",
            &contact,
            "",
            Some(json!({"first_name": "Jana"})),
            claims("ana", "agent"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let (status, found) = invoke(
        &app,
        event(
            "GET",
            &format!("/v1/numbers/{NUMBER}/contacts"),
            "q=jana&status=closed",
            None,
            claims("ana", "agent"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["items"][0]["contact"], "4915100000001");
    // WIN-5 through the Lambda: the contact never wrote, so free-form is refused.
    let (status, window) = invoke(
        &app,
        event(
            "POST",
            &format!("{contact}/messages"),
            "",
            Some(json!({"text": "hi"})),
            claims("ana", "agent"),
        ),
    )
    .await;
    assert_eq!(status, 422, "{window}");
    assert_eq!(window["error"], "window_closed");
}

#[tokio::test]
async fn without_the_authorizer_or_a_role_claim_callers_are_refused() {
    let app = app(store().await);
    let (status, body) = invoke(&app, event("GET", "/v1/me", "", None, None)).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = invoke(
        &app,
        event("GET", "/v1/me", "", None, Some(json!({"sub": "ana"}))),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("role"));
    let (status, _) = invoke(
        &app,
        event("GET", "/v1/me", "", None, claims("ana", "superuser")),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = invoke(
        &app,
        event("GET", "/v1/me", "", None, Some(json!({"role": "admin"}))),
    )
    .await;
    assert_eq!(status, 401);
    // The OpenAPI document needs no identity.
    let (status, doc) = invoke(&app, event("GET", "/v1/openapi.json", "", None, None)).await;
    assert_eq!(status, 200);
    assert!(doc["paths"].as_object().unwrap().len() > 20);
}

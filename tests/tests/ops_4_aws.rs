//! OPS-4 on the AWS path: the console's `/v1/dead-letters` over the stack's dead-letter queues on
//! moto (the console's real `SqsQueues` with its DLQs, as `functions/console/src/main.rs` wires
//! them from `INBOUND_DLQ_URL`, `UPDATES_DLQ_URL`, `OUTBOUND_DLQ_URL`, `TIMER_DLQ_URL`). Each queue
//! has a redrive policy of one receive, so a message is dead after one failed delivery; the
//! timers' dead-letter queue is written as EventBridge Scheduler writes it (the wake-up as the
//! body, why in the message attributes). The local path of the
//! same: `functions/local/tests/edge_and_dead_letters.rs`. Needs moto (`./scripts/test`).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use console::{Console, StaticTokens, SubmitterTwin};
use queue::{DeadLetterQueue, Destination, SqsQueues};
use rules::Timestamp;
use rules::outreach::OutreachKey;
use serde_json::{Value, json};
use std::sync::Arc;
use store::DynamoStore;
use timers::ManualClock;
use tower::ServiceExt;

const ADMIN: &str = "ops4-admin-token-0123456789";
const AGENT: &str = "ops4-agent-token-0123456789";

async fn queue_pair(client: &Client, name: &str, fifo: bool) -> (String, String) {
    let create = |name: String, redrive: Option<String>| {
        let mut request =
            client
                .create_queue()
                .queue_name(if fifo { format!("{name}.fifo") } else { name });
        if fifo {
            request = request.attributes(QueueAttributeName::FifoQueue, "true");
        }
        if let Some(arn) = redrive {
            request = request.attributes(
                QueueAttributeName::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":1}}"#),
            );
        }
        async move { request.send().await.unwrap().queue_url.unwrap() }
    };
    let dlq = create(testkit::unique(&format!("{name}-dlq")), None).await;
    let arn = client
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let source = create(testkit::unique(name), Some(arn)).await;
    (source, dlq)
}

/// Sends `body` to `url` and fails its one delivery: SQS moves it to the DLQ on the next receive.
async fn kill(client: &Client, url: &str, body: Value, group: Option<&str>) {
    let mut send = client
        .send_message()
        .queue_url(url)
        .message_body(body.to_string());
    if let Some(group) = group {
        send = send
            .message_group_id(group)
            .message_deduplication_id(body["key"].as_str().unwrap());
    }
    send.send().await.unwrap();
    for expected in [1, 0] {
        let got = client
            .receive_message()
            .queue_url(url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(got.len(), expected);
    }
}

async fn call(app: &axum::Router, method: &str, path: &str, token: &str) -> (u16, Value) {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn console(store: DynamoStore, queues: SqsQueues) -> axum::Router {
    console::app(Console {
        store,
        queue: queues,
        submitter: Arc::new(SubmitterTwin::new()),
        identity: Arc::new(
            StaticTokens::parse(&format!("boss:admin:{ADMIN},ana:agent:{AGENT}")).unwrap(),
        ),
        clock: Arc::new(ManualClock::new(Timestamp::from_unix(1_772_442_000))),
        outreach_key: OutreachKey::new(b"ops4-outreach-key".to_vec()),
    })
}

#[tokio::test]
async fn ops_4_admins_list_and_redeliver_the_stacks_dead_letters_through_the_console() {
    let config = testkit::moto_config().await;
    let client = Client::new(&config);
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        testkit::unique("ops4"),
    );
    store.create_table().await.unwrap();
    let (inbound, inbound_dlq) = queue_pair(&client, "ops4-in", true).await;
    let (updates, updates_dlq) = queue_pair(&client, "ops4-up", false).await;
    let (outbound, outbound_dlq) = queue_pair(&client, "ops4-out", false).await;
    // Scheduler's dead-letter queue: standard, no source queue of its own.
    let timers_dlq = client
        .create_queue()
        .queue_name(testkit::unique("ops4-timers-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queues = SqsQueues::new(&config, inbound.clone(), String::new())
        .outbound(outbound.clone())
        .dead_letters(vec![
            DeadLetterQueue {
                queue: Destination::Inbound,
                dlq_url: inbound_dlq,
                source_url: inbound.clone(),
                translation: None,
            },
            DeadLetterQueue {
                queue: Destination::Updates,
                dlq_url: updates_dlq,
                source_url: updates.clone(),
                translation: None,
            },
            DeadLetterQueue {
                queue: Destination::Outbound,
                dlq_url: outbound_dlq,
                source_url: outbound.clone(),
                translation: None,
            },
            timers::dead_letter_queue(&timers_dlq, &inbound),
        ]);
    let app = console(store.clone(), queues.clone());

    // A text the router could not apply, and a send the sender gave up on.
    let text = json!({"key": "wamid.DEAD", "waba_id": "1",
        "business": {"phone_number_id": "106540352242922"},
        "body": {"kind": "message", "id": "wamid.DEAD", "timestamp": 1_772_442_000,
            "contact": {"key": "4915112345678"},
            "content": {"type": "text", "body": "my card number is 4111"}}});
    kill(
        &client,
        &inbound,
        text,
        Some("106540352242922#4915112345678"),
    )
    .await;
    let tick =
        json!({"job": "campaign_tick", "key": "start:c1", "campaign": "c1", "at": 1_772_442_000});
    kill(&client, &outbound, tick, None).await;

    let (status, _) = call(&app, "GET", "/v1/dead-letters", AGENT).await;
    assert_eq!(status, 403, "admins only");
    let (status, body) = call(&app, "GET", "/v1/dead-letters", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains("4111"), "never the text: {body}");
    let letters = body["dead_letters"].as_array().unwrap();
    let mut seen: Vec<_> = letters
        .iter()
        .map(|l| {
            (
                l["queue"].as_str().unwrap(),
                l["kind"].as_str().unwrap(),
                l["key"].as_str().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("inbound", "text", "wamid.DEAD"),
            ("outbound", "campaign_tick", "start:c1")
        ]
    );
    assert_eq!(body["more"], false);
    for l in letters {
        assert!(l["attempts"].as_u64().unwrap() >= 1, "{l}");
        assert!(l["first_seen"].as_str().unwrap().ends_with('Z'), "{l}");
        assert!(l["reason"].as_str().unwrap().contains("redrive"), "{l}");
    }

    // One back to the inbound FIFO, in its contact's group; then the rest.
    let id = letters.iter().find(|l| l["queue"] == "inbound").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = call(
        &app,
        "POST",
        &format!("/v1/dead-letters/{id}/redeliver"),
        ADMIN,
    )
    .await;
    assert_eq!((status, &body["redelivered"]), (200, &json!(1)), "{body}");
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v1/dead-letters/{id}/redeliver"),
        ADMIN,
    )
    .await;
    assert_eq!(status, 404);
    let back = client
        .receive_message()
        .queue_url(&inbound)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(back.len(), 1);
    let attrs = back[0].attributes.clone().unwrap();
    assert_eq!(
        attrs[&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId],
        "106540352242922#4915112345678"
    );
    let (status, body) = call(&app, "POST", "/v1/dead-letters/redeliver-all", ADMIN).await;
    assert_eq!((status, &body["redelivered"]), (200, &json!(1)), "{body}");
    let (_, body) = call(&app, "GET", "/v1/dead-letters", ADMIN).await;
    assert_eq!(body["dead_letters"], json!([]));

    // A wake-up Scheduler could not deliver to the timers function, as Scheduler dead-letters it.
    let wake_up = json!({"number": "106540352242922", "contact": "4915187654321",
        "kind": "bot_inactivity", "deadline": 1_772_442_600, "token": 4});
    let attribute = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    client
        .send_message()
        .queue_url(&timers_dlq)
        .message_body(wake_up.to_string())
        .message_attributes("ERROR_CODE", attribute("Lambda.TooManyRequestsException"))
        .message_attributes("ERROR_MESSAGE", attribute("Rate exceeded"))
        .message_attributes("RETRY_ATTEMPTS", attribute("185"))
        .send()
        .await
        .unwrap();
    let (status, body) = call(&app, "GET", "/v1/dead-letters", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains("4915187654321"), "OPS-3: {body}");
    let letter = &body["dead_letters"][0];
    assert_eq!(body["dead_letters"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        (&letter["queue"], &letter["kind"], &letter["key"]),
        (
            &json!("timers"),
            &json!("wake_up"),
            &json!("106540352242922:bot_inactivity:4")
        ),
        "{letter}"
    );
    assert_eq!(
        letter["reason"],
        "Lambda.TooManyRequestsException: Rate exceeded"
    );
    assert_eq!(letter["attempts"], 186);
    let id = letter["id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        &app,
        "POST",
        &format!("/v1/dead-letters/{id}/redeliver"),
        ADMIN,
    )
    .await;
    assert_eq!((status, &body["redelivered"]), (200, &json!(1)), "{body}");
    let (_, body) = call(&app, "GET", "/v1/dead-letters", ADMIN).await;
    assert_eq!(body["dead_letters"], json!([]));
    // On the inbound FIFO as the timers function would have queued it: its TimerFired event in
    // the contact's group, with a fresh deduplication id.
    let back = client
        .receive_message()
        .queue_url(&inbound)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(back.len(), 1);
    let expected = timers::WakeUp::from_value(&wake_up).unwrap().envelope();
    assert_eq!(back[0].body.as_deref(), Some(expected.body.as_str()));
    let attrs = back[0].attributes.clone().unwrap();
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    assert_eq!(attrs[&A::MessageGroupId], "106540352242922#4915187654321");
    assert!(attrs[&A::MessageDeduplicationId].starts_with("redeliver-"));
    let event: whatsapp::Event = serde_json::from_str(back[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (event.kind_name(), event.key.as_str()),
        (
            "timer_fired",
            "timer:106540352242922:4915187654321:bot_inactivity:4"
        )
    );

    // A console without the DLQs configured says so (503), it does not pretend there are none.
    let bare = console(store, SqsQueues::new(&config, inbound, String::new()));
    let (status, body) = call(&bare, "GET", "/v1/dead-letters", ADMIN).await;
    assert_eq!(status, 503, "{body}");
}

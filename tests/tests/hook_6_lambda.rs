//! HOOK-6, bounds at the edge, through the Lambda handler (API Gateway request in, answer out)
//! with the real SQS adapter on moto: each case answers 4xx with its reason and queues nothing, or
//! is queued with its correction. None answers 5xx; nothing acknowledged is refused downstream.
//! The decisions are written down in `functions/ingest/README.md`; the local runner's side is `functions/local/tests/hook_6.rs`. Needs `AWS_ENDPOINT_URL`
//! (`./scripts/test` starts moto); fails loudly without it.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use ingest::Webhook;
use lambda_http::{Body, Response};
use queue::SqsQueues;
use testkit::{moto_config, unique};
use whatsapp::event::EventBody;
use whatsapp::{AppSecret, Event, sign};

const SECRET: &str = "hook-6-secret";
const NUMBER: &str = "106540352242922";

struct Edge {
    client: Client,
    queues: SqsQueues,
    inbound: String,
    updates: String,
    webhook: Webhook,
}

async fn edge() -> Edge {
    let config = moto_config().await;
    let client = Client::new(&config);
    let inbound = client
        .create_queue()
        .queue_name(format!("{}.fifo", unique("hook6-in")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create the FIFO queue on moto")
        .queue_url
        .unwrap();
    let updates = client
        .create_queue()
        .queue_name(unique("hook6-up"))
        .send()
        .await
        .expect("create the standard queue on moto")
        .queue_url
        .unwrap();
    Edge {
        queues: SqsQueues::new(&config, inbound.clone(), updates.clone()),
        client,
        inbound,
        updates,
        webhook: Webhook {
            secret: AppSecret::new(SECRET),
            verify_token: "unused".to_owned(),
        },
    }
}

impl Edge {
    /// POSTs a signed body through the Lambda handler: (status, reason).
    async fn post(&self, body: &str) -> (u16, String) {
        let signature = sign(&self.webhook.secret, body.as_bytes());
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhook")
            .header(whatsapp::signature::SIGNATURE_HEADER, signature)
            .header("content-type", "application/json")
            .body(Body::Text(body.to_owned()))
            .unwrap();
        let response: Response<Body> =
            ingest::handler::handle(&self.webhook, &self.queues, request).await;
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        (response.status().as_u16(), text)
    }

    /// Every event on a queue (deleting as it reads).
    async fn drain(&self, url: &str) -> Vec<Event> {
        let mut all = Vec::new();
        loop {
            let out = self
                .client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive from moto");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            for m in messages {
                all.push(serde_json::from_str(m.body.as_deref().unwrap()).unwrap());
                self.client
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn nothing_queued(&self) {
        assert!(self.drain(&self.inbound).await.is_empty());
        assert!(self.drain(&self.updates).await.is_empty());
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A `messages` webhook for `number` with these messages and statuses (JSON arrays' items).
fn webhook(number: &str, messages: &[String], statuses: &[String]) -> String {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "100000000000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100001", "phone_number_id": number},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "4915112345678"}],
            "messages": messages.iter().map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap()).collect::<Vec<_>>(),
            "statuses": statuses.iter().map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap()).collect::<Vec<_>>(),
        }}]}]
    })
    .to_string()
}

fn text(id: &str, timestamp: &str, body: &str) -> String {
    serde_json::json!({"from": "4915112345678", "id": id, "timestamp": timestamp, "type": "text", "text": {"body": body}}).to_string()
}

fn status(id: &str, timestamp: &str) -> String {
    serde_json::json!({"id": id, "status": "delivered", "timestamp": timestamp, "recipient_id": "4915112345678"}).to_string()
}

#[tokio::test]
async fn hook_6_empty_message_and_status_ids_are_refused_with_400_and_nothing_is_queued() {
    let edge = edge().await;
    let stamp = now().to_string();
    let good = text("wamid.GOOD", &stamp, "hi");
    let (code, reason) = edge
        .post(&webhook(
            NUMBER,
            &[good.clone(), text("", &stamp, "hi")],
            &[],
        ))
        .await;
    assert_eq!(code, 400, "{reason}");
    assert!(
        reason.contains("messages[1].id") && reason.contains("empty"),
        "{reason}"
    );
    let (code, reason) = edge
        .post(&webhook(NUMBER, &[good], &[status("", &stamp)]))
        .await;
    assert_eq!(code, 400, "{reason}");
    assert!(reason.contains("statuses[0].id"), "{reason}");
    let long = format!("wamid.{}", "A".repeat(300));
    let (code, reason) = edge
        .post(&webhook(NUMBER, &[text(&long, &stamp, "hi")], &[]))
        .await;
    assert_eq!(code, 400, "{reason}");
    // The good message of a refused body was not queued either: Meta delivers the body again.
    edge.nothing_queued().await;
}

#[tokio::test]
async fn hook_6_a_number_id_that_is_not_digits_is_refused_with_400() {
    let edge = edge().await;
    let stamp = now().to_string();
    for number in ["../../etc/passwd", "1' OR 1=1", "", "12 34"] {
        let (code, reason) = edge
            .post(&webhook(number, &[text("wamid.N", &stamp, "hi")], &[]))
            .await;
        assert_eq!(code, 400, "{number:?}: {reason}");
        assert!(reason.contains("phone_number_id"), "{reason}");
        // Statuses name the number too.
        let (code, _) = edge
            .post(&webhook(number, &[], &[status("wamid.S", &stamp)]))
            .await;
        assert_eq!(code, 400, "{number:?}");
    }
    edge.nothing_queued().await;
    let (code, reason) = edge
        .post(&webhook(NUMBER, &[text("wamid.N", &stamp, "hi")], &[]))
        .await;
    assert_eq!((code, reason.as_str()), (200, "ok"));
}

#[tokio::test]
async fn hook_6_one_event_over_the_queue_limit_answers_413_not_500() {
    let edge = edge().await;
    let stamp = now().to_string();
    // 300 KB of text in one message: the body is well under 3 MB, the event over SQS's 256 KiB.
    let big = text("wamid.BIG", &stamp, &"x".repeat(300 * 1024));
    let small = text("wamid.SMALL", &stamp, "hi");
    let body = webhook(NUMBER, &[small.clone(), big], &[]);
    assert!(body.len() < ingest::webhook::MAX_BODY_BYTES);
    let (code, reason) = edge.post(&body).await;
    assert_eq!(code, 413, "{reason}");
    assert!(
        reason.contains("wamid.BIG") && reason.contains(&queue::MAX_MESSAGE_BYTES.to_string()),
        "{reason}"
    );
    // The same answer every time (a permanent condition), and nothing queued.
    assert_eq!(edge.post(&body).await.0, 413);
    edge.nothing_queued().await;
    // Many events that are each within the limit still go, however large the body.
    let many: Vec<String> = (0..8)
        .map(|i| text(&format!("wamid.M{i}"), &stamp, &"y".repeat(100 * 1024)))
        .collect();
    let (code, reason) = edge.post(&webhook(NUMBER, &many, &[])).await;
    assert_eq!((code, reason.as_str()), (200, "ok"));
    assert_eq!(edge.drain(&edge.inbound).await.len(), 8);
}

#[tokio::test]
async fn hook_6_negative_and_far_future_timestamps_are_replaced_by_the_arrival_time() {
    let edge = edge().await;
    let before = now();
    let ahead = (before + 400 * 86_400).to_string();
    let slightly_ahead = (before + 60).to_string();
    let messages = [
        text("wamid.MAX", "9223372036854775807", "a"),
        text("wamid.YEAR", &ahead, "b"),
        text("wamid.NEG", "-5", "c"),
        text("wamid.DRIFT", &slightly_ahead, "d"),
        text("wamid.OLD", "1700000000", "e"),
    ];
    let (code, reason) = edge
        .post(&webhook(NUMBER, &messages, &[status("wamid.S", "-1")]))
        .await;
    assert_eq!((code, reason.as_str()), (200, "ok"));
    let after = now();
    let queued = edge.drain(&edge.inbound).await;
    assert_eq!(queued.len(), 5);
    let message = |key: &str| match &queued.iter().find(|e| e.key == key).unwrap().body {
        EventBody::Message(m) => m.clone(),
        other => panic!("{other:?}"),
    };
    for (key, stamped) in [
        ("wamid.MAX", i64::MAX),
        ("wamid.YEAR", before + 400 * 86_400),
        ("wamid.NEG", -5),
    ] {
        let m = message(key);
        assert!(
            (before..=after).contains(&m.timestamp),
            "{key}: {} is the arrival",
            m.timestamp
        );
        assert_eq!(
            m.replaced_timestamp,
            Some(stamped),
            "{key}: Meta's stamp kept"
        );
    }
    // Drift of a minute, and old stamps (Meta redelivers for days), are Meta's.
    assert_eq!(message("wamid.DRIFT").timestamp, before + 60);
    assert_eq!(message("wamid.DRIFT").replaced_timestamp, None);
    assert_eq!(message("wamid.OLD").timestamp, 1_700_000_000);
    let statuses = edge.drain(&edge.updates).await;
    match &statuses[0].body {
        EventBody::Status(s) => assert!((before..=after).contains(&s.timestamp)),
        other => panic!("{other:?}"),
    }
}

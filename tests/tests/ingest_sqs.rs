//! End to end through the real adapter: signed webhook bodies → ingest core → SQS on moto → the
//! normalised events read back from both queues (HOOK-2, HOOK-5). Needs `AWS_ENDPOINT_URL`
//! (`./scripts/test` starts moto); fails loudly without it.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use ingest::{Webhook, WebhookRequest, handle};
use queue::SqsQueues;
use switchboard_tests::fixture;
use testkit::moto_config as moto;
use whatsapp::event::EventBody;
use whatsapp::{AppSecret, Event, sign};

const SECRET: &str = "switchboard-test-secret";

async fn create(client: &Client, name: String, fifo: bool) -> String {
    let mut request = client.create_queue().queue_name(name);
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    request
        .send()
        .await
        .expect("create queue on moto")
        .queue_url
        .unwrap()
}

/// Every message on a queue: (group id, event), deleting as it reads.
async fn drain(client: &Client, url: &str) -> Vec<(Option<String>, Event)> {
    let mut all = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .expect("receive from moto");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
        }
        for m in messages {
            let group = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned();
            let event: Event = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            all.push((group, event));
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    all
}

#[tokio::test]
async fn webhook_to_sqs_and_back() {
    let config = moto().await;
    let client = Client::new(&config);
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let inbound = create(&client, format!("ingest-e2e-inbound-{suffix}.fifo"), true).await;
    let updates = create(&client, format!("ingest-e2e-updates-{suffix}"), false).await;
    let queues = SqsQueues::new(&config, inbound.clone(), updates.clone());
    let webhook = Webhook {
        secret: AppSecret::new(SECRET),
        verify_token: "unused".to_owned(),
    };
    let post = |body: Vec<u8>, signature: String| {
        let (webhook, queues) = (&webhook, &queues);
        async move {
            let request = WebhookRequest {
                method: "POST",
                query: "",
                signature: Some(&signature),
                body: &body,
            };
            handle(webhook, queues, request).await
        }
    };

    let mixed = fixture("webhooks/mixed.json");
    let signature = sign(&webhook.secret, &mixed);
    // HOOK-2: a forged body reaches no queue.
    let forged = post(mixed.clone(), sign(&AppSecret::new("forged"), &mixed)).await;
    assert_eq!(forged.status, 401);
    // HOOK-5: 200 once both queues hold the events; a redelivery adds nothing to the FIFO.
    assert_eq!(post(mixed.clone(), signature.clone()).await.status, 200);
    assert_eq!(post(mixed, signature).await.status, 200);
    let batch = fixture("webhooks/batch_20.json");
    let batch_signature = sign(&webhook.secret, &batch);
    assert_eq!(post(batch, batch_signature).await.status, 200);

    let customer = drain(&client, &inbound).await;
    assert_eq!(
        customer.len(),
        2 + 20,
        "redelivered messages deduplicated by key"
    );
    for (group, event) in &customer {
        assert!(matches!(event.body, EventBody::Message(_)));
        match event.route() {
            whatsapp::Route::Inbound { group: expected } => {
                assert_eq!(group.as_deref(), Some(expected.as_str()))
            }
            whatsapp::Route::Updates => panic!("{event:?}"),
        }
    }
    // Each contact's messages in the order Meta listed them.
    let contact_0: Vec<_> = customer
        .iter()
        .filter(|(g, _)| g.as_deref() == Some("200000000000001#15550010000"))
        .map(|(_, e)| e.key.clone())
        .collect();
    assert_eq!(
        contact_0,
        [0, 5, 10, 15].map(|i| format!("wamid.TEST_BATCH_{i:04}"))
    );

    let other = drain(&client, &updates).await;
    // The standard queue does not dedup: both deliveries are there, with the same keys.
    assert_eq!(other.len(), 6);
    assert!(
        other
            .iter()
            .all(|(g, e)| g.is_none() && !matches!(e.body, EventBody::Message(_)))
    );
    let mut keys: Vec<_> = other.iter().map(|(_, e)| e.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3);
}

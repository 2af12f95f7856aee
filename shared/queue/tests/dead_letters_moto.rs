//! OPS-4: the SQS dead-letter adapter against moto server, through the contract suite every
//! adapter passes (`queue::dead::contract`). Each test creates its own queues, each with its
//! dead-letter queue and a redrive policy of one receive, so a message is dead after one failed
//! delivery. Needs `AWS_ENDPOINT_URL` (`./scripts/test` starts moto); fails loudly without it.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use queue::dead::contract::{self, Harness};
use queue::{DeadLetterQueue, DeadLetters, Destination, Envelope, SqsDeadLetters};
use testkit::{moto_config, unique};

struct Moto {
    client: Client,
    letters: SqsDeadLetters,
    queues: Vec<DeadLetterQueue>,
}

async fn create(client: &Client, name: &str, fifo: bool, dlq_arn: Option<&str>) -> String {
    let name = if fifo {
        format!("{}.fifo", unique(name))
    } else {
        unique(name)
    };
    let mut request = client.create_queue().queue_name(name);
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    if let Some(arn) = dlq_arn {
        request = request.attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":1}}"#),
        );
    }
    request
        .send()
        .await
        .expect("create a queue on moto")
        .queue_url
        .unwrap()
}

async fn arn(client: &Client, url: &str) -> String {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

async fn moto() -> Moto {
    let config = moto_config().await;
    let client = Client::new(&config);
    let mut queues = Vec::new();
    for (queue, fifo) in [
        (Destination::Inbound, true),
        (Destination::Updates, false),
        (Destination::Outbound, false),
    ] {
        let dlq = create(&client, "ops4-dlq", fifo, None).await;
        let dlq_arn = arn(&client, &dlq).await;
        let source = create(&client, "ops4-src", fifo, Some(&dlq_arn)).await;
        queues.push(DeadLetterQueue {
            queue,
            dlq_url: dlq,
            source_url: source,
            translation: None,
        });
    }
    Moto {
        letters: SqsDeadLetters::new(client.clone(), queues.clone()),
        client,
        queues,
    }
}

impl Moto {
    fn source(&self, queue: Destination) -> &str {
        &self
            .queues
            .iter()
            .find(|q| q.queue == queue)
            .unwrap()
            .source_url
    }

    async fn receive(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        self.client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }
}

impl Harness for Moto {
    type Letters = SqsDeadLetters;

    fn letters(&self) -> &SqsDeadLetters {
        &self.letters
    }

    async fn kill(&self, queue: Destination, envelope: Envelope) {
        let url = self.source(queue);
        let mut send = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(envelope.body);
        if queue == Destination::Inbound {
            send = send
                .message_group_id(envelope.group.unwrap())
                .message_deduplication_id(envelope.key);
        }
        send.send().await.unwrap();
        // One delivery, not deleted (the consumer failed); the next receive moves it to the DLQ.
        assert_eq!(self.receive(url).await.len(), 1);
        assert!(self.receive(url).await.is_empty(), "moved to the DLQ");
    }

    async fn drain(&self, queue: Destination) -> Vec<String> {
        let url = self.source(queue);
        let mut keys = Vec::new();
        loop {
            let batch = self.receive(url).await;
            if batch.is_empty() {
                return keys;
            }
            for m in batch {
                let body: serde_json::Value =
                    serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
                keys.push(body["key"].as_str().unwrap().to_owned());
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
}

#[tokio::test]
async fn ops_4_sqs_dead_letters_pass_the_contract() {
    contract::ops_4_dead_letters_are_listed_and_redelivered(&moto().await).await;
}

#[tokio::test]
async fn ops_4_sqs_listing_hides_nothing_and_redelivery_keeps_fifo_order() {
    let m = moto().await;
    // Twelve dead letters in one FIFO group: more than one receive can return.
    for i in 0..12 {
        m.kill(
            Destination::Inbound,
            Envelope {
                key: format!("wamid.G{i:02}"),
                group: Some("106#4915100000009".into()),
                body: format!(r#"{{"key":"wamid.G{i:02}"}}"#),
            },
        )
        .await;
    }
    // SQS FIFO hands out one receive's worth of a group while it is in flight: ten show, and
    // the listing says there is more.
    let listed = m.letters.list(100).await.unwrap();
    assert_eq!((listed.letters.len(), listed.more), (10, true));
    assert!(listed.letters.iter().all(|l| l.kind == "unreadable"));
    assert_eq!(listed.letters[0].key, "wamid.G00");
    // Right after a listing everything is visible again: a second listing sees the same.
    let again = m.letters.list(100).await.unwrap();
    assert_eq!((again.letters.len(), again.more), (10, true));
    assert_eq!(m.letters.redeliver_all().await.unwrap(), 12);
    let keys = m.drain(Destination::Inbound).await;
    assert_eq!(
        keys,
        (0..12)
            .map(|i| format!("wamid.G{i:02}"))
            .collect::<Vec<_>>(),
        "back on the FIFO queue in their order"
    );
}

/// A stand-in for the timers' translation (the queue crate knows no wake-up): `{"n","c","t"}`
/// goes back as `{"key":"w:<n>:<c>:<t>"}` in the group `<n>#<c>`.
fn read_test_letter(body: &str) -> Result<queue::Translated, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no `{name}`"))
    };
    let (n, c, t) = (field("n")?, field("c")?, field("t")?);
    let key = format!("w:{n}:{c}:{t}");
    Ok(queue::Translated {
        kind: "wake_up".into(),
        key: format!("{n}:{t}"),
        envelope: Envelope {
            body: format!(r#"{{"key":"{key}"}}"#),
            group: Some(format!("{n}#{c}")),
            key,
        },
        reason: None,
        attempts: None,
        redact: vec![c],
    })
}

#[tokio::test]
async fn ops_4_a_translated_queue_lists_scheduler_reasons_and_redelivers_rewritten() {
    let m = moto().await;
    let client = &m.client;
    // As Scheduler writes its dead letters: a standard queue, the input as the body, why in
    // the message attributes.
    let dlq = create(client, "ops4-timers-dlq", false, None).await;
    let inbound = m.source(Destination::Inbound).to_owned();
    let attribute = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    client
        .send_message()
        .queue_url(&dlq)
        .message_body(r#"{"n":"106","c":"4915100000007","t":"3"}"#)
        .message_attributes("ERROR_CODE", attribute("Lambda.TooManyRequestsException"))
        .message_attributes(
            "ERROR_MESSAGE",
            attribute("Rate exceeded for input naming 4915100000007"),
        )
        .message_attributes("RETRY_ATTEMPTS", attribute("185"))
        .send()
        .await
        .unwrap();
    client
        .send_message()
        .queue_url(&dlq)
        .message_body(r#"{"n":"106"}"#)
        .send()
        .await
        .unwrap();
    let letters = SqsDeadLetters::new(
        client.clone(),
        vec![DeadLetterQueue {
            queue: Destination::Inbound,
            dlq_url: dlq.clone(),
            source_url: inbound.clone(),
            translation: Some(queue::Translation {
                name: queue::dead::TIMERS,
                read: read_test_letter,
            }),
        }],
    );

    let mut listed = letters.list(100).await.unwrap().letters;
    listed.sort_by(|a, b| a.kind.cmp(&b.kind));
    assert_eq!(listed.len(), 2, "{listed:?}");
    let (bad, good) = (&listed[0], &listed[1]);
    assert_eq!(
        (good.queue, good.kind.as_str(), good.key.as_str()),
        ("timers", "wake_up", "106:3")
    );
    assert!(good.id.starts_with("timers-"), "{good:?}");
    assert_eq!(
        good.reason,
        "Lambda.TooManyRequestsException: Rate exceeded for input naming <redacted>"
    );
    assert_eq!(good.attempts, 186, "Scheduler's retries and the first try");
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains("4915100000007")
    );
    assert_eq!((bad.kind.as_str(), bad.key.as_str()), ("unreadable", ""));
    assert_eq!(bad.reason, "not redeliverable: no `c`");

    // What cannot go back is refused with why and stays listed.
    let refused = letters.redeliver(&bad.id).await.unwrap_err();
    assert!(
        matches!(&refused, queue::QueueError::NotRedeliverable { id, reason } if id == &bad.id && reason == "no `c`"),
        "{refused:?}"
    );
    // The wake-up goes back rewritten, in its contact's group, with a fresh deduplication id.
    assert!(letters.redeliver(&good.id).await.unwrap());
    assert!(!letters.redeliver(&good.id).await.unwrap());
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
    assert_eq!(
        back[0].body.as_deref(),
        Some(r#"{"key":"w:106:4915100000007:3"}"#)
    );
    let attrs = back[0].attributes.clone().unwrap();
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    assert_eq!(attrs[&A::MessageGroupId], "106#4915100000007");
    assert!(attrs[&A::MessageDeduplicationId].starts_with("redeliver-"));
    // Redeliver-all leaves the unreadable one, and says it moved nothing.
    assert_eq!(letters.redeliver_all().await.unwrap(), 0);
    let left = letters.list(100).await.unwrap().letters;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, bad.id);
}

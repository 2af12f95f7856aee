//! The SQS adapter against moto server (started by `./scripts/test`; see ../shared/LOCAL-STACK.md).
//! Each test creates its own uniquely named queues. Without `AWS_ENDPOINT_URL` these tests fail
//! loudly: they never skip.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use queue::SqsQueues;
use queue::sqs::{plan, sqs_id};
use queue::{Destination, Envelope, EventQueue, MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES, QueueError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use testkit::{moto_config as sdk_config, unique};

/// Records every `SendMessageBatch` call the adapter makes: (entries, bytes of bodies). Moto does
/// not enforce SQS's size limits, so the test checks them on the calls themselves.
#[derive(Debug, Clone, Default)]
struct BatchRecorder(Arc<Mutex<Vec<(usize, usize)>>>);

impl aws_sdk_sqs::config::Intercept for BatchRecorder {
    fn name(&self) -> &'static str {
        "BatchRecorder"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_sqs::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_sqs::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(input) = context
            .input()
            .downcast_ref::<aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput>(
        ) {
            let entries = input.entries();
            let bytes = entries.iter().map(|e| e.message_body().len()).sum();
            self.0.lock().unwrap().push((entries.len(), bytes));
        }
        Ok(())
    }
}

impl BatchRecorder {
    fn calls(&self) -> Vec<(usize, usize)> {
        self.0.lock().unwrap().clone()
    }
}

/// A FIFO and a standard queue of this test's own, and the adapter on them.
async fn queues(test: &str) -> (Client, SqsQueues, String, String) {
    let (client, adapter, fifo, standard, _) = recorded_queues(test).await;
    (client, adapter, fifo, standard)
}

/// Like [`queues`], with the adapter's calls recorded.
async fn recorded_queues(test: &str) -> (Client, SqsQueues, String, String, BatchRecorder) {
    let config = sdk_config().await;
    let client = Client::new(&config);
    let fifo = client
        .create_queue()
        .queue_name(format!("{}.fifo", unique(test)))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create the FIFO queue on moto")
        .queue_url
        .unwrap();
    let standard = client
        .create_queue()
        .queue_name(unique(test))
        .send()
        .await
        .expect("create the standard queue on moto")
        .queue_url
        .unwrap();
    let recorder = BatchRecorder::default();
    let recorded = aws_sdk_sqs::config::Builder::from(&config)
        .interceptor(recorder.clone())
        .build();
    let adapter =
        SqsQueues::with_client(Client::from_conf(recorded), fifo.clone(), standard.clone());
    (client, adapter, fifo, standard, recorder)
}

#[derive(Debug)]
struct Received {
    body: String,
    group: Option<String>,
    dedup: Option<String>,
}

/// Receives (and deletes) everything on a queue, in the order SQS hands it out.
async fn drain(client: &Client, url: &str) -> Vec<Received> {
    let mut all = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive from moto");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        for m in messages {
            let attrs = m.attributes.clone().unwrap_or_default();
            all.push(Received {
                body: m.body.clone().unwrap_or_default(),
                group: attrs
                    .get(&MessageSystemAttributeName::MessageGroupId)
                    .cloned(),
                dedup: attrs
                    .get(&MessageSystemAttributeName::MessageDeduplicationId)
                    .cloned(),
            });
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .expect("delete on moto");
        }
    }
    all
}

fn envelope(key: &str, group: Option<&str>, body: String) -> Envelope {
    Envelope {
        key: key.to_owned(),
        group: group.map(str::to_owned),
        body,
    }
}

#[tokio::test]
async fn fifo_sets_group_and_dedup_ids_and_keeps_group_order() {
    let (client, adapter, fifo, _, recorder) = recorded_queues("fifo-ids").await;
    let long_key = format!("wamid.{}", "L".repeat(140));
    let mut envelopes: Vec<Envelope> = (0..23)
        .map(|i| {
            let group = format!("200000000000001#1555000{}", i % 3);
            envelope(
                &format!("wamid.KEY+/={i:03}"),
                Some(&group),
                format!("{{\"n\":{i}}}"),
            )
        })
        .collect();
    envelopes.push(envelope(
        &long_key,
        Some("200000000000001#15550000"),
        "{\"n\":23}".into(),
    ));
    envelopes.push(envelope(
        "key with spaces",
        Some("200000000000001#US.1000000000000000001"),
        "{\"n\":24}".into(),
    ));
    let batches = plan(Destination::Inbound, &envelopes).unwrap();
    assert_eq!(batches.len(), 3);
    assert!(batches.iter().all(|b| b.len() <= MAX_BATCH_ENTRIES));

    adapter
        .send(Destination::Inbound, envelopes.clone())
        .await
        .expect("send to moto");
    let entries: Vec<usize> = recorder.calls().iter().map(|c| c.0).collect();
    assert_eq!(
        entries,
        [10, 10, 5],
        "SendMessageBatch calls of at most 10 entries"
    );

    let received = drain(&client, &fifo).await;
    assert_eq!(received.len(), envelopes.len());
    let by_body: HashMap<&str, &Envelope> =
        envelopes.iter().map(|e| (e.body.as_str(), e)).collect();
    for r in &received {
        let sent = by_body[r.body.as_str()];
        assert_eq!(r.group.as_deref(), sent.group.as_deref());
        assert_eq!(r.dedup.as_deref(), Some(sqs_id(&sent.key).as_ref()));
    }
    let hashed = received.iter().find(|r| r.body == "{\"n\":23}").unwrap();
    assert_eq!(
        hashed.dedup.as_ref().unwrap().len(),
        64,
        "long keys are hashed"
    );
    // Within each group, the order sent is the order received.
    for g in 0..3 {
        let group = format!("200000000000001#1555000{g}");
        let order = |items: Vec<&str>| items.into_iter().map(str::to_owned).collect::<Vec<_>>();
        let sent = order(
            envelopes
                .iter()
                .filter(|e| e.group.as_deref() == Some(group.as_str()))
                .map(|e| e.body.as_str())
                .collect(),
        );
        let got = order(
            received
                .iter()
                .filter(|r| r.group.as_deref() == Some(group.as_str()))
                .map(|r| r.body.as_str())
                .collect(),
        );
        assert_eq!(got, sent, "group {group}");
    }
}

#[tokio::test]
async fn fifo_drops_a_redelivered_event_by_its_key() {
    let (client, adapter, fifo, _) = queues("fifo-dedup").await;
    let first = vec![
        envelope("wamid.A", Some("n#a"), "{\"a\":1}".into()),
        envelope("wamid.B", Some("n#b"), "{\"b\":1}".into()),
    ];
    adapter.send(Destination::Inbound, first).await.unwrap();
    // Meta delivers the same message again (the body may differ, the key does not).
    let again = vec![
        envelope("wamid.A", Some("n#a"), "{\"a\":2}".into()),
        envelope("wamid.C", Some("n#a"), "{\"c\":1}".into()),
    ];
    adapter.send(Destination::Inbound, again).await.unwrap();
    let mut bodies: Vec<_> = drain(&client, &fifo)
        .await
        .into_iter()
        .map(|r| r.body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["{\"a\":1}", "{\"b\":1}", "{\"c\":1}"]);
}

#[tokio::test]
async fn large_bodies_are_split_over_batches_within_the_size_limit() {
    let (client, adapter, _, standard, recorder) = recorded_queues("size-split").await;
    let mut envelopes = Vec::new();
    for i in 0..5 {
        // ~100 KiB each: at most two fit one 256 KiB batch.
        envelopes.push(envelope(
            &format!("big-{i}"),
            None,
            format!("{{\"i\":{i},\"pad\":\"{}\"}}", "p".repeat(100 * 1024)),
        ));
    }
    // One body of exactly the limit travels alone.
    let exact = format!("{{\"pad\":\"{}\"}}", "e".repeat(MAX_MESSAGE_BYTES - 10));
    assert_eq!(exact.len(), MAX_MESSAGE_BYTES);
    envelopes.push(envelope("exact", None, exact));
    for i in 0..14 {
        envelopes.push(envelope(
            &format!("small-{i}"),
            None,
            format!("{{\"s\":{i}}}"),
        ));
    }
    // A character SQS refuses inside a JSON string is escaped, not rejected.
    envelopes.push(envelope("nonchar", None, "{\"t\":\"a\u{FFFF}b\"}".into()));
    let batches = plan(Destination::Updates, &envelopes).unwrap();
    assert_eq!(batches.len(), 6, "{batches:?}");
    assert!(batches.iter().all(|b| b.len() <= MAX_BATCH_ENTRIES));

    adapter
        .send(Destination::Updates, envelopes.clone())
        .await
        .expect("send to moto");
    let calls = recorder.calls();
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|&(n, bytes)| n <= MAX_BATCH_ENTRIES && bytes <= MAX_MESSAGE_BYTES),
        "{calls:?}"
    );
    assert_eq!(calls.iter().map(|c| c.0).sum::<usize>(), envelopes.len());

    let mut got: Vec<String> = drain(&client, &standard)
        .await
        .into_iter()
        .map(|r| {
            assert!(r.group.is_none() && r.dedup.is_none());
            r.body
        })
        .collect();
    let mut sent: Vec<String> = envelopes
        .iter()
        .map(|e| e.body.replace('\u{FFFF}', "\\uffff"))
        .collect();
    got.sort();
    sent.sort();
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "every body arrives once, intact");
}

#[tokio::test]
async fn many_batches_in_flight_keep_each_groups_order() {
    let (client, adapter, fifo, _) = queues("waves").await;
    let adapter = adapter.concurrency(8);
    let envelopes: Vec<Envelope> = (0..120)
        .map(|i| {
            envelope(
                &format!("k{i}"),
                Some(&format!("n#c{}", i % 4)),
                format!("{{\"g\":{},\"i\":{i}}}", i % 4),
            )
        })
        .collect();
    adapter
        .send(Destination::Inbound, envelopes.clone())
        .await
        .unwrap();
    let received = drain(&client, &fifo).await;
    assert_eq!(received.len(), 120);
    for g in 0..4 {
        let group = format!("n#c{g}");
        let sent: Vec<_> = envelopes
            .iter()
            .filter(|e| e.group.as_deref() == Some(group.as_str()))
            .map(|e| e.body.clone())
            .collect();
        let got: Vec<_> = received
            .iter()
            .filter(|r| r.group.as_deref() == Some(group.as_str()))
            .map(|r| r.body.clone())
            .collect();
        assert_eq!(got, sent, "{group}");
    }
}

#[tokio::test]
async fn hook_5_a_queue_that_does_not_take_the_batch_is_an_error() {
    let (_, _, fifo, _) = queues("missing").await;
    let config = sdk_config().await;
    let missing = format!("{}-does-not-exist", fifo.trim_end_matches(".fifo"));
    let adapter = SqsQueues::new(&config, missing.clone(), missing).attempts(2);
    let err = adapter
        .send(Destination::Updates, vec![envelope("k", None, "{}".into())])
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::NotAccepted { .. }), "{err:?}");
    // The FIFO queue refuses entries without a group before any call.
    let (_, adapter, _, _) = queues("nogroup").await;
    let err = adapter
        .send(Destination::Inbound, vec![envelope("k", None, "{}".into())])
        .await
        .unwrap_err();
    assert_eq!(err, QueueError::MissingGroup { key: "k".into() });
}

/// Rewrites the answer of the next `failures` `SendMessageBatch` calls into "every entry failed"
/// (moto never fails part of a batch), to drive the adapter's retries.
#[derive(Debug, Clone)]
struct FailingBatches {
    failures: Arc<AtomicUsize>,
    sender_fault: bool,
}

impl aws_sdk_sqs::config::Intercept for FailingBatches {
    fn name(&self) -> &'static str {
        "FailingBatches"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_sqs::config::interceptors::BeforeDeserializationInterceptorContextMut<
            '_,
        >,
        _components: &aws_sdk_sqs::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sqs::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            let failed: Vec<String> = (0..MAX_BATCH_ENTRIES)
                .map(|i| {
                    format!(
                        r#"{{"Id":"{i}","SenderFault":{},"Code":"InjectedFailure","Message":"injected"}}"#,
                        self.sender_fault
                    )
                })
                .collect();
            let body = format!(r#"{{"Successful":[],"Failed":[{}]}}"#, failed.join(","));
            *context.response_mut().body_mut() = body.into();
        }
        Ok(())
    }
}

/// The adapter on this test's standard queue, with `failures` batch answers turned into failures.
async fn failing_adapter(
    test: &str,
    failures: usize,
    sender_fault: bool,
) -> (Client, SqsQueues, String, BatchRecorder) {
    let (client, _, fifo, standard, _) = recorded_queues(test).await;
    let config = sdk_config().await;
    let recorder = BatchRecorder::default();
    let conf = aws_sdk_sqs::config::Builder::from(&config)
        .interceptor(recorder.clone())
        .interceptor(FailingBatches {
            failures: Arc::new(AtomicUsize::new(failures)),
            sender_fault,
        })
        .build();
    let adapter =
        SqsQueues::with_client(Client::from_conf(conf), fifo, standard.clone()).attempts(3);
    (client, adapter, standard, recorder)
}

fn three() -> Vec<Envelope> {
    (0..3)
        .map(|i| envelope(&format!("r{i}"), None, format!("{{\"r\":{i}}}")))
        .collect()
}

#[tokio::test]
async fn hook_5_failed_entries_are_retried_then_accepted() {
    let (client, adapter, standard, recorder) = failing_adapter("retry-ok", 2, false).await;
    adapter
        .send(Destination::Updates, three())
        .await
        .expect("accepted on the third attempt");
    assert_eq!(
        recorder.calls().iter().map(|c| c.0).collect::<Vec<_>>(),
        [3, 3, 3]
    );
    // What moto took on the failed-looking calls is delivered again: at least once, keyed.
    let got = drain(&client, &standard).await;
    assert_eq!(got.len(), 9);
}

#[tokio::test]
async fn hook_5_entries_still_failing_after_the_last_attempt_are_an_error() {
    let (_, adapter, _, recorder) = failing_adapter("retry-exhausted", usize::MAX, false).await;
    let err = adapter
        .send(Destination::Updates, three())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        QueueError::NotAccepted {
            failed: 3,
            code: "InjectedFailure".into()
        }
    );
    assert_eq!(recorder.calls().len(), 3, "tried `attempts` times");
}

#[tokio::test]
async fn hook_5_a_sender_fault_is_not_retried() {
    let (_, adapter, _, recorder) = failing_adapter("sender-fault", usize::MAX, true).await;
    let err = adapter
        .send(Destination::Updates, three())
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueueError::NotAccepted { failed: 3, .. }),
        "{err:?}"
    );
    assert_eq!(recorder.calls().len(), 1);
}

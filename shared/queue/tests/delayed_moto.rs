//! `DelayedQueue` on SQS against moto server: the delay reaches SQS, and the FIFO queue refuses
//! one. Without `AWS_ENDPOINT_URL` this test fails loudly: it never skips.

use aws_sdk_sqs::Client;
use queue::{DelayedQueue, Destination, Envelope, QueueError, SqsQueues};
use std::time::Duration;
use testkit::{moto_config, unique};

#[tokio::test]
async fn a_delayed_message_arrives_only_after_its_delay() {
    let config = moto_config().await;
    let client = Client::new(&config);
    let url = client
        .create_queue()
        .queue_name(unique("outbound"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queues = SqsQueues::new(&config, "", "").outbound(url.clone());
    let envelope = Envelope {
        key: "tick:spring:1".into(),
        group: None,
        body: r#"{"job":"campaign_tick"}"#.into(),
    };
    queues
        .send_delayed(
            Destination::Outbound,
            vec![envelope.clone()],
            Duration::from_millis(2_100),
        )
        .await
        .unwrap();
    let now = client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert!(now.messages().is_empty(), "delivered before its delay");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(later.messages().len(), 1);
    assert_eq!(later.messages()[0].body(), Some(envelope.body.as_str()));

    // The FIFO queue has no per-message delay: refused before anything is sent.
    let fifo = SqsQueues::new(&config, "http://127.0.0.1:1/q.fifo", "");
    let grouped = Envelope {
        group: Some("n#c".into()),
        ..envelope
    };
    assert_eq!(
        fifo.send_delayed(Destination::Inbound, vec![grouped], Duration::from_secs(1))
            .await,
        Err(QueueError::DelayOnFifo {
            key: "tick:spring:1".into()
        })
    );
}

#[test]
fn delays_are_whole_seconds_rounded_up_and_capped() {
    assert_eq!(queue::delay_seconds(Duration::ZERO), 0);
    assert_eq!(queue::delay_seconds(Duration::from_millis(1)), 1);
    assert_eq!(queue::delay_seconds(Duration::from_millis(12_500)), 13);
    assert_eq!(queue::delay_seconds(Duration::from_secs(86_400)), 900);
}

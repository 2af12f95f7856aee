//! MEDIA-1 on the AWS path: the media function's handler, called as Lambda calls it with SQS
//! records from the media queue on moto, fetching from the fake Graph API into an S3 bucket on
//! moto. For every media type the bytes an agent downloads through the presigned link are the
//! bytes the customer sent (SHA-256); an expired or failing Meta link is retried with the rules'
//! delay and noted on the record; a fetch given up ends as a notice event in the contact's FIFO
//! lane. Needs moto (`./scripts/test -p media-lambda`).

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::QueueAttributeName;
use media::{Fetcher, MediaKey, MediaStatus, MediaStore, S3Store, sha256_hex};
use media_lambda::MediaFunction;
use queue::{DelayedQueue, Destination, Envelope, EventQueue, FetchJob, QueueError, SqsQueues};
use rules::effect::MediaKind;
use rules::{BusinessNumberId, ContactKey, Timestamp};
use std::sync::{Arc, Mutex};
use testkit::fake_graph::{FakeFailure, FakeGraph};
use timers::ManualClock;
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

/// The media queue with SQS's delay recorded instead of waited for (moto holds a delayed
/// message on the wall clock): the test checks each retry's delay, then delivers it at once.
#[derive(Clone)]
struct RecordedDelays {
    inner: Arc<SqsQueues>,
    delays: Arc<Mutex<Vec<std::time::Duration>>>,
}

impl EventQueue for RecordedDelays {
    async fn send(&self, to: Destination, envelopes: Vec<Envelope>) -> Result<(), QueueError> {
        self.inner.send(to, envelopes).await
    }
}

impl DelayedQueue for RecordedDelays {
    async fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        queue::check_delayed(to, &envelopes)?;
        self.delays.lock().unwrap().push(delay);
        self.inner.send(to, envelopes).await
    }
}

struct Deployment {
    graph: FakeGraph,
    sqs: aws_sdk_sqs::Client,
    media_url: String,
    inbound_url: String,
    store: S3Store,
    function: MediaFunction<S3Store, RecordedDelays, ManualClock>,
    delays: Arc<Mutex<Vec<std::time::Duration>>>,
}

const NOW: i64 = 1_750_000_000;

async fn deploy() -> Deployment {
    let config = testkit::moto_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let media_url = sqs
        .create_queue()
        .queue_name(testkit::unique("media"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let inbound_url = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", testkit::unique("inbound")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let bucket = testkit::unique("media").to_lowercase();
    let store = S3Store::new(&config, &bucket, true);
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let graph = FakeGraph::start().await;
    let cloud = CloudClient::new(CloudConfig {
        graph_url: graph.url(),
        ..CloudConfig::new(AccessToken::new(graph.token()))
    })
    .unwrap();
    let delays = Arc::new(Mutex::new(Vec::new()));
    let queue = RecordedDelays {
        inner: Arc::new(SqsQueues::new(&config, &inbound_url, String::new()).media(&media_url)),
        delays: delays.clone(),
    };
    Deployment {
        graph,
        sqs,
        media_url,
        inbound_url,
        store: store.clone(),
        function: MediaFunction {
            fetcher: Fetcher::new(cloud, store),
            queue,
            clock: ManualClock::new(Timestamp::from_unix(NOW)),
        },
        delays,
    }
}

fn job(media_id: &str, kind: MediaKind, mime: &str, sha256: Option<String>) -> FetchJob {
    FetchJob {
        number: BusinessNumberId::new("106540352242922").unwrap(),
        contact: ContactKey::new("16505551234").unwrap(),
        message: format!("wamid.{media_id}"),
        media_id: media_id.into(),
        kind,
        mime_type: Some(mime.into()),
        sha256,
        filename: None,
    }
}

impl Deployment {
    /// Receives what is on a queue (bodies), deleting it.
    async fn drain(&self, url: &str) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap();
        let mut bodies = Vec::new();
        for m in out.messages() {
            bodies.push(m.body().unwrap_or_default().to_owned());
            self.sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        bodies
    }

    /// The handler on these bodies, as SQS records; the ids it reported failed.
    async fn handle(&self, bodies: &[String]) -> Vec<String> {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                serde_json::json!({
                    "messageId": format!("m-{i}"),
                    "receiptHandle": format!("r-{i}"),
                    "body": body,
                    "attributes": {},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:media",
                    "awsRegion": "us-east-1"
                })
            })
            .collect();
        let event: SqsEvent = serde_json::from_value(serde_json::json!({ "Records": records }))
            .expect("an SQS event");
        self.function
            .handle(event)
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    /// What an agent's browser downloads from the presigned link.
    async fn download(&self, job: &FetchJob) -> Vec<u8> {
        let link = self
            .store
            .direct_link(&MediaKey::from(job), 300)
            .await
            .unwrap()
            .expect("S3 presigns links");
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let answer = reqwest::get(&link).await.unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{link}");
        answer.bytes().await.unwrap().to_vec()
    }
}

#[tokio::test]
async fn media_1_every_media_type_reaches_s3_and_downloads_byte_for_byte() {
    let d = deploy().await;
    let types = [
        (MediaKind::Image, "image/jpeg", 300_000),
        (MediaKind::Audio, "audio/ogg", 50_000),
        (MediaKind::Video, "video/mp4", 9 * 1024 * 1024),
        (MediaKind::Document, "application/pdf", 700_001),
        (MediaKind::Sticker, "image/webp", 20_000),
    ];
    let mut jobs = Vec::new();
    for (i, (kind, mime, len)) in types.into_iter().enumerate() {
        let bytes = testkit::noise(len, i as u64 + 11);
        let media_id = format!("91000{i}");
        let hash = d.graph.serve_media(&media_id, mime, bytes);
        jobs.push((job(&media_id, kind, mime, Some(hash.clone())), hash, len));
    }
    // One batch, as the router queued them.
    let bodies: Vec<String> = jobs.iter().map(|(j, ..)| j.to_body(0)).collect();
    assert_eq!(d.handle(&bodies).await, Vec::<String>::new());
    for (job, hash, len) in &jobs {
        let record = d.store.record(&MediaKey::from(job)).await.unwrap().unwrap();
        let stored = record.stored().expect("stored");
        assert_eq!(
            (stored.size, stored.sha256.as_str()),
            (*len as u64, hash.as_str())
        );
        assert_eq!(record.meta.kind, job.kind);
        assert_eq!(sha256_hex(&d.download(job).await), *hash, "{:?}", job.kind);
    }
    // Nothing was retried or noted.
    assert!(d.delays.lock().unwrap().is_empty());
    assert!(d.drain(&d.media_url).await.is_empty());
    assert!(d.drain(&d.inbound_url).await.is_empty());
    // A redelivered job downloads nothing again.
    let downloads = d.graph.downloads();
    assert!(d.handle(&bodies[..1]).await.is_empty());
    assert_eq!(d.graph.downloads(), downloads);
    // A body that is no fetch job is reported failed (SQS retries it, then its DLQ).
    assert_eq!(d.handle(&["{\"x\":1}".to_owned()]).await, ["m-0"]);
}

#[tokio::test]
async fn media_1_an_expired_link_is_retried_with_backoff_and_a_fetch_given_up_is_noted() {
    let d = deploy().await;
    let bytes = testkit::noise(40_000, 5);
    let hash = d.graph.serve_media("920001", "image/png", bytes);
    let photo = job("920001", MediaKind::Image, "image/png", Some(hash.clone()));
    let expired = FakeFailure::Api {
        http_status: 404,
        code: 100,
        subcode: None,
        title: None,
        message: "URL signature expired".into(),
    };
    d.graph.fail_downloads(2, expired.clone());

    // First attempt: noted on the record, back on the media queue after 10 s with attempt 1.
    assert!(d.handle(&[photo.to_body(0)]).await.is_empty());
    let record = d
        .store
        .record(&MediaKey::from(&photo))
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&record.status, MediaStatus::Failed { attempts: 1, reason, next_at: Some(_), .. } if reason.contains("expired")),
        "{record:?}"
    );
    let retry = d.drain(&d.media_url).await;
    assert_eq!(retry.len(), 1);
    assert_eq!(FetchJob::from_body(&retry[0]), Some((photo.clone(), 1)));
    // Second: 30 s later; third: stored, byte for byte.
    assert!(d.handle(&retry).await.is_empty());
    let retry = d.drain(&d.media_url).await;
    assert_eq!(FetchJob::from_body(&retry[0]).map(|(_, n)| n), Some(2));
    assert!(d.handle(&retry).await.is_empty());
    assert_eq!(
        *d.delays.lock().unwrap(),
        [
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(30)
        ]
    );
    assert_eq!(sha256_hex(&d.download(&photo).await), hash);
    assert!(d.drain(&d.media_url).await.is_empty());
    assert!(
        d.drain(&d.inbound_url).await.is_empty(),
        "no notice for a fetch that succeeded"
    );

    // A link that keeps failing: the last attempt gives up and puts the notice in the contact's
    // lane (its FIFO group), never silently.
    d.graph
        .serve_media("920002", "application/pdf", testkit::noise(1_000, 6));
    let pdf = job("920002", MediaKind::Document, "application/pdf", None);
    d.graph.fail_downloads(1, expired);
    let last = pdf.to_body(rules::media::FETCH_ATTEMPTS - 1);
    assert!(d.handle(&[last]).await.is_empty());
    assert!(d.drain(&d.media_url).await.is_empty(), "not retried again");
    let notices = d.drain(&d.inbound_url).await;
    assert_eq!(notices.len(), 1);
    let event: whatsapp::Event = serde_json::from_str(&notices[0]).unwrap();
    let whatsapp::EventBody::Lane(lane) = &event.body else {
        panic!("{event:?}");
    };
    assert_eq!(lane.contact, "16505551234");
    assert!(
        matches!(&lane.event, rules::Event::MediaNotFetched { message, kind: MediaKind::Document, reason }
            if message.as_str() == "wamid.920002" && reason.contains("expired")),
        "{lane:?}"
    );
    let record = d
        .store
        .record(&MediaKey::from(&pdf))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        record.status,
        MediaStatus::Failed { next_at: None, .. }
    ));
}

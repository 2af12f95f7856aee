//! The AWS path: Switchboard's Lambda handlers, called as Lambda calls them, over the real
//! adapters on moto server (DynamoDB, SQS, EventBridge Scheduler) and a fake Graph API.
//!
//! - the webhook: `ingest::handler::handle` with an API Gateway request (`lambda_http`);
//! - the inbound FIFO: received from moto (up to 10, with `MessageGroupId`) and handed to
//!   `router::handler::handle` as an SQS event; what it does not report failed is deleted;
//! - the updates and outbound queues: `sender::handler::handle`, each record with its queue's
//!   `eventSourceArn`;
//! - timers: the schedules in the deployment's group on moto; each one whose `at(...)` is due on
//!   the manual clock is fired by calling `timers_lambda::handle` with its target input, then
//!   deleted (what `ActionAfterCompletion: DELETE` does);
//! - the console: `console::app` with the media routes (on S3) through
//!   `tower::ServiceExt::oneshot`;
//! - the media queue: `media_lambda::MediaFunction::handle` fetching from the fake Graph API into
//!   an S3 bucket on moto; its retries held on the manual clock as the sender's delayed sends are.
//!
//! One [`SharedClock`] is every function's clock. SQS's per-message delay (`DelaySeconds`) runs on
//! the wall clock in moto, so the sender's delayed sends are held by [`HeldDelays`] until the
//! manual clock reaches their due time, then sent through the sender's own queue adapter: a story
//! never waits on the wall clock.
//!
//! The functions' SDK clients can go through a [`CountingProxy`] (one listener per function), while
//! the harness's own calls (receive, delete, list and delete schedules) go to moto directly, so
//! that only what the functions do is counted ([`AwsPath::counted`], goal P3).

use crate::clock::SharedClock;
use crate::deployment::{APP_SECRET, Deployment, Reply, START, TOKENS, VERIFY_TOKEN};
use crate::proxy::{CountingProxy, Counts, Requests};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use console::submitter::GraphSubmitter;
use console::{Console, StaticTokens};
use queue::{DelayedQueue, Destination, Envelope, EventQueue, QueueError, SqsQueues};
use router::Router;
use rules::outreach::OutreachKey;
use sender::handler::Sources;
use sender::{CloudGraph, Options, RecordedAlerts, Sender};
use std::sync::{Arc, Mutex};
use store::DynamoStore;
use testkit::fake_graph::FakeGraph;
use timers::{SchedulerConfig, SchedulerTimers};
use tower::ServiceExt;

/// The deployment's OUT-8 key.
pub const OUTREACH_KEY: &[u8] = b"e2e-outreach-hmac-key";
const ACCOUNT: &str = "123456789012";
/// How many rounds `advance` runs before it calls the deployment stuck.
const MAX_ROUNDS: usize = 200;

/// The sender's queue port with SQS's delivery delay kept on the manual clock: a delayed send is
/// held until the clock reaches its due time, then sent through the inner adapter.
pub struct HeldDelays<Q> {
    inner: Q,
    clock: SharedClock,
    held: Mutex<Vec<(i64, Destination, Vec<Envelope>)>>,
}

impl<Q: EventQueue> HeldDelays<Q> {
    pub fn new(inner: Q, clock: SharedClock) -> Self {
        HeldDelays {
            inner,
            clock,
            held: Mutex::new(Vec::new()),
        }
    }

    fn take_due(&self) -> Vec<(Destination, Vec<Envelope>)> {
        let now = self.clock.ms();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let (due, later): (Vec<_>, Vec<_>) = held.drain(..).partition(|(at, _, _)| *at <= now);
        *held = later;
        due.into_iter().map(|(_, to, e)| (to, e)).collect()
    }

    /// Sends what is due now; `true` when something was.
    pub async fn release_due(&self) -> bool {
        let due = self.take_due();
        let any = !due.is_empty();
        for (to, envelopes) in due {
            self.inner
                .send(to, envelopes)
                .await
                .expect("a held delayed send reaches the queue");
        }
        any
    }

    /// When the next held send is due (milliseconds).
    pub fn next_due(&self) -> Option<i64> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.iter().map(|(at, _, _)| *at).min()
    }
}

impl<Q: EventQueue> EventQueue for HeldDelays<Q> {
    async fn send(&self, to: Destination, envelopes: Vec<Envelope>) -> Result<(), QueueError> {
        self.inner.send(to, envelopes).await
    }
}

impl<Q: EventQueue> DelayedQueue for HeldDelays<Q> {
    async fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        queue::check_delayed(to, &envelopes)?;
        if delay.is_zero() {
            return self.inner.send(to, envelopes).await;
        }
        let at = self.clock.ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, to, envelopes));
        Ok(())
    }
}

type TheSender = Sender<DynamoStore, HeldDelays<SqsQueues>, CloudGraph, SharedClock>;
type TheMedia = media_lambda::MediaFunction<media::S3Store, HeldDelays<SqsQueues>, SharedClock>;

/// The queues of one deployment.
struct Urls {
    inbound: String,
    updates: String,
    outbound: String,
    media: String,
}

/// The names of one deployment's resources on moto, by what `infra/template.yaml` calls them: what
/// the permission test (OPS-1) resolves the template's references to.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub table: String,
    pub inbound_queue_url: String,
    pub updates_queue_url: String,
    pub outbound_queue_url: String,
    pub media_queue_url: String,
    pub media_bucket: String,
    pub schedule_group: String,
    /// The timers function's ARN (the schedules' target).
    pub timers_function_arn: String,
    /// The role Scheduler assumes (passed with every schedule).
    pub scheduler_role_arn: String,
    pub timer_dead_letter_arn: String,
    /// Where each function's SDK clients point (its proxy listener, or moto).
    pub endpoints: std::collections::BTreeMap<String, String>,
}

/// Switchboard on the AWS path (see the module doc).
pub struct AwsPath {
    graph: FakeGraph,
    clock: SharedClock,
    sqs: aws_sdk_sqs::Client,
    scheduler: aws_sdk_scheduler::Client,
    urls: Urls,
    group: String,
    webhook: ingest::Webhook,
    ingest_queue: SqsQueues,
    router: Router<DynamoStore, SqsQueues, SchedulerTimers>,
    sender: Arc<TheSender>,
    sources: Sources,
    media: TheMedia,
    timers_queue: SqsQueues,
    console: axum::Router,
    proxy: Option<CountingProxy>,
    deployed: Deployed,
    /// The store as the harness sees it (checks only; never written by the harness).
    pub store: DynamoStore,
}

/// The functions whose calls a counted deployment tells apart.
pub const FUNCTIONS: [&str; 8] = [
    "ingest",
    "router",
    "sender",
    "timers",
    "console",
    "media",
    "deliverer",
    "projector",
];

/// An SDK configuration for moto or a proxy listener at `endpoint` (test credentials, us-east-1).
pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .load()
        .await
}

/// A Graph API client for the fake (the sender's sends, the console's template submissions).
fn graph_client(graph: &FakeGraph) -> whatsapp::cloud::CloudClient {
    whatsapp::cloud::CloudClient::new(whatsapp::cloud::CloudConfig {
        graph_url: graph.url(),
        version: "v23.0".to_owned(),
        ..whatsapp::cloud::CloudConfig::new(whatsapp::cloud::AccessToken::new(graph.token()))
    })
    .expect("a Graph API client")
}

/// The console identities of [`TOKENS`]. `StaticTokens::parse` refuses tokens shorter than 16
/// characters (a guard for real deployments); the test tokens are short, so they are added one by
/// one with `StaticTokens::with`.
pub fn e2e_tokens() -> StaticTokens {
    TOKENS
        .split(',')
        .fold(StaticTokens::new(), |tokens, entry| {
            let mut parts = entry.splitn(3, ':');
            let (Some(agent), Some(role), Some(token)) = (parts.next(), parts.next(), parts.next())
            else {
                panic!("TOKENS entry {entry:?} is not agent:role:token");
            };
            let role = console::Role::parse(role).expect("a role");
            tokens.with(
                token,
                rules::AgentId::new(agent).expect("an agent id"),
                role,
            )
        })
}

impl AwsPath {
    /// A fresh deployment on moto: its own table, queues and schedule group.
    pub async fn start() -> AwsPath {
        AwsPath::build(false).await
    }

    /// As [`AwsPath::start`], with every function's AWS calls going through a counting proxy.
    pub async fn counted() -> AwsPath {
        AwsPath::build(true).await
    }

    /// Zeroes the counts of a counted deployment (and of the cross-check counter, if any).
    pub async fn reset_counts(&self) {
        self.counts().reset();
        if let Ok(upstream) = std::env::var("E2E_COUNT_UPSTREAM") {
            crate::proxy::http_call(&upstream, "POST", "/__reset")
                .await
                .expect("reset the cross-check counter");
        }
    }

    /// Every request the functions of a counted deployment sent, whole.
    pub fn requests(&self) -> &Requests {
        self.proxy
            .as_ref()
            .expect("a counted deployment (AwsPath::counted)")
            .requests()
    }

    /// EVT-1: turns the table's stream on (the stack's table has it; the stories do without).
    pub async fn enable_event_stream(&self) {
        aws_sdk_dynamodb::Client::new(&sdk(&testkit::moto_endpoint()).await)
            .update_table()
            .table_name(&self.deployed.table)
            .stream_specification(
                aws_sdk_dynamodb::types::StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                    .build()
                    .expect("a stream specification"),
            )
            .send()
            .await
            .expect("the stream on moto");
    }

    /// The stream's records so far through the projector's handler, as the stack's event source
    /// mapping hands them over (a replayed record writes nothing new). The mapping reads the
    /// stream with the projector's role, so on a counted deployment the stream calls and the
    /// projector's writes both go through its listener (OPS-1).
    pub async fn project_events(&self) {
        let endpoint = self.deployed.endpoints["projector"].clone();
        let table = self.deployed.table.clone();
        // Off the runtime's thread: the proxy listener it calls runs on this runtime.
        let read = {
            let (table, endpoint) = (table.clone(), endpoint.clone());
            tokio::task::spawn_blocking(move || {
                testkit::events_out::stream_records_through(&table, &endpoint)
            })
        };
        let records = serde_json::from_value(read.await.expect("the stream read"))
            .expect("stream records in the Lambda event's shape");
        // Boxed: the SDK's futures are large in a debug build, and the stories' are deep.
        let sdk = Box::pin(sdk(&endpoint)).await;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
        Box::pin(projector::handle(&store, records))
            .await
            .expect("the projector handles the records");
    }

    /// The table's stream ARN (what `Table.StreamArn` resolves to), once the stream is on.
    pub async fn stream_arn(&self) -> Option<String> {
        aws_sdk_dynamodb::Client::new(&sdk(&testkit::moto_endpoint()).await)
            .describe_table()
            .table_name(&self.deployed.table)
            .send()
            .await
            .expect("the table on moto")
            .table
            .and_then(|t| t.latest_stream_arn)
    }

    /// One pass of the deliverer Lambda (EVT-4) at `now` (unix seconds), with its own client
    /// (its proxy listener on a counted deployment). Loopback receivers allowed (the tests').
    /// Not part of [`Deployment::advance`]: the stories' call counts stay the router's, the
    /// sender's and the console's.
    pub async fn deliver_webhooks(&self, now: i64) -> deliverer::Pass {
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk(&self.deployed.endpoints["deliverer"]).await),
            self.deployed.table.clone(),
        );
        let http = deliverer::client(true).expect("an HTTP client");
        deliverer::deliver_due(&store, &http, rules::Timestamp::from_unix(now), true)
            .await
            .expect("a delivery pass")
    }

    /// The deployment's resources on moto.
    pub fn deployed(&self) -> &Deployed {
        &self.deployed
    }

    /// The counts of a counted deployment.
    pub fn counts(&self) -> &Counts {
        self.proxy
            .as_ref()
            .expect("a counted deployment (AwsPath::counted)")
            .counts()
    }

    async fn build(counted: bool) -> AwsPath {
        let moto = testkit::moto_endpoint();
        let proxy = if counted {
            // `E2E_COUNT_UPSTREAM`: a second counter between this proxy and moto (the bench's
            // count_proxy.py), to cross-check the counts; it then sees the functions' calls only.
            let upstream = std::env::var("E2E_COUNT_UPSTREAM").unwrap_or_else(|_| moto.clone());
            Some(CountingProxy::start(&upstream, &FUNCTIONS).await)
        } else {
            None
        };
        let endpoint = |f: &str| match &proxy {
            Some(p) => p.endpoint(f).to_owned(),
            None => moto.clone(),
        };
        // The harness's own clients: straight to moto, never counted.
        let direct = sdk(&moto).await;
        let sqs = aws_sdk_sqs::Client::new(&direct);
        let scheduler = aws_sdk_scheduler::Client::new(&direct);
        let table = testkit::unique("e2e");
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&direct), table.clone());
        store.create_table().await.expect("the table on moto");
        let create = |name: String, fifo: bool| {
            let sqs = sqs.clone();
            async move {
                let mut request = sqs.create_queue().queue_name(name);
                if fifo {
                    request = request
                        .attributes(QueueAttributeName::FifoQueue, "true")
                        .attributes(QueueAttributeName::ContentBasedDeduplication, "false");
                }
                request
                    .send()
                    .await
                    .expect("a queue on moto")
                    .queue_url
                    .expect("a queue URL")
            }
        };
        let urls = Urls {
            inbound: create(format!("{}.fifo", testkit::unique("e2e-inbound")), true).await,
            updates: create(testkit::unique("e2e-updates"), false).await,
            outbound: create(testkit::unique("e2e-outbound"), false).await,
            media: create(testkit::unique("e2e-media"), false).await,
        };
        let bucket = testkit::unique("e2e-media").to_lowercase();
        media::S3Store::new(&direct, &bucket, true)
            .client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("a bucket on moto");
        let group = testkit::unique("e2e");
        scheduler
            .create_schedule_group()
            .name(&group)
            .send()
            .await
            .expect("a schedule group on moto");

        let graph = FakeGraph::start().await;
        let clock = SharedClock::new(START);
        let key = OutreachKey::new(OUTREACH_KEY.to_vec());

        // ingest: the webhook, onto the inbound FIFO and the updates queue.
        let ingest_sdk = sdk(&endpoint("ingest")).await;
        let ingest_queue = SqsQueues::new(&ingest_sdk, &urls.inbound, &urls.updates);
        let webhook = ingest::Webhook {
            secret: whatsapp::AppSecret::new(APP_SECRET),
            verify_token: VERIFY_TOKEN.to_owned(),
        };

        // router: DynamoDB, the inbound FIFO and outbound queue, Scheduler.
        let router_sdk = sdk(&endpoint("router")).await;
        let scheduler_config = SchedulerConfig {
            group: group.clone(),
            target_arn: format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:switchboard-timers"),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/switchboard-scheduler"),
            dead_letter_arn: format!("arn:aws:sqs:us-east-1:{ACCOUNT}:switchboard-timers-dlq"),
            retry_attempts: 185,
            max_event_age_seconds: 86_400,
        };
        let deployed = Deployed {
            table: table.clone(),
            inbound_queue_url: urls.inbound.clone(),
            updates_queue_url: urls.updates.clone(),
            outbound_queue_url: urls.outbound.clone(),
            media_queue_url: urls.media.clone(),
            media_bucket: bucket.clone(),
            schedule_group: group.clone(),
            timers_function_arn: scheduler_config.target_arn.clone(),
            scheduler_role_arn: scheduler_config.role_arn.clone(),
            timer_dead_letter_arn: scheduler_config.dead_letter_arn.clone(),
            endpoints: FUNCTIONS
                .iter()
                .map(|f| ((*f).to_owned(), endpoint(f)))
                .collect(),
        };
        let timers = SchedulerTimers::new(
            &router_sdk,
            scheduler_config,
            timers::ScheduleNames::derived_from(OUTREACH_KEY),
        )
        .expect("scheduler settings")
        .with_clock(Arc::new(clock.clone()));
        let router = Router::new(
            DynamoStore::new(aws_sdk_dynamodb::Client::new(&router_sdk), table.clone()),
            SqsQueues::new(&router_sdk, &urls.inbound, String::new())
                .outbound(&urls.outbound)
                .media(&urls.media),
            timers,
            key.clone(),
        )
        .fetch_media();

        // sender: DynamoDB, all three queues, the Graph API.
        let sender_sdk = sdk(&endpoint("sender")).await;
        let cloud = graph_client(&graph);
        let sender = Arc::new(Sender::new(
            DynamoStore::new(aws_sdk_dynamodb::Client::new(&sender_sdk), table.clone()),
            HeldDelays::new(
                SqsQueues::new(&sender_sdk, &urls.inbound, &urls.updates).outbound(&urls.outbound),
                clock.clone(),
            ),
            CloudGraph::new(cloud),
            clock.clone(),
            Arc::new(RecordedAlerts::default()),
            key.clone(),
            Options::default(),
        ));
        let sources = Sources::from_urls(&urls.outbound, &urls.updates);

        // media: the Graph API, the bucket, the media queue (retries) and the inbound FIFO.
        let media_sdk = sdk(&endpoint("media")).await;
        let media = media_lambda::MediaFunction {
            fetcher: media::Fetcher::new(
                graph_client(&graph),
                media::S3Store::new(&media_sdk, &bucket, true),
            ),
            queue: HeldDelays::new(
                SqsQueues::new(&media_sdk, &urls.inbound, String::new()).media(&urls.media),
                clock.clone(),
            ),
            clock: clock.clone(),
        };

        // timers: the inbound FIFO only.
        let timers_sdk = sdk(&endpoint("timers")).await;
        let timers_queue = SqsQueues::new(&timers_sdk, &urls.inbound, String::new());

        // console: DynamoDB, the inbound FIFO and the outbound queue.
        let console_sdk = sdk(&endpoint("console")).await;
        let console = console::app(Console {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&console_sdk), table.clone()),
            queue: SqsQueues::new(&console_sdk, &urls.inbound, String::new())
                .outbound(&urls.outbound),
            submitter: GraphSubmitter::new(graph_client(&graph)),
            identity: Arc::new(e2e_tokens()),
            clock: Arc::new(clock.clone()),
            outreach_key: key,
        });
        // Its media routes on the bucket, as the console Lambda serves them with MEDIA_BUCKET.
        let console = console::media::routes(console::media::MediaApi {
            store: media::S3Store::new(&console_sdk, &bucket, true),
            uploader: console::media::MediaUploader::Cloud(graph_client(&graph)),
            identity: Arc::new(e2e_tokens()),
            clock: Arc::new(clock.clone()),
            signer: media::links::LinkSigner::new(OUTREACH_KEY),
            console: console.clone(),
        })
        .merge(console);

        AwsPath {
            graph,
            clock,
            sqs,
            scheduler,
            urls,
            group,
            webhook,
            ingest_queue,
            router,
            sender,
            sources,
            media,
            timers_queue,
            console,
            proxy,
            deployed,
            store,
        }
    }

    /// Every schedule in the deployment's group: (name, due time, target input).
    async fn schedules(&self) -> Vec<(String, i64, String)> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .scheduler
                .list_schedules()
                .group_name(&self.group)
                .set_next_token(token)
                .send()
                .await
                .expect("list schedules on moto");
            names.extend(
                page.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_owned)),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut out = Vec::new();
        for name in names {
            let schedule = self
                .scheduler
                .get_schedule()
                .group_name(&self.group)
                .name(&name)
                .send()
                .await
                .expect("get a schedule on moto");
            let expression = schedule.schedule_expression().unwrap_or("");
            let at = timers::scheduler::parse_at_expression(expression)
                .unwrap_or_else(|| panic!("schedule {name}: not an at() expression: {expression}"));
            let input = schedule
                .target()
                .and_then(|t| t.input())
                .unwrap_or_else(|| panic!("schedule {name} has no target input"))
                .to_owned();
            out.push((name, at.unix(), input));
        }
        out
    }

    /// Fires every schedule that is due on the manual clock (as Scheduler invokes the timers
    /// function with the schedule's input, then deletes it); how many fired.
    async fn fire_due_schedules(&self) -> usize {
        let now = self.clock.unix();
        let mut fired = 0;
        for (name, at, input) in self.schedules().await {
            if at > now {
                continue;
            }
            let payload: serde_json::Value =
                serde_json::from_str(&input).expect("a schedule's input is JSON");
            let event =
                lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
            timers_lambda::handle(&self.timers_queue, event)
                .await
                .unwrap_or_else(|e| panic!("the timers function failed on {name}: {e}"));
            self.scheduler
                .delete_schedule()
                .group_name(&self.group)
                .name(&name)
                .send()
                .await
                .expect("delete a fired schedule");
            fired += 1;
        }
        fired
    }

    /// The next instant (milliseconds) something is due: a schedule or a held delayed send.
    async fn next_due_ms(&self) -> Option<i64> {
        let schedule = self
            .schedules()
            .await
            .into_iter()
            .map(|(_, at, _)| at * 1000)
            .min();
        [
            schedule,
            self.sender.queue().next_due(),
            self.media.queue.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Receives up to 10 visible messages of a queue as an SQS event.
    async fn receive(&self, url: &str) -> (SqsEvent, Vec<(String, String)>) {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive from moto");
        let name = url.rsplit('/').next().unwrap_or("");
        let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}");
        let mut handles = Vec::new();
        let records: Vec<serde_json::Value> = out
            .messages()
            .iter()
            .map(|m| {
                let id = m.message_id().unwrap_or_default().to_owned();
                let receipt = m.receipt_handle().unwrap_or_default().to_owned();
                handles.push((id.clone(), receipt.clone()));
                let mut attributes = serde_json::Map::new();
                if let Some(a) = m.attributes() {
                    for (k, v) in a {
                        attributes
                            .insert(k.as_str().to_owned(), serde_json::Value::from(v.clone()));
                    }
                }
                serde_json::json!({
                    "messageId": id,
                    "receiptHandle": receipt,
                    "body": m.body().unwrap_or_default(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1"
                })
            })
            .collect();
        let event = serde_json::from_value(serde_json::json!({ "Records": records }))
            .expect("an SQS event");
        (event, handles)
    }

    /// Deletes what the handler did not report failed; makes the failed ones visible again.
    async fn settle(&self, url: &str, handles: Vec<(String, String)>, response: SqsBatchResponse) {
        let failed: Vec<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for (id, receipt) in handles {
            if failed.contains(&id) {
                self.sqs
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .expect("release a failed message");
            } else {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .expect("delete a handled message");
            }
        }
    }

    /// One batch from `url` to its function; how many records it carried.
    async fn deliver(&self, url: &str) -> usize {
        let (event, handles) = self.receive(url).await;
        if handles.is_empty() {
            return 0;
        }
        let response = if url == self.urls.inbound {
            router::handler::handle(&self.router, &self.clock, event).await
        } else if url == self.urls.media {
            self.media.handle(event).await
        } else {
            sender::handler::handle(self.sender.clone(), &self.sources, event).await
        };
        let n = handles.len();
        self.settle(url, handles, response).await;
        n
    }

    /// Runs everything that is due until nothing is left.
    async fn settle_all(&self) {
        for _ in 0..MAX_ROUNDS {
            let mut work = self.fire_due_schedules().await;
            if self.sender.queue().release_due().await {
                work += 1;
            }
            if self.media.queue.release_due().await {
                work += 1;
            }
            // The contact lanes first (all of them), then the updates, then the sends.
            loop {
                let n = self.deliver(&self.urls.inbound).await;
                work += n;
                if n == 0 {
                    break;
                }
            }
            work += self.deliver(&self.urls.updates).await;
            work += self.deliver(&self.urls.outbound).await;
            work += self.deliver(&self.urls.media).await;
            if std::env::var_os("E2E_TRACE").is_some() {
                eprintln!(
                    "e2e: t={} work={work} held={:?}",
                    self.clock.unix(),
                    self.sender.queue().next_due()
                );
            }
            if work == 0 {
                return;
            }
        }
        panic!("the deployment did not settle after {MAX_ROUNDS} rounds");
    }
}

impl Deployment for AwsPath {
    fn graph(&self) -> &FakeGraph {
        &self.graph
    }

    async fn now(&self) -> i64 {
        self.clock.unix()
    }

    async fn webhook(&self, body: &str) -> u16 {
        let signature = whatsapp::sign(&whatsapp::AppSecret::new(APP_SECRET), body.as_bytes());
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhook")
            .header(whatsapp::signature::SIGNATURE_HEADER, signature)
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body.to_owned()))
            .expect("a webhook request");
        let response = ingest::handler::handle(&self.webhook, &self.ingest_queue, request).await;
        response.status().as_u16()
    }

    async fn console(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let request = match body {
            Some(serde_json::Value::String(csv)) => request
                .header("content-type", "text/csv")
                .body(axum::body::Body::from(csv)),
            Some(body) => request
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string())),
            None => request.body(axum::body::Body::empty()),
        }
        .expect("a console request");
        let response = self
            .console
            .clone()
            .oneshot(request)
            .await
            .expect("the console answers");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .expect("the console's answer");
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        };
        Reply { status, body }
    }

    async fn put_upload(&self, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Reply {
        if !url.starts_with('/') {
            return crate::deployment::put_over_http(url, headers, body).await;
        }
        let mut request = axum::http::Request::builder().method("PUT").uri(url);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(axum::body::Body::from(body))
            .expect("an upload request");
        let response = self
            .console
            .clone()
            .oneshot(request)
            .await
            .expect("the console answers");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("the console's answer");
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }

    async fn advance(&self, seconds: u64) {
        // Settle what is due now first, so that work queued before the jump runs at its time.
        self.settle_all().await;
        if seconds > 0 {
            let target = self.clock.ms() + i64::try_from(seconds).unwrap_or(0) * 1000;
            // Stop at each schedule and held delayed send due on the way, so that each fires at
            // its own time, in order, as Scheduler and SQS would.
            while let Some(due) = self.next_due_ms().await.filter(|d| *d <= target) {
                let now = self.clock.ms();
                self.clock.advance_ms((due - now).max(0));
                self.settle_all().await;
            }
            let now = self.clock.ms();
            self.clock.advance_ms((target - now).max(0));
            self.settle_all().await;
        }
    }
}

//! The sender Lambda: wiring only (logs and metrics, configuration, store, queues, Graph API, runtime).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use queue::SqsQueues;
use sender::handler::{Sources, handle};
use sender::{CloudGraph, Config, EmfAlerts, Options, Sender, SystemClock};
use std::sync::Arc;
use store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_wiring::telemetry::init_logs();
    let metrics = aws_wiring::telemetry::init_metrics()?;

    // Fail fast, with the variable's name, before taking any record.
    let aws = aws_wiring::sdk_config().await;
    let config = Config::load(&aws)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "sender cannot start"))?;
    let graph = CloudGraph::from_config(&config)
        .inspect_err(|e| tracing::error!(error = %e, "sender cannot start"))?;
    // A rotated access token is used without a redeploy: read again every few minutes.
    let token = aws_wiring::rotating::RotatingSecret::load(
        &aws_wiring::Env::process(),
        &aws,
        "WHATSAPP_ACCESS_TOKEN",
        aws_wiring::rotating::DEFAULT_TTL,
    )
    .await?;
    let cloud = graph.client().clone();
    token.keep_applying(move |token| {
        let token = whatsapp::cloud::AccessToken::new(token.expose());
        if let Err(e) = cloud.set_access_token(&token) {
            tracing::error!(error = %e, "the rotated access token cannot be used; the old one stays");
        }
    });
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_name);
    let queues = SqsQueues::new(&aws, &config.inbound_queue_url, &config.updates_queue_url)
        .outbound(&config.outbound_queue_url);
    let sources = Sources::from_urls(&config.outbound_queue_url, &config.updates_queue_url);
    let sender = Arc::new(Sender::new(
        store,
        queues,
        graph,
        SystemClock,
        Arc::new(EmfAlerts),
        config.outreach_key.clone(),
        Options::default(),
    ));

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let sender = sender.clone();
        let sources = &sources;
        async move {
            let response = handle(sender, sources, event.payload).await;
            aws_wiring::telemetry::flush_metrics(metrics);
            Ok::<_, Error>(response)
        }
    }))
    .await
}

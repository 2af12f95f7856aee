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

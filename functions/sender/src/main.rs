//! The sender Lambda: wiring only (tracing, configuration, store, queues, Graph API, runtime).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use queue::SqsQueues;
use sender::handler::{Sources, handle};
use sender::{Config, EmfAlerts, Options, Sender, SystemClock};
use std::sync::Arc;
use store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();

    let config = Config::from_env()?;
    let graph = graph_client(&config)?;
    run(config, graph).await
}

/// The Graph API adapter over the WhatsApp crate's Cloud API client (`whatsapp::cloud`, feature
/// `cloud`). Until that client is on this branch the function refuses to start rather than run
/// without a way to send.
fn graph_client(_config: &Config) -> Result<sender::MemoryGraph, Error> {
    Err("this build has no Graph API client yet: the whatsapp crate's `cloud` feature is not merged".into())
}

async fn run<G: sender::GraphApi + 'static>(config: Config, graph: G) -> Result<(), Error> {
    let aws = aws_config::load_from_env().await;
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
        async move { Ok::<_, Error>(handle(sender, sources, event.payload).await) }
    }))
    .await
}

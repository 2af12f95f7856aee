//! The ingest Lambda: wiring only (tracing, configuration and secrets, SQS client, runtime).

use ingest::Config;
use lambda_http::{Error, Request, service_fn};
use queue::SqsQueues;

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

    // Fail fast, with the variable's name, before taking any request. The SDK configuration is
    // loaded once and shared: Secrets Manager (secrets given by ARN) and SQS.
    let aws = aws_wiring::sdk_config().await;
    let config = Config::load(&aws)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "ingest cannot start"))?;
    let webhook = config.webhook();
    let queues = SqsQueues::new(&aws, config.inbound_queue_url, config.updates_queue_url);

    lambda_http::run(service_fn(|request: Request| {
        let (webhook, queues) = (&webhook, &queues);
        async move { Ok::<_, Error>(ingest::handler::handle(webhook, queues, request).await) }
    }))
    .await
}

//! The ingest Lambda: wiring only (logs and metrics, configuration and secrets, SQS client,
//! runtime).

use ingest::Config;
use lambda_http::{Error, Request, service_fn};
use queue::SqsQueues;

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_wiring::telemetry::init_logs();
    let metrics = aws_wiring::telemetry::init_metrics()?;

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
        async move {
            let response = ingest::handler::handle(webhook, queues, request).await;
            aws_wiring::telemetry::flush_metrics(metrics);
            Ok::<_, Error>(response)
        }
    }))
    .await
}

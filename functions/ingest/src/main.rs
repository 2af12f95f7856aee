//! The ingest Lambda: wiring only (tracing, configuration, SQS client, runtime).

use ingest::{Config, Webhook};
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

    // Fail fast, with the variable's name, before taking any request.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "ingest cannot start"))?;
    let aws = aws_config::load_from_env().await;
    let queues = SqsQueues::new(&aws, config.inbound_queue_url, config.updates_queue_url);
    let webhook = Webhook {
        secret: config.app_secret,
        verify_token: config.verify_token,
    };

    lambda_http::run(service_fn(|request: Request| {
        let (webhook, queues) = (&webhook, &queues);
        async move { Ok::<_, Error>(ingest::handler::handle(webhook, queues, request).await) }
    }))
    .await
}

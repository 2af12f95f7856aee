//! The timers Lambda: wiring only (tracing, configuration, SQS client, runtime).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use queue::SqsQueues;
use serde_json::Value;
use timers_lambda::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs, each line with its invocation's request and X-Ray trace ids.
    aws_wiring::telemetry::init_logs();

    // Fail fast, with the variable's name, before taking any wake-up.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "timers cannot start"))?;
    let aws = aws_wiring::sdk_config().await;
    // This function writes only to the inbound FIFO; it has no updates queue.
    let inbound = SqsQueues::new(&aws, config.inbound_queue_url, String::new());

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let inbound = &inbound;
        async move { timers_lambda::handle(inbound, event).await }
    }))
    .await
}

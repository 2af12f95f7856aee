//! The deliverer Lambda: wiring only (tracing, configuration, DynamoDB and HTTP clients,
//! runtime). Invoked by its schedule (the event's payload is not read).

use lambda_runtime::{Error, LambdaEvent, service_fn};
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
    let table = aws_wiring::required(deliverer::TABLE_NAME)
        .inspect_err(|e| tracing::error!(error = %e, "deliverer cannot start"))?;
    // On AWS never loopback: https to public addresses only (EVT-4).
    let http = deliverer::client(false)
        .inspect_err(|e| tracing::error!(error = %e, "deliverer has no HTTP client"))?;
    let aws = aws_wiring::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let (store, http) = (&store, &http);
        async move {
            deliverer::handle(store, http)
                .await
                .map(|pass| {
                    serde_json::json!({"delivered": pass.delivered, "failed": pass.failed, "dead": pass.dead})
                })
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}

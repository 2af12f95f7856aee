//! The deliverer Lambda: wiring only (tracing, configuration, DynamoDB and HTTP clients,
//! runtime). Invoked by its schedule (the event's payload is not read).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs, each line with its invocation's request and X-Ray trace ids.
    aws_wiring::telemetry::init_logs();
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

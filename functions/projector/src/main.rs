//! The projector Lambda: wiring only (tracing, configuration, DynamoDB client, runtime).

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs, each line with its invocation's request and X-Ray trace ids.
    aws_wiring::telemetry::init_logs();
    let table = aws_wiring::required(projector::TABLE_NAME)
        .inspect_err(|e| tracing::error!(error = %e, "projector cannot start"))?;
    let aws = aws_wiring::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let store = &store;
        async move {
            projector::handle(store, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}

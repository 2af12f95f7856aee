//! The media Lambda: wiring only (tracing, configuration, SDK clients, runtime).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use media::{Fetcher, S3Store};
use media_lambda::{Config, MediaFunction};
use queue::SqsQueues;
use timers::SystemClock;
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs, each line with its invocation's request and X-Ray trace ids.
    aws_wiring::telemetry::init_logs();

    // Fail fast, with the variable's name, before taking any job.
    let aws = aws_wiring::sdk_config().await;
    let config = Config::load(&aws)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "media cannot start"))?;
    let cloud = CloudClient::new(CloudConfig {
        graph_url: config.graph_url.clone(),
        version: config.graph_version.clone(),
        ..CloudConfig::new(AccessToken::new(config.access_token.expose()))
    })?;
    // A rotated access token is used without a redeploy: read again every few minutes.
    let token = aws_wiring::rotating::RotatingSecret::load(
        &aws_wiring::Env::process(),
        &aws,
        "WHATSAPP_ACCESS_TOKEN",
        aws_wiring::rotating::DEFAULT_TTL,
    )
    .await?;
    let rotated = cloud.clone();
    token.keep_applying(move |token| {
        if let Err(e) = rotated.set_access_token(&AccessToken::new(token.expose())) {
            tracing::error!(error = %e, "the rotated access token cannot be used; the old one stays");
        }
    });
    // Path-style addressing when an endpoint such as moto is configured.
    let store = S3Store::new(
        &aws,
        config.bucket.clone(),
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
    );
    // This function writes the inbound FIFO (notices) and the media queue (retries) only.
    let queue = SqsQueues::new(&aws, config.inbound_queue_url.clone(), String::new())
        .media(config.media_queue_url.clone());
    let function = MediaFunction {
        fetcher: Fetcher::new(cloud, store),
        queue,
        clock: SystemClock,
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let function = &function;
        async move { Ok::<_, Error>(function.handle(event.payload).await) }
    }))
    .await
}

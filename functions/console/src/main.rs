//! The console Lambda: wiring only (tracing, configuration, SDK clients, runtime). Behind API
//! Gateway's HTTP API with a JWT authorizer; `lambda_http::run` serves the axum router.

use console::submitter::GraphSubmitter;
use console::{Config, Console, Identify, JwtClaims};
use lambda_http::Error;
use queue::SqsQueues;
use std::sync::Arc;
use store::DynamoStore;
use timers::SystemClock;
use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs, each line with its invocation's request and X-Ray trace ids.
    aws_wiring::telemetry::init_logs();

    // Fail fast, with the variable's name, before taking any request. Secrets given as
    // `<NAME>_ARN` are read from Secrets Manager here, once.
    let aws = aws_wiring::sdk_config().await;
    let config = Config::load(&aws)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "console cannot start"))?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.table_name.clone(),
    );
    // The console never sends to the updates queue.
    let queue = SqsQueues::new(&aws, config.inbound_queue_url.clone(), String::new())
        .outbound(config.outbound_queue_url.clone())
        .dead_letters(config.dead_letter_queues.clone());
    let identity: Arc<dyn Identify> = match config.tokens.clone() {
        Some(tokens) => Arc::new(tokens),
        None => Arc::new(JwtClaims::new(config.role_claim.clone())),
    };
    let cloud = CloudClient::new(CloudConfig {
        graph_url: config.graph_url.clone(),
        version: config.graph_version.clone(),
        ..CloudConfig::new(AccessToken::new(config.access_token.expose()))
    })?;
    let media_cloud = cloud.clone();
    let media_identity = identity.clone();
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
    let submitter = GraphSubmitter::new(cloud);
    let app = console::app(Console {
        store,
        queue,
        submitter,
        identity,
        clock: Arc::new(SystemClock),
        outreach_key: config.outreach_key.clone(),
    });
    // Media (SPEC section 13): with `MEDIA_BUCKET`, the media routes beside `/v1`, on S3 (links
    // are presigned; path-style addressing when an endpoint such as moto is configured).
    let app = match std::env::var("MEDIA_BUCKET").ok().filter(|b| !b.is_empty()) {
        Some(bucket) => console::media::routes(console::media::MediaApi {
            store: media::S3Store::new(&aws, bucket, std::env::var("AWS_ENDPOINT_URL").is_ok()),
            uploader: console::media::MediaUploader::Cloud(media_cloud),
            identity: media_identity,
            clock: Arc::new(SystemClock),
            signer: media::links::LinkSigner::new(config.access_token.expose().as_bytes()),
            console: app.clone(),
        })
        .merge(app),
        None => app,
    };
    lambda_http::run(app).await
}

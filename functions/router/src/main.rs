//! The router Lambda: wiring only (tracing, configuration, SDK clients, runtime).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use queue::SqsQueues;
use router::{Config, Router};
use std::sync::Arc;
use store::DynamoStore;
use timers::{SchedulerConfig, SchedulerTimers, SystemClock};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs, each line with its invocation's request and X-Ray trace ids.
    aws_wiring::telemetry::init_logs();
    let metrics = aws_wiring::telemetry::init_metrics()?;

    // Fail fast, with the variable's name, before taking any record.
    let aws = aws_wiring::sdk_config().await;
    let config = Config::load(&aws)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "router cannot start"))?;
    let scheduler = SchedulerConfig::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "router cannot start"))?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name);
    let queues = SqsQueues::new(&aws, config.inbound_queue_url, String::new())
        .outbound(config.outbound_queue_url)
        .media(config.media_queue_url.clone().unwrap_or_default());
    let timers = SchedulerTimers::new(&aws, scheduler, config.schedule_names.clone())?;
    // OUT-8: a rotated outreach key is used without a redeploy, and buttons signed with the key
    // before it still verify for the grace period.
    let outreach_key = aws_wiring::rotating::RotatingSecret::load_with_previous(
        &aws_wiring::Env::process(),
        &aws,
        "OUTREACH_KEY",
        aws_wiring::rotating::DEFAULT_TTL,
    )
    .await?;
    let mut router = Router::new(
        store,
        queues,
        timers,
        router::outreach_key_of(&outreach_key.rotation().await?),
    );
    if config.media_queue_url.is_some() {
        router = router.fetch_media();
    }
    let router = Arc::new(router);
    let rotated = router.clone();
    outreach_key
        .keep_applying_rotation(move |r| rotated.set_outreach_key(router::outreach_key_of(r)));

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let router = &*router;
        async move {
            let response = router::handler::handle(router, &SystemClock, event.payload).await;
            aws_wiring::telemetry::flush_metrics(metrics);
            Ok::<_, Error>(response)
        }
    }))
    .await
}

//! The router's Lambda path against moto server (started by `./scripts/test`): SQS events from
//! the inbound FIFO in, DynamoDB state, the outbound queue and EventBridge Scheduler out, with
//! every AWS request counted per service (goal P3 for the router's share). It fails loudly
//! without moto; it never skips.

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_sqs::types::QueueAttributeName;
use queue::{OutboundJob, SqsQueues};
use router::Router;
use rules::outreach::OutreachKey;
use rules::recipe::{Next, Recipe, RecipeButton, Step};
use rules::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use store::{DynamoStore, SettingsStore};
use testkit::{moto_config, unique};
use timers::{ManualClock, SchedulerConfig, SchedulerTimers};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// Counts every HTTP request a client sends (retries included).
#[derive(Debug, Clone, Default)]
struct Count(Arc<AtomicUsize>);

impl Count {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for Count {
    fn name(&self) -> &'static str {
        "Count"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn settings(number: &BusinessNumberId) -> NumberSettings {
    let mut s = NumberSettings::new(number.clone());
    s.recipe = Some(Recipe {
        id: RecipeId::new("faq").unwrap(),
        start: "menu".into(),
        steps: vec![Step {
            id: "menu".into(),
            text: "Hi! What do you need?".into(),
            buttons: vec![RecipeButton {
                title: "Talk to a person".into(),
                next: Next::HandOff,
            }],
            on_text: None,
        }],
    });
    s
}

fn sqs_event(records: &[(String, String, String)]) -> SqsEvent {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(id, group, body)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": body,
                "attributes": { "MessageGroupId": group, "ApproximateReceiveCount": "1" },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:switchboard-inbound.fifo",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn p3_a_ten_message_bot_conversation_through_the_lambda_path() {
    let sdk = moto_config().await;
    let (dynamo_calls, sqs_calls, scheduler_calls) =
        (Count::default(), Count::default(), Count::default());
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(dynamo_calls.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(sqs_calls.clone())
            .build(),
    );
    let scheduler = aws_sdk_scheduler::Client::from_conf(
        aws_sdk_scheduler::config::Builder::from(&sdk)
            .interceptor(scheduler_calls.clone())
            .build(),
    );

    let store = DynamoStore::new(dynamo, unique("router"));
    store.create_table().await.expect("table on moto");
    let inbound_url = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique("inbound")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let outbound_url = sqs
        .create_queue()
        .queue_name(unique("outbound"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let group = unique("group");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    let clock = ManualClock::new(Timestamp::from_unix(T0));
    let timers = SchedulerTimers::with_client(
        scheduler.clone(),
        SchedulerConfig {
            group: group.clone(),
            target_arn: "arn:aws:lambda:us-east-1:123456789012:function:switchboard-timers".into(),
            role_arn: "arn:aws:iam::123456789012:role/switchboard-scheduler".into(),
            dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:switchboard-timers-dlq".into(),
            retry_attempts: 185,
            max_event_age_seconds: 86_400,
        },
        timers::ScheduleNames::new(b"moto-test-key".to_vec()),
    )
    .unwrap()
    .with_clock(Arc::new(clock.clone()));
    let number = BusinessNumberId::new("106540352242922").unwrap();
    store.put_settings(&settings(&number)).await.unwrap();
    let queues = SqsQueues::with_client(sqs.clone(), inbound_url, String::new())
        .outbound(outbound_url.clone());
    let router = Router::new(
        store,
        queues,
        timers,
        OutreachKey::new(b"moto-test-key".to_vec()),
    );

    let (d0, q0, s0) = (dynamo_calls.get(), sqs_calls.get(), scheduler_calls.get());
    let contact = "4915123456789";
    let group_id = format!("{number}#{contact}");
    let messages = 10;
    for i in 0..messages {
        let event = serde_json::json!({
            "key": format!("wamid.moto{i}"),
            "waba_id": "waba-1",
            "business": { "phone_number_id": number.as_str() },
            "body": {
                "kind": "message",
                "id": format!("wamid.moto{i}"),
                "timestamp": timers::Clock::now(&clock).unix(),
                "contact": { "key": contact, "wa_id": contact },
                "content": { "type": "text", "body": "hello" }
            }
        });
        let response = router::handler::handle(
            &router,
            &clock,
            sqs_event(&[(format!("m{i}"), group_id.clone(), event.to_string())]),
        )
        .await;
        assert!(
            response.batch_item_failures.is_empty(),
            "message {i} failed"
        );
        clock.advance(Duration::minutes(1));
    }
    let dynamo_per = (dynamo_calls.get() - d0) as f64 / f64::from(messages);
    let sqs_per = (sqs_calls.get() - q0) as f64 / f64::from(messages);
    let scheduler_per = (scheduler_calls.get() - s0) as f64 / f64::from(messages);
    println!(
        "router, 10-message bot conversation on moto: DynamoDB {dynamo_per:.1}, SQS {sqs_per:.1}, Scheduler {scheduler_per:.1} calls per message"
    );
    // The first message also reads the number's settings (then cached): 2 calls from then on.
    assert!(
        dynamo_calls.get() - d0 <= 2 * messages as usize + 1,
        "DynamoDB {dynamo_per}"
    );
    assert!(
        sqs_per <= 1.0,
        "SQS {sqs_per}: one outbound batch per message"
    );
    assert!(scheduler_per <= 0.2, "Scheduler {scheduler_per}");

    // The bot's replies are on the outbound queue, one job per send, with stable keys.
    let mut jobs = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&outbound_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            break;
        }
        for m in out.messages() {
            jobs.push(OutboundJob::parse(m.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(&outbound_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(jobs.len(), messages as usize, "one bot reply per message");
    assert!(
        jobs.iter()
            .all(|j| matches!(j, OutboundJob::Send(s) if s.request.purpose == SendPurpose::Bot))
    );
    // One schedule for the contact's bot timeout.
    let schedules = scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(schedules.schedules().len(), 1);
}

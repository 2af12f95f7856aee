//! Arm → schedule → fire → inbound FIFO, against moto server (started by `./scripts/test`; see
//! ../shared/LOCAL-STACK.md). moto never fires a schedule, so the test reads the schedule back and
//! "fires" it by calling the handler with the schedule's input, as Scheduler would. Each test makes
//! its own schedule group and queue; without `AWS_ENDPOINT_URL` (or `SWITCHBOARD_MOTO_URL`) it
//! fails loudly: it never skips.

use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindowMode};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use queue::SqsQueues;
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, Duration, TimerKind, Timestamp};
use std::sync::Arc;
use testkit::{moto_config as sdk_config, unique};
use timers::ScheduleNames;
use timers::{Arming, ManualClock, SchedulerConfig, SchedulerTimers, TimerPort, WakeUp};
use timers_lambda::{Outcome, handle};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix(T0) + Duration::minutes(minutes)
}

#[derive(Debug)]
struct Received {
    body: String,
    group: Option<String>,
    dedup: Option<String>,
}

async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Received> {
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive from moto");
        let messages = out.messages();
        if messages.is_empty() {
            return all;
        }
        for m in messages {
            let attrs = m.attributes();
            let attr = |name: MessageSystemAttributeName| {
                attrs.and_then(|a| a.get(&name)).map(String::to_owned)
            };
            all.push(Received {
                body: m.body().unwrap_or_default().to_owned(),
                group: attr(MessageSystemAttributeName::MessageGroupId),
                dedup: attr(MessageSystemAttributeName::MessageDeduplicationId),
            });
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn time_1_time_3_armed_replaced_and_fired_onto_the_contacts_fifo_group() {
    let sdk = sdk_config().await;
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let group = unique("group");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .expect("create the schedule group on moto");
    let inbound_url = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique("inbound")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create the inbound FIFO queue on moto")
        .queue_url
        .unwrap();

    let config = SchedulerConfig {
        group: group.clone(),
        target_arn: "arn:aws:lambda:us-east-1:123456789012:function:switchboard-timers".into(),
        role_arn: "arn:aws:iam::123456789012:role/switchboard-scheduler".into(),
        dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:switchboard-timers-dlq".into(),
        retry_attempts: 185,
        max_event_age_seconds: 86_400,
    };
    let clock = ManualClock::new(at(0));
    let timers = SchedulerTimers::new(&sdk, config.clone(), ScheduleNames::new(b"moto".to_vec()))
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    let number = BusinessNumberId::new("106540352242922").unwrap();
    let contact = ContactKey::new("4915123456789").unwrap();
    let name = timers.names().name(&number, &contact, TimerKind::AutoClose);

    // Armed for minute 60, then again for minute 45 (an earlier deadline): one schedule.
    for (minutes, token) in [(60, 3), (45, 9)] {
        let wake = Wake {
            kind: TimerKind::AutoClose,
            at: at(minutes),
            token,
        };
        let arming = timers.arm(&number, &contact, wake).await.unwrap();
        assert_eq!(arming, Arming::Armed { at: at(minutes) });
    }
    let listed = scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = listed.schedules().iter().filter_map(|s| s.name()).collect();
    assert_eq!(names, [name.as_str()]);

    let schedule = scheduler
        .get_schedule()
        .group_name(&group)
        .name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-01-01T00:45:00)")
    );
    assert_eq!(
        schedule.flexible_time_window().map(|f| f.mode()),
        Some(&FlexibleTimeWindowMode::Off)
    );
    assert_eq!(
        schedule.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), config.target_arn);
    assert_eq!(target.role_arn(), config.role_arn);
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(config.dead_letter_arn.as_str())
    );
    let retry = target.retry_policy().unwrap();
    assert_eq!(retry.maximum_retry_attempts(), Some(185));
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(86_400));
    let input = target.input().unwrap().to_owned();
    let wake_up = WakeUp::parse(&input).unwrap();
    assert_eq!((wake_up.token, wake_up.deadline), (9, at(45)));

    // Minute 45: Scheduler invokes the timers function with the input, at least once.
    clock.set(at(45));
    let inbound = SqsQueues::new(&sdk, inbound_url.clone(), String::new());
    let payload: serde_json::Value = serde_json::from_str(&input).unwrap();
    for _ in 0..2 {
        let outcome = handle(
            &inbound,
            LambdaEvent::new(payload.clone(), Context::default()),
        )
        .await
        .unwrap();
        assert!(matches!(outcome, Outcome::Queued { .. }), "{outcome:?}");
    }

    let received = receive_all(&sqs, &inbound_url).await;
    assert_eq!(
        received.len(),
        1,
        "deduplicated by the event key: {received:?}"
    );
    let message = &received[0];
    assert_eq!(
        message.group.as_deref(),
        Some("106540352242922#4915123456789"),
        "the group ingest uses for the contact's messages (TIME-3)"
    );
    let key = "timer:106540352242922:4915123456789:auto_close:9";
    assert_eq!(message.dedup.as_deref(), Some(key));
    let event: whatsapp::Event = serde_json::from_str(&message.body).unwrap();
    assert_eq!(event.key, key);
    assert_eq!(
        event.route(),
        whatsapp::Route::Inbound {
            group: "106540352242922#4915123456789".into()
        }
    );
    assert_eq!(
        event.body,
        whatsapp::EventBody::TimerFired(whatsapp::TimerFired {
            contact: "4915123456789".into(),
            timer: "auto_close".into(),
            deadline: at(45).unix(),
            token: 9,
        })
    );
}

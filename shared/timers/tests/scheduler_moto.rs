//! The EventBridge Scheduler adapter against moto server (started by `./scripts/test`; see
//! ../shared/LOCAL-STACK.md). moto stores schedules but never fires them and validates no
//! expression: these tests read the schedules back and check what Scheduler would run. Each test
//! makes its own schedule group. Without `AWS_ENDPOINT_URL` (or `SWITCHBOARD_MOTO_URL`) they fail
//! loudly: they never skip.

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindowMode, ScheduleState};
use queue::{Destination, MemoryQueue};
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, Duration, TimerKind, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use testkit::{moto_config as sdk_config, unique};
use timers::ScheduleNames;
use timers::scheduler::MIN_LEAD;
use timers::{
    Arming, ManualClock, SchedulerConfig, SchedulerTimers, TimerError, TimerPort, WakeUp,
    arm_or_deliver,
};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix(T0) + Duration::minutes(minutes)
}

/// Counts the Scheduler API calls the adapter makes.
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<AtomicUsize>);

impl aws_sdk_scheduler::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &aws_sdk_scheduler::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_scheduler::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn config(group: &str) -> SchedulerConfig {
    SchedulerConfig {
        group: group.to_owned(),
        target_arn: "arn:aws:lambda:us-east-1:123456789012:function:switchboard-timers".into(),
        role_arn: "arn:aws:iam::123456789012:role/switchboard-scheduler".into(),
        dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:switchboard-timers-dlq".into(),
        retry_attempts: 20,
        max_event_age_seconds: 3_600,
    }
}

struct Setup {
    client: Client,
    timers: SchedulerTimers,
    clock: ManualClock,
    calls: CallCounter,
    group: String,
}

/// A schedule group of this test's own, and the adapter on it with a manual clock at minute 0.
async fn setup(test: &str) -> Setup {
    let sdk = sdk_config().await;
    let client = Client::new(&sdk);
    let group = unique(test);
    client
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .expect("create the schedule group on moto");
    let calls = CallCounter::default();
    let counted = aws_sdk_scheduler::config::Builder::from(&sdk)
        .interceptor(calls.clone())
        .build();
    let clock = ManualClock::new(at(0));
    let timers = SchedulerTimers::with_client(Client::from_conf(counted), config(&group), names())
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    Setup {
        client,
        timers,
        clock,
        calls,
        group,
    }
}

/// The deployment's schedule names (OPS-3: keyed hashes).
fn names() -> ScheduleNames {
    ScheduleNames::new(b"moto-schedule-names".to_vec())
}

fn number() -> BusinessNumberId {
    BusinessNumberId::new("106540352242922").unwrap()
}

fn contact() -> ContactKey {
    ContactKey::new("4915123456789").unwrap()
}

fn wake(kind: TimerKind, at: Timestamp, token: u64) -> Wake {
    Wake { kind, at, token }
}

impl Setup {
    async fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .client
            .list_schedules()
            .group_name(&self.group)
            .send()
            .await
            .expect("list schedules")
            .schedules()
            .iter()
            .filter_map(|s| s.name().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    async fn get(
        &self,
        name: &str,
    ) -> aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput {
        self.client
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get schedule {name}: {e:?}"))
    }
}

#[tokio::test]
async fn time_1_arms_a_one_time_schedule_that_invokes_the_timers_function_with_the_payload() {
    let s = setup("arm").await;
    let w = wake(TimerKind::BotInactivity, at(10), 7);
    let arming = s.timers.arm(&number(), &contact(), w).await.unwrap();
    assert_eq!(arming, Arming::Armed { at: at(10) });
    assert_eq!(s.calls.0.load(Ordering::SeqCst), 1, "one CreateSchedule");

    let name = names().name(&number(), &contact(), TimerKind::BotInactivity);
    assert_eq!(s.names().await, std::slice::from_ref(&name));
    let schedule = s.get(&name).await;
    assert_eq!(schedule.group_name(), Some(s.group.as_str()));
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-01-01T00:10:00)")
    );
    assert_eq!(schedule.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        schedule.flexible_time_window().map(|f| f.mode()),
        Some(&FlexibleTimeWindowMode::Off)
    );
    assert_eq!(
        schedule.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    assert_eq!(schedule.state(), Some(&ScheduleState::Enabled));
    let target = schedule.target().expect("a target");
    let expected = config(&s.group);
    assert_eq!(target.arn(), expected.target_arn);
    assert_eq!(target.role_arn(), expected.role_arn);
    let retry = target.retry_policy().expect("a retry policy");
    assert_eq!(retry.maximum_retry_attempts(), Some(20));
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(3_600));
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(expected.dead_letter_arn.as_str())
    );
    let payload = WakeUp::parse(target.input().expect("an input")).unwrap();
    assert_eq!(payload, WakeUp::new(number(), contact(), w));
}

#[tokio::test]
async fn arming_a_slot_again_replaces_its_schedule() {
    let s = setup("replace").await;
    s.timers
        .arm(&number(), &contact(), wake(TimerKind::AutoClose, at(30), 1))
        .await
        .unwrap();
    // An earlier deadline for the same slot (the rules arm again only for an earlier one).
    let arming = s
        .timers
        .arm(&number(), &contact(), wake(TimerKind::AutoClose, at(5), 2))
        .await
        .unwrap();
    assert_eq!(arming, Arming::Armed { at: at(5) });
    // Replacing costs CreateSchedule (conflict) + UpdateSchedule.
    assert_eq!(s.calls.0.load(Ordering::SeqCst), 3);
    let name = names().name(&number(), &contact(), TimerKind::AutoClose);
    assert_eq!(
        s.names().await,
        std::slice::from_ref(&name),
        "one schedule per slot"
    );
    let schedule = s.get(&name).await;
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-01-01T00:05:00)")
    );
    let target = schedule.target().unwrap();
    assert_eq!(
        WakeUp::parse(target.input().unwrap()).unwrap().token,
        2,
        "the new token"
    );
    // The update keeps the whole definition, not just the time.
    assert_eq!(
        schedule.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    assert_eq!(
        schedule.flexible_time_window().map(|f| f.mode()),
        Some(&FlexibleTimeWindowMode::Off)
    );
    assert_eq!(
        target.retry_policy().unwrap().maximum_retry_attempts(),
        Some(20)
    );
    assert!(target.dead_letter_config().is_some());

    // Another kind, or another contact, is another schedule.
    s.timers
        .arm(
            &number(),
            &contact(),
            wake(TimerKind::BotInactivity, at(10), 3),
        )
        .await
        .unwrap();
    let other = ContactKey::new("4915123456780").unwrap();
    s.timers
        .arm(&number(), &other, wake(TimerKind::AutoClose, at(10), 1))
        .await
        .unwrap();
    assert_eq!(s.names().await.len(), 3);
}

#[tokio::test]
async fn a_schedule_deleted_after_it_fired_is_created_again() {
    let s = setup("recreate").await;
    s.timers
        .arm(
            &number(),
            &contact(),
            wake(TimerKind::BotInactivity, at(10), 1),
        )
        .await
        .unwrap();
    let name = names().name(&number(), &contact(), TimerKind::BotInactivity);
    // It fires at minute 10 and Scheduler deletes it (ActionAfterCompletion: DELETE; moto does
    // neither, so the test does it). The wake-up finds the deadline moved: re-arm once.
    s.clock.set(at(10));
    s.client
        .delete_schedule()
        .group_name(&s.group)
        .name(&name)
        .send()
        .await
        .unwrap();
    let before = s.calls.0.load(Ordering::SeqCst);
    s.timers
        .arm(
            &number(),
            &contact(),
            wake(TimerKind::BotInactivity, at(19), 2),
        )
        .await
        .unwrap();
    assert_eq!(
        s.calls.0.load(Ordering::SeqCst) - before,
        1,
        "one CreateSchedule"
    );
    assert_eq!(
        s.get(&name).await.schedule_expression(),
        Some("at(2026-01-01T00:19:00)")
    );
}

#[tokio::test]
async fn past_deadlines_are_delivered_at_once_and_near_ones_get_the_minimum_lead() {
    let s = setup("past").await;
    s.clock.set(at(20));
    let overdue = wake(TimerKind::NoReplyReminder, at(19), 4);
    let arming = s.timers.arm(&number(), &contact(), overdue).await.unwrap();
    assert_eq!(
        arming,
        Arming::DeliverNow(WakeUp::new(number(), contact(), overdue))
    );
    assert_eq!(s.calls.0.load(Ordering::SeqCst), 0, "no Scheduler call");
    assert!(s.names().await.is_empty());

    // arm_or_deliver puts the overdue wake-up in the contact's lane itself.
    let inbound = MemoryQueue::new();
    arm_or_deliver(&s.timers, &inbound, &number(), &contact(), overdue)
        .await
        .unwrap();
    let queued = inbound.messages(Destination::Inbound);
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].group.as_deref(),
        Some("106540352242922#4915123456789")
    );
    assert_eq!(
        queued[0].key,
        "timer:106540352242922:4915123456789:no_reply_reminder:4"
    );

    // Three seconds ahead is too close to be sure Scheduler sees it in the future.
    let near = wake(TimerKind::NoReplyReminder, at(20) + Duration::seconds(3), 5);
    let arming = s.timers.arm(&number(), &contact(), near).await.unwrap();
    assert_eq!(
        arming,
        Arming::Armed {
            at: at(20) + MIN_LEAD
        }
    );
    let name = names().name(&number(), &contact(), TimerKind::NoReplyReminder);
    let schedule = s.get(&name).await;
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-01-01T00:20:15)")
    );
    // The payload still carries the rules' own deadline.
    let payload = WakeUp::parse(schedule.target().unwrap().input().unwrap()).unwrap();
    assert_eq!(payload.deadline, near.at);
}

#[tokio::test]
async fn a_missing_schedule_group_is_an_error_never_a_silent_loss() {
    let s = setup("missing-group").await;
    let timers = SchedulerTimers::with_client(s.client.clone(), config(&unique("absent")), names())
        .unwrap()
        .with_clock(Arc::new(s.clock.clone()));
    let error = timers
        .arm(
            &number(),
            &contact(),
            wake(TimerKind::BotInactivity, at(10), 1),
        )
        .await
        .unwrap_err();
    // moto answers HTTP 500 (AWS: ResourceNotFoundException); either way the router retries.
    assert!(
        matches!(
            error,
            TimerError::Unavailable(_) | TimerError::Refused { .. }
        ),
        "{error}"
    );
}

/// OPS-3: the schedules created on moto for a contact, one per timer kind, never carry its wa_id
/// (nor the business number) in their names: Scheduler's names reach CloudTrail.
#[tokio::test]
async fn ops_3_no_schedule_name_created_against_moto_contains_the_wa_id() {
    let s = setup("ops3").await;
    for (i, kind) in TimerKind::ALL.into_iter().enumerate() {
        let w = wake(kind, at(10 + i as i64), 1);
        s.timers.arm(&number(), &contact(), w).await.unwrap();
    }
    let created = s.names().await;
    assert_eq!(created.len(), TimerKind::ALL.len(), "{created:?}");
    for name in &created {
        assert!(
            !name.contains(contact().as_str()),
            "{name} names the contact"
        );
        assert!(!name.contains(number().as_str()), "{name} names the number");
    }
}

//! The timer port on Amazon EventBridge Scheduler (TIME-1).
//!
//! Each wake-up is a one-time schedule `at(yyyy-mm-ddThh:mm:ss)` (UTC) in the deployment's
//! schedule group, with `FlexibleTimeWindow: OFF` and `ActionAfterCompletion: DELETE`, whose
//! target is the `timers` function (with the execution role, a retry policy and a dead-letter
//! queue) and whose input is the [`WakeUp`] JSON. One schedule per `(number, contact, kind)`,
//! named by [`ScheduleNames`] (a keyed hash of the slot: no phone number in a resource name, OPS-3):
//! arming again updates it (`CreateSchedule`, and on
//! `ConflictException` `UpdateSchedule`).
//!
//! Times: Scheduler refuses `at()` in the past and fires with one-minute precision, never early.
//! A deadline that has passed is not scheduled at all: [`Arming::DeliverNow`] tells the caller to
//! deliver it at once. A deadline less than [`MIN_LEAD`] ahead is scheduled at now + `MIN_LEAD`,
//! so the request cannot arrive after its own time; within Scheduler's precision that costs
//! nothing, and a wake-up that arrives late still acts (TIME-2 compares deadlines with `now`).
//!
//! moto stores schedules but validates no expression; [`at_expression`] checks its own output.

use crate::clock::{Clock, SystemClock};
use crate::{Arming, TimerError, TimerPort, WakeUp};
use aws_sdk_scheduler::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, ScheduleState, Target,
};
use rules::effect::Wake;
use rules::{BusinessNumberId, ContactKey, Date, Duration, TimerKind, Timestamp};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The least time ahead a schedule is created for.
pub const MIN_LEAD: Duration = Duration::seconds(15);

/// Scheduler's limit on schedule and group names.
pub const MAX_NAME_LEN: usize = 64;

/// Scheduler's bounds on the target retry policy.
pub const MAX_RETRY_ATTEMPTS: i32 = 185;
pub const MIN_EVENT_AGE_SECONDS: i32 = 60;
pub const MAX_EVENT_AGE_SECONDS: i32 = 86_400;

/// Where schedules go and what they invoke; read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// The deployment's schedule group.
    pub group: String,
    /// The `timers` function's ARN.
    pub target_arn: String,
    /// The role Scheduler assumes to invoke the target.
    pub role_arn: String,
    /// Where Scheduler puts an invocation that failed all its retries.
    pub dead_letter_arn: String,
    /// How often Scheduler retries a failed invocation (0 to 185).
    pub retry_attempts: i32,
    /// How long it keeps retrying, in seconds (60 to 86,400).
    pub max_event_age_seconds: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (or is empty)")]
    Missing(&'static str),
    #[error("environment variable {name}: {problem}")]
    Invalid { name: &'static str, problem: String },
}

impl SchedulerConfig {
    /// The environment variables [`SchedulerConfig::from_lookup`] reads.
    pub const GROUP: &'static str = "TIMER_SCHEDULE_GROUP";
    pub const TARGET_ARN: &'static str = "TIMERS_FUNCTION_ARN";
    pub const ROLE_ARN: &'static str = "TIMER_SCHEDULER_ROLE_ARN";
    pub const DEAD_LETTER_ARN: &'static str = "TIMER_DLQ_ARN";
    /// Optional; Scheduler's default (185) when unset.
    pub const RETRY_ATTEMPTS: &'static str = "TIMER_RETRY_ATTEMPTS";
    /// Optional; Scheduler's default (86,400 s) when unset.
    pub const MAX_EVENT_AGE: &'static str = "TIMER_MAX_EVENT_AGE_SECONDS";

    pub fn from_env() -> Result<SchedulerConfig, ConfigError> {
        SchedulerConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests) and checks them.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<SchedulerConfig, ConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str, default: i32| match get(name) {
            None => Ok(default),
            Some(v) => v.parse::<i32>().map_err(|_| ConfigError::Invalid {
                name,
                problem: format!("{v:?} is not a whole number"),
            }),
        };
        let config = SchedulerConfig {
            group: required(Self::GROUP)?,
            target_arn: required(Self::TARGET_ARN)?,
            role_arn: required(Self::ROLE_ARN)?,
            dead_letter_arn: required(Self::DEAD_LETTER_ARN)?,
            retry_attempts: number(Self::RETRY_ATTEMPTS, MAX_RETRY_ATTEMPTS)?,
            max_event_age_seconds: number(Self::MAX_EVENT_AGE, MAX_EVENT_AGE_SECONDS)?,
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses what Scheduler would refuse on every call.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !is_valid_name(&self.group) {
            return Err(ConfigError::Invalid {
                name: Self::GROUP,
                problem: format!(
                    "{:?} is not a schedule group name (1 to 64 of 0-9 a-z A-Z - _ .)",
                    self.group
                ),
            });
        }
        for (name, arn) in [
            (Self::TARGET_ARN, &self.target_arn),
            (Self::ROLE_ARN, &self.role_arn),
            (Self::DEAD_LETTER_ARN, &self.dead_letter_arn),
        ] {
            if !arn.starts_with("arn:") {
                return Err(ConfigError::Invalid {
                    name,
                    problem: format!("{arn:?} is not an ARN"),
                });
            }
        }
        if !(0..=MAX_RETRY_ATTEMPTS).contains(&self.retry_attempts) {
            return Err(ConfigError::Invalid {
                name: Self::RETRY_ATTEMPTS,
                problem: format!("{} is outside 0 to 185", self.retry_attempts),
            });
        }
        if !(MIN_EVENT_AGE_SECONDS..=MAX_EVENT_AGE_SECONDS).contains(&self.max_event_age_seconds) {
            return Err(ConfigError::Invalid {
                name: Self::MAX_EVENT_AGE,
                problem: format!("{} is outside 60 to 86400", self.max_event_age_seconds),
            });
        }
        Ok(())
    }
}

/// Whether `name` is a valid schedule or group name: 1 to 64 of `[0-9a-zA-Z-_.]`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// OPS-3: the names of the schedules. A contact's key is usually its wa_id, a phone number, and a
/// schedule's name ends up in CloudTrail, in the console and in error messages: the name is
/// `<kind>-<40 hex of HMAC-SHA256(key, number, contact)>`, one per `(number, contact, kind)`,
/// stable for a key (so any instance finds the schedule it updates), and not reversible by hashing
/// every phone number without the key (an unkeyed hash would be: phone numbers are few).
#[derive(Clone)]
pub struct ScheduleNames {
    key: Vec<u8>,
}

impl std::fmt::Debug for ScheduleNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScheduleNames(…)")
    }
}

impl ScheduleNames {
    /// Names keyed by `key` itself.
    pub fn new(key: impl Into<Vec<u8>>) -> ScheduleNames {
        ScheduleNames { key: key.into() }
    }

    /// Names keyed by a key derived from another secret (the router's OUT-8 key), so that a
    /// deployment needs no secret of its own for them: HMAC-SHA256(secret, a fixed label).
    pub fn derived_from(secret: &[u8]) -> ScheduleNames {
        ScheduleNames::new(hmac_sha256(secret, &[b"switchboard schedule names v1"]).to_vec())
    }

    /// The schedule of one `(number, contact, kind)`.
    pub fn name(&self, number: &BusinessNumberId, contact: &ContactKey, kind: TimerKind) -> String {
        let mac = hmac_sha256(
            &self.key,
            &[
                number.as_str().as_bytes(),
                &[0],
                contact.as_str().as_bytes(),
            ],
        );
        format!("{}-{}", kind.as_str(), &hex::encode(mac)[..40])
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// A slot's readable key: `<number>-<contact>-<kind>` when the ids use only `[0-9a-zA-Z_.]` and it
/// fits in 64 characters, else `h-<kind>-<40 hex of SHA-256(number, contact)>`. Distinct slots get
/// distinct keys. It names the contact: only for the local runner's timer table, in the file that
/// holds the contact's state anyway; never a Scheduler resource name ([`ScheduleNames`]).
pub fn schedule_name(number: &BusinessNumberId, contact: &ContactKey, kind: TimerKind) -> String {
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
    };
    let readable = format!("{number}-{contact}-{}", kind.as_str());
    if readable.len() <= MAX_NAME_LEN && plain(number.as_str()) && plain(contact.as_str()) {
        return readable;
    }
    let mut hash = Sha256::new();
    hash.update(number.as_str().as_bytes());
    hash.update([0]);
    hash.update(contact.as_str().as_bytes());
    let digest = hex::encode(hash.finalize());
    format!("h-{}-{}", kind.as_str(), &digest[..40])
}

/// `at(yyyy-mm-ddThh:mm:ss)` for `at` (UTC), checked by parsing it back.
pub fn at_expression(at: Timestamp) -> Result<String, TimerError> {
    let date = at.date();
    if !(1970..=9999).contains(&date.year) {
        return Err(TimerError::OutOfRange(at));
    }
    let second_of_day = at.unix().rem_euclid(86_400);
    let expression = format!(
        "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
        date.year,
        date.month,
        date.day,
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    // moto accepts any expression; make sure this one is what Scheduler reads.
    if parse_at_expression(&expression) != Some(at) {
        return Err(TimerError::OutOfRange(at));
    }
    Ok(expression)
}

/// Reads `at(yyyy-mm-ddThh:mm:ss)` (UTC) strictly: exactly that shape, a real calendar date, a
/// real time of day.
pub fn parse_at_expression(expression: &str) -> Option<Timestamp> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    let b = inner.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = inner.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = Date::new(
        i32::try_from(year).ok()?,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
    );
    let days = date.day_number();
    // A day past the month's end (2026-02-30) rolls over; refuse it.
    if Date::from_day_number(days) != date {
        return None;
    }
    Some(Timestamp::from_unix(
        days * 86_400 + hour * 3600 + minute * 60 + second,
    ))
}

/// The timer port on EventBridge Scheduler. Cheap to clone (the SDK client is shared).
#[derive(Clone)]
pub struct SchedulerTimers {
    client: aws_sdk_scheduler::Client,
    config: SchedulerConfig,
    names: ScheduleNames,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SchedulerTimers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerTimers")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One request's worth of schedule, shared by create and update (an update replaces everything).
struct Definition {
    name: String,
    expression: String,
    target: Target,
}

impl SchedulerTimers {
    /// `sdk` is loaded once at cold start (`aws_config::load_from_env`, which honours
    /// `AWS_ENDPOINT_URL` for moto).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        config: SchedulerConfig,
        names: ScheduleNames,
    ) -> Result<SchedulerTimers, ConfigError> {
        SchedulerTimers::with_client(aws_sdk_scheduler::Client::new(sdk), config, names)
    }

    pub fn with_client(
        client: aws_sdk_scheduler::Client,
        config: SchedulerConfig,
        names: ScheduleNames,
    ) -> Result<SchedulerTimers, ConfigError> {
        config.check()?;
        Ok(SchedulerTimers {
            client,
            config,
            names,
            clock: Arc::new(SystemClock),
        })
    }

    /// Reads "now" from `clock` instead of the system clock (to decide what is overdue).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> SchedulerTimers {
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// How its schedules are named.
    pub fn names(&self) -> &ScheduleNames {
        &self.names
    }

    fn definition(&self, wake_up: &WakeUp, at: Timestamp) -> Result<Definition, TimerError> {
        let name = self
            .names
            .name(&wake_up.number, &wake_up.contact, wake_up.kind);
        let refused = |reason: String| TimerError::Refused {
            name: name.clone(),
            reason,
        };
        let target = Target::builder()
            .arn(&self.config.target_arn)
            .role_arn(&self.config.role_arn)
            .input(wake_up.to_json())
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(self.config.retry_attempts)
                    .maximum_event_age_in_seconds(self.config.max_event_age_seconds)
                    .build(),
            )
            .dead_letter_config(
                DeadLetterConfig::builder()
                    .arn(&self.config.dead_letter_arn)
                    .build(),
            )
            .build()
            .map_err(|e| refused(e.to_string()))?;
        Ok(Definition {
            expression: at_expression(at)?,
            target,
            name,
        })
    }

    fn window() -> FlexibleTimeWindow {
        FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .expect("mode is set")
    }

    async fn create(&self, d: &Definition) -> Result<Created, TimerError> {
        let result = self
            .client
            .create_schedule()
            .name(&d.name)
            .group_name(&self.config.group)
            .schedule_expression(&d.expression)
            .schedule_expression_timezone("UTC")
            .flexible_time_window(Self::window())
            .action_after_completion(ActionAfterCompletion::Delete)
            .state(ScheduleState::Enabled)
            .target(d.target.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                Ok(Created::Exists)
            }
            Err(e) => Err(failure(&d.name, e)),
        }
    }

    async fn update(&self, d: &Definition) -> Result<Updated, TimerError> {
        let result = self
            .client
            .update_schedule()
            .name(&d.name)
            .group_name(&self.config.group)
            .schedule_expression(&d.expression)
            .schedule_expression_timezone("UTC")
            .flexible_time_window(Self::window())
            .action_after_completion(ActionAfterCompletion::Delete)
            .state(ScheduleState::Enabled)
            .target(d.target.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Updated::Done),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(Updated::Gone)
            }
            Err(e) => Err(failure(&d.name, e)),
        }
    }
}

enum Created {
    New,
    Exists,
}

enum Updated {
    Done,
    /// Deleted between our create and update (it fired and completed): create it again.
    Gone,
}

/// Maps an SDK error: a refusal when Scheduler says the request is wrong, else unavailable.
fn failure<E, R>(name: &str, error: SdkError<E, R>) -> TimerError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let text = DisplayErrorContext(&error).to_string();
    match code.as_deref() {
        Some("ValidationException" | "ServiceQuotaExceededException") => TimerError::Refused {
            name: name.to_owned(),
            reason: text,
        },
        _ => TimerError::Unavailable(format!("schedule {name}: {text}")),
    }
}

impl TimerPort for SchedulerTimers {
    async fn arm(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        wake: Wake,
    ) -> Result<Arming, TimerError> {
        let wake_up = WakeUp::new(number.clone(), contact.clone(), wake);
        let now = self.clock.now();
        if wake.at <= now {
            return Ok(Arming::DeliverNow(wake_up));
        }
        let at = wake.at.max(now + MIN_LEAD);
        let definition = self.definition(&wake_up, at)?;
        // Create; if the slot's schedule exists, update it; if it vanished in between, create.
        if let Created::New = self.create(&definition).await? {
            return Ok(Arming::Armed { at });
        }
        match self.update(&definition).await? {
            Updated::Done => Ok(Arming::Armed { at }),
            Updated::Gone => match self.create(&definition).await? {
                Created::New => Ok(Arming::Armed { at }),
                Created::Exists => match self.update(&definition).await? {
                    Updated::Done => Ok(Arming::Armed { at }),
                    Updated::Gone => Err(TimerError::Unavailable(format!(
                        "schedule {}: created and deleted concurrently; try again",
                        definition.name
                    ))),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(number: &str, contact: &str) -> (BusinessNumberId, ContactKey) {
        (
            BusinessNumberId::new(number).unwrap(),
            ContactKey::new(contact).unwrap(),
        )
    }

    #[test]
    fn at_expressions_are_utc_calendar_times_and_parse_back() {
        let cases = [
            (1_767_225_600, "at(2026-01-01T00:00:00)"),
            (1_767_225_599, "at(2025-12-31T23:59:59)"),
            (1_709_164_800 + 3_723, "at(2024-02-29T01:02:03)"),
            (0, "at(1970-01-01T00:00:00)"),
            (253_402_300_799, "at(9999-12-31T23:59:59)"),
        ];
        for (seconds, expected) in cases {
            let at = Timestamp::from_unix(seconds);
            assert_eq!(at_expression(at).unwrap(), expected);
            assert_eq!(parse_at_expression(expected), Some(at));
        }
        assert_eq!(
            at_expression(Timestamp::from_unix(253_402_300_800)),
            Err(TimerError::OutOfRange(Timestamp::from_unix(
                253_402_300_800
            )))
        );
        assert!(at_expression(Timestamp::from_unix(-1)).is_err());
        for bad in [
            "at(2026-02-29T00:00:00)",
            "at(2026-13-01T00:00:00)",
            "at(2026-01-01T24:00:00)",
            "at(2026-01-01T00:60:00)",
            "at(2026-01-01 00:00:00)",
            "at(2026-1-01T00:00:00)",
            "at(2026-01-01T00:00:00Z)",
            "at(+026-01-01T00:00:00)",
            "rate(5 minutes)",
            "at(2026-01-01T00:00:00",
        ] {
            assert_eq!(parse_at_expression(bad), None, "{bad}");
        }
    }

    #[test]
    fn schedule_names_are_valid_deterministic_and_distinct_per_slot() {
        let (n, c) = ids("106540352242922", "4915123456789");
        let name = schedule_name(&n, &c, TimerKind::BotInactivity);
        assert_eq!(name, "106540352242922-4915123456789-bot_inactivity");
        assert_eq!(name, schedule_name(&n, &c, TimerKind::BotInactivity));

        let (long_n, bsuid) = ids("106540352242922", &format!("US.{}", "7".repeat(40)));
        let hashed = schedule_name(&long_n, &bsuid, TimerKind::CampaignResponse);
        assert!(hashed.starts_with("h-campaign_response-"), "{hashed}");
        assert_eq!(hashed.len(), 2 + 17 + 1 + 40);

        let mut seen = std::collections::HashSet::new();
        for (number, contact) in [
            ("106540352242922", "4915123456789"),
            ("106540352242922", "4915123456780"),
            ("10654035224292", "24915123456789"),
            ("1", "2-3"),
            ("1-2", "3"),
            ("x", "y z"),
            ("106540352242922", &format!("US.{}", "7".repeat(40))),
            ("106540352242922", &format!("US.{}", "7".repeat(41))),
        ] {
            let (n, c) = ids(number, contact);
            for kind in TimerKind::ALL {
                let name = schedule_name(&n, &c, kind);
                assert!(is_valid_name(&name), "{name}");
                assert!(seen.insert(name.clone()), "collision: {name}");
            }
        }
    }

    #[test]
    fn ops_3_schedule_names_are_keyed_hashes_without_the_contact() {
        let names = ScheduleNames::new(b"k1".to_vec());
        let (n, c) = ids("106540352242922", "4915123456789");
        let name = names.name(&n, &c, TimerKind::BotInactivity);
        assert!(!name.contains("4915123456789"), "{name}");
        assert!(!name.contains("106540352242922"), "{name}");
        assert!(name.starts_with("bot_inactivity-"), "{name}");
        assert_eq!(name, names.name(&n, &c, TimerKind::BotInactivity));
        // Keyed: another key, another name (the wa_id cannot be found by hashing numbers).
        assert_ne!(
            name,
            ScheduleNames::new(b"k2".to_vec()).name(&n, &c, TimerKind::BotInactivity)
        );
        let derived = ScheduleNames::derived_from(b"k1");
        assert_ne!(name, derived.name(&n, &c, TimerKind::BotInactivity));
        assert_eq!(
            derived.name(&n, &c, TimerKind::BotInactivity),
            ScheduleNames::derived_from(b"k1").name(&n, &c, TimerKind::BotInactivity)
        );
        assert!(!format!("{names:?}").contains("k1"));
        let mut seen = std::collections::HashSet::new();
        for (number, contact) in [
            ("106540352242922", "4915123456789"),
            ("106540352242922", "4915123456780"),
            ("10654035224292", "24915123456789"),
            ("1", "2-3"),
            ("1-2", "3"),
            ("106540352242922", &format!("US.{}", "7".repeat(60))),
        ] {
            let (n, c) = ids(number, contact);
            for kind in TimerKind::ALL {
                let name = names.name(&n, &c, kind);
                assert!(is_valid_name(&name), "{name}");
                assert!(seen.insert(name.clone()), "collision: {name}");
            }
        }
    }

    fn full() -> std::collections::HashMap<&'static str, &'static str> {
        [
            (SchedulerConfig::GROUP, "switchboard-timers"),
            (
                SchedulerConfig::TARGET_ARN,
                "arn:aws:lambda:us-east-1:123456789012:function:timers",
            ),
            (
                SchedulerConfig::ROLE_ARN,
                "arn:aws:iam::123456789012:role/scheduler",
            ),
            (
                SchedulerConfig::DEAD_LETTER_ARN,
                "arn:aws:sqs:us-east-1:123456789012:timers-dlq",
            ),
        ]
        .into()
    }

    #[test]
    fn config_requires_the_arns_and_group_and_bounds_the_retry_policy() {
        let map = full();
        let config = SchedulerConfig::from_lookup(|k| map.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.retry_attempts, 185);
        assert_eq!(config.max_event_age_seconds, 86_400);
        for name in map.keys() {
            let missing =
                SchedulerConfig::from_lookup(|k| (k != *name).then(|| map[k].to_string()));
            assert_eq!(missing.unwrap_err(), ConfigError::Missing(name));
        }
        let with = |key: &'static str, value: &'static str| {
            let mut m = full();
            m.insert(key, value);
            SchedulerConfig::from_lookup(|k| m.get(k).map(|v| v.to_string()))
        };
        assert_eq!(
            with(SchedulerConfig::RETRY_ATTEMPTS, "3")
                .unwrap()
                .retry_attempts,
            3
        );
        for (key, value) in [
            (SchedulerConfig::RETRY_ATTEMPTS, "186"),
            (SchedulerConfig::RETRY_ATTEMPTS, "-1"),
            (SchedulerConfig::RETRY_ATTEMPTS, "many"),
            (SchedulerConfig::MAX_EVENT_AGE, "59"),
            (SchedulerConfig::MAX_EVENT_AGE, "86401"),
            (SchedulerConfig::GROUP, "has space"),
            (SchedulerConfig::ROLE_ARN, "scheduler-role"),
        ] {
            assert!(
                matches!(with(key, value), Err(ConfigError::Invalid { name, .. }) if name == key),
                "{key}={value}"
            );
        }
    }
}

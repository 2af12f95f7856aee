//! How fast a number may send (SEND-3, CAMP-5): throughput per number, the pace per recipient,
//! and the messaging limit on unique contacts reached in a moving 24 hours.
//!
//! Every check answers **go** or **wait until** a time; nothing is ever dropped (CAMP-5: what does
//! not fit waits). The states are small values the sender keeps and passes back in.
//!
//! Sub-second pacing needs milliseconds, and [`Timestamp`] counts seconds, so this module works in
//! [`Millis`] (milliseconds since the epoch, `i64`); [`millis`] converts. The messaging limit works
//! in seconds, like the rest of the rules.
//!
//! - Throughput (SEND-3): at most `per_second` messages per number (default 80, configurable 1 to
//!   1,000). [`NumberThroughput`] is a token bucket in its GCRA form (a single "theoretical arrival
//!   time"), kept in integer units of `1/per_second` ms so that 80/s (12.5 ms apart) is exact.
//!   Decision: no burst at number level, so **no window of 1,000 ms ever holds more than
//!   `per_second` sends** — the reading of "80 messages per second" that Meta can never refuse.
//! - Pair rate (SEND-2 131056): one message per 6 s per recipient with a small burst allowance
//!   (default 5, decision: an agent's text, image and buttons go out together): [`RecipientPace`],
//!   the same algorithm, so no 6 s window holds more than `burst` messages to one recipient. After
//!   a 131056 the recipient alone waits 4^n s ([`crate::send_error::pair_rate_delay`]).
//! - Messaging limit (SEND-3, CAMP-5): a contact counts while its latest business-initiated send
//!   outside a CSW is less than 24 h old; a send to a contact already counted does not count again
//!   (and keeps it counted for 24 h from this send, as Meta's moving window does); a new contact
//!   over the limit waits until the oldest counted contact leaves the window.
//!   [`UniqueContactWindow`] is the exact model (one entry per contact); pacing uses
//!   [`ReachCounter`] (counts per 10-minute bucket on the number, the count time on each
//!   recipient), which stays small at any tier and errs only on the safe side (up to 10 minutes).
//! - [`NumberPacing::pace`] combines them with the number-wide effects of SEND-2 (throttle, pause
//!   of campaign traffic, stop) and commits nothing unless every check says go.

use crate::ids::ContactKey;
use crate::send_error::{NumberEffect, pair_rate_delay};
use crate::time::{Duration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A timestamp in milliseconds.
pub const fn millis(at: Timestamp) -> Millis {
    at.unix().saturating_mul(1000)
}

/// The first whole second at or after `ms`: when a wait in milliseconds ends, in seconds.
pub const fn timestamp_at_or_after(ms: Millis) -> Timestamp {
    Timestamp::from_unix(ms.div_euclid(1000) + (ms.rem_euclid(1000) != 0) as i64)
}

pub const DEFAULT_PER_SECOND: u32 = 80;
pub const MAX_PER_SECOND: u32 = 1_000;
pub const PAIR_PERIOD_MS: Millis = 6_000;
pub const DEFAULT_PAIR_BURST: u32 = 5;
pub const MESSAGING_WINDOW: Duration = Duration::hours(24);
/// The largest messaging limit an admin may set as a number of contacts (Meta's highest finite
/// tier is 100K; above it, a number is better set unlimited).
pub const MAX_MESSAGING_LIMIT: u32 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PacingError {
    #[error("throughput must be between 1 and {MAX_PER_SECOND} messages per second, not {0}")]
    Throughput(u32),
    #[error("the recipient burst must be between 1 and 45 messages, not {0}")]
    PairBurst(u32),
    #[error(
        "{0:?} is not a messaging limit tier (TIER_250, TIER_1K, TIER_10K, TIER_100K, TIER_UNLIMITED)"
    )]
    UnknownTier(String),
    #[error("a messaging limit must allow at least one contact")]
    ZeroLimit,
}

/// The answer of a pacing check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pace", rename_all = "snake_case")]
pub enum Pace {
    Go,
    WaitUntil { at: Millis },
}

/// GCRA state: `tat` is the theoretical arrival time in units of `1/scale` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Gcra {
    tat: i64,
    scale: i64,
}

impl Gcra {
    /// `tolerance` (how far ahead of the pace a send may be: the burst) in scaled units.
    fn check(&self, scale: i64, tolerance: i64, now: Millis) -> Pace {
        let earliest = self.tat_in(scale) - tolerance;
        if now.saturating_mul(scale) >= earliest {
            Pace::Go
        } else {
            Pace::WaitUntil {
                at: earliest.div_euclid(scale) + i64::from(earliest.rem_euclid(scale) != 0),
            }
        }
    }

    /// A send within the millisecond its slot fell in counts from the slot, not from the whole
    /// millisecond: otherwise polling in whole milliseconds would lose up to 1 ms per send (a
    /// quarter of the throughput at 300/s). No window of `k` intervals can then hold more than `k`
    /// sends whose times are whole milliseconds.
    fn commit(&mut self, scale: i64, interval: i64, now: Millis) {
        let tat = self.tat_in(scale);
        let on_time = now.saturating_mul(scale) - (scale - 1);
        self.tat = tat.max(on_time) + interval;
        self.scale = scale;
    }

    /// The stored time in another scale (when the configured rate changed), rounded up.
    fn tat_in(&self, scale: i64) -> i64 {
        if self.scale == 0 {
            // Never used: no send to pace against.
            i64::MIN / 2
        } else if self.scale == scale {
            self.tat
        } else {
            let ms =
                self.tat.div_euclid(self.scale) + i64::from(self.tat.rem_euclid(self.scale) != 0);
            ms.saturating_mul(scale)
        }
    }
}

/// SEND-3: the number's throughput setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Throughput(u32);

impl Throughput {
    pub fn per_second(per_second: u32) -> Result<Self, PacingError> {
        if (1..=MAX_PER_SECOND).contains(&per_second) {
            Ok(Throughput(per_second))
        } else {
            Err(PacingError::Throughput(per_second))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for Throughput {
    fn default() -> Self {
        Throughput(DEFAULT_PER_SECOND)
    }
}

impl TryFrom<u32> for Throughput {
    type Error = PacingError;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Throughput::per_second(v)
    }
}

impl From<Throughput> for u32 {
    fn from(t: Throughput) -> u32 {
        t.0
    }
}

/// SEND-3: the number's send pace. Time is scaled by the rate so that the interval between sends
/// (1000 / rate ms) is a whole number: one send costs 1000 units, `rate` units pass per ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NumberThroughput(Gcra);

impl NumberThroughput {
    pub fn check(&self, limit: Throughput, now: Millis) -> Pace {
        self.0.check(i64::from(limit.0), 0, now)
    }

    /// Takes a send slot if one is free now; otherwise says when the next one is.
    pub fn try_take(&mut self, limit: Throughput, now: Millis) -> Pace {
        let pace = self.check(limit, now);
        if pace == Pace::Go {
            self.0.commit(i64::from(limit.0), 1000, now);
        }
        pace
    }
}

/// The per-recipient pace setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairPace {
    /// Messages that may go to one recipient back to back before the 6 s pace applies.
    pub burst: u32,
}

impl PairPace {
    pub fn new(burst: u32) -> Result<Self, PacingError> {
        if (1..=45).contains(&burst) {
            Ok(PairPace { burst })
        } else {
            Err(PacingError::PairBurst(burst))
        }
    }
}

impl Default for PairPace {
    fn default() -> Self {
        PairPace {
            burst: DEFAULT_PAIR_BURST,
        }
    }
}

/// The pace of one recipient of one number (kept with the contact's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecipientPace {
    gcra: Gcra,
    /// 131056 failures since the last delivery: the `n` of 4^n.
    pair_rate_failures: u32,
    blocked_until: Option<Millis>,
    /// SEND-3/CAMP-5: the latest business-initiated send outside a CSW that counted this
    /// recipient toward the number's messaging limit (see [`ReachCounter`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reached_at: Option<Timestamp>,
}

impl RecipientPace {
    pub fn check(&self, pace: PairPace, now: Millis) -> Pace {
        if let Some(until) = self.blocked_until
            && now < until
        {
            return Pace::WaitUntil { at: until };
        }
        let tolerance = i64::from(pace.burst.saturating_sub(1)) * PAIR_PERIOD_MS;
        self.gcra.check(1, tolerance, now)
    }

    pub fn try_take(&mut self, pace: PairPace, now: Millis) -> Pace {
        let p = self.check(pace, now);
        if p == Pace::Go {
            self.gcra.commit(1, PAIR_PERIOD_MS, now);
        }
        p
    }

    /// SEND-2 131056: the recipient waits 4^n s, `n` counting earlier such failures. Returns when
    /// it may be sent to again.
    pub fn record_pair_rate_error(&mut self, now: Millis) -> Millis {
        let until = now + pair_rate_delay(self.pair_rate_failures).as_seconds() * 1000;
        self.pair_rate_failures = self.pair_rate_failures.saturating_add(1);
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        until
    }

    /// A message to the recipient was delivered: the 4^n sequence starts again.
    pub fn record_delivered(&mut self) {
        self.pair_rate_failures = 0;
    }

    pub fn pair_rate_failures(&self) -> u32 {
        self.pair_rate_failures
    }

    /// The send that counts the recipient toward the messaging limit, while it is less than 24 h
    /// old at `now`.
    pub fn counted_since(&self, now: Timestamp) -> Option<Timestamp> {
        self.reached_at.filter(|&t| now < t + MESSAGING_WINDOW)
    }
}

/// SEND-3/CAMP-5: the number's messaging limit: unique contacts it may reach with
/// business-initiated messages outside a CSW in a moving 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "tier", content = "contacts", rename_all = "snake_case")]
pub enum MessagingLimit {
    Contacts(u32),
    Unlimited,
}

impl MessagingLimit {
    pub const TIER_250: MessagingLimit = MessagingLimit::Contacts(250);
    pub const TIER_1K: MessagingLimit = MessagingLimit::Contacts(1_000);
    pub const TIER_10K: MessagingLimit = MessagingLimit::Contacts(10_000);
    pub const TIER_100K: MessagingLimit = MessagingLimit::Contacts(100_000);

    pub fn contacts(n: u32) -> Result<Self, PacingError> {
        if n == 0 {
            Err(PacingError::ZeroLimit)
        } else {
            Ok(MessagingLimit::Contacts(n))
        }
    }

    /// Parses Meta's tier names: `TIER_250`, `TIER_1K`, `TIER_2K`, `TIER_10K`, `TIER_100K`,
    /// `TIER_UNLIMITED` (any `TIER_<n>` or `TIER_<n>K`).
    pub fn from_meta(text: &str) -> Result<Self, PacingError> {
        let unknown = || PacingError::UnknownTier(text.chars().take(40).collect());
        let upper = text.trim().to_ascii_uppercase();
        let tier = upper.strip_prefix("TIER_").ok_or_else(unknown)?;
        if tier == "UNLIMITED" {
            return Ok(MessagingLimit::Unlimited);
        }
        let (digits, factor) = match tier.strip_suffix('K') {
            Some(d) => (d, 1_000),
            None => (tier, 1),
        };
        let n: u32 = digits.parse().map_err(|_| unknown())?;
        MessagingLimit::contacts(n.checked_mul(factor).ok_or_else(unknown)?)
    }
}

impl Default for MessagingLimit {
    fn default() -> Self {
        MessagingLimit::TIER_250
    }
}

/// The answer of the messaging-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reach", rename_all = "snake_case")]
pub enum Reach {
    /// May send; `newly_counted` is false when the contact was already counted in the window.
    Allowed { newly_counted: bool },
    /// The limit is reached: a slot frees at `at`, when the oldest counted contact leaves.
    WaitUntil { at: Timestamp },
}

/// SEND-3/CAMP-5: contacts reached by business-initiated sends outside a CSW in the last 24 h,
/// exactly, one entry per contact. The reference model: pacing uses [`ReachCounter`], whose size
/// does not grow with the number of contacts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UniqueContactWindow {
    last_send: BTreeMap<ContactKey, Timestamp>,
}

impl UniqueContactWindow {
    fn counts(last: Timestamp, now: Timestamp) -> bool {
        now < last + MESSAGING_WINDOW
    }

    /// Contacts counted at `now`.
    pub fn count(&self, now: Timestamp) -> usize {
        self.last_send
            .values()
            .filter(|&&t| Self::counts(t, now))
            .count()
    }

    pub fn check(&self, limit: MessagingLimit, contact: &ContactKey, now: Timestamp) -> Reach {
        if self
            .last_send
            .get(contact)
            .is_some_and(|&t| Self::counts(t, now))
        {
            return Reach::Allowed {
                newly_counted: false,
            };
        }
        let MessagingLimit::Contacts(max) = limit else {
            return Reach::Allowed {
                newly_counted: true,
            };
        };
        let mut active: Vec<Timestamp> = self
            .last_send
            .values()
            .copied()
            .filter(|&t| Self::counts(t, now))
            .collect();
        if active.len() < max as usize {
            return Reach::Allowed {
                newly_counted: true,
            };
        }
        // The (len - max + 1)-th oldest must leave before a new contact fits.
        active.sort_unstable();
        let must_leave = active.len() - max as usize;
        Reach::WaitUntil {
            at: active[must_leave] + MESSAGING_WINDOW,
        }
    }

    /// Counts the send if it fits; forgets contacts that left the window.
    pub fn try_reach(
        &mut self,
        limit: MessagingLimit,
        contact: &ContactKey,
        now: Timestamp,
    ) -> Reach {
        let reach = self.check(limit, contact, now);
        if let Reach::Allowed { .. } = reach {
            self.last_send.retain(|_, t| Self::counts(*t, now));
            let entry = self.last_send.entry(contact.clone()).or_insert(now);
            *entry = (*entry).max(now);
        }
        reach
    }
}

/// The width of a [`ReachCounter`] bucket.
pub const REACH_BUCKET: Duration = Duration::minutes(10);

/// Contacts newly counted in one [`REACH_BUCKET`] starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachBucket {
    pub start: Timestamp,
    pub contacts: u32,
}

/// SEND-3/CAMP-5 at any scale: the number's messaging-limit count, sharded by time instead of by
/// contact. [`UniqueContactWindow`] keeps one entry per contact, so the number's record grows with
/// its tier (a 100K or unlimited number reaches far more contacts a day than one DynamoDB item
/// holds). Here the *number* keeps only how many contacts were newly counted per 10-minute bucket
/// (at most 145 buckets live, whatever the tier), and each *recipient* keeps when it was counted
/// ([`RecipientPace::counted_since`]), in the recipient's own record that pacing already reads and
/// writes with the number's.
///
/// - A recipient counted less than 24 h ago is not counted again; its count moves from its old
///   bucket to the current one (Meta's window keeps it counted for 24 h from this send).
/// - A bucket keeps counting until `start + 10 min + 24 h`: a contact may stay counted up to 10
///   minutes longer than exactly, never shorter, so the limit is never exceeded; the price is that
///   a campaign waiting for the window may wait up to 10 minutes longer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReachCounter {
    /// Oldest first; only non-empty, live buckets.
    #[serde(default)]
    buckets: Vec<ReachBucket>,
}

impl ReachCounter {
    fn bucket_start(at: Timestamp) -> Timestamp {
        let width = REACH_BUCKET.as_seconds();
        Timestamp::from_unix(at.unix().div_euclid(width) * width)
    }

    /// When the contacts of a bucket stop counting.
    fn expiry(bucket: &ReachBucket) -> Timestamp {
        bucket.start + REACH_BUCKET + MESSAGING_WINDOW
    }

    fn live(&self, now: Timestamp) -> impl Iterator<Item = &ReachBucket> {
        self.buckets.iter().filter(move |b| now < Self::expiry(b))
    }

    /// Contacts counted at `now` (possibly a few that left the exact window in the last 10
    /// minutes: never fewer than exactly).
    pub fn count(&self, now: Timestamp) -> u64 {
        self.live(now).map(|b| u64::from(b.contacts)).sum()
    }

    /// Buckets kept (at most 145 live ones).
    pub fn buckets(&self) -> &[ReachBucket] {
        &self.buckets
    }

    /// Whether a contact not counted yet fits now; otherwise when a slot frees.
    pub fn check_new(&self, limit: MessagingLimit, now: Timestamp) -> Reach {
        let MessagingLimit::Contacts(max) = limit else {
            return Reach::Allowed {
                newly_counted: true,
            };
        };
        let count = self.count(now);
        if count < u64::from(max) {
            return Reach::Allowed {
                newly_counted: true,
            };
        }
        // The oldest buckets must leave until one slot is free.
        let mut must_leave = count - u64::from(max) + 1;
        for b in self.live(now) {
            let n = u64::from(b.contacts);
            if n >= must_leave {
                return Reach::WaitUntil {
                    at: Self::expiry(b),
                };
            }
            must_leave -= n;
        }
        // Unreachable when the counts add up; the latest bucket's expiry is a safe answer.
        Reach::WaitUntil {
            at: self
                .buckets
                .last()
                .map_or(now + MESSAGING_WINDOW, Self::expiry),
        }
    }

    /// Whether the recipient's send fits, given when it was last counted.
    pub fn check(&self, limit: MessagingLimit, recipient: &RecipientPace, now: Timestamp) -> Reach {
        if recipient.counted_since(now).is_some() {
            return Reach::Allowed {
                newly_counted: false,
            };
        }
        self.check_new(limit, now)
    }

    /// Counts the send if it fits (moving an already counted recipient to the current bucket);
    /// forgets buckets that left the window.
    pub fn try_reach(
        &mut self,
        limit: MessagingLimit,
        recipient: &mut RecipientPace,
        now: Timestamp,
    ) -> Reach {
        let reach = self.check(limit, recipient, now);
        if let Reach::Allowed { .. } = reach {
            self.buckets.retain(|b| now < Self::expiry(b));
            if let Some(before) = recipient.counted_since(now) {
                let start = Self::bucket_start(before);
                if let Some(b) = self.buckets.iter_mut().find(|b| b.start == start) {
                    b.contacts = b.contacts.saturating_sub(1);
                }
            }
            let start = Self::bucket_start(now);
            match self.buckets.last_mut() {
                Some(b) if b.start == start => b.contacts = b.contacts.saturating_add(1),
                _ => self.buckets.push(ReachBucket { start, contacts: 1 }),
            }
            self.buckets.retain(|b| b.contacts > 0);
            recipient.reached_at = Some(recipient.reached_at.map_or(now, |t| t.max(now)));
        }
        reach
    }
}

/// Why a send waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// SEND-2: the number is throttled after a throughput error.
    NumberThrottled,
    /// SEND-2 131048: campaign traffic is paused on the number.
    CampaignTrafficPaused,
    /// SEND-3: the number's messages per second.
    Throughput,
    /// One message per 6 s to one recipient, or the 4^n wait after 131056.
    RecipientPace,
    /// SEND-3/CAMP-5: the unique-contact limit of the moving 24 h.
    MessagingLimit,
}

/// The decision for one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum SendPace {
    /// Send now; every state has been updated.
    Go { newly_counted_contact: bool },
    /// Not now: try again at `at`, the latest of the limits that refused (nothing is dropped).
    Wait { at: Millis, because: WaitReason },
    /// SEND-2: the number is stopped until a person fixes the account.
    Stopped,
}

/// The pacing settings of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PacingSettings {
    pub throughput: Throughput,
    pub pair: PairPace,
    pub messaging_limit: MessagingLimit,
}

/// One send as pacing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendSlotRequest<'a> {
    pub contact: &'a ContactKey,
    /// A campaign send (held while campaign traffic is paused).
    pub campaign: bool,
    /// A business-initiated send outside the contact's CSW: counts toward the messaging limit.
    pub outside_service_window: bool,
    pub now: Millis,
}

/// The pacing state of one business number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NumberPacing {
    pub throughput: NumberThroughput,
    /// The messaging-limit count (sharded by time; each recipient keeps its own count time).
    #[serde(default)]
    pub reach: ReachCounter,
    pub throttled_until: Option<Millis>,
    /// SEND-4: the length of the last throttle pause (doubled when a throttle comes again while
    /// it persists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_throttle: Option<Millis>,
    pub campaign_traffic_paused_until: Option<Millis>,
    pub stopped: bool,
}

impl NumberPacing {
    /// SEND-2: applies a number-wide effect of a failure at `now`.
    pub fn apply(&mut self, effect: NumberEffect, now: Millis) {
        let later =
            |current: Option<Millis>, until: Millis| Some(current.map_or(until, |c| c.max(until)));
        match effect {
            NumberEffect::Throttle { duration, cap } => {
                // SEND-4: a throttle while the last pause persists (or within one pause length
                // after it) doubles it, up to the cap; a throttle after a quiet spell starts over.
                let base = duration.as_seconds() * 1000;
                let pause = match (self.throttled_until, self.last_throttle) {
                    (Some(until), Some(last)) if now <= until + last => {
                        (last * 2).min(cap.as_seconds() * 1000).max(base)
                    }
                    _ => base,
                };
                self.last_throttle = Some(pause);
                self.throttled_until = later(self.throttled_until, now + pause);
            }
            NumberEffect::PauseCampaignTraffic { duration } => {
                self.campaign_traffic_paused_until = later(
                    self.campaign_traffic_paused_until,
                    now + duration.as_seconds() * 1000,
                );
            }
            NumberEffect::StopAndAlert => self.stopped = true,
        }
    }

    /// A person fixed the account: sending may go on.
    pub fn resume(&mut self) {
        self.stopped = false;
    }

    /// SEND-3/CAMP-5: whether a send may go now. Checks everything first and commits only a `Go`,
    /// so a refused send uses no slot; a wait names the latest limit, so the retry at that time is
    /// not refused by another limit already known.
    pub fn pace(
        &mut self,
        settings: &PacingSettings,
        recipient: &mut RecipientPace,
        request: SendSlotRequest<'_>,
    ) -> SendPace {
        if self.stopped {
            return SendPace::Stopped;
        }
        let now = request.now;
        let mut wait: Option<(Millis, WaitReason)> = None;
        let mut hold = |at: Millis, because: WaitReason| {
            if at > now && wait.is_none_or(|(w, _)| at > w) {
                wait = Some((at, because));
            }
        };
        if let Some(until) = self.throttled_until {
            hold(until, WaitReason::NumberThrottled);
        }
        if request.campaign
            && let Some(until) = self.campaign_traffic_paused_until
        {
            hold(until, WaitReason::CampaignTrafficPaused);
        }
        let second = Timestamp::from_unix(now.div_euclid(1000));
        if request.outside_service_window
            && let Reach::WaitUntil { at } =
                self.reach
                    .check(settings.messaging_limit, recipient, second)
        {
            hold(millis(at), WaitReason::MessagingLimit);
        }
        if let Pace::WaitUntil { at } = recipient.check(settings.pair, now) {
            hold(at, WaitReason::RecipientPace);
        }
        if let Pace::WaitUntil { at } = self.throughput.check(settings.throughput, now) {
            hold(at, WaitReason::Throughput);
        }
        if let Some((at, because)) = wait {
            return SendPace::Wait { at, because };
        }
        let newly_counted_contact = request.outside_service_window
            && matches!(
                self.reach
                    .try_reach(settings.messaging_limit, recipient, second),
                Reach::Allowed {
                    newly_counted: true
                }
            );
        recipient.try_take(settings.pair, now);
        self.throughput.try_take(settings.throughput, now);
        SendPace::Go {
            newly_counted_contact,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(i: usize) -> ContactKey {
        ContactKey::new(format!("39333{i:07}")).unwrap()
    }

    const T0: Millis = 1_750_000_000_000;

    // SEND-3: throughput is 80/s by default, configurable from 1 to 1,000.
    #[test]
    fn send_3_throughput_setting_bounds() {
        assert_eq!(Throughput::default().get(), 80);
        assert_eq!(Throughput::per_second(1_000).unwrap().get(), 1_000);
        assert_eq!(Throughput::per_second(0), Err(PacingError::Throughput(0)));
        assert_eq!(
            Throughput::per_second(1_001),
            Err(PacingError::Throughput(1_001))
        );
        assert!(serde_json::from_str::<Throughput>("5000").is_err());
    }

    // SEND-3: at 80/s sends are 12.5 ms apart; a refused send is told when to come back.
    #[test]
    fn send_3_throughput_spaces_sends_and_says_when() {
        let limit = Throughput::default();
        let mut bucket = NumberThroughput::default();
        assert_eq!(bucket.try_take(limit, T0), Pace::Go);
        assert_eq!(bucket.try_take(limit, T0), Pace::WaitUntil { at: T0 + 12 });
        assert_eq!(
            bucket.try_take(limit, T0 + 11),
            Pace::WaitUntil { at: T0 + 12 }
        );
        assert_eq!(bucket.try_take(limit, T0 + 12), Pace::Go);
        // Sends keep the exact 12.5 ms pace: the third is due in the 25th millisecond.
        assert_eq!(
            bucket.try_take(limit, T0 + 24),
            Pace::WaitUntil { at: T0 + 25 }
        );
        assert_eq!(bucket.try_take(limit, T0 + 25), Pace::Go);
        // Asking all second long: exactly 80 sends in [T0, T0 + 1000).
        let mut bucket = NumberThroughput::default();
        let sent = (0..1000)
            .filter(|ms| bucket.try_take(limit, T0 + ms) == Pace::Go)
            .count();
        assert_eq!(sent, 80);
        // Changing the rate keeps the state meaningful.
        let fast = Throughput::per_second(1_000).unwrap();
        assert_eq!(bucket.try_take(fast, T0 + 1000), Pace::Go);
        assert_eq!(
            bucket.try_take(fast, T0 + 1000),
            Pace::WaitUntil { at: T0 + 1001 }
        );
        // No rate loses throughput to whole-millisecond polling.
        for rate in [1, 3, 7, 80, 300, 333, 999, 1_000] {
            let limit = Throughput::per_second(rate).unwrap();
            let mut bucket = NumberThroughput::default();
            let sent = (0..10_000)
                .filter(|ms| bucket.try_take(limit, T0 + ms) == Pace::Go)
                .count();
            assert!(
                sent.abs_diff(10 * rate as usize) <= 1,
                "{rate}/s gave {sent} in 10 s"
            );
        }
    }

    // SEND-3 / SEND-2 131056: one message per 6 s per recipient after a small burst; 4^n after 131056.
    #[test]
    fn send_3_recipient_pace_and_pair_rate_penalty() {
        let pace = PairPace::default();
        let mut r = RecipientPace::default();
        for i in 0..5 {
            assert_eq!(r.try_take(pace, T0 + i), Pace::Go, "burst message {i}");
        }
        assert_eq!(r.try_take(pace, T0 + 5), Pace::WaitUntil { at: T0 + 6_000 });
        assert_eq!(r.try_take(pace, T0 + 6_000), Pace::Go);
        assert_eq!(
            r.try_take(pace, T0 + 6_001),
            Pace::WaitUntil { at: T0 + 12_000 }
        );

        let mut r = RecipientPace::default();
        assert_eq!(r.record_pair_rate_error(T0), T0 + 1_000);
        assert_eq!(
            r.try_take(pace, T0 + 999),
            Pace::WaitUntil { at: T0 + 1_000 }
        );
        assert_eq!(r.record_pair_rate_error(T0 + 1_000), T0 + 5_000);
        assert_eq!(r.record_pair_rate_error(T0 + 5_000), T0 + 21_000);
        assert_eq!(r.pair_rate_failures(), 3);
        assert_eq!(
            r.check(pace, T0 + 20_999),
            Pace::WaitUntil { at: T0 + 21_000 }
        );
        assert_eq!(r.try_take(pace, T0 + 21_000), Pace::Go);
        r.record_delivered();
        assert_eq!(
            r.record_pair_rate_error(T0 + 30_000),
            T0 + 31_000,
            "back to 4^0"
        );
        assert_eq!(PairPace::new(0), Err(PacingError::PairBurst(0)));
    }

    // SEND-3: Meta's tiers and integer limits.
    #[test]
    fn send_3_messaging_limit_tiers() {
        let cases = [
            ("TIER_250", MessagingLimit::Contacts(250)),
            ("TIER_1K", MessagingLimit::Contacts(1_000)),
            ("TIER_2K", MessagingLimit::Contacts(2_000)),
            ("tier_10k", MessagingLimit::Contacts(10_000)),
            ("TIER_100K", MessagingLimit::Contacts(100_000)),
            ("TIER_UNLIMITED", MessagingLimit::Unlimited),
        ];
        for (text, limit) in cases {
            assert_eq!(MessagingLimit::from_meta(text), Ok(limit), "{text}");
        }
        for bad in ["250", "TIER_", "TIER_XK", "TIER_0", "TIER_99999999K"] {
            assert!(MessagingLimit::from_meta(bad).is_err(), "{bad}");
        }
        assert_eq!(MessagingLimit::contacts(0), Err(PacingError::ZeroLimit));
        assert_eq!(MessagingLimit::default(), MessagingLimit::TIER_250);
    }

    // CAMP-5 / SEND-3: unique contacts in a moving 24 h; a counted contact does not count again;
    // a new one over the limit waits for the oldest slot, it is not dropped.
    #[test]
    fn camp_5_messaging_limit_counts_unique_contacts_in_a_moving_day() {
        let limit = MessagingLimit::contacts(3).unwrap();
        let mut w = UniqueContactWindow::default();
        let t = |s: i64| Timestamp::from_unix(1_750_000_000 + s);
        assert_eq!(
            w.try_reach(limit, &key(1), t(0)),
            Reach::Allowed {
                newly_counted: true
            }
        );
        assert_eq!(
            w.try_reach(limit, &key(2), t(100)),
            Reach::Allowed {
                newly_counted: true
            }
        );
        assert_eq!(
            w.try_reach(limit, &key(3), t(200)),
            Reach::Allowed {
                newly_counted: true
            }
        );
        assert_eq!(
            w.try_reach(limit, &key(1), t(300)),
            Reach::Allowed {
                newly_counted: false
            }
        );
        assert_eq!(w.count(t(300)), 3);
        // Key 1 was sent again at 300, so the oldest slot is key 2's, freed at 100 + 24 h.
        assert_eq!(
            w.try_reach(limit, &key(4), t(400)),
            Reach::WaitUntil {
                at: t(100 + 86_400)
            }
        );
        assert_eq!(
            w.try_reach(limit, &key(4), t(100 + 86_399)),
            Reach::WaitUntil {
                at: t(100 + 86_400)
            }
        );
        assert_eq!(
            w.try_reach(limit, &key(4), t(100 + 86_400)),
            Reach::Allowed {
                newly_counted: true
            }
        );
        assert_eq!(w.count(t(100 + 86_400)), 3);
        let mut unlimited = UniqueContactWindow::default();
        for i in 0..1_000 {
            assert_eq!(
                unlimited.try_reach(MessagingLimit::Unlimited, &key(i), t(0)),
                Reach::Allowed {
                    newly_counted: true
                }
            );
        }
    }

    // CAMP-5: a campaign of 300 contacts on a TIER_250 number: 250 go, 50 wait a day — none dropped;
    // throughput spaces them; sends inside a CSW do not count.
    #[test]
    fn camp_5_campaign_waits_for_the_limit_and_throughput() {
        let settings = PacingSettings::default();
        let mut number = NumberPacing::default();
        let mut recipients: BTreeMap<ContactKey, RecipientPace> = BTreeMap::new();
        let mut now = T0;
        let mut sent = Vec::new();
        let mut waiting = Vec::new();
        for i in 0..300 {
            let contact = key(i);
            let recipient = recipients.entry(contact.clone()).or_default();
            loop {
                let request = SendSlotRequest {
                    contact: &contact,
                    campaign: true,
                    outside_service_window: true,
                    now,
                };
                match number.pace(&settings, recipient, request) {
                    SendPace::Go {
                        newly_counted_contact,
                    } => {
                        assert!(newly_counted_contact);
                        sent.push(now);
                        break;
                    }
                    SendPace::Wait {
                        at,
                        because: WaitReason::Throughput,
                    } => now = at,
                    SendPace::Wait {
                        at,
                        because: WaitReason::MessagingLimit,
                    } => {
                        waiting.push(at);
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(sent.len(), 250);
        assert_eq!(waiting.len(), 50, "what does not fit waits");
        // A slot frees when the first send's 10-minute bucket leaves the window: never before
        // the exact window (24 h after the first send), at most 10 minutes after it.
        let exact = T0 + 86_400_000;
        assert!(
            waiting
                .iter()
                .all(|&at| at == waiting[0] && (exact..=exact + 600_000).contains(&at)),
            "{:?}",
            waiting.first()
        );
        assert!(sent.windows(2).all(|w| w[1] - w[0] >= 12));
        // Inside a CSW the limit does not apply.
        let c = key(999);
        let mut r = RecipientPace::default();
        let go = number.pace(
            &settings,
            &mut r,
            SendSlotRequest {
                contact: &c,
                campaign: false,
                outside_service_window: false,
                now: now + 1_000,
            },
        );
        assert_eq!(
            go,
            SendPace::Go {
                newly_counted_contact: false
            }
        );
    }

    // SEND-2 effects on pacing: throttle, campaign pause (conversations go on), stop.
    #[test]
    fn send_3_number_effects_hold_sends() {
        let settings = PacingSettings::default();
        let mut number = NumberPacing::default();
        let c = key(1);
        let mut r = RecipientPace::default();
        let req = |campaign, now| SendSlotRequest {
            contact: &c,
            campaign,
            outside_service_window: false,
            now,
        };
        number.apply(
            NumberEffect::PauseCampaignTraffic {
                duration: Duration::hours(1),
            },
            T0,
        );
        assert_eq!(
            number.pace(&settings, &mut r, req(true, T0)),
            SendPace::Wait {
                at: T0 + 3_600_000,
                because: WaitReason::CampaignTrafficPaused
            }
        );
        assert_eq!(
            number.pace(&settings, &mut r, req(false, T0)),
            SendPace::Go {
                newly_counted_contact: false
            }
        );
        number.apply(
            NumberEffect::Throttle {
                duration: Duration::seconds(60),
                cap: Duration::hours(1),
            },
            T0,
        );
        assert_eq!(
            number.pace(&settings, &mut r, req(false, T0 + 1)),
            SendPace::Wait {
                at: T0 + 60_000,
                because: WaitReason::NumberThrottled
            }
        );
        // A wait names the latest limit.
        assert_eq!(
            number.pace(&settings, &mut r, req(true, T0 + 1)),
            SendPace::Wait {
                at: T0 + 3_600_000,
                because: WaitReason::CampaignTrafficPaused
            }
        );
        number.apply(NumberEffect::StopAndAlert, T0);
        assert_eq!(
            number.pace(&settings, &mut r, req(false, T0 + 7_200_000)),
            SendPace::Stopped
        );
        number.resume();
        assert_eq!(
            number.pace(&settings, &mut r, req(true, T0 + 7_200_000)),
            SendPace::Go {
                newly_counted_contact: false
            }
        );
        assert_eq!(
            timestamp_at_or_after(T0 + 1),
            Timestamp::from_unix(1_750_000_001)
        );
        assert_eq!(
            timestamp_at_or_after(T0),
            Timestamp::from_unix(1_750_000_000)
        );
    }

    // CAMP-5 / SEND-3 at scale: the number's count is sharded by 10-minute buckets and each
    // recipient keeps its own count time; a counted contact does not count again (its count moves
    // to the current bucket); a new contact over the limit waits for the oldest bucket to leave,
    // at most 10 minutes after the exact window would have let it in.
    #[test]
    fn camp_5_sharded_reach_counts_unique_contacts_in_a_moving_day() {
        let limit = MessagingLimit::contacts(3).unwrap();
        let mut reach = ReachCounter::default();
        let mut r: Vec<RecipientPace> = vec![RecipientPace::default(); 5];
        let base = 1_750_000_200; // 20 s past a bucket start (1_750_000_200 % 600 == 0)
        assert_eq!(base % 600, 0);
        let t = |s: i64| Timestamp::from_unix(base + s);
        let new = Reach::Allowed {
            newly_counted: true,
        };
        assert_eq!(reach.try_reach(limit, &mut r[1], t(0)), new);
        assert_eq!(reach.try_reach(limit, &mut r[2], t(100)), new);
        assert_eq!(reach.try_reach(limit, &mut r[3], t(700)), new);
        assert_eq!(reach.count(t(700)), 3);
        // Key 1 again: not counted again; its count moves to the current bucket.
        assert_eq!(
            reach.try_reach(limit, &mut r[1], t(1_300)),
            Reach::Allowed {
                newly_counted: false
            }
        );
        assert_eq!(reach.count(t(1_300)), 3);
        assert_eq!(
            reach
                .buckets()
                .iter()
                .map(|b| b.contacts)
                .collect::<Vec<_>>(),
            [1, 1, 1]
        );
        // Key 4 waits for key 2's bucket [0, 600) to leave: 600 s + 24 h (exactly: 100 s + 24 h).
        let free = t(600 + 86_400);
        assert_eq!(
            reach.try_reach(limit, &mut r[4], t(1_400)),
            Reach::WaitUntil { at: free }
        );
        assert_eq!(
            reach.check(limit, &r[4], free - Duration::seconds(1)),
            Reach::WaitUntil { at: free }
        );
        assert_eq!(reach.try_reach(limit, &mut r[4], free), new);
        assert_eq!(reach.count(free), 3);
        // Unlimited: everyone counted, and the number's record does not grow with the contacts:
        // 200,000 contacts over two days keep at most 145 buckets.
        let mut reach = ReachCounter::default();
        let mut most = 0;
        for i in 0..200_000 {
            let mut recipient = RecipientPace::default();
            assert_eq!(
                reach.try_reach(MessagingLimit::Unlimited, &mut recipient, t(i)),
                new
            );
            most = most.max(reach.buckets().len());
        }
        assert!(most <= 145, "{most} buckets");
        // One contact a second: at 199,999 s the live buckets start at 113,400 s or later
        // (start + 600 + 86,400 > 199,999), so 86,600 contacts count (exactly: 86,400).
        assert_eq!(reach.count(t(199_999)), 86_600);
    }

    /// The most sends in any half-open window of `width` ms.
    fn max_in_window(times: &[Millis], width: Millis) -> usize {
        let mut best = 0;
        let mut j = 0;
        for i in 0..times.len() {
            while j < times.len() && times[j] < times[i] + width {
                j += 1;
            }
            best = best.max(j - i);
        }
        best
    }

    proptest! {
        // SEND-3: whatever the request times, no 1,000 ms window holds more than the rate.
        #[test]
        fn send_3_throughput_never_exceeds_the_rate_in_any_second(
            rate in 1u32..=1_000,
            gaps in proptest::collection::vec(prop_oneof![0i64..3, 0i64..40], 1..600),
        ) {
            let limit = Throughput::per_second(rate).unwrap();
            let mut bucket = NumberThroughput::default();
            let mut now = T0;
            let mut sent = Vec::new();
            for gap in gaps {
                now += gap;
                match bucket.try_take(limit, now) {
                    Pace::Go => sent.push(now),
                    Pace::WaitUntil { at } => prop_assert!(at > now),
                }
            }
            prop_assert!(max_in_window(&sent, 1_000) <= rate as usize);
        }

        // SEND-3: no 6 s window holds more than the burst for one recipient.
        #[test]
        fn send_3_recipient_never_gets_more_than_the_burst_in_six_seconds(
            burst in 1u32..=10,
            gaps in proptest::collection::vec(0i64..3_000, 1..200),
        ) {
            let pace = PairPace::new(burst).unwrap();
            let mut r = RecipientPace::default();
            let mut now = T0;
            let mut sent = Vec::new();
            for gap in gaps {
                now += gap;
                if r.try_take(pace, now) == Pace::Go {
                    sent.push(now);
                }
            }
            prop_assert!(max_in_window(&sent, PAIR_PERIOD_MS) <= burst as usize);
        }

        // CAMP-5 through pacing (the sharded counter): no moving 24 h ever reaches more unique
        // contacts outside a CSW than the limit; a refusal names a later time; a contact already
        // counted is never held by the limit.
        #[test]
        fn camp_5_paced_messaging_limit_never_exceeded_in_any_day(
            limit in 1u32..6,
            sends in proptest::collection::vec((0usize..12, 0i64..20_000), 1..200),
        ) {
            let settings = PacingSettings {
                messaging_limit: MessagingLimit::contacts(limit).unwrap(),
                pair: PairPace::new(45).unwrap(),
                ..PacingSettings::default()
            };
            let mut number = NumberPacing::default();
            let mut recipients: BTreeMap<usize, RecipientPace> = BTreeMap::new();
            let mut now = 1_750_000_000i64;
            let mut sent: Vec<(i64, usize)> = Vec::new();
            for (who, gap) in sends {
                now += gap;
                let contact = key(who);
                let recipient = recipients.entry(who).or_default();
                let counted = recipient.counted_since(Timestamp::from_unix(now)).is_some();
                let request = SendSlotRequest {
                    contact: &contact,
                    campaign: true,
                    outside_service_window: true,
                    now: now * 1000,
                };
                match number.pace(&settings, recipient, request) {
                    SendPace::Go { .. } => sent.push((now, who)),
                    SendPace::Wait { at, because } => {
                        prop_assert!(at > now * 1000);
                        if because == WaitReason::MessagingLimit {
                            prop_assert!(!counted);
                        }
                    }
                    SendPace::Stopped => prop_assert!(false, "not stopped"),
                }
                let distinct: std::collections::BTreeSet<usize> = sent
                    .iter()
                    .filter(|(t, _)| *t > now - 86_400)
                    .map(|(_, c)| *c)
                    .collect();
                prop_assert!(distinct.len() <= limit as usize);
            }
        }

        // CAMP-5: no moving 24 h ever reaches more unique contacts than the limit, and a refusal
        // always names a later time.
        #[test]
        fn camp_5_messaging_limit_never_exceeded_in_any_day(
            limit in 1u32..6,
            sends in proptest::collection::vec((0usize..12, 0i64..20_000), 1..200),
        ) {
            let limit = MessagingLimit::contacts(limit).unwrap();
            let mut w = UniqueContactWindow::default();
            let mut now = 1_750_000_000;
            let mut allowed: Vec<(i64, usize)> = Vec::new();
            for (who, gap) in sends {
                now += gap;
                match w.try_reach(limit, &key(who), Timestamp::from_unix(now)) {
                    Reach::Allowed { .. } => allowed.push((now, who)),
                    Reach::WaitUntil { at } => prop_assert!(at.unix() > now),
                }
                let MessagingLimit::Contacts(max) = limit else { unreachable!() };
                let distinct: std::collections::BTreeSet<usize> = allowed
                    .iter()
                    .filter(|(t, _)| *t > now - 86_400)
                    .map(|(_, c)| *c)
                    .collect();
                prop_assert!(distinct.len() <= max as usize);
            }
        }
    }
}

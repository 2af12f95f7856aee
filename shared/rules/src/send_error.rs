//! What to do when Meta refuses a send (SEND-2, and the campaign side of CAMP-6).
//!
//! Every Meta error code the specification names is classified in **one table**,
//! [`ERROR_TABLE`]: each row carries the codes, the class, the action and the meaning a support
//! desk reads in the message's failure reason. Nothing else in the crate matches on error codes;
//! callers ask [`classify`] or [`plan_after_failure`].
//!
//! A failure is either a Meta error body with a code, a bare HTTP status (a proxy's 502 without a
//! body), or no answer at all (a timeout). Known codes win over the HTTP status. Codes the table
//! does not know are classified by the HTTP status (decision, see [`UNKNOWN_SERVER_ERROR`] and
//! [`UNKNOWN_CLIENT_ERROR`]): a 5xx, a 429 or a timeout is a service error worth retrying; anything
//! else is a permanent failure, because retrying a request Meta did not understand only repeats the
//! refusal and burns the number's quality.
//!
//! [`plan_after_failure`] turns a classified failure and the attempt count into data: when to try
//! again automatically (exponential backoff for service errors, 4^n seconds for the pair rate
//! limit), what the number must do (throttle, pause campaign traffic, stop and alert), whether the
//! contact is flagged, and what happens to a campaign contact (CAMP-6: `retry`, `closed`, or back to
//! `fresh` because the campaign is being stopped instead of failing every contact).
//!
//! A timeout is retried like a service error. Meta's send API has no idempotency key, so a send
//! that timed out may have been delivered; the shell should look for a status webhook for the
//! message before the retry fires. That is a shell matter and is noted here so that it is not
//! forgotten.

use crate::time::Duration;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a send failed, as the sender observed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendFailure {
    /// Meta answered with an error object carrying `code` (and the HTTP status of the answer, when
    /// the failure came from the API call rather than from a `failed` status webhook).
    Meta { code: u32, http_status: Option<u16> },
    /// An HTTP error without a Meta error body (a gateway's 502, a 429 from a proxy).
    Http { status: u16 },
    /// No answer within the sender's deadline.
    Timeout,
}

impl fmt::Display for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendFailure::Meta {
                code,
                http_status: Some(s),
            } => write!(f, "Meta error {code} (HTTP {s})"),
            SendFailure::Meta {
                code,
                http_status: None,
            } => write!(f, "Meta error {code}"),
            SendFailure::Http { status } => write!(f, "HTTP {status} without a Meta error"),
            SendFailure::Timeout => f.write_str("no answer from Meta in time"),
        }
    }
}

/// The kinds of failure SEND-2 distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    ServiceError,
    ThroughputLimit,
    PairRateLimit,
    SpamRateLimit,
    MarketingCap,
    OutsideServiceWindow,
    UndeliverableToUser,
    BadRequest,
    TemplatePaused,
    AccountBlocked,
}

impl ErrorClass {
    /// A permanent failure will fail the same way if sent again unchanged.
    pub const fn is_permanent(self) -> bool {
        matches!(
            self,
            ErrorClass::OutsideServiceWindow
                | ErrorClass::UndeliverableToUser
                | ErrorClass::BadRequest
        )
    }
}

/// What the sender does about a class of failure (SEND-2's third column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    /// Try again later, waiting twice as long each time (service errors).
    RetryWithBackoff,
    /// Slow the whole number down, then try again after a delay.
    ThrottleNumberThenRetry,
    /// Delay this recipient only, 4^n seconds; other recipients are unaffected.
    DelayRecipient,
    /// Pause campaign traffic on the number; conversations with customers go on.
    PauseCampaignTraffic,
    /// Meta chose not to deliver: no immediate retry, at most a few widely spaced ones.
    SpacedRetriesOnly,
    /// Do not send this again. `flag_contact` marks the contact as unreachable;
    /// `use_recontact_template` tells the agent that a template is the way to reach them.
    Permanent {
        flag_contact: bool,
        use_recontact_template: bool,
    },
    /// The template is paused: hold the message until the template is approved again (TPL-1).
    HoldUntilTemplateApproved,
    /// Token, permission, payment or policy problem: stop every send on the number and alert an
    /// administrator. Sending again cannot succeed until a person fixes the account.
    StopNumberAndAlert,
}

/// One row of the SEND-2 table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRule {
    pub codes: &'static [u32],
    pub class: ErrorClass,
    pub action: FailureAction,
    /// What the failure means, in the words kept on the message and shown to the support desk.
    pub meaning: &'static str,
}

/// SEND-2: the one table of Meta error codes. HTTP 5xx and timeouts fall in the first row's class
/// through [`classify`].
pub const ERROR_TABLE: &[ErrorRule] = &[
    ErrorRule {
        codes: &[1, 2, 131000, 131016, 131057],
        class: ErrorClass::ServiceError,
        action: FailureAction::RetryWithBackoff,
        meaning: "WhatsApp service error",
    },
    ErrorRule {
        codes: &[4, 80007, 130429],
        class: ErrorClass::ThroughputLimit,
        action: FailureAction::ThrottleNumberThenRetry,
        meaning: "app, account or throughput limit reached",
    },
    ErrorRule {
        codes: &[131056],
        class: ErrorClass::PairRateLimit,
        action: FailureAction::DelayRecipient,
        meaning: "too many messages to this customer in a short time",
    },
    ErrorRule {
        codes: &[131048],
        class: ErrorClass::SpamRateLimit,
        action: FailureAction::PauseCampaignTraffic,
        meaning: "spam rate limit: too many messages from this number were blocked or reported",
    },
    ErrorRule {
        codes: &[131049],
        class: ErrorClass::MarketingCap,
        action: FailureAction::SpacedRetriesOnly,
        meaning: "WhatsApp chose not to deliver this marketing message to keep engagement healthy",
    },
    ErrorRule {
        codes: &[131047],
        class: ErrorClass::OutsideServiceWindow,
        action: FailureAction::Permanent {
            flag_contact: false,
            use_recontact_template: true,
        },
        meaning: "more than 24 hours since the customer last wrote; only a template can reach them",
    },
    ErrorRule {
        codes: &[131026, 130472],
        class: ErrorClass::UndeliverableToUser,
        action: FailureAction::Permanent {
            flag_contact: true,
            use_recontact_template: false,
        },
        meaning: "message cannot be delivered to this customer (not on WhatsApp, or not reachable)",
    },
    ErrorRule {
        codes: &[
            100, 131008, 131009, 132000, 132001, 132005, 132007, 132012, 132016,
        ],
        class: ErrorClass::BadRequest,
        action: FailureAction::Permanent {
            flag_contact: false,
            use_recontact_template: false,
        },
        meaning: "the request or the template was refused as invalid",
    },
    ErrorRule {
        codes: &[132015],
        class: ErrorClass::TemplatePaused,
        action: FailureAction::HoldUntilTemplateApproved,
        meaning: "the template is paused for low quality",
    },
    ErrorRule {
        codes: &[190, 10, 131005, 131042, 368, 131031],
        class: ErrorClass::AccountBlocked,
        action: FailureAction::StopNumberAndAlert,
        meaning: "access token, permission, payment or policy problem on the account",
    },
];

/// Unknown code or bare status that looks like Meta's side: a 5xx, a 429, or no answer. Decision:
/// treated as a service error (retried with backoff).
pub const UNKNOWN_SERVER_ERROR: ErrorRule = ErrorRule {
    codes: &[],
    class: ErrorClass::ServiceError,
    action: FailureAction::RetryWithBackoff,
    meaning: "WhatsApp service unavailable or not answering",
};

/// Unknown code with a 4xx (or no) status. Decision: permanent, so an unknown refusal is not
/// repeated against the number's quality; the code is kept in the reason for a person to look at.
pub const UNKNOWN_CLIENT_ERROR: ErrorRule = ErrorRule {
    codes: &[],
    class: ErrorClass::BadRequest,
    action: FailureAction::Permanent {
        flag_contact: false,
        use_recontact_template: false,
    },
    meaning: "refused by WhatsApp with an error Switchboard does not know",
};

fn is_server_side(status: u16) -> bool {
    status >= 500 || status == 429
}

/// The SEND-2 row for a failure.
pub fn classify(failure: &SendFailure) -> &'static ErrorRule {
    match *failure {
        SendFailure::Meta { code, http_status } => ERROR_TABLE
            .iter()
            .find(|rule| rule.codes.contains(&code))
            .unwrap_or(match http_status {
                Some(s) if is_server_side(s) => &UNKNOWN_SERVER_ERROR,
                _ => &UNKNOWN_CLIENT_ERROR,
            }),
        SendFailure::Http { status } if is_server_side(status) => &UNKNOWN_SERVER_ERROR,
        SendFailure::Http { .. } => &UNKNOWN_CLIENT_ERROR,
        SendFailure::Timeout => &UNKNOWN_SERVER_ERROR,
    }
}

/// Exponential backoff: `base · 2^(attempt-1)`, never more than `cap`. `attempt` counts the
/// failed attempts so far, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(40);
        let factor = 1i64 << exponent;
        let secs = self.base.as_seconds().saturating_mul(factor);
        Duration::seconds(secs.min(self.cap.as_seconds()))
    }
}

/// The pair rate limit's delay (131056): 4^n seconds, `n` counting earlier pair-rate failures for
/// this recipient from 0 (Meta's guidance), capped at 4^6 s ≈ 68 minutes.
pub fn pair_rate_delay(previous_failures: u32) -> Duration {
    let n = previous_failures.min(6);
    Duration::seconds(4i64.pow(n))
}

/// Retry settings (SEND-4's figures where SEND-4 gives them; Switchboard's decisions elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// SEND-4: service errors: at least 5 s, doubling, at most 15 minutes apart.
    pub service: Backoff,
    /// SEND-4: a throttle pauses the number 60 s, doubling while it persists, at most 1 hour.
    pub throttle: Backoff,
    /// Marketing cap (131049): one retry a day at most.
    pub spaced: Duration,
    /// How long campaign traffic pauses on a number after a spam rate limit (131048).
    pub spam_pause: Duration,
    /// SEND-4: automatic retries stop after this many attempts; the message fails for good with
    /// its last reason (a campaign contact waits in `retry` for a retry run, CAMP-6).
    pub max_automatic_attempts: u32,
    /// SEND-4: ... or once this long has passed since the first attempt.
    pub give_up_after: Duration,
    /// Marketing-cap retries stop earlier: Meta asks not to insist.
    pub max_spaced_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            service: Backoff {
                base: Duration::seconds(5),
                cap: Duration::minutes(15),
            },
            throttle: Backoff {
                base: Duration::seconds(60),
                cap: Duration::hours(1),
            },
            spaced: Duration::hours(24),
            spam_pause: Duration::hours(1),
            max_automatic_attempts: 10,
            give_up_after: Duration::hours(24),
            max_spaced_attempts: 2,
        }
    }
}

impl RetryPolicy {
    /// SEND-4's jitter: a delay shortened by up to a quarter, by a pure function of `seed` (the
    /// send's key and attempt), never below the service base: many sends failing together do
    /// not all retry in the same second, and the bounds (≥ 5 s, ≤ 15 min) hold.
    pub fn jittered(&self, delay: Duration, seed: u64) -> Duration {
        let secs = delay.as_seconds();
        let spread = (secs / 4).max(0) as u64;
        // SplitMix64's finaliser: a well-spread function of the seed.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let cut = if spread == 0 { 0 } else { z % (spread + 1) };
        Duration::seconds((secs - cut as i64).max(self.service.base.as_seconds().min(secs)))
    }
}

/// What a failure means for the number as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NumberEffect {
    /// Send nothing more on the number for `duration` (throughput limits); a throttle that comes
    /// again while the last one persists doubles the last pause, up to `cap` (SEND-4).
    Throttle {
        duration: Duration,
        #[serde(default = "default_throttle_cap")]
        cap: Duration,
    },
    /// Hold campaign sends on the number for this long; conversation replies go on (131048).
    PauseCampaignTraffic { duration: Duration },
    /// Stop every send on the number until a person fixes the account; raise an alert.
    StopAndAlert,
}

fn default_throttle_cap() -> Duration {
    Duration::hours(1)
}

/// What happens to a campaign contact whose send failed (CAMP-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CampaignContactFate {
    /// Temporary: the contact goes to `retry`. `after` is when the sender tries again by itself;
    /// `None` means automatic retries are used up and a retry run is needed.
    Retry { after: Option<Duration> },
    /// Permanent: the contact is `closed` with the failure as its result.
    Closed,
    /// The contact was never reached and the campaign is being stopped (account problem) or held
    /// (template paused): the contact goes back to `fresh` and is sent when the campaign runs again.
    NotReached,
}

/// The decision after a failed send: all of it data, for the sender to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailurePlan {
    pub class: ErrorClass,
    pub action: FailureAction,
    /// Kept on the message: "131026: message cannot be delivered to this customer …".
    pub reason: String,
    /// When the sender tries this message again by itself; `None`: it does not.
    pub retry_after: Option<Duration>,
    pub number: Option<NumberEffect>,
    pub flag_contact: bool,
    pub campaign_contact: CampaignContactFate,
}

/// SEND-2 and CAMP-6: the plan after the `attempt`-th failed attempt (from 1) of one message.
/// `pair_rate_failures` counts the earlier 131056 failures for this recipient (for 4^n).
pub fn plan_after_failure(
    failure: &SendFailure,
    attempt: u32,
    pair_rate_failures: u32,
    policy: &RetryPolicy,
) -> FailurePlan {
    let rule = classify(failure);
    let reason = match failure {
        SendFailure::Meta { code, .. } => format!("{code}: {}", rule.meaning),
        other => format!("{other}: {}", rule.meaning),
    };
    let automatic = |delay: Duration, limit: u32| (attempt < limit).then_some(delay);
    let (retry_after, number, fate) = match rule.action {
        FailureAction::RetryWithBackoff => {
            let after = automatic(policy.service.delay(attempt), policy.max_automatic_attempts);
            (after, None, CampaignContactFate::Retry { after })
        }
        FailureAction::ThrottleNumberThenRetry => {
            // SEND-4: the number's pause doubles while the throttle persists (NumberPacing);
            // the message comes back when the pause ends.
            let after = automatic(policy.throttle.base, policy.max_automatic_attempts);
            (
                after,
                Some(NumberEffect::Throttle {
                    duration: policy.throttle.base,
                    cap: policy.throttle.cap,
                }),
                CampaignContactFate::Retry { after },
            )
        }
        FailureAction::DelayRecipient => {
            let after = automatic(
                pair_rate_delay(pair_rate_failures),
                policy.max_automatic_attempts,
            );
            (after, None, CampaignContactFate::Retry { after })
        }
        FailureAction::PauseCampaignTraffic => {
            let after = automatic(policy.spam_pause, policy.max_automatic_attempts);
            (
                after,
                Some(NumberEffect::PauseCampaignTraffic {
                    duration: policy.spam_pause,
                }),
                CampaignContactFate::Retry { after },
            )
        }
        FailureAction::SpacedRetriesOnly => {
            let after = automatic(policy.spaced, policy.max_spaced_attempts);
            (after, None, CampaignContactFate::Retry { after })
        }
        FailureAction::Permanent { .. } => (None, None, CampaignContactFate::Closed),
        FailureAction::HoldUntilTemplateApproved => (None, None, CampaignContactFate::NotReached),
        FailureAction::StopNumberAndAlert => (
            None,
            Some(NumberEffect::StopAndAlert),
            CampaignContactFate::NotReached,
        ),
    };
    FailurePlan {
        class: rule.class,
        action: rule.action,
        reason,
        retry_after,
        number,
        flag_contact: matches!(
            rule.action,
            FailureAction::Permanent {
                flag_contact: true,
                ..
            }
        ),
        campaign_contact: fate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    fn meta(code: u32) -> SendFailure {
        SendFailure::Meta {
            code,
            http_status: Some(400),
        }
    }

    // SEND-2: every code of the SPEC table, its class and its action.
    #[test]
    fn send_2_every_code_has_its_class_and_action() {
        let table: &[(&[u32], ErrorClass, FailureAction)] = &[
            (
                &[1, 2, 131000, 131016, 131057],
                ServiceError,
                FailureAction::RetryWithBackoff,
            ),
            (
                &[4, 80007, 130429],
                ThroughputLimit,
                FailureAction::ThrottleNumberThenRetry,
            ),
            (&[131056], PairRateLimit, FailureAction::DelayRecipient),
            (
                &[131048],
                SpamRateLimit,
                FailureAction::PauseCampaignTraffic,
            ),
            (&[131049], MarketingCap, FailureAction::SpacedRetriesOnly),
            (
                &[131047],
                OutsideServiceWindow,
                FailureAction::Permanent {
                    flag_contact: false,
                    use_recontact_template: true,
                },
            ),
            (
                &[131026, 130472],
                UndeliverableToUser,
                FailureAction::Permanent {
                    flag_contact: true,
                    use_recontact_template: false,
                },
            ),
            (
                &[
                    100, 131008, 131009, 132000, 132001, 132005, 132007, 132012, 132016,
                ],
                BadRequest,
                FailureAction::Permanent {
                    flag_contact: false,
                    use_recontact_template: false,
                },
            ),
            (
                &[132015],
                TemplatePaused,
                FailureAction::HoldUntilTemplateApproved,
            ),
            (
                &[190, 10, 131005, 131042, 368, 131031],
                AccountBlocked,
                FailureAction::StopNumberAndAlert,
            ),
        ];
        let mut seen = 0;
        for (codes, class, action) in table {
            for &code in *codes {
                let rule = classify(&meta(code));
                assert_eq!(rule.class, *class, "code {code}");
                assert_eq!(rule.action, *action, "code {code}");
                // A known code wins over a misleading HTTP status.
                let on_500 = classify(&SendFailure::Meta {
                    code,
                    http_status: Some(500),
                });
                assert_eq!(on_500.class, *class, "code {code} on HTTP 500");
                seen += 1;
            }
        }
        // No code appears twice in the table, and the test covers all of them.
        let mut all: Vec<u32> = ERROR_TABLE.iter().flat_map(|r| r.codes.to_vec()).collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a code appears in two rows");
        assert_eq!(seen, count);
    }

    // SEND-2: HTTP 5xx and timeouts are service errors; unknown codes follow the documented choice.
    #[test]
    fn send_2_http_statuses_timeouts_and_unknown_codes() {
        for status in [500, 502, 503, 504, 429] {
            assert_eq!(classify(&SendFailure::Http { status }).class, ServiceError);
            assert_eq!(
                classify(&SendFailure::Meta {
                    code: 999_999,
                    http_status: Some(status)
                })
                .class,
                ServiceError
            );
        }
        assert_eq!(classify(&SendFailure::Timeout).class, ServiceError);
        assert_eq!(
            classify(&SendFailure::Http { status: 404 }).class,
            BadRequest
        );
        let unknown = classify(&meta(424_242));
        assert_eq!(unknown.class, BadRequest);
        assert!(unknown.class.is_permanent());
        assert_eq!(
            classify(&SendFailure::Meta {
                code: 424_242,
                http_status: None
            })
            .class,
            BadRequest
        );
    }

    // SEND-2: exponential backoff doubles and is capped.
    #[test]
    fn send_2_backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            base: Duration::seconds(2),
            cap: Duration::minutes(10),
        };
        let delays: Vec<i64> = (1..=12).map(|n| b.delay(n).as_seconds()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]);
        assert_eq!(b.delay(u32::MAX).as_seconds(), 600);
        assert_eq!(b.delay(0).as_seconds(), 2);
    }

    // SEND-2: 131056 waits 4^n seconds for this recipient only.
    #[test]
    fn send_2_pair_rate_delay_is_four_to_the_n() {
        let delays: Vec<i64> = (0..9).map(|n| pair_rate_delay(n).as_seconds()).collect();
        assert_eq!(delays, [1, 4, 16, 64, 256, 1024, 4096, 4096, 4096]);
        let plan = plan_after_failure(&meta(131056), 1, 2, &RetryPolicy::default());
        assert_eq!(plan.retry_after, Some(Duration::seconds(16)));
        assert_eq!(plan.number, None, "only the recipient is delayed");
    }

    // SEND-2 + CAMP-6: what each class means for the number, the contact and a campaign row.
    #[test]
    fn send_2_camp_6_plans_per_class() {
        let p = RetryPolicy::default();
        let service = plan_after_failure(&SendFailure::Timeout, 3, 0, &p);
        assert_eq!(service.retry_after, Some(Duration::seconds(20)));
        assert_eq!(
            service.campaign_contact,
            CampaignContactFate::Retry {
                after: Some(Duration::seconds(20))
            }
        );
        // CAMP-6: automatic retries used up → the contact waits in retry for a retry run.
        let exhausted = plan_after_failure(&meta(131000), 10, 0, &p);
        assert_eq!(exhausted.retry_after, None);
        assert_eq!(
            exhausted.campaign_contact,
            CampaignContactFate::Retry { after: None }
        );

        let throttle = plan_after_failure(&meta(130429), 2, 0, &p);
        assert_eq!(
            throttle.number,
            Some(NumberEffect::Throttle {
                duration: Duration::seconds(60),
                cap: Duration::hours(1),
            })
        );
        assert_eq!(throttle.retry_after, Some(Duration::seconds(60)));

        let spam = plan_after_failure(&meta(131048), 1, 0, &p);
        assert_eq!(
            spam.number,
            Some(NumberEffect::PauseCampaignTraffic {
                duration: Duration::hours(1)
            })
        );

        let cap = plan_after_failure(&meta(131049), 1, 0, &p);
        assert_eq!(
            cap.retry_after,
            Some(Duration::hours(24)),
            "no immediate retry"
        );
        let cap2 = plan_after_failure(&meta(131049), 2, 0, &p);
        assert_eq!(cap2.retry_after, None, "at most spaced retries");

        let gone = plan_after_failure(&meta(131026), 1, 0, &p);
        assert!(gone.flag_contact);
        assert_eq!(gone.campaign_contact, CampaignContactFate::Closed);
        assert_eq!(gone.retry_after, None);
        assert!(gone.reason.starts_with("131026: "), "{}", gone.reason);

        let outside = plan_after_failure(&meta(131047), 1, 0, &p);
        assert!(!outside.flag_contact);
        assert!(matches!(
            outside.action,
            FailureAction::Permanent {
                use_recontact_template: true,
                ..
            }
        ));

        // CAMP-6: an expired token stops the campaign instead of failing the contact.
        let token = plan_after_failure(&meta(190), 1, 0, &p);
        assert_eq!(token.number, Some(NumberEffect::StopAndAlert));
        assert_eq!(token.campaign_contact, CampaignContactFate::NotReached);
        assert_eq!(token.retry_after, None);

        let paused = plan_after_failure(&meta(132015), 1, 0, &p);
        assert_eq!(paused.campaign_contact, CampaignContactFate::NotReached);
        assert_eq!(paused.action, FailureAction::HoldUntilTemplateApproved);

        let http = plan_after_failure(&SendFailure::Http { status: 503 }, 1, 0, &p);
        assert_eq!(
            http.reason,
            "HTTP 503 without a Meta error: WhatsApp service unavailable or not answering"
        );
    }
}

//! Messaging windows (WIN-1..6), computed from stored timestamps at read time.
//!
//! The customer service window (CSW) runs 24 h from the contact's latest inbound message, by Meta's
//! `timestamp`, never by arrival time; an older message arriving late never moves it back (WIN-1).
//! The free entry point window (FEP) runs 72 h from the business's first answer within 24 h of an
//! inbound message that carried a referral (WIN-3). Nothing here reads a clock or relies on a TTL
//! (WIN-6): `now` is always an argument.

use crate::channel::policy;
use crate::ids::Channel;
use crate::time::{Duration, Timestamp};
use serde::{Deserialize, Serialize};

/// The WhatsApp customer service window's length.
pub const SERVICE_WINDOW: Duration = Duration::hours(24);
/// How long a referral keeps the contact eligible for a free entry point window.
pub const FEP_ELIGIBILITY: Duration = Duration::hours(24);
/// The free entry point window's length.
pub const FREE_ENTRY_POINT: Duration = Duration::hours(72);

/// The timestamps windows are computed from. Kept on the contact's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    /// The latest inbound message's timestamp (max over all seen): the CSW anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<Timestamp>,
    /// The latest inbound message that carried a referral (click-to-WhatsApp ad, page CTA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_at: Option<Timestamp>,
    /// When the business's answer opened the current FEP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fep_opened_at: Option<Timestamp>,
}

/// What kind of window is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// The 24 h customer service window (or the channel's own window).
    Service,
    /// The CSW is open and a free entry point window makes every message free as well.
    FreeEntryPoint,
    /// The channel has no messaging window (Telegram, LINE, website chat, SMS, email).
    NoWindow,
}

/// The answer of the window check (WIN-4, seed 003's "Customer Service Window Check").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WindowStatus {
    /// Free-form may be sent until `closes_at` (`None`: the channel has no window).
    Open {
        kind: WindowKind,
        closes_at: Option<Timestamp>,
        /// When the FEP, if any, ends; it may outlast the CSW (it changes price, not rights).
        free_entry_point_until: Option<Timestamp>,
    },
    /// Free-form may not be sent; `since` is when the window closed (`None`: never opened).
    Closed {
        since: Option<Timestamp>,
        free_entry_point_until: Option<Timestamp>,
    },
}

impl WindowStatus {
    pub fn is_open(&self) -> bool {
        matches!(self, WindowStatus::Open { .. })
    }

    pub fn free_entry_point_open(&self) -> bool {
        match self {
            WindowStatus::Open {
                free_entry_point_until,
                ..
            }
            | WindowStatus::Closed {
                free_entry_point_until,
                ..
            } => free_entry_point_until.is_some(),
        }
    }
}

impl Windows {
    /// WIN-1, WIN-2, WIN-3: an inbound message (or `request_welcome`) at Meta's timestamp `at`.
    /// Only ever moves anchors later, so late, older messages change nothing.
    pub fn record_inbound(&mut self, at: Timestamp, has_referral: bool) {
        self.last_inbound_at = Some(self.last_inbound_at.map_or(at, |t| t.max(at)));
        if has_referral {
            self.referral_at = Some(self.referral_at.map_or(at, |t| t.max(at)));
        }
    }

    /// WIN-3: a business message sent at `at` opens the FEP when it answers a referral within
    /// 24 h and no FEP was opened for that referral yet.
    pub fn record_business_message(&mut self, at: Timestamp) {
        let Some(referral) = self.referral_at else {
            return;
        };
        let answers_referral = at >= referral && at <= referral + FEP_ELIGIBILITY;
        let already_opened = self.fep_opened_at.is_some_and(|opened| opened >= referral);
        if answers_referral && !already_opened {
            self.fep_opened_at = Some(at);
        }
    }

    /// When the CSW closes, if it is open at `now`.
    pub fn service_window_closes(&self, now: Timestamp) -> Option<Timestamp> {
        self.csw_close(SERVICE_WINDOW).filter(|close| now < *close)
    }

    fn csw_close(&self, length: Duration) -> Option<Timestamp> {
        self.last_inbound_at.map(|t| t + length)
    }

    /// When the FEP closes, if it is open at `now`.
    pub fn free_entry_point_closes(&self, now: Timestamp) -> Option<Timestamp> {
        self.fep_opened_at
            .map(|t| t + FREE_ENTRY_POINT)
            .filter(|close| now >= self.fep_opened_at.unwrap_or(*close) && now < *close)
    }

    /// WIN-4: the window check for a contact on a channel at `now`.
    pub fn check(&self, channel: Channel, now: Timestamp) -> WindowStatus {
        let fep = if channel == Channel::WhatsApp {
            self.free_entry_point_closes(now)
        } else {
            None
        };
        let Some(length) = policy(channel).window else {
            return WindowStatus::Open {
                kind: WindowKind::NoWindow,
                closes_at: None,
                free_entry_point_until: None,
            };
        };
        match self.csw_close(length) {
            Some(close) if now < close => WindowStatus::Open {
                kind: if fep.is_some() {
                    WindowKind::FreeEntryPoint
                } else {
                    WindowKind::Service
                },
                closes_at: Some(close),
                free_entry_point_until: fep,
            },
            since => WindowStatus::Closed {
                since,
                free_entry_point_until: fep,
            },
        }
    }
}

/// WIN-4 as a free function: the check the console exposes and every send uses.
pub fn window(windows: &Windows, channel: Channel, now: Timestamp) -> WindowStatus {
    windows.check(channel, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> Timestamp {
        Timestamp::from_unix(1_750_000_000) + Duration::hours(h)
    }

    #[test]
    fn win_1_csw_runs_24h_from_latest_inbound_and_late_messages_never_move_it_back() {
        let mut w = Windows::default();
        assert_eq!(
            w.check(Channel::WhatsApp, t(0)),
            WindowStatus::Closed {
                since: None,
                free_entry_point_until: None
            }
        );
        w.record_inbound(t(1), false);
        assert_eq!(w.service_window_closes(t(2)), Some(t(25)));
        w.record_inbound(t(5), false);
        assert_eq!(w.service_window_closes(t(6)), Some(t(29)));
        // WIN-1: an older message arriving late does not move the close time back.
        w.record_inbound(t(2), false);
        assert_eq!(w.service_window_closes(t(6)), Some(t(29)));
        assert!(w.check(Channel::WhatsApp, t(28)).is_open());
        assert_eq!(
            w.check(Channel::WhatsApp, t(29)),
            WindowStatus::Closed {
                since: Some(t(29)),
                free_entry_point_until: None
            }
        );
    }

    #[test]
    fn win_1_seed_002_scenario_csw_follows_the_reply_not_the_template() {
        // Template at 11:00 (a business message: no CSW), reply at 12:00: free-form until 12:00
        // the next day.
        let mut w = Windows::default();
        w.record_business_message(t(11));
        w.record_inbound(t(12), false);
        assert_eq!(w.service_window_closes(t(34)), Some(t(36)));
        assert!(w.check(Channel::WhatsApp, t(35)).is_open());
        assert!(!w.check(Channel::WhatsApp, t(36)).is_open());
    }

    #[test]
    fn win_2_request_welcome_opens_the_csw() {
        let mut w = Windows::default();
        w.record_inbound(t(0), false); // request_welcome is recorded as an inbound event
        assert!(w.check(Channel::WhatsApp, t(23)).is_open());
    }

    #[test]
    fn win_3_fep_opens_on_an_answer_within_24h_of_a_referral_and_runs_72h() {
        let mut w = Windows::default();
        w.record_inbound(t(0), true);
        w.record_business_message(t(2));
        assert_eq!(w.free_entry_point_closes(t(3)), Some(t(74)));
        // Inside the CSW: open, free entry point kind.
        assert!(matches!(
            w.check(Channel::WhatsApp, t(3)),
            WindowStatus::Open {
                kind: WindowKind::FreeEntryPoint,
                ..
            }
        ));
        // WIN-3: the FEP does not allow free-form outside the CSW.
        let after_csw = w.check(Channel::WhatsApp, t(30));
        assert!(!after_csw.is_open());
        assert!(after_csw.free_entry_point_open());
        assert!(!w.check(Channel::WhatsApp, t(74)).free_entry_point_open());
        // A later business message does not restart it.
        w.record_business_message(t(10));
        assert_eq!(w.free_entry_point_closes(t(11)), Some(t(74)));
    }

    #[test]
    fn win_3_no_fep_when_the_answer_comes_after_24h_or_without_referral() {
        let mut w = Windows::default();
        w.record_inbound(t(0), true);
        w.record_business_message(t(25));
        assert_eq!(w.free_entry_point_closes(t(26)), None);
        let mut plain = Windows::default();
        plain.record_inbound(t(0), false);
        plain.record_business_message(t(1));
        assert_eq!(plain.free_entry_point_closes(t(2)), None);
    }

    #[test]
    fn win_4_window_check_on_other_channels() {
        let mut w = Windows::default();
        assert!(matches!(
            window(&w, Channel::Telegram, t(0)),
            WindowStatus::Open {
                kind: WindowKind::NoWindow,
                closes_at: None,
                ..
            }
        ));
        w.record_inbound(t(0), false);
        assert!(window(&w, Channel::WeChat, t(47)).is_open());
        assert!(!window(&w, Channel::WeChat, t(48)).is_open());
        assert!(!window(&w, Channel::Messenger, t(24)).is_open());
    }

    #[test]
    fn win_6_windows_come_from_timestamps_not_from_storage_expiry() {
        // The same stored state answers differently only because `now` differs.
        let mut w = Windows::default();
        w.record_inbound(t(0), false);
        let stored = serde_json::to_string(&w).unwrap();
        let read: Windows = serde_json::from_str(&stored).unwrap();
        assert!(read.check(Channel::WhatsApp, t(1)).is_open());
        assert!(!read.check(Channel::WhatsApp, t(24 * 9)).is_open());
    }
}

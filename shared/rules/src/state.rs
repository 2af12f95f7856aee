//! A contact's state: everything one decision needs, loaded in one read and committed in one
//! conditional write. Kept small (well under 1 KB serialised in the common case): the message log,
//! outreach records and campaign rows live in their own items.

use crate::campaign::Handoff;
use crate::effect::Wake;
use crate::ids::{
    AgentId, BusinessNumberId, CampaignId, Channel, ContactKey, ConversationId, OutreachId,
    RecipeId,
};
use crate::time::Timestamp;
use crate::window::Windows;
use serde::{Deserialize, Serialize};

/// How many recent inbound message ids a contact remembers, as a second line of defence against
/// redelivery behind the store's dedup markers (ARCHITECTURE invariant 1).
pub const RECENT_MESSAGES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactState {
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    #[serde(default = "whatsapp")]
    pub channel: Channel,
    #[serde(default)]
    pub windows: Windows,
    /// AUTO-1: the welcome was handled (sent, or the contact had already written).
    #[serde(default)]
    pub welcomed: bool,
    /// The current conversation (`Open` or `Snoozed`); at most one per contact and number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    /// The last closed conversation, kept for CSAT answers (AUTO-9) and CHAN-3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_closed: Option<ClosedConversation>,
    /// The contact's assigned agent, kept across conversations when the number's closing logic is
    /// `keep_assignee` (CHAN-3); the "Mine" inbox uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<AgentId>,
    /// The open campaign interaction (CAMP-3, CAMP-7..9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignInteraction>,
    #[serde(default, skip_serializing_if = "Timers::is_idle")]
    pub timers: Timers,
    /// Source of timer tokens: strictly increasing, so a stale wake-up never matches (TIME-2).
    #[serde(default)]
    pub next_token: u64,
    /// How many conversations this contact has had (conversation ids are derived from it).
    #[serde(default)]
    pub conversations_opened: u64,
    /// FNV-1a hashes of the latest inbound message ids.
    #[serde(default, skip_serializing_if = "RecentMessages::is_empty")]
    pub recent_messages: RecentMessages,
    /// The profile name WhatsApp sent with the contact's latest message (`contacts[].profile.name`);
    /// recorded by the shell, never used in a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn whatsapp() -> Channel {
    Channel::WhatsApp
}

impl ContactState {
    /// A contact never seen before.
    pub fn new(number: BusinessNumberId, contact: ContactKey) -> Self {
        ContactState {
            number,
            contact,
            channel: Channel::WhatsApp,
            windows: Windows::default(),
            welcomed: false,
            conversation: None,
            last_closed: None,
            assignee: None,
            campaign: None,
            timers: Timers::default(),
            next_token: 1,
            conversations_opened: 0,
            recent_messages: RecentMessages::default(),
            profile_name: None,
        }
    }

    /// The agent handling the current conversation, if any.
    pub fn agent(&self) -> Option<&AgentId> {
        match &self.conversation {
            Some(Conversation {
                handler: Handler::Agent { agent },
                ..
            }) => Some(agent),
            _ => None,
        }
    }
}

/// Who handles a conversation (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "handler")]
pub enum Handler {
    Bot {
        recipe: RecipeId,
        step: String,
    },
    Agent {
        agent: AgentId,
    },
    /// Waiting for an agent; `position` once the number's queue has it (AUTO-4).
    Unassigned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        /// The pending `RequestAgent` (0: none); answers to older requests are stale.
        #[serde(default)]
        request: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ConversationStatus {
    Open,
    Snoozed { until: Timestamp },
}

/// What a conversation started from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "origin")]
pub enum Origin {
    /// The customer wrote.
    Inbound,
    /// OUT-ACT-1..4: the customer answered this outreach.
    Outreach {
        outreach: OutreachId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        button: Option<u8>,
    },
    /// CHAN-2: an agent wrote to the contact.
    AgentOutbound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub status: ConversationStatus,
    pub handler: Handler,
    pub opened_at: Timestamp,
    pub origin: Origin,
    /// The latest customer message in this conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_customer_at: Option<Timestamp>,
    /// The latest agent message in this conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_agent_at: Option<Timestamp>,
    /// Start of the current stretch of customer messages no agent has answered (AUTO-6, AUTO-12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered_since: Option<Timestamp>,
    /// How many customer messages arrived since the business last wrote in this conversation
    /// (the inbox's unread count).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unanswered_count: u32,
    /// AUTO-6: the reminder went out for the current stretch.
    #[serde(default)]
    pub reminded: bool,
    /// AUTO-9: an agent handled this conversation at some point.
    #[serde(default)]
    pub agent_involved: bool,
    /// AUTO-11: the CSW anchor a nudge was sent for (once per window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nudged_for: Option<Timestamp>,
    /// WIN-3: the referral that brought the contact, kept on the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

/// A click-to-WhatsApp ad or page call-to-action (WIN-3): what an agent needs to know where the
/// customer came from (the ad's text and media stay in the message's log entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub source_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
}

/// The last closed conversation: what a late CSAT answer is recorded against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedConversation {
    pub id: ConversationId,
    pub closed_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// AUTO-9: a survey was sent and not yet answered.
    #[serde(default)]
    pub csat_pending: bool,
}

/// An open campaign interaction (CAMP-7): waiting for the contact's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignInteraction {
    pub campaign: CampaignId,
    pub outreach: OutreachId,
    pub sent_at: Timestamp,
    /// Answers after this are late (CAMP-8).
    pub respond_by: Timestamp,
    #[serde(
        default,
        deserialize_with = "crate::campaign::Handoff::deserialize_either"
    )]
    pub hand_off: Handoff,
    /// The template's quick replies, by index.
    #[serde(default)]
    pub buttons: Vec<String>,
}

/// How a campaign interaction ended, for the campaign's per-contact history (CAMP-10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum CampaignOutcome {
    /// CAMP-7: a quick reply within the response timeout.
    Answered { button: u8, title: String },
    /// CAMP-8: an answer after the timeout (not counted).
    Late,
    /// CAMP-9: free text instead of a button.
    FreeText,
    /// No answer within the response timeout.
    TimedOut,
}

/// The support desk's clocks (TIME-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// AUTO-8.
    BotInactivity,
    /// AUTO-7.
    AutoClose,
    /// AUTO-6.
    NoReplyReminder,
    /// AUTO-12.
    SilentAgent,
    /// CAMP-7/8.
    CampaignResponse,
    /// AUTO-10.
    SnoozeWake,
    /// AUTO-11.
    WindowNudge,
}

impl TimerKind {
    pub const ALL: [TimerKind; 7] = [
        TimerKind::BotInactivity,
        TimerKind::AutoClose,
        TimerKind::NoReplyReminder,
        TimerKind::SilentAgent,
        TimerKind::CampaignResponse,
        TimerKind::SnoozeWake,
        TimerKind::WindowNudge,
    ];

    /// A stable name, for schedule names and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::BotInactivity => "bot_inactivity",
            TimerKind::AutoClose => "auto_close",
            TimerKind::NoReplyReminder => "no_reply_reminder",
            TimerKind::SilentAgent => "silent_agent",
            TimerKind::CampaignResponse => "campaign_response",
            TimerKind::SnoozeWake => "snooze_wake",
            TimerKind::WindowNudge => "window_nudge",
        }
    }
}

/// One armed wake-up (what the scheduler holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Armed {
    pub at: Timestamp,
    pub token: u64,
}

/// One clock: the deadline the rules want (truth) and the wake-up armed for it (lazy; may be
/// earlier than the deadline, ARCHITECTURE invariant 6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSlot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub armed: Option<Armed>,
}

/// The contact's clocks: one slot per kind, fixed in size so copying a state never allocates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timers {
    #[serde(default, skip_serializing_if = "TimerSlot::is_idle")]
    pub bot_inactivity: TimerSlot,
    #[serde(default, skip_serializing_if = "TimerSlot::is_idle")]
    pub auto_close: TimerSlot,
    #[serde(default, skip_serializing_if = "TimerSlot::is_idle")]
    pub no_reply_reminder: TimerSlot,
    #[serde(default, skip_serializing_if = "TimerSlot::is_idle")]
    pub silent_agent: TimerSlot,
    #[serde(default, skip_serializing_if = "TimerSlot::is_idle")]
    pub campaign_response: TimerSlot,
    #[serde(default, skip_serializing_if = "TimerSlot::is_idle")]
    pub snooze_wake: TimerSlot,
    #[serde(default, skip_serializing_if = "TimerSlot::is_idle")]
    pub window_nudge: TimerSlot,
}

impl TimerSlot {
    pub fn is_idle(&self) -> bool {
        self.deadline.is_none() && self.armed.is_none()
    }
}

impl Timers {
    pub fn slot(&self, kind: TimerKind) -> &TimerSlot {
        match kind {
            TimerKind::BotInactivity => &self.bot_inactivity,
            TimerKind::AutoClose => &self.auto_close,
            TimerKind::NoReplyReminder => &self.no_reply_reminder,
            TimerKind::SilentAgent => &self.silent_agent,
            TimerKind::CampaignResponse => &self.campaign_response,
            TimerKind::SnoozeWake => &self.snooze_wake,
            TimerKind::WindowNudge => &self.window_nudge,
        }
    }

    fn slot_mut(&mut self, kind: TimerKind) -> &mut TimerSlot {
        match kind {
            TimerKind::BotInactivity => &mut self.bot_inactivity,
            TimerKind::AutoClose => &mut self.auto_close,
            TimerKind::NoReplyReminder => &mut self.no_reply_reminder,
            TimerKind::SilentAgent => &mut self.silent_agent,
            TimerKind::CampaignResponse => &mut self.campaign_response,
            TimerKind::SnoozeWake => &mut self.snooze_wake,
            TimerKind::WindowNudge => &mut self.window_nudge,
        }
    }

    pub fn is_idle(&self) -> bool {
        TimerKind::ALL.iter().all(|k| self.slot(*k).is_idle())
    }

    pub fn deadline(&self, kind: TimerKind) -> Option<Timestamp> {
        self.slot(kind).deadline
    }

    pub fn armed(&self, kind: TimerKind) -> Option<Armed> {
        self.slot(kind).armed
    }

    /// Sets the deadline of `kind`. Arms a wake-up only when none is armed at or before the new
    /// deadline (lazy re-arming): pushing a deadline later costs nothing now.
    pub fn set(
        &mut self,
        kind: TimerKind,
        deadline: Timestamp,
        next_token: &mut u64,
    ) -> Option<Wake> {
        let slot = self.slot_mut(kind);
        slot.deadline = Some(deadline);
        match slot.armed {
            Some(armed) if armed.at <= deadline => None,
            _ => Some(arm(slot, deadline, next_token, kind)),
        }
    }

    /// Clears the deadline of `kind`. The armed wake-up, if any, stays and will find nothing to do.
    pub fn clear(&mut self, kind: TimerKind) {
        self.slot_mut(kind).deadline = None;
    }

    pub fn clear_all(&mut self) {
        for kind in TimerKind::ALL {
            self.clear(kind);
        }
    }

    /// TIME-2: a wake-up fired. Returns what it means.
    pub fn fire(
        &mut self,
        kind: TimerKind,
        token: u64,
        now: Timestamp,
        next_token: &mut u64,
    ) -> Firing {
        let slot = self.slot_mut(kind);
        if slot.armed.map(|a| a.token) != Some(token) {
            return Firing::Stale;
        }
        slot.armed = None;
        match slot.deadline {
            None => Firing::Stale,
            Some(deadline) if deadline > now => {
                Firing::Rearm(arm(slot, deadline, next_token, kind))
            }
            Some(_) => {
                slot.deadline = None;
                Firing::Due
            }
        }
    }
}

fn arm(slot: &mut TimerSlot, at: Timestamp, next_token: &mut u64, kind: TimerKind) -> Wake {
    let token = *next_token;
    *next_token += 1;
    slot.armed = Some(Armed { at, token });
    Wake { kind, at, token }
}

/// What a fired wake-up means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firing {
    /// TIME-2: late, twice, or the state moved on: nothing happens.
    Stale,
    /// The deadline moved later: arm once more for it.
    Rearm(Wake),
    /// The deadline is reached: act.
    Due,
}

/// A ring of the latest inbound message id hashes, fixed in size (no allocation on copy);
/// serialised as a list, oldest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<u64>", into = "Vec<u64>")]
pub struct RecentMessages {
    /// Oldest first; slots past `len` are zero, so equal contents compare equal.
    hashes: [u64; RECENT_MESSAGES],
    len: u8,
}

impl RecentMessages {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.hashes[..usize::from(self.len)].contains(&hash)
    }

    /// Remembers `hash`, forgetting the oldest when full.
    pub fn remember(&mut self, hash: u64) {
        let len = usize::from(self.len);
        if len < RECENT_MESSAGES {
            self.hashes[len] = hash;
            self.len += 1;
        } else {
            self.hashes.rotate_left(1);
            self.hashes[RECENT_MESSAGES - 1] = hash;
        }
    }
}

impl From<Vec<u64>> for RecentMessages {
    fn from(list: Vec<u64>) -> Self {
        let mut r = RecentMessages::default();
        let skip = list.len().saturating_sub(RECENT_MESSAGES);
        for h in list.into_iter().skip(skip) {
            r.remember(h);
        }
        r
    }
}

impl From<RecentMessages> for Vec<u64> {
    fn from(r: RecentMessages) -> Vec<u64> {
        r.hashes[..usize::from(r.len)].to_vec()
    }
}

/// FNV-1a, 64 bit: a stable hash for remembering message ids (not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn t(m: i64) -> Timestamp {
        Timestamp::from_unix(1_750_000_000) + Duration::minutes(m)
    }

    #[test]
    fn time_2_lazy_rearming_arms_once_and_rearms_once() {
        let mut timers = Timers::default();
        let mut token = 1;
        let first = timers
            .set(TimerKind::BotInactivity, t(10), &mut token)
            .expect("first deadline arms");
        // Deadlines pushed later arm nothing.
        for m in 1..10 {
            assert_eq!(
                timers.set(TimerKind::BotInactivity, t(10 + m), &mut token),
                None
            );
        }
        // The first wake-up finds the deadline moved: re-arm once.
        let Firing::Rearm(second) =
            timers.fire(TimerKind::BotInactivity, first.token, t(10), &mut token)
        else {
            panic!("expected a re-arm");
        };
        assert_eq!(second.at, t(19));
        // TIME-2: the first wake-up delivered again is stale.
        assert_eq!(
            timers.fire(TimerKind::BotInactivity, first.token, t(11), &mut token),
            Firing::Stale
        );
        assert_eq!(
            timers.fire(TimerKind::BotInactivity, second.token, t(19), &mut token),
            Firing::Due
        );
        // And the due wake-up delivered twice does nothing the second time.
        assert_eq!(
            timers.fire(TimerKind::BotInactivity, second.token, t(20), &mut token),
            Firing::Stale
        );
    }

    #[test]
    fn time_2_an_earlier_deadline_arms_a_new_wakeup_and_the_old_one_goes_stale() {
        let mut timers = Timers::default();
        let mut token = 1;
        let late = timers.set(TimerKind::AutoClose, t(60), &mut token).unwrap();
        let early = timers.set(TimerKind::AutoClose, t(5), &mut token).unwrap();
        assert_ne!(late.token, early.token);
        assert_eq!(
            timers.fire(TimerKind::AutoClose, late.token, t(60), &mut token),
            Firing::Stale
        );
        assert_eq!(
            timers.fire(TimerKind::AutoClose, early.token, t(5), &mut token),
            Firing::Due
        );
    }

    #[test]
    fn time_2_a_cleared_deadline_makes_the_wakeup_do_nothing() {
        let mut timers = Timers::default();
        let mut token = 1;
        let w = timers
            .set(TimerKind::NoReplyReminder, t(5), &mut token)
            .unwrap();
        timers.clear(TimerKind::NoReplyReminder);
        assert_eq!(
            timers.fire(TimerKind::NoReplyReminder, w.token, t(5), &mut token),
            Firing::Stale
        );
        assert!(timers.is_idle());
    }

    #[test]
    fn recent_messages_keep_the_latest_sixteen_in_order() {
        let mut r = RecentMessages::default();
        for h in 0..20u64 {
            r.remember(h);
        }
        assert!(!r.contains(3));
        assert!(r.contains(4) && r.contains(19));
        let list: Vec<u64> = r.into();
        assert_eq!(list, (4..20).collect::<Vec<_>>());
        assert_eq!(RecentMessages::from(list), r);
    }

    #[test]
    fn state_of_a_typical_contact_stays_small() {
        let mut s = ContactState::new(
            BusinessNumberId::new("106540352242922").unwrap(),
            ContactKey::new("4915123456789").unwrap(),
        );
        s.windows.record_inbound(t(0), false);
        for i in 0..40u64 {
            s.recent_messages.remember(fnv1a(&i.to_le_bytes()));
        }
        s.conversation = Some(Conversation {
            id: ConversationId::new("4915123456789#12").unwrap(),
            status: ConversationStatus::Open,
            handler: Handler::Agent {
                agent: AgentId::new("agent-7").unwrap(),
            },
            opened_at: t(0),
            origin: Origin::Inbound,
            last_customer_at: Some(t(0)),
            last_agent_at: None,
            unanswered_since: Some(t(0)),
            unanswered_count: 0,
            reminded: false,
            agent_involved: true,
            nudged_for: None,
            referral: None,
        });
        let mut token = 1;
        s.timers.set(TimerKind::NoReplyReminder, t(5), &mut token);
        s.timers.set(TimerKind::AutoClose, t(50), &mut token);
        let json = serde_json::to_vec(&s).unwrap();
        assert!(json.len() < 1024, "{} bytes", json.len());
    }
}

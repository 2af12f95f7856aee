//! Channel policy for outbound messages (CHAN-1, seed 001): one table, not scattered ifs.

use crate::ids::Channel;
use crate::time::{Duration, Timestamp};
use serde::{Deserialize, Serialize};

/// What a channel allows once its messaging window has closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWindow {
    /// The channel has no window: anything may be sent at any time.
    Anything,
    /// Only pre-approved templates (WhatsApp: the recontact template).
    TemplatesOnly,
    /// Only a human agent's message tagged `HUMAN_AGENT`, up to `until` after the last inbound.
    HumanAgentTag { until: Duration },
    /// Nothing until the customer writes again.
    Nothing,
    /// Allowed, but billed as business-initiated.
    AllowedBilled,
}

/// One row of the channel table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPolicy {
    pub channel: Channel,
    /// The messaging window's length from the last inbound message; `None`: no window.
    pub window: Option<Duration>,
    pub after_window: AfterWindow,
}

/// CHAN-1: the table of seed 001.
pub const CHANNEL_POLICIES: [ChannelPolicy; 10] = [
    row(Channel::Telegram, None, AfterWindow::Anything),
    row(Channel::Line, None, AfterWindow::Anything),
    row(Channel::WebsiteChat, None, AfterWindow::Anything),
    row(Channel::Sms, None, AfterWindow::Anything),
    row(Channel::Email, None, AfterWindow::Anything),
    row(
        Channel::WhatsApp,
        Some(Duration::hours(24)),
        AfterWindow::TemplatesOnly,
    ),
    row(
        Channel::Messenger,
        Some(Duration::hours(24)),
        AfterWindow::HumanAgentTag {
            until: Duration::days(7),
        },
    ),
    row(
        Channel::Instagram,
        Some(Duration::hours(24)),
        AfterWindow::HumanAgentTag {
            until: Duration::days(7),
        },
    ),
    row(
        Channel::WeChat,
        Some(Duration::hours(48)),
        AfterWindow::Nothing,
    ),
    row(
        Channel::Viber,
        Some(Duration::hours(24)),
        AfterWindow::AllowedBilled,
    ),
];

const fn row(
    channel: Channel,
    window: Option<Duration>,
    after_window: AfterWindow,
) -> ChannelPolicy {
    ChannelPolicy {
        channel,
        window,
        after_window,
    }
}

/// The table row of a channel.
pub fn policy(channel: Channel) -> &'static ChannelPolicy {
    CHANNEL_POLICIES
        .iter()
        .find(|p| p.channel == channel)
        .unwrap_or(&CHANNEL_POLICIES[5])
}

/// What is being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Anything that is not a pre-approved template: text, media, interactive, reactions.
    FreeForm,
    Template,
}

/// Who is sending: the `HUMAN_AGENT` tag may only be used by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Agent,
    Automation,
}

/// The answer of `may_send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "permission", content = "reason")]
pub enum SendPermission {
    Allowed,
    /// Allowed when sent with this tag (Messenger/Instagram `HUMAN_AGENT`).
    AllowedWithTag(&'static str),
    /// Allowed, billed as business-initiated (Viber after the session).
    AllowedBilled,
    /// Only a template may be sent; free-form is refused (WIN-5).
    TemplateOnly,
    Refused(RefusalReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// WhatsApp free-form outside the CSW: send a (recontact) template instead.
    WindowClosedTemplatesOnly,
    /// Messenger/Instagram: the 7-day human-agent period is over.
    HumanAgentPeriodOver,
    /// Messenger/Instagram after 24 h: only a human agent may send, with the tag.
    HumanAgentOnly,
    /// WeChat: nothing until the customer writes again.
    WaitForCustomer,
    /// The channel has no templates.
    NoTemplatesOnChannel,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 5] = [
        RefusalReason::WindowClosedTemplatesOnly,
        RefusalReason::HumanAgentPeriodOver,
        RefusalReason::HumanAgentOnly,
        RefusalReason::WaitForCustomer,
        RefusalReason::NoTemplatesOnChannel,
    ];

    /// Its snake_case name (as serialised), for a metric's label.
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::WindowClosedTemplatesOnly => "window_closed_templates_only",
            RefusalReason::HumanAgentPeriodOver => "human_agent_period_over",
            RefusalReason::HumanAgentOnly => "human_agent_only",
            RefusalReason::WaitForCustomer => "wait_for_customer",
            RefusalReason::NoTemplatesOnChannel => "no_templates_on_channel",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RefusalReason::WindowClosedTemplatesOnly => {
                "window closed: templates only (send the recontact template)"
            }
            RefusalReason::HumanAgentPeriodOver => {
                "more than 7 days since the customer's last message: nothing may be sent"
            }
            RefusalReason::HumanAgentOnly => {
                "window closed: only a human agent may send, with the HUMAN_AGENT tag"
            }
            RefusalReason::WaitForCustomer => "window closed: wait until the customer writes again",
            RefusalReason::NoTemplatesOnChannel => "this channel has no templates",
        }
    }
}

/// CHAN-1: may this message be sent on this channel, given the last inbound message's time?
pub fn may_send(
    channel: Channel,
    last_inbound_at: Option<Timestamp>,
    kind: MessageKind,
    sender: Sender,
    now: Timestamp,
) -> SendPermission {
    let p = policy(channel);
    if kind == MessageKind::Template && channel != Channel::WhatsApp {
        return SendPermission::Refused(RefusalReason::NoTemplatesOnChannel);
    }
    let inside = match p.window {
        None => true,
        Some(length) => last_inbound_at.is_some_and(|t| now < t + length),
    };
    if inside {
        return SendPermission::Allowed;
    }
    match (p.after_window, kind) {
        (AfterWindow::Anything, _) => SendPermission::Allowed,
        (AfterWindow::TemplatesOnly, MessageKind::Template) => SendPermission::Allowed,
        (AfterWindow::TemplatesOnly, MessageKind::FreeForm) => SendPermission::TemplateOnly,
        (AfterWindow::HumanAgentTag { until }, _) => {
            let within = last_inbound_at.is_some_and(|t| now < t + until);
            match (within, sender) {
                (true, Sender::Agent) => SendPermission::AllowedWithTag("HUMAN_AGENT"),
                (true, Sender::Automation) => {
                    SendPermission::Refused(RefusalReason::HumanAgentOnly)
                }
                (false, _) => SendPermission::Refused(RefusalReason::HumanAgentPeriodOver),
            }
        }
        (AfterWindow::Nothing, _) => SendPermission::Refused(RefusalReason::WaitForCustomer),
        (AfterWindow::AllowedBilled, _) => SendPermission::AllowedBilled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Channel::*;
    use MessageKind::*;
    use SendPermission::*;
    use Sender::*;

    #[test]
    fn chan_1_policy_table() {
        let t0 = Timestamp::from_unix(1_750_000_000);
        let h = |n| t0 + Duration::hours(n);
        let cases: &[(Channel, MessageKind, Sender, i64, SendPermission)] = &[
            // no window: anytime
            (Telegram, FreeForm, Automation, 1000, Allowed),
            (Line, FreeForm, Agent, 1000, Allowed),
            (WebsiteChat, FreeForm, Agent, 1000, Allowed),
            (Sms, FreeForm, Agent, 1000, Allowed),
            (Email, FreeForm, Agent, 1000, Allowed),
            (
                Email,
                Template,
                Agent,
                1,
                Refused(RefusalReason::NoTemplatesOnChannel),
            ),
            // WhatsApp: 24 h, then templates only
            (WhatsApp, FreeForm, Agent, 23, Allowed),
            (WhatsApp, FreeForm, Agent, 24, TemplateOnly),
            (WhatsApp, Template, Agent, 24, Allowed),
            (WhatsApp, Template, Automation, 500, Allowed),
            // Messenger / Instagram: HUMAN_AGENT up to 7 days, by a human
            (Messenger, FreeForm, Automation, 23, Allowed),
            (
                Messenger,
                FreeForm,
                Agent,
                30,
                AllowedWithTag("HUMAN_AGENT"),
            ),
            (
                Messenger,
                FreeForm,
                Automation,
                30,
                Refused(RefusalReason::HumanAgentOnly),
            ),
            (
                Instagram,
                FreeForm,
                Agent,
                24 * 7,
                Refused(RefusalReason::HumanAgentPeriodOver),
            ),
            // WeChat: 48 h then nothing
            (WeChat, FreeForm, Agent, 47, Allowed),
            (
                WeChat,
                FreeForm,
                Agent,
                48,
                Refused(RefusalReason::WaitForCustomer),
            ),
            // Viber: allowed after the session, billed
            (Viber, FreeForm, Agent, 23, Allowed),
            (Viber, FreeForm, Agent, 25, AllowedBilled),
        ];
        for (channel, kind, sender, hours, expected) in cases {
            assert_eq!(
                may_send(*channel, Some(t0), *kind, *sender, h(*hours)),
                *expected,
                "{channel:?} {kind:?} {sender:?} +{hours}h"
            );
        }
        // WIN-5: a WhatsApp contact who never wrote gets templates only.
        assert_eq!(may_send(WhatsApp, None, FreeForm, Agent, t0), TemplateOnly);
    }

    #[test]
    fn chan_1_every_channel_has_exactly_one_row() {
        for c in [
            WhatsApp,
            Messenger,
            Instagram,
            WeChat,
            Viber,
            Telegram,
            Line,
            WebsiteChat,
            Sms,
            Email,
        ] {
            assert_eq!(
                CHANNEL_POLICIES.iter().filter(|p| p.channel == c).count(),
                1,
                "{c:?}"
            );
            assert_eq!(policy(c).channel, c);
        }
    }
}

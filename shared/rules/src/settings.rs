//! A business number's settings: automation (AUTO-1..12), the enabled bot recipe, outreach expiry,
//! closing logic (CHAN-3). Loaded by the shell, validated once at the edge with [`validate`].

use crate::effect::OutboundContent;
use crate::ids::{BusinessNumberId, Channel, RecipeId};
use crate::outreach::{DEFAULT_EXPIRED_TEXT, DEFAULT_EXPIRY};
use crate::recipe::{Recipe, RecipeError};
use crate::time::Duration;
use serde::{Deserialize, Serialize};

/// AUTO-8: bot conversations close after 10 minutes without a customer message.
pub const BOT_TIMEOUT: Duration = Duration::minutes(10);
/// AUTO-7: the supported auto-close range.
pub const AUTO_CLOSE_MIN: Duration = Duration::minutes(1);
pub const AUTO_CLOSE_MAX: Duration = Duration::hours(72);

/// CHAN-3: what closing a conversation does to the contact's assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosingLogic {
    /// The contact stays assigned to the agent who served them.
    #[default]
    KeepAssignee,
    Unassign,
}

/// AUTO-6: the no-reply reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub after: Duration,
    pub content: OutboundContent,
}

/// AUTO-4: the queue message; `{position}` in its text is replaced by the queue position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub text: String,
}

/// AUTO-9: the CSAT survey. The format is fixed (three buttons); only the question is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Csat {
    pub question: String,
}

/// AUTO-11: the window nudge, sent `before_close` before the CSW of an open conversation closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nudge {
    pub before_close: Duration,
    pub content: OutboundContent,
}

/// AUTO-12: where a conversation goes when its agent stays silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilentAgent {
    pub after: Duration,
}

/// EVT-5: a bot run by an integrator. New conversations are handed to it (`Handler::Bot` with
/// its id and the step [`EXTERNAL_STEP`]); the customer's messages reach it as
/// `message.received` events whose `bot` is its id (delivered to the webhook endpoint registered
/// for it); it answers, hands off or completes through `/v1` with an integration token
/// ([`crate::event::BotAction`]). AUTO-8's timeout and AUTO-9's rules apply as for a recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalBot {
    pub id: RecipeId,
}

/// The step an external bot's conversation is on (an external bot has no steps of ours).
pub const EXTERNAL_STEP: &str = "external";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberSettings {
    pub number: BusinessNumberId,
    #[serde(default = "whatsapp")]
    pub channel: Channel,
    /// The enabled bot recipe; `None`: new conversations enter `Unassigned` (OUT-7).
    #[serde(default)]
    pub recipe: Option<Recipe>,
    /// EVT-5: the number's bot is an integrator's endpoint instead of a recipe (at most one of
    /// the two is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_bot: Option<ExternalBot>,
    /// AUTO-1.
    #[serde(default)]
    pub welcome: Option<OutboundContent>,
    /// AUTO-2 (validated by `templates::validate_ice_breakers`).
    #[serde(default)]
    pub ice_breakers: Vec<String>,
    /// AUTO-3.
    #[serde(default)]
    pub unassigned_reply: Option<OutboundContent>,
    /// AUTO-4.
    #[serde(default)]
    pub queue_message: Option<QueueMessage>,
    /// AUTO-6.
    #[serde(default)]
    pub reminder: Option<Reminder>,
    /// AUTO-7 (1 minute to 72 hours; 24 hours recommended). `None`: never.
    #[serde(default)]
    pub auto_close_after: Option<Duration>,
    /// AUTO-8.
    #[serde(default = "bot_timeout")]
    pub bot_timeout: Duration,
    /// AUTO-9.
    #[serde(default)]
    pub csat: Option<Csat>,
    /// AUTO-11 (off by default).
    #[serde(default)]
    pub nudge: Option<Nudge>,
    /// AUTO-12 (off by default).
    #[serde(default)]
    pub silent_agent: Option<SilentAgent>,
    /// CHAN-3.
    #[serde(default)]
    pub closing: ClosingLogic,
    /// Outreach expiry (seed 000: 30 days, configurable per number).
    #[serde(default = "outreach_expiry")]
    pub outreach_expiry: Duration,
    #[serde(default = "expired_text")]
    pub expired_outreach_text: String,
}

fn whatsapp() -> Channel {
    Channel::WhatsApp
}
fn bot_timeout() -> Duration {
    BOT_TIMEOUT
}
fn outreach_expiry() -> Duration {
    DEFAULT_EXPIRY
}
fn expired_text() -> String {
    DEFAULT_EXPIRED_TEXT.to_owned()
}

impl NumberSettings {
    /// A number with every automation off and the documented defaults.
    pub fn new(number: BusinessNumberId) -> Self {
        NumberSettings {
            number,
            channel: Channel::WhatsApp,
            recipe: None,
            external_bot: None,
            welcome: None,
            ice_breakers: Vec::new(),
            unassigned_reply: None,
            queue_message: None,
            reminder: None,
            auto_close_after: None,
            bot_timeout: BOT_TIMEOUT,
            csat: None,
            nudge: None,
            silent_agent: None,
            closing: ClosingLogic::KeepAssignee,
            outreach_expiry: DEFAULT_EXPIRY,
            expired_outreach_text: DEFAULT_EXPIRED_TEXT.to_owned(),
        }
    }
}

/// AUTO-1 and AUTO-2 on Meta's side: what Meta's conversational automation endpoint
/// (`POST /{phone-number-id}/conversational_automation`) keeps for a WhatsApp number: the ice
/// breakers customers see when they open the chat, and whether Meta tells us they opened it
/// (`request_welcome`, which the welcome message answers). Bot commands are not Switchboard's:
/// they are left out, so Meta keeps whatever was set elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationalAutomation {
    pub enable_welcome_message: bool,
    pub prompts: Vec<String>,
}

impl ConversationalAutomation {
    /// The number's automation as Meta should hold it; `None` off WhatsApp (no such endpoint).
    pub fn of(settings: &NumberSettings) -> Option<Self> {
        (settings.channel == Channel::WhatsApp).then(|| ConversationalAutomation {
            enable_welcome_message: settings.welcome.is_some(),
            prompts: settings.ice_breakers.clone(),
        })
    }

    /// What a save must push to Meta before it is kept: the new automation when it differs from
    /// what was saved before (a number never saved had none: nothing set at Meta's either), so
    /// ice breakers or a welcome reach Meta when first set and on every change, and a save that
    /// changes neither calls nobody. Clearing them is a change too (Meta drops the prompts).
    pub fn to_push(before: Option<&NumberSettings>, after: &NumberSettings) -> Option<Self> {
        let new = Self::of(after)?;
        let old = match before {
            Some(b) => Self::of(b),
            None => Self::of(&NumberSettings::new(after.number.clone())),
        };
        (old.as_ref() != Some(&new)).then_some(new)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("auto_close_after must be between 1 minute and 72 hours, got {0}")]
    AutoCloseOutOfRange(Duration),
    #[error("{field} must be positive, got {value}")]
    NotPositive {
        field: &'static str,
        value: Duration,
    },
    #[error("outreach_expiry must be between 1 and 365 days, got {0}")]
    ExpiryOutOfRange(Duration),
    #[error("expired_outreach_text must not be empty")]
    EmptyExpiredText,
    #[error("recipe: {0}")]
    Recipe(#[from] RecipeError),
    #[error("a number's bot is a recipe or external, not both")]
    TwoBots,
}

/// Checks settings once, when they are saved or loaded from configuration.
pub fn validate(s: &NumberSettings) -> Result<(), SettingsError> {
    if let Some(after) = s.auto_close_after
        && !(AUTO_CLOSE_MIN..=AUTO_CLOSE_MAX).contains(&after)
    {
        return Err(SettingsError::AutoCloseOutOfRange(after));
    }
    let positive = [
        ("bot_timeout", Some(s.bot_timeout)),
        ("reminder.after", s.reminder.as_ref().map(|r| r.after)),
        (
            "nudge.before_close",
            s.nudge.as_ref().map(|n| n.before_close),
        ),
        ("silent_agent.after", s.silent_agent.map(|a| a.after)),
    ];
    for (field, value) in positive {
        if let Some(value) = value
            && value <= Duration::ZERO
        {
            return Err(SettingsError::NotPositive { field, value });
        }
    }
    if !(Duration::days(1)..=Duration::days(365)).contains(&s.outreach_expiry) {
        return Err(SettingsError::ExpiryOutOfRange(s.outreach_expiry));
    }
    if s.expired_outreach_text.trim().is_empty() {
        return Err(SettingsError::EmptyExpiredText);
    }
    if let Some(recipe) = &s.recipe {
        recipe.validate()?;
    }
    if s.recipe.is_some() && s.external_bot.is_some() {
        return Err(SettingsError::TwoBots);
    }
    Ok(())
}

impl NumberSettings {
    /// EVT-5: whether a bot handler of this id is the number's external bot.
    pub fn is_external_bot(&self, bot: &RecipeId) -> bool {
        self.external_bot.as_ref().is_some_and(|b| &b.id == bot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // AUTO-1, AUTO-2 (issue 16, case 14): ice breakers and the welcome reach Meta's conversational
    // automation when first set and on every change; a save that changes neither pushes nothing;
    // clearing them is pushed; a number off WhatsApp has nothing to push.
    #[test]
    fn auto_2_ice_breakers_and_welcome_are_pushed_when_set_and_on_change() {
        let plain = NumberSettings::new(BusinessNumberId::new("n1").unwrap());
        assert_eq!(ConversationalAutomation::to_push(None, &plain), None);
        assert_eq!(
            ConversationalAutomation::to_push(Some(&plain), &plain),
            None
        );

        let mut set = plain.clone();
        set.ice_breakers = vec!["Where is my order?".into(), "Opening hours".into()];
        let pushed = ConversationalAutomation {
            enable_welcome_message: false,
            prompts: set.ice_breakers.clone(),
        };
        assert_eq!(
            ConversationalAutomation::to_push(None, &set),
            Some(pushed.clone())
        );
        assert_eq!(
            ConversationalAutomation::to_push(Some(&plain), &set),
            Some(pushed)
        );
        // Another setting changes: nothing to push.
        let mut other = set.clone();
        other.auto_close_after = Some(Duration::hours(24));
        assert_eq!(ConversationalAutomation::to_push(Some(&set), &other), None);
        // The welcome is set: Meta is asked for `request_welcome`.
        let mut welcome = set.clone();
        welcome.welcome = Some(OutboundContent::Text {
            body: "Welcome!".into(),
        });
        assert_eq!(
            ConversationalAutomation::to_push(Some(&set), &welcome),
            Some(ConversationalAutomation {
                enable_welcome_message: true,
                prompts: set.ice_breakers.clone(),
            })
        );
        // Cleared: pushed, so customers stop seeing them.
        assert_eq!(
            ConversationalAutomation::to_push(Some(&welcome), &plain),
            Some(ConversationalAutomation {
                enable_welcome_message: false,
                prompts: Vec::new(),
            })
        );
        let mut telegram = set.clone();
        telegram.channel = Channel::Telegram;
        assert_eq!(ConversationalAutomation::to_push(None, &telegram), None);
    }

    #[test]
    fn auto_7_auto_close_range_is_one_minute_to_72_hours() {
        let mut s = NumberSettings::new(BusinessNumberId::new("n1").unwrap());
        for (after, ok) in [
            (Duration::seconds(59), false),
            (Duration::minutes(1), true),
            (Duration::hours(24), true),
            (Duration::hours(72), true),
            (Duration::hours(72) + Duration::seconds(1), false),
        ] {
            s.auto_close_after = Some(after);
            assert_eq!(validate(&s).is_ok(), ok, "{after}");
        }
    }

    #[test]
    fn defaults_follow_the_seeds() {
        let s: NumberSettings = serde_json::from_str(r#"{"number":"n1"}"#).unwrap();
        assert_eq!(s, NumberSettings::new(BusinessNumberId::new("n1").unwrap()));
        assert_eq!(s.bot_timeout, Duration::minutes(10)); // AUTO-8
        assert_eq!(s.outreach_expiry, Duration::days(30)); // seed 000
        assert_eq!(
            s.expired_outreach_text,
            "The message has expired, how can we help you?"
        );
        assert!(s.nudge.is_none()); // AUTO-11: off by default
        assert!(validate(&s).is_ok());
    }
}

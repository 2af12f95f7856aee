//! Effects are data: what a decision asks the shell to do. The shell commits them with the next
//! state (the outbox) and executes them idempotently afterwards (ARCHITECTURE invariant 3).

use crate::channel::MessageKind;
use crate::ids::{AgentId, CampaignId, ConversationId, MessageId, OutreachId, TemplateName};
use crate::state::{CampaignOutcome, ContactState, TimerKind};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What Switchboard sends. Media and interactive bodies are kept small and typed; the WhatsApp
/// crate turns them into Graph API bodies (`whatsapp::outbound`, which also checks Meta's length
/// and count limits: a console send that breaks one is refused there with the field named).
///
/// Every variant but [`OutboundContent::Template`] is free-form ([`OutboundContent::kind`]): only
/// a template may open a conversation outside the customer service window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OutboundContent {
    Text {
        body: String,
    },
    Media {
        media: MediaKind,
        /// A media id uploaded to Meta, or an https link.
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// Reply buttons (at most 3): `(id, title)` pairs.
    Buttons {
        body: String,
        buttons: Vec<(String, String)>,
    },
    /// An interactive list: a button (`button` is its label) that opens sections of rows.
    List {
        body: String,
        button: String,
        sections: Vec<ListSection>,
    },
    /// A pin on a map. Coordinates are micro-degree newtypes, so the content stays `Eq`.
    Location {
        latitude: Latitude,
        longitude: Longitude,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    /// A reaction to a message of the conversation; `emoji: None` removes our earlier reaction.
    Reaction {
        message: MessageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emoji: Option<String>,
    },
    Template {
        name: TemplateName,
        language: String,
        /// The header's parameter, for templates whose header has a variable or media.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<TemplateHeader>,
        /// Body parameters in order (`{{1}}`, `{{2}}`, …).
        #[serde(default)]
        parameters: Vec<String>,
        /// Quick-reply payloads in button order (OUT-8 payloads on outreach): payload `i` goes to
        /// the template's button at index `i`, so templates put their quick replies first.
        #[serde(default)]
        button_payloads: Vec<String>,
    },
}

impl OutboundContent {
    pub fn text(body: impl Into<String>) -> Self {
        OutboundContent::Text { body: body.into() }
    }

    pub fn kind(&self) -> MessageKind {
        match self {
            OutboundContent::Template { .. } => MessageKind::Template,
            OutboundContent::Text { .. }
            | OutboundContent::Media { .. }
            | OutboundContent::Buttons { .. }
            | OutboundContent::List { .. }
            | OutboundContent::Location { .. }
            | OutboundContent::Reaction { .. } => MessageKind::FreeForm,
        }
    }
}

/// One section of an interactive list. `title` is required by Meta when the list has more than
/// one section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

/// One choice of an interactive list; `id` comes back in the customer's `list_reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The parameter of a template's header: a text variable, or the media of a media header (image,
/// video or document; `source` is a media id or an https link, as for [`OutboundContent::Media`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TemplateHeader {
    Text { text: String },
    Media { media: MediaKind, source: String },
}

/// A coordinate outside its range, or not a number.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("{axis} {value} is not a number within ±{max} degrees")]
pub struct CoordinateError {
    pub axis: &'static str,
    pub value: f64,
    pub max: u8,
}

macro_rules! coordinate {
    ($(#[$doc:meta])* $name:ident, $axis:literal, $max:literal) => {
        $(#[$doc])*
        ///
        /// Stored as whole micro-degrees (about 11 cm at the equator, finer than any phone's fix)
        /// so that it is exact and `Eq`; serialised as a JSON number of degrees (`37.4847`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(i64);

        impl $name {
            const MAX_MICRO: i64 = $max * 1_000_000;

            /// Degrees, rounded to the nearest micro-degree; out of range or not finite is refused.
            pub fn from_degrees(degrees: f64) -> Result<Self, CoordinateError> {
                let micro = (degrees * 1e6).round();
                if degrees.is_finite() && micro.abs() <= Self::MAX_MICRO as f64 {
                    // In range, so the cast is exact.
                    Ok($name(micro as i64))
                } else {
                    Err(CoordinateError { axis: $axis, value: degrees, max: $max })
                }
            }

            pub fn from_micro(micro: i64) -> Result<Self, CoordinateError> {
                if micro.unsigned_abs() <= Self::MAX_MICRO.unsigned_abs() {
                    Ok($name(micro))
                } else {
                    Err(CoordinateError { axis: $axis, value: micro as f64 / 1e6, max: $max })
                }
            }

            pub fn micro(self) -> i64 {
                self.0
            }

            pub fn degrees(self) -> f64 {
                self.0 as f64 / 1e6
            }

            /// The exact decimal form, without trailing zeros: `-122.1486`, `0`, `-0.5`.
            pub fn to_decimal(self) -> String {
                let sign = if self.0 < 0 { "-" } else { "" };
                let abs = self.0.unsigned_abs();
                let (whole, frac) = (abs / 1_000_000, abs % 1_000_000);
                if frac == 0 {
                    format!("{sign}{whole}")
                } else {
                    let digits = format!("{frac:06}");
                    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
                }
            }
        }

        impl TryFrom<f64> for $name {
            type Error = CoordinateError;
            fn try_from(degrees: f64) -> Result<Self, CoordinateError> {
                $name::from_degrees(degrees)
            }
        }

        impl From<$name> for f64 {
            fn from(c: $name) -> f64 {
                c.degrees()
            }
        }
    };
}

coordinate!(
    /// Degrees north (negative: south), at most ±90.
    Latitude,
    "latitude",
    90
);
coordinate!(
    /// Degrees east (negative: west), at most ±180.
    Longitude,
    "longitude",
    180
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

/// Why a message is sent: for the log, the ledger and the sender's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendPurpose {
    /// AUTO-1 (counted as a service message).
    Welcome,
    /// AUTO-3.
    UnassignedReply,
    /// AUTO-4.
    QueuePosition,
    /// AUTO-6.
    Reminder,
    /// AUTO-9.
    Csat,
    /// AUTO-11.
    Nudge,
    /// OUT-EXP-2, OUT-EXP-3.
    ExpiredOutreach,
    /// A bot recipe step.
    Bot,
    /// An agent's message from the console.
    Agent,
    /// CAMP-1..10: a campaign's template to one contact (business-initiated, sent by automation
    /// on an admin's behalf; held while campaign traffic is paused, SEND-2 131048).
    Campaign,
}

/// A send, ready for the outbound queue. The shell gives it an idempotency key derived from the
/// event key and the effect's position, so a repeated execution never sends twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    pub purpose: SendPurpose,
    pub content: OutboundContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationId>,
    /// WIN-5: when free-form finds the window closed at send time, send the number's recontact
    /// template instead of refusing.
    #[serde(default)]
    pub recontact_if_closed: bool,
}

/// A wake-up to arm: at `at`, deliver `TimerFired { kind, token }` to the contact's lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wake {
    pub kind: TimerKind,
    pub at: Timestamp,
    pub token: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum Effect {
    Send(SendRequest),
    /// Arm (or re-arm) the one wake-up of this kind for the contact (TIME-1). There is no cancel:
    /// a wake-up whose token is stale does nothing when it fires (TIME-2), which saves calls.
    ArmTimer(Wake),
    /// The conversation needs an agent (AUTO-4): assign the agent with free capacity and the
    /// fewest open conversations, else queue it; answer with `AgentAssigned` or `Queued`.
    RequestAgent {
        conversation: ConversationId,
        /// Echoed in the answer, so an answer to an older request is recognised as stale.
        request: u64,
        /// CHAN-3 `keep_assignee`: the contact's agent, tried first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preferred: Option<AgentId>,
        /// AUTO-12: the silent agent, not picked again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exclude: Option<AgentId>,
    },
    /// Take one unit of the agent's capacity (a claim, a transfer, an agent reopening: CHAN-2).
    TakeCapacity {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// Give the agent's capacity back and offer the oldest queued conversation to them (AUTO-5).
    ReleaseAgent {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// Remove the conversation from the number's queue (claimed, closed or answered elsewhere).
    LeaveQueue {
        conversation: ConversationId,
    },
    /// A campaign interaction ended (CAMP-7..9, response timeout).
    CampaignAnswer {
        campaign: CampaignId,
        outreach: OutreachId,
        outcome: CampaignOutcome,
    },
    /// AUTO-9: the customer's answer to the survey, recorded against the closed conversation.
    RecordCsat {
        conversation: ConversationId,
        agent: Option<AgentId>,
        score: u8,
    },
}

/// What the console's message log shows besides the messages themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "notice")]
pub enum Notice {
    ConversationOpened,
    ConversationClosed {
        reason: CloseReason,
    },
    /// OUT-EXP-4: the customer pressed an expired outreach; the agent handles it.
    ExpiredOutreachPressed {
        outreach: OutreachId,
    },
    /// OUT-ACT-5: the customer pressed an active outreach; shown to the agent.
    OutreachPressed {
        outreach: OutreachId,
        button: Option<u8>,
    },
    /// OUT-ACT-1/2: the conversation starts from this outreach.
    StartedFromOutreach {
        outreach: OutreachId,
        button: Option<u8>,
    },
    AssignedTo {
        agent: AgentId,
    },
    Queued {
        position: u32,
    },
    Unassigned,
    Snoozed {
        until: Timestamp,
    },
    Reopened,
    HandedOffByBot,
    /// AUTO-9: the customer's survey answer (the shell records `Effect::RecordCsat` in the same
    /// commit as this notice, so the score is kept exactly once).
    CsatAnswered {
        score: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<AgentId>,
    },
    /// A console send that the rules refused (window closed, …).
    SendRefused {
        reason: String,
    },
    /// MEDIA-1: the customer's `message` carried media that could not be fetched (never silent).
    MediaNotFetched {
        message: MessageId,
        kind: MediaKind,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// AUTO-8: the recipe completed.
    BotCompleted,
    /// AUTO-8: 10 minutes without a customer message.
    BotTimeout,
    /// AUTO-7.
    AutoClose,
    /// An agent closed it.
    Agent,
    /// OUT-ACT-3/4: a new conversation from an outreach replaced it.
    ReplacedByOutreach,
    /// CAMP-8/9: the campaign interaction ended and an agent conversation opens.
    CampaignEnded,
}

/// One entry of a conversation's message log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "entry")]
pub enum LogEntry {
    /// The inbound message `message` joined `conversation` (`None`: outside any conversation, for
    /// example an expired interaction with no conversation, OUT-EXP-2).
    Inbound {
        message: MessageId,
        conversation: Option<ConversationId>,
        at: Timestamp,
        /// EVT-5: the external bot that handled the conversation when the message came.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot: Option<crate::ids::RecipeId>,
    },
    Notice {
        conversation: ConversationId,
        at: Timestamp,
        notice: Notice,
    },
}

/// The result of one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub next: ContactState,
    pub effects: Vec<Effect>,
    pub log: Vec<LogEntry>,
}

impl Decision {
    pub fn sends(&self) -> impl Iterator<Item = &SendRequest> {
        self.effects.iter().filter_map(|e| match e {
            Effect::Send(s) => Some(s),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::MessageKind;

    fn location() -> OutboundContent {
        OutboundContent::Location {
            latitude: Latitude::from_degrees(37.4847).unwrap(),
            longitude: Longitude::from_degrees(-122.1486).unwrap(),
            name: Some("Meta HQ".into()),
            address: None,
        }
    }

    #[test]
    fn only_templates_are_template_kind() {
        let list = OutboundContent::List {
            body: "Pick".into(),
            button: "Options".into(),
            sections: vec![ListSection {
                title: None,
                rows: vec![ListRow {
                    id: "a".into(),
                    title: "A".into(),
                    description: None,
                }],
            }],
        };
        let reaction = OutboundContent::Reaction {
            message: MessageId::new("wamid.X").unwrap(),
            emoji: None,
        };
        for free in [list, location(), reaction, OutboundContent::text("hi")] {
            assert_eq!(free.kind(), MessageKind::FreeForm, "{free:?}");
        }
        let template = OutboundContent::Template {
            name: TemplateName::new("offer").unwrap(),
            language: "en_US".into(),
            header: Some(TemplateHeader::Text { text: "Ana".into() }),
            parameters: vec![],
            button_payloads: vec![],
        };
        assert_eq!(template.kind(), MessageKind::Template);
    }

    #[test]
    fn coordinates_are_exact_micro_degrees_serialised_as_numbers() {
        let json = serde_json::to_value(location()).unwrap();
        assert_eq!(json["latitude"], serde_json::json!(37.4847));
        assert_eq!(json["longitude"], serde_json::json!(-122.1486));
        let back: OutboundContent = serde_json::from_value(json).unwrap();
        assert_eq!(back, location());

        let lat = Latitude::from_degrees(-0.5).unwrap();
        assert_eq!(
            (lat.micro(), lat.to_decimal()),
            (-500_000, "-0.5".to_string())
        );
        assert_eq!(
            Longitude::from_micro(180_000_000).unwrap().to_decimal(),
            "180"
        );
        assert_eq!(
            Latitude::from_degrees(0.000_001).unwrap().to_decimal(),
            "0.000001"
        );
        assert_eq!(
            Latitude::from_degrees(12.3456789).unwrap().micro(),
            12_345_679
        );
    }

    #[test]
    fn coordinates_out_of_range_are_refused() {
        assert!(Latitude::from_degrees(90.000_001).is_err());
        assert!(Latitude::from_degrees(f64::NAN).is_err());
        assert!(Longitude::from_degrees(-180.5).is_err());
        assert!(Longitude::from_micro(i64::MIN).is_err());
        let err = serde_json::from_value::<OutboundContent>(serde_json::json!({
            "type": "location", "latitude": 91.0, "longitude": 0.0
        }))
        .unwrap_err();
        assert!(err.to_string().contains("latitude 91"), "{err}");
    }

    #[test]
    fn a_template_without_header_reads_as_before() {
        let old = serde_json::json!({
            "type": "template", "name": "offer", "language": "en_US",
            "parameters": ["Ana"], "button_payloads": ["sb1.x"]
        });
        let t: OutboundContent = serde_json::from_value(old.clone()).unwrap();
        assert!(matches!(&t, OutboundContent::Template { header: None, .. }));
        assert_eq!(serde_json::to_value(&t).unwrap(), old);
        let with_media = OutboundContent::Template {
            name: TemplateName::new("offer").unwrap(),
            language: "en_US".into(),
            header: Some(TemplateHeader::Media {
                media: MediaKind::Image,
                source: "https://example.com/a.jpg".into(),
            }),
            parameters: vec![],
            button_payloads: vec![],
        };
        let json = serde_json::to_value(&with_media).unwrap();
        assert_eq!(json["header"]["type"], "media");
        assert_eq!(
            serde_json::from_value::<OutboundContent>(json).unwrap(),
            with_media
        );
    }
}

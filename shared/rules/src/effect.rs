//! Effects are data: what a decision asks the shell to do. The shell commits them with the next
//! state (the outbox) and executes them idempotently afterwards (ARCHITECTURE invariant 3).

use crate::channel::MessageKind;
use crate::ids::{AgentId, CampaignId, ConversationId, MessageId, OutreachId, TemplateName};
use crate::state::{CampaignOutcome, ContactState, TimerKind};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What Switchboard sends. Media and interactive bodies are kept small and typed; the WhatsApp
/// crate turns them into Graph API bodies.
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
    Template {
        name: TemplateName,
        language: String,
        /// Body parameters in order (`{{1}}`, `{{2}}`, …).
        #[serde(default)]
        parameters: Vec<String>,
        /// Quick-reply payloads in button order (OUT-8 payloads on outreach).
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
            _ => MessageKind::FreeForm,
        }
    }
}

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

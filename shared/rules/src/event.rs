//! What happens to a contact, as the rules see it. The shells translate Meta's webhooks, timer
//! wake-ups and console actions into these, resolving what needs a read (the outreach a reply quotes).

use crate::channel::MessageKind;
use crate::effect::{MediaKind, OutboundContent};
use crate::ids::{AgentId, ConversationId, MessageId};
use crate::outreach::OutreachRecord;
use crate::state::{Referral, TimerKind};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// A customer message (Meta `messages[]`).
    Inbound(Inbound),
    /// WIN-2, AUTO-1: `request_welcome`, the contact opened the chat for the first time.
    Welcome { at: Timestamp },
    /// A wake-up armed earlier (TIME-2 decides whether it still means anything).
    TimerFired { kind: TimerKind, token: u64 },
    /// The sender sent an outreach to this contact (recorded in the contact's lane, so a campaign
    /// interaction opens in order with the contact's messages: CAMP-3, CAMP-7).
    OutreachSent(OutreachRecord),
    /// Answer to `RequestAgent`: the agent took the conversation (capacity already counted).
    AgentAssigned {
        agent: AgentId,
        conversation: ConversationId,
        request: u64,
    },
    /// Answer to `RequestAgent`: no agent has capacity; the conversation waits at `position`.
    Queued {
        position: u32,
        conversation: ConversationId,
        request: u64,
    },
    /// Something an agent did in the console.
    Agent(AgentAction),
    /// MEDIA-1: the media of the customer's message `message` could not be fetched, after every
    /// retry (the media function, or the local runner, gives up with the reason).
    MediaNotFetched {
        message: MessageId,
        kind: MediaKind,
        reason: String,
    },
    /// EVT-5: something the number's external bot did through `/v1`.
    Bot(BotAction),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub id: MessageId,
    /// Meta's `timestamp`: when the customer sent it (not when it arrived).
    pub at: Timestamp,
    pub content: InboundContent,
    /// `context.id`: the message this one quotes or answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<MessageId>,
    /// The outreach `context` points at, when the shell found its record (OUT-9: else `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outreach: Option<OutreachRecord>,
    /// WIN-3: the message came from a click-to-WhatsApp ad or a page call-to-action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

/// The parts of a message the rules look at. Bodies stay with the shell and the message log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InboundContent {
    /// Text, media, location, contacts, reactions: anything that is not a press.
    Message,
    /// An interactive `button_reply` or `list_reply`, by the id Switchboard gave it.
    Reply { id: String },
    /// A template quick reply (`type: button`): the payload Switchboard set and the title shown.
    QuickReply { payload: String, text: String },
    /// `system` messages (`user_changed_number`): not the customer writing.
    System,
}

/// Agents' actions that change a contact's conversation (issue: console). They go through the
/// same lane and rules as messages, so an agent never races a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum AgentAction {
    /// The agent sends a message (CHAN-2 when no conversation is open).
    Send {
        agent: AgentId,
        content: OutboundContent,
        /// WIN-5: replace free-form by the recontact template when the window is closed.
        #[serde(default)]
        recontact_if_closed: bool,
    },
    /// Close the current conversation (CHAN-3, AUTO-5, AUTO-9).
    Close { agent: AgentId },
    /// Take an unassigned or queued conversation (AUTO-5).
    Claim { agent: AgentId },
    /// Hand the conversation to another agent.
    Transfer { from: AgentId, to: AgentId },
    /// AUTO-10.
    Snooze { agent: AgentId, until: Timestamp },
}

impl AgentAction {
    pub fn message_kind(&self) -> Option<MessageKind> {
        match self {
            AgentAction::Send { content, .. } => Some(content.kind()),
            _ => None,
        }
    }
}

/// EVT-5: what an external bot does through `/v1` (with an integration token). Each acts only
/// while the bot handles the contact's current conversation; a send that cannot go is recorded
/// as refused (SEND-5), a hand-off or completion that comes too late changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum BotAction {
    /// The bot answers the customer (WIN-5 applies as to any automated send).
    Send {
        bot: crate::ids::RecipeId,
        content: OutboundContent,
    },
    /// The bot hands the conversation to the queue (`to: None`, AUTO-3/4 follow) or to a named
    /// agent.
    HandOff {
        bot: crate::ids::RecipeId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<AgentId>,
    },
    /// The bot is done: the conversation closes as a completed bot conversation (AUTO-8).
    Complete { bot: crate::ids::RecipeId },
}

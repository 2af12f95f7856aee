//! The outbound queue's messages ([`OutboundJob`]): one send, ready for the sender, or a
//! campaign tick (the sender feeds the campaign's next contacts from its hopper: CAMP-5).
//!
//! The router turns each `Effect::Send` of its outbox into a [`SendJob`] whose `key` is the
//! outbox effect's id (`<event_key>#<index>`); the console and campaigns use their own stable
//! keys. The sender claims `key` before calling the Graph API, so a job delivered twice (SQS is
//! at-least-once, and the router may re-run an outbox after a crash) is sent once.

use rules::outreach::CampaignLink;
use rules::state::CampaignOutcome;
use rules::{
    AgentId, BusinessNumberId, CampaignId, ContactKey, OutreachId, SendRequest, Timestamp,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendJob {
    /// The idempotency key: never sent twice.
    pub key: String,
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub request: SendRequest,
    pub origin: SendOrigin,
    /// When the send was asked for (the window is re-checked at send time: SEND-1).
    pub requested_at: Timestamp,
    /// Set when the message is an outreach (a template whose quick replies carry OUT-8 payloads):
    /// the sender records it once Meta accepted the send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outreach: Option<OutreachPlan>,
}

/// Who asked for the send (for the log, the ledger and the sender's policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum SendOrigin {
    /// A decision of the router on the contact's event `event_key`.
    Router { event_key: String },
    /// An agent or admin in the console.
    Console { agent: Option<AgentId> },
    /// A campaign's hopper.
    Campaign { campaign: CampaignId },
}

/// The outreach a template send creates (OUT-8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutreachPlan {
    pub id: OutreachId,
    /// The quick-reply buttons' titles, in order.
    #[serde(default)]
    pub buttons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignLink>,
}

/// Start or continue sending a campaign: the sender takes the next contacts from the hopper
/// within the pacing limits and queues a later tick while contacts remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignTick {
    /// Stable per tick (the console's start action, or the previous tick's successor).
    pub key: String,
    pub campaign: CampaignId,
    pub at: Timestamp,
}

/// A campaign interaction ended for a contact (CAMP-7..9, or no answer in time): the router
/// forwards it to the sender, which owns the campaign's rows and hopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignResult {
    /// Stable: the router's outbox effect id.
    pub key: String,
    pub campaign: CampaignId,
    pub number: BusinessNumberId,
    pub contact: ContactKey,
    pub outreach: OutreachId,
    pub outcome: CampaignOutcome,
    pub at: Timestamp,
}

/// An outbound-queue message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "job")]
pub enum OutboundJob {
    Send(SendJob),
    CampaignTick(CampaignTick),
    CampaignResult(CampaignResult),
}

impl OutboundJob {
    pub fn key(&self) -> &str {
        match self {
            OutboundJob::Send(s) => &s.key,
            OutboundJob::CampaignTick(t) => &t.key,
            OutboundJob::CampaignResult(r) => &r.key,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an OutboundJob always serialises")
    }

    pub fn parse(body: &str) -> Result<OutboundJob, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The outbound-queue envelope (no group: the outbound queue is a standard queue).
    pub fn envelope(&self) -> crate::Envelope {
        crate::Envelope {
            key: self.key().to_owned(),
            group: None,
            body: self.to_json(),
        }
    }
}

impl SendJob {
    /// The outbound-queue envelope of this send.
    pub fn envelope(&self) -> crate::Envelope {
        OutboundJob::Send(self.clone()).envelope()
    }
}

impl CampaignTick {
    pub fn envelope(&self) -> crate::Envelope {
        OutboundJob::CampaignTick(self.clone()).envelope()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::{OutboundContent, SendPurpose};

    #[test]
    fn a_send_job_round_trips_through_json() {
        let job = SendJob {
            key: "wamid.X#0".into(),
            number: BusinessNumberId::new("1000").unwrap(),
            contact: ContactKey::new("4915112345678").unwrap(),
            request: SendRequest {
                purpose: SendPurpose::Welcome,
                content: OutboundContent::text("hi"),
                conversation: None,
                recontact_if_closed: false,
            },
            origin: SendOrigin::Router {
                event_key: "wamid.X".into(),
            },
            requested_at: Timestamp::from_unix(1_700_000_000),
            outreach: None,
        };
        let envelope = job.envelope();
        assert_eq!(envelope.group, None);
        assert_eq!(envelope.key, "wamid.X#0");
        assert_eq!(
            OutboundJob::parse(&envelope.body).unwrap(),
            OutboundJob::Send(job)
        );
        let tick = CampaignTick {
            key: "start:c1".into(),
            campaign: CampaignId::new("c1").unwrap(),
            at: Timestamp::from_unix(1_700_000_000),
        };
        assert_eq!(
            OutboundJob::parse(&tick.envelope().body).unwrap(),
            OutboundJob::CampaignTick(tick)
        );
    }
}

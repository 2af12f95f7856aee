//! From the inbound FIFO's events (whatsapp's normalised [`whatsapp::Event`]) to the rules'
//! [`rules::Event`]: the lane (number, contact) and what happened, with the outreach a reply
//! quotes resolved from the contact's loaded records (OUT-9: unknown → a plain message).

use rules::state::Referral;
use rules::{BusinessNumberId, ContactKey, IdError, InboundContent, MessageId, Timestamp};
use store::LoadedContact;
use whatsapp::{EventBody, MessageContent};

/// One contact's lane: the business number and the contact (the FIFO group `number#contact`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lane {
    pub number: BusinessNumberId,
    pub contact: ContactKey,
}

impl Lane {
    pub fn group(&self) -> String {
        format!("{}#{}", self.number, self.contact)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// A status or account event on the inbound queue: it belongs to the updates queue.
    #[error("a {0} event is not a contact event")]
    NotInbound(&'static str),
    #[error("the event names no business number")]
    NoBusinessNumber,
    #[error("bad id: {0}")]
    BadId(#[from] IdError),
    #[error("unknown timer kind {0:?}")]
    UnknownTimer(String),
}

/// The lane an inbound event belongs to.
pub fn lane_of(event: &whatsapp::Event) -> Result<Lane, TranslateError> {
    let number = event
        .business
        .as_ref()
        .ok_or(TranslateError::NoBusinessNumber)?;
    let contact = match &event.body {
        EventBody::Message(m) => &m.contact.key,
        EventBody::TimerFired(t) => &t.contact,
        EventBody::Lane(l) => &l.contact,
        _ => return Err(TranslateError::NotInbound(event.kind_name())),
    };
    Ok(Lane {
        number: BusinessNumberId::new(number.phone_number_id.clone())?,
        contact: ContactKey::new(contact.clone())?,
    })
}

/// What the rules see of `event`, and the message content kept in the log (the console shows
/// it; it is never written to the function's log).
/// The profile name Meta sent with a customer's message (`contacts[].profile.name`), if any.
pub fn profile_name(event: &whatsapp::Event) -> Option<&str> {
    match &event.body {
        EventBody::Message(m) => m
            .contact
            .profile_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty()),
        _ => None,
    }
}

pub fn rules_event(
    event: &whatsapp::Event,
    loaded: &LoadedContact,
) -> Result<(rules::Event, Option<serde_json::Value>), TranslateError> {
    match &event.body {
        EventBody::Message(m) => {
            let at = Timestamp::from_unix(m.timestamp);
            let content = match &m.content {
                MessageContent::RequestWelcome => return Ok((rules::Event::Welcome { at }, None)),
                MessageContent::System { .. } => InboundContent::System,
                MessageContent::ButtonReply(r) | MessageContent::ListReply(r) => {
                    InboundContent::Reply { id: r.id.clone() }
                }
                MessageContent::Button { payload, text } => InboundContent::QuickReply {
                    payload: payload.clone(),
                    text: text.clone(),
                },
                _ => InboundContent::Message,
            };
            let context = m
                .context
                .as_ref()
                .and_then(|c| c.id.as_deref())
                .filter(|id| !id.is_empty())
                .map(MessageId::new)
                .transpose()?;
            let outreach = context
                .as_ref()
                .and_then(|wamid| loaded.outreach_by_wamid(wamid))
                .cloned();
            let referral = m.referral.as_ref().map(|r| Referral {
                source_type: r.source_type.clone().unwrap_or_else(|| "unknown".into()),
                source_id: r.source_id.clone(),
                source_url: r.source_url.clone(),
                headline: r.headline.clone(),
                ctwa_clid: r.ctwa_clid.clone(),
            });
            let mut body = serde_json::to_value(&m.content).ok();
            // WIN-3: the ad or post the message came from is shown with it in the log, as Meta
            // sent it.
            if let (Some(referral), Some(serde_json::Value::Object(fields))) =
                (&m.referral, body.as_mut())
                && let Ok(value) = serde_json::to_value(referral)
            {
                fields.insert("referral".into(), value);
            }
            // HOOK-6: an impossible stamp of Meta's, replaced by the arrival time at the edge, is
            // shown with the message in the log.
            if let (Some(stamped), Some(serde_json::Value::Object(fields))) =
                (m.replaced_timestamp, body.as_mut())
            {
                fields.insert("replaced_timestamp".into(), stamped.into());
            }
            Ok((
                rules::Event::Inbound(rules::Inbound {
                    id: MessageId::new(m.id.clone())?,
                    at,
                    content,
                    context,
                    outreach,
                    referral,
                }),
                body,
            ))
        }
        EventBody::TimerFired(t) => {
            let kind = timers::wake_up::parse_kind(&t.timer)
                .ok_or_else(|| TranslateError::UnknownTimer(t.timer.clone()))?;
            Ok((
                rules::Event::TimerFired {
                    kind,
                    token: t.token,
                },
                None,
            ))
        }
        EventBody::Lane(l) => Ok((l.event.clone(), None)),
        _ => Err(TranslateError::NotInbound(event.kind_name())),
    }
}

//! The sending verdict (SEND-1..5, CHAN-1, WIN-5, TPL-1, TPL-5, CAMP-3, CAMP-5, BILL-3): what the
//! sender does with one send job, decided from what it read and `now`, with no I/O.
//!
//! The sender prefetches (the send record, the contact's state, the pacing, the template, the
//! campaign), holds the key, asks [`verdict`] and executes the answer: refuse with a reason, park,
//! wait until a time, put a campaign contact back in the hopper, or go with the exact message, the
//! pacing to write with the call and the cost prediction. The engine's agent sends and the
//! console's send endpoint ask [`may_go`], the same "may this go now, and how" the sender uses.
//! After a failure, [`after_failure`] is the one plan both the send path (Meta refused the call)
//! and the status path (a `failed` status webhook) carry out.

use crate::billing::{
    self, BillingHistory, ChargePrediction, PricingModel, PricingSchedule, RateTable,
    SendForBilling, ServiceMessages,
};
use crate::campaign::{Campaign, SendingGate};
use crate::channel::{self, MessageKind, RefusalReason, SendPermission, Sender};
use crate::effect::{OutboundContent, SendPurpose, SendRequest, TemplateHeader};
use crate::ids::{CampaignId, Channel, ContactKey, OutreachId, TemplateName};
use crate::outreach::{ButtonPayload, OutreachKey};
use crate::pacing::{
    Millis, NumberPacing, PacingSettings, RecipientPace, SendPace, SendSlotRequest,
};
use crate::send_error::{
    CampaignContactFate, ErrorClass, FailureAction, FailurePlan, RetryPolicy, SendFailure,
    plan_after_failure,
};
use crate::state::ContactState;
use crate::templates::{
    ContactFields, Header, RenderedParameters, Template, TemplateCatalogue, TemplateCategory,
    TemplateChange, TemplateEvent, TemplateStatus, render_parameters,
};
use crate::time::{Duration, Timestamp};
use crate::window::{self, Windows};

/// CHAN-1 / WIN-5: may this message go now, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MayGo {
    /// As it is (possibly with a tag or billed: the channel's business).
    Go,
    /// The window is closed and the caller asked for it: the number's recontact template goes
    /// instead of the free-form message.
    AsRecontactTemplate,
    /// Not now, with the reason a support desk reads.
    Refuse(String),
}

/// CHAN-1 and WIN-5 in one answer: the engine (an agent's send decided in the lane), the console
/// (a send checked before it is queued) and the sender (at send time, SEND-1) all ask this.
pub fn may_go(
    channel: Channel,
    last_inbound_at: Option<Timestamp>,
    kind: MessageKind,
    who: Sender,
    recontact_if_closed: bool,
    now: Timestamp,
) -> MayGo {
    match channel::may_send(channel, last_inbound_at, kind, who, now) {
        SendPermission::Allowed
        | SendPermission::AllowedWithTag(_)
        | SendPermission::AllowedBilled => MayGo::Go,
        SendPermission::TemplateOnly if recontact_if_closed && kind == MessageKind::FreeForm => {
            MayGo::AsRecontactTemplate
        }
        SendPermission::TemplateOnly => MayGo::Refuse(
            RefusalReason::WindowClosedTemplatesOnly
                .describe()
                .to_owned(),
        ),
        SendPermission::Refused(r) => MayGo::Refuse(r.describe().to_owned()),
    }
}

/// The start of the refusal when the window is closed and the recontact template asked for
/// cannot be sent (WIN-5).
const NO_RECONTACT_TEMPLATE: &str = "window closed and no recontact template can be sent";

/// OPS-2: whether a refusal's reason is a window refusal (CHAN-1 / WIN-5: the customer service
/// window or the channel's period is closed), and which, as a metric label: the
/// [`RefusalReason`]'s snake_case name, or `no_recontact_template`. `None` for every other
/// refusal (campaign, template, content, billing). A label is a fixed name, never the text.
pub fn window_refusal(reason: &str) -> Option<&'static str> {
    if reason.starts_with(NO_RECONTACT_TEMPLATE) {
        return Some("no_recontact_template");
    }
    RefusalReason::ALL
        .into_iter()
        .find(|r| r.describe() == reason)
        .map(RefusalReason::label)
}

/// CHAN-1: who sends, for the `HUMAN_AGENT` tag. An agent's console send, or any send made for an
/// agent's purpose, is a person's; everything else (bot, automation, campaign) is not.
pub fn sender_of(console_agent: bool, purpose: SendPurpose) -> Sender {
    if console_agent || purpose == SendPurpose::Agent {
        Sender::Agent
    } else {
        Sender::Automation
    }
}

/// SEND-2 131048: what counts as campaign traffic (held while it is paused on the number): a
/// campaign's own sends, and anything sent for a campaign's purpose.
pub fn is_campaign_traffic(from_campaign: bool, purpose: SendPurpose) -> bool {
    from_campaign || purpose == SendPurpose::Campaign
}

/// DECISIONS 21: a send whose call may have reached Meta, and that no status named in time, is
/// not sent again when it is a marketing template, or a template whose category is unknown (the
/// catalogue no longer has it): a customer must never get a marketing message twice.
pub fn ambiguous_send_is_final(template: Option<Option<TemplateCategory>>) -> bool {
    match template {
        None => false,
        Some(category) => category.is_none_or(|c| c == TemplateCategory::Marketing),
    }
}

/// BILL-4's third entry: the service messages predicted this calendar month (UTC) count toward
/// the free tier. Whether the sender must count them before predicting a send.
pub fn needs_month_service_count(
    schedule: &PricingSchedule,
    kind: billing::MessageKind,
    at: Timestamp,
) -> bool {
    matches!(
        (kind, schedule.rule_at(at).model),
        (
            billing::MessageKind::FreeForm,
            PricingModel::PerMessage {
                service: ServiceMessages::FreeUpTo { .. },
                ..
            }
        )
    )
}

/// TPL-5 / WIN-5: the number's recontact template, rendered for the contact. Decision: the
/// approved, flagged template first by name and language (a number normally flags one).
pub fn recontact_content(
    catalogue: &TemplateCatalogue,
    fields: &ContactFields,
) -> Result<(Template, OutboundContent), String> {
    let mut candidates: Vec<&Template> = catalogue.recontact_candidates().collect();
    candidates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    let chosen = candidates.first().map(|t| (&t.name, t.language.as_str()));
    let template = catalogue
        .recontact_template(chosen)
        .map_err(|e| format!("{NO_RECONTACT_TEMPLATE}: {e}"))?;
    let rendered = render_parameters(template, fields)
        .map_err(|e| e.to_string())
        .and_then(|p| template_header(template, &p).map(|header| (p, header)));
    match rendered {
        Ok((parameters, header)) => Ok((
            template.clone(),
            OutboundContent::Template {
                name: template.name.clone(),
                language: template.language.clone(),
                header,
                parameters: parameters.body,
                button_payloads: Vec::new(),
            },
        )),
        Err(e) => Err(format!(
            "the recontact template cannot be filled for this contact: {e}"
        )),
    }
}

/// A template's header parameter for an automatic send (a campaign's, the recontact template):
/// a text header's rendered variable; a media header needs a source per send, which automatic
/// sends do not have.
pub fn template_header(
    template: &Template,
    rendered: &RenderedParameters,
) -> Result<Option<TemplateHeader>, String> {
    match &template.header {
        Some(Header::Text(_)) => Ok(rendered
            .header
            .first()
            .map(|text| TemplateHeader::Text { text: text.clone() })),
        Some(Header::Image | Header::Video | Header::Document | Header::Location) => Err(format!(
            "template {} has a media header: it needs a media source for each send",
            template.name
        )),
        None => Ok(None),
    }
}

/// OUT-10: every template with buttons that the business sends to one contact is an outreach,
/// whoever sends it. A campaign's send and the console's outreach action come with their outreach
/// planned; an agent's template through the message endpoint (or a bot's) reaches the sender
/// through the contact's lane without one, and is an outreach all the same when the catalogue's
/// template, the one sent, has buttons. The answer is its quick replies' titles in order (each
/// carries an OUT-8 payload); a template whose buttons are all calls to action is an outreach
/// without payloads (a reply quoting it still counts, OUT-ACT-1). `None`: not an outreach
/// (free-form, a template without buttons, or one the catalogue does not have).
pub fn outreach_buttons(
    content: &OutboundContent,
    template: Option<&Template>,
) -> Option<Vec<String>> {
    match (content, template) {
        (OutboundContent::Template { name, language, .. }, Some(t))
            if &t.name == name && &t.language == language && !t.buttons.is_empty() =>
        {
            Some(t.quick_replies().map(str::to_owned).collect())
        }
        _ => None,
    }
}

/// The campaign a send belongs to, as the sender read it.
#[derive(Debug, Clone, Copy)]
pub enum CampaignRead<'a> {
    /// Not a campaign's send.
    None,
    /// A campaign's send whose campaign does not exist (deleted).
    Missing(&'a CampaignId),
    Found {
        id: &'a CampaignId,
        campaign: &'a Campaign,
    },
}

/// The pacing the sender read (SEND-3, CAMP-5).
#[derive(Debug, Clone, Copy)]
pub struct PacingRead<'a> {
    pub settings: PacingSettings,
    pub number: &'a NumberPacing,
    pub recipient: &'a RecipientPace,
    /// The pacing kept changing under this sender (concurrent sends): wait a second instead.
    pub contended: bool,
    /// CAMP-5: a campaign contact that would wait longer than this goes back to the hopper (the
    /// campaign's next tick issues it again) instead of waiting on the queue.
    pub hopper_beyond: Duration,
}

/// The outreach a template send creates (OUT-8, OUT-10).
#[derive(Debug, Clone, Copy)]
pub struct OutreachRead<'a> {
    pub id: &'a OutreachId,
    pub buttons: usize,
    pub key: &'a OutreachKey,
}

/// What the cost prediction needs (BILL-3..6).
#[derive(Debug, Clone, Copy)]
pub struct BillingRead<'a> {
    pub schedule: &'a PricingSchedule,
    pub rates: &'a RateTable,
    /// BILL-5: the contact's open billing conversations.
    pub history: &'a BillingHistory,
    /// The number's service messages this month, when [`needs_month_service_count`] asked for
    /// them (`None`: not read).
    pub service_messages_this_month: Option<u32>,
}

/// Everything one send's verdict depends on.
#[derive(Clone, Copy)]
pub struct SendCase<'a> {
    pub contact: &'a ContactKey,
    pub request: &'a SendRequest,
    /// Sent by an agent through the console.
    pub console_agent: bool,
    pub campaign: CampaignRead<'a>,
    /// The contact's state (`None`: the router never wrote it).
    pub state: Option<&'a ContactState>,
    /// The job's template as read (`None`: not a template, or not in the catalogue).
    pub template: Option<&'a Template>,
    /// WIN-5: the recontact template, once the sender read it after [`Need::Recontact`].
    pub recontact: Option<&'a Result<(Template, OutboundContent), String>>,
    pub pacing: PacingRead<'a>,
    pub outreach: Option<OutreachRead<'a>>,
    pub billing: BillingRead<'a>,
    /// SEND-5: Meta's limits on the content, checked by the same code the console uses
    /// (`whatsapp::Outgoing::try_from`); the rules crate does not know the wire format.
    pub check_content: &'a (dyn Fn(&OutboundContent) -> Result<(), String> + Sync),
}

/// What happens to a campaign's contact row with a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowStep {
    /// Not a campaign's send, or nothing to do.
    None,
    /// The row is released: back to the hopper, issued again by a later tick (CAMP-5, a closed
    /// campaign, a template that may not be sent).
    Release,
    /// CAMP-3: another campaign's interaction is open: the contact waits in `pending`.
    OtherCampaignOpen { other: CampaignId },
    /// TPL-1 / SEND-2 132015: the template is paused; the row is released and the campaign is
    /// held until the template is approved again.
    ReleaseAndHoldCampaign,
}

/// What a parked send waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkOn {
    /// SEND-2: a person resumes the stopped number.
    NumberResumed,
    /// TPL-1: the template is approved again.
    TemplateApproved {
        name: TemplateName,
        language: String,
    },
}

/// Something the sender must read before the verdict can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// WIN-5: the number's catalogue and the contact's fields, for [`recontact_content`].
    Recontact,
    /// BILL-4: the number's service messages this month.
    ServiceMessagesThisMonth,
}

/// A send that goes: the call to make and what to write with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Go {
    /// The message exactly as it goes out (the recontact template in place of free-form, OUT-8
    /// payloads on an outreach's buttons).
    pub content: OutboundContent,
    /// The template sent, when a template is sent.
    pub template: Option<Template>,
    /// The pacing after this send took its slot (written with the call).
    pub number: NumberPacing,
    pub recipient: RecipientPace,
    /// When the slot is (the send time).
    pub at: Millis,
    pub prediction: ChargePrediction,
    /// BILL-5: the contact's billing history to write back with the pacing (expired
    /// conversations dropped). The conversation this send opens is not in it: it joins the
    /// history once Meta accepted the send ([`ChargePrediction::opened_conversation`]), so a
    /// refused call leaves no conversation behind.
    pub history: BillingHistory,
    /// What the prediction costs by the rate table (0 when free or without a rate).
    pub predicted_micros: i64,
    /// OUT-8: the outreach's send time carried by its payloads.
    pub outreach_sent_at: Option<Timestamp>,
}

/// The sending verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not sent, for good, with the reason (SEND-5: shown in the contact's log as `refused`).
    Refuse {
        reason: String,
        row: RowStep,
    },
    /// Held until something a person or Meta does.
    Park(ParkOn),
    /// Not yet: try again at this time.
    WaitUntil {
        at: Millis,
        because: String,
    },
    /// Read this, then ask again.
    Need(Need),
    Go(Box<Go>),
}

fn refuse(reason: impl Into<String>, row: RowStep) -> Verdict {
    Verdict::Refuse {
        reason: reason.into(),
        row,
    }
}

/// SEND-1..5, CAMP-3, CAMP-5, CAMP-10, TPL-1, WIN-5, BILL-3: the verdict on one send at `now`.
pub fn verdict(case: &SendCase<'_>, now: Millis) -> Verdict {
    let at = Timestamp::from_unix(now.div_euclid(1000));
    let request = case.request;
    // CAMP-10: a stopped (or ended, or deleted) campaign sends nothing more.
    let campaign = match case.campaign {
        CampaignRead::None => None,
        CampaignRead::Missing(id) => {
            return refuse(format!("campaign {id} does not exist"), RowStep::None);
        }
        CampaignRead::Found { id, campaign } => {
            if campaign.sending_gate(at) != SendingGate::Open {
                return refuse(
                    format!("campaign {id} is {}", campaign.status()),
                    RowStep::Release,
                );
            }
            Some(id)
        }
    };
    // SEND-2: a stopped number holds every send until a person resumes it.
    if case.pacing.number.stopped {
        return Verdict::Park(ParkOn::NumberResumed);
    }
    let (channel, windows) = case
        .state
        .map(|s| (s.channel, s.windows.clone()))
        .unwrap_or((Channel::WhatsApp, Windows::default()));
    // CAMP-3: another campaign's interaction is open: the contact waits in `pending`.
    if let (Some(id), Some(open)) = (campaign, case.state.and_then(|s| s.campaign.as_ref()))
        && &open.campaign != id
        && at <= open.respond_by
    {
        return refuse(
            format!(
                "CAMP-3: campaign {} has an interaction open with the contact",
                open.campaign
            ),
            RowStep::OtherCampaignOpen {
                other: open.campaign.clone(),
            },
        );
    }
    // SEND-1 / WIN-5 / CHAN-1: the window and the channel, now.
    let who = sender_of(case.console_agent, request.purpose);
    let (mut content, template) = match may_go(
        channel,
        windows.last_inbound_at,
        request.content.kind(),
        who,
        request.recontact_if_closed,
        at,
    ) {
        MayGo::Go => (request.content.clone(), case.template),
        MayGo::AsRecontactTemplate => match case.recontact {
            None => return Verdict::Need(Need::Recontact),
            Some(Err(reason)) => return refuse(reason.clone(), RowStep::None),
            Some(Ok((template, content))) => (content.clone(), Some(template)),
        },
        MayGo::Refuse(reason) => return refuse(reason, RowStep::None),
    };
    // SEND-5: Meta's limits on the content.
    if let Err(e) = (case.check_content)(&content) {
        return refuse(format!("invalid message: {e}"), RowStep::None);
    }
    // TPL-1: only APPROVED templates are sent; a paused one holds the send (or the campaign).
    if let OutboundContent::Template { name, language, .. } = &content {
        match template {
            None => {
                return refuse(
                    format!("template {name} ({language}) is not in the number's catalogue"),
                    RowStep::None,
                );
            }
            Some(t) if t.status == TemplateStatus::Paused => {
                if campaign.is_some() {
                    return refuse(
                        format!(
                            "template {} is paused; the campaign resumes when it is approved",
                            t.name
                        ),
                        RowStep::ReleaseAndHoldCampaign,
                    );
                }
                return Verdict::Park(ParkOn::TemplateApproved {
                    name: t.name.clone(),
                    language: t.language.clone(),
                });
            }
            Some(t) => {
                if let Err(e) = t.check_sendable() {
                    return refuse(e.to_string(), RowStep::Release);
                }
            }
        }
    }
    let window = window::window(&windows, channel, at);
    // BILL-3 needs this month's service count under the 2026 entry.
    let kind = match template {
        Some(t) if matches!(content, OutboundContent::Template { .. }) => {
            billing::MessageKind::Template(t.category)
        }
        _ => billing::MessageKind::FreeForm,
    };
    let service_messages_this_month = match case.billing.service_messages_this_month {
        Some(n) => n,
        None if needs_month_service_count(case.billing.schedule, kind, at) => {
            return Verdict::Need(Need::ServiceMessagesThisMonth);
        }
        None => 0,
    };
    // SEND-3 / CAMP-5: pace it; what does not fit waits.
    if case.pacing.contended {
        return Verdict::WaitUntil {
            at: now + 1_000,
            because: "pacing state contended".into(),
        };
    }
    let mut number = case.pacing.number.clone();
    let mut recipient = *case.pacing.recipient;
    match number.pace(
        &case.pacing.settings,
        &mut recipient,
        SendSlotRequest {
            contact: case.contact,
            campaign: is_campaign_traffic(campaign.is_some(), request.purpose),
            outside_service_window: !window.is_open(),
            now,
        },
    ) {
        SendPace::Go { .. } => {}
        SendPace::Wait { at: until, because }
            if campaign.is_some()
                && until - now > case.pacing.hopper_beyond.as_seconds() * 1000 =>
        {
            return refuse(
                format!("CAMP-5: back in the hopper until the limits allow ({because:?})"),
                RowStep::Release,
            );
        }
        SendPace::Wait { at: until, because } => {
            return Verdict::WaitUntil {
                at: until,
                because: format!("{because:?}"),
            };
        }
        SendPace::Stopped => return Verdict::Park(ParkOn::NumberResumed),
    }
    // OUT-8 / OUT-10: an outreach's buttons carry its id and send time.
    let outreach_sent_at = match (case.outreach, &mut content) {
        (
            Some(plan),
            OutboundContent::Template {
                button_payloads, ..
            },
        ) => {
            let mut payloads = Vec::with_capacity(plan.buttons);
            for button in 0..plan.buttons.min(u8::MAX as usize) {
                let payload = ButtonPayload {
                    outreach: plan.id.clone(),
                    sent_at: at,
                    button: button as u8,
                };
                match payload.encode(plan.key) {
                    Ok(p) => payloads.push(p),
                    Err(e) => return refuse(format!("outreach: {e}"), RowStep::None),
                }
            }
            *button_payloads = payloads;
            Some(at)
        }
        _ => None,
    };
    // BILL-3 / BILL-5: what it will cost, from the contact's open billing conversations.
    let predicted = match billing::predict(
        case.billing.schedule,
        &SendForBilling {
            sent_at: at,
            kind,
            service_window_open: window.is_open(),
            free_entry_point_open: window.free_entry_point_open(),
            service_messages_this_month,
        },
        case.billing.history,
    ) {
        Ok(p) => p,
        Err(e) => return refuse(e.to_string(), RowStep::None),
    };
    let predicted_micros = case
        .billing
        .rates
        .cost(&predicted.prediction, case.contact.as_str())
        .map_or(0, |m| m.micros);
    Verdict::Go(Box::new(Go {
        content,
        template: template.cloned(),
        number,
        recipient,
        at: now,
        prediction: predicted.prediction,
        history: case.billing.history.current(at),
        predicted_micros,
        outreach_sent_at,
    }))
}

/// SEND-2 132015 / TPL-1 (issue 16, case 11): Meta says the template is paused: the catalogue
/// shows it `PAUSED` (so nothing else tries it, and the console says why) until Meta's next
/// status event (approved again) supersedes this one.
pub fn template_event_after_failure(
    plan: &FailurePlan,
    name: &TemplateName,
    language: &str,
    at: Timestamp,
) -> Option<TemplateEvent> {
    (plan.class == ErrorClass::TemplatePaused).then(|| TemplateEvent {
        name: name.clone(),
        language: language.to_owned(),
        at,
        change: TemplateChange::Status {
            status: TemplateStatus::Paused,
            reason: Some(plan.reason.clone()),
        },
    })
}

/// What the message itself does after a failure (SEND-2, SEND-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Tried again at this time (SEND-4 backoff; the recipient's 4^n wait when later).
    RetryAt(Millis),
    /// TPL-1 / 132015: held until the template is approved again.
    HoldForTemplate,
    /// SEND-2: held until a person resumes the number.
    HoldForNumber,
    /// Failed for good, with the plan's reason.
    Fail,
}

/// One failed attempt as the sender knows it.
#[derive(Debug, Clone, Copy)]
pub struct FailedAttempt {
    pub failure: SendFailure,
    /// Attempts made so far, this one included (from 1).
    pub attempt: u32,
    /// When the message was asked for (SEND-4: it is given up 24 h after).
    pub first_attempt_at: Timestamp,
    /// Earlier 131056 failures for this recipient.
    pub pair_rate_failures: u32,
    /// When the recipient may be sent to again (131056), if later.
    pub recipient_free_at: Option<Millis>,
    /// Mixed into SEND-4's jitter so that many failures do not retry in step (the send's key).
    pub jitter_seed: u64,
    /// A campaign's send: the campaign's row carries what follows (CAMP-6).
    pub campaign: bool,
}

/// SEND-2 / SEND-4 / CAMP-6: the one plan after a failure, for the send path and the status path.
/// Returns the classified plan (number and recipient effects, the campaign contact's fate) and
/// what the message does.
pub fn after_failure(
    failed: &FailedAttempt,
    policy: &RetryPolicy,
    now: Millis,
) -> (FailurePlan, AfterFailure) {
    let at = Timestamp::from_unix(now.div_euclid(1000));
    let mut plan = plan_after_failure(
        &failed.failure,
        failed.attempt,
        failed.pair_rate_failures,
        policy,
    );
    if let Some(after) = plan.retry_after
        && plan.class == ErrorClass::ServiceError
    {
        // SEND-4: a service error's retries are spread with jitter, and given up after the
        // time allowed.
        let after = policy.jittered(after, failed.jitter_seed ^ u64::from(failed.attempt));
        if at + after > failed.first_attempt_at + policy.give_up_after {
            plan.retry_after = None;
            plan.campaign_contact = CampaignContactFate::Retry { after: None };
            plan.reason = format!(
                "{} (given up: {} attempts since {})",
                plan.reason, failed.attempt, failed.first_attempt_at
            );
        } else {
            plan.retry_after = Some(after);
            plan.campaign_contact = CampaignContactFate::Retry { after: Some(after) };
        }
    } else if matches!(
        plan.campaign_contact,
        CampaignContactFate::Retry { after: None }
    ) {
        plan.reason = format!(
            "{} (given up after {} attempts)",
            plan.reason, failed.attempt
        );
    }
    let next = match (plan.retry_after, plan.action) {
        (Some(after), _) => AfterFailure::RetryAt(
            (now + after.as_seconds() * 1000).max(failed.recipient_free_at.unwrap_or(0)),
        ),
        (None, FailureAction::HoldUntilTemplateApproved) if !failed.campaign => {
            AfterFailure::HoldForTemplate
        }
        (None, FailureAction::StopNumberAndAlert) if !failed.campaign => {
            AfterFailure::HoldForNumber
        }
        _ => AfterFailure::Fail,
    };
    (plan, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::ListId;
    use crate::campaign::{CampaignSettings, Handoff};
    use crate::ids::BusinessNumberId;
    use crate::pacing::millis;
    use crate::state::CampaignInteraction;
    use crate::templates::Button;

    const T0: i64 = 1_780_000_000; // 2026-05-28, per-message pricing
    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(T0 + s)
    }
    fn ok(_: &OutboundContent) -> Result<(), String> {
        Ok(())
    }
    fn too_long(c: &OutboundContent) -> Result<(), String> {
        match c {
            OutboundContent::Text { body } if body.len() > 10 => {
                Err("text.body is too long".into())
            }
            _ => Ok(()),
        }
    }
    fn approved(name: &str, category: TemplateCategory) -> Template {
        let mut tpl = Template::new(TemplateName::new(name).unwrap(), "en", category, "Hello");
        tpl.status = TemplateStatus::Approved;
        tpl.buttons = vec![Button::QuickReply { text: "Yes".into() }];
        tpl
    }
    fn template_content(name: &str) -> OutboundContent {
        OutboundContent::Template {
            name: TemplateName::new(name).unwrap(),
            language: "en".into(),
            header: None,
            parameters: vec![],
            button_payloads: vec![],
        }
    }
    fn request(purpose: SendPurpose, content: OutboundContent, recontact: bool) -> SendRequest {
        SendRequest {
            purpose,
            content,
            conversation: None,
            recontact_if_closed: recontact,
        }
    }
    fn state(last_inbound: Option<i64>) -> ContactState {
        let mut s = ContactState::new(
            BusinessNumberId::new("100").unwrap(),
            ContactKey::new("393330000001").unwrap(),
        );
        s.windows.last_inbound_at = last_inbound.map(t);
        s
    }
    fn campaign(id: &str) -> Campaign {
        let template = approved("promo", TemplateCategory::Marketing);
        let mut c = Campaign::new(
            CampaignId::new(id).unwrap(),
            CampaignSettings {
                name: "Promo".into(),
                template: template.name.clone(),
                language: "en".into(),
                lists: vec![ListId::new("all").unwrap()],
                starts_at: t(0),
                ends_at: t(86_400),
                response_timeout: Duration::hours(24),
                retry_enabled: true,
                handoff: Handoff::default(),
            },
        )
        .unwrap();
        c.start(&template, t(0)).unwrap();
        c
    }

    struct Fixture {
        contact: ContactKey,
        number: NumberPacing,
        recipient: RecipientPace,
        schedule: PricingSchedule,
        rates: RateTable,
        history: BillingHistory,
        key: OutreachKey,
        outreach: OutreachId,
    }
    fn fixture() -> Fixture {
        Fixture {
            contact: ContactKey::new("393330000001").unwrap(),
            number: NumberPacing::default(),
            recipient: RecipientPace::default(),
            schedule: PricingSchedule::meta_announced(),
            rates: RateTable::default(),
            history: BillingHistory::default(),
            key: OutreachKey::new(b"k".to_vec()),
            outreach: OutreachId::new("o1").unwrap(),
        }
    }
    fn case<'a>(
        f: &'a Fixture,
        request: &'a SendRequest,
        state: Option<&'a ContactState>,
        template: Option<&'a Template>,
    ) -> SendCase<'a> {
        SendCase {
            contact: &f.contact,
            request,
            console_agent: false,
            campaign: CampaignRead::None,
            state,
            template,
            recontact: None,
            pacing: PacingRead {
                settings: PacingSettings::default(),
                number: &f.number,
                recipient: &f.recipient,
                contended: false,
                hopper_beyond: Duration::minutes(1),
            },
            outreach: None,
            billing: BillingRead {
                schedule: &f.schedule,
                rates: &f.rates,
                history: &f.history,
                service_messages_this_month: Some(0),
            },
            check_content: &ok,
        }
    }
    fn reason(v: &Verdict) -> &str {
        match v {
            Verdict::Refuse { reason, .. } => reason,
            other => panic!("not a refusal: {other:?}"),
        }
    }

    #[test]
    fn ops_2_window_refusals_are_labelled_by_reason_and_nothing_else_is() {
        let at = t(0);
        let closed = Some(t(-25 * 3600));
        let refusal =
            |channel, who| match may_go(channel, closed, MessageKind::FreeForm, who, false, at) {
                MayGo::Refuse(reason) => reason,
                other => panic!("not refused: {other:?}"),
            };
        assert_eq!(
            window_refusal(&refusal(Channel::WhatsApp, Sender::Agent)),
            Some("window_closed_templates_only")
        );
        for r in RefusalReason::ALL {
            assert_eq!(window_refusal(r.describe()), Some(r.label()));
        }
        let missing = recontact_content(&TemplateCatalogue::default(), &ContactFields::default())
            .unwrap_err();
        assert_eq!(window_refusal(&missing), Some("no_recontact_template"));
        for other in [
            "campaign c1 is stopped",
            "invalid message: too long",
            "CAMP-5: back",
        ] {
            assert_eq!(window_refusal(other), None, "{other}");
        }
    }

    // CHAN-1 / WIN-5: the one "may this go now, and how".
    #[test]
    fn chan_1_win_5_may_go_table() {
        type Case = (
            Channel,
            Option<i64>,
            MessageKind,
            Sender,
            bool,
            &'static str,
        );
        let cases: &[Case] = &[
            (
                Channel::WhatsApp,
                Some(0),
                MessageKind::FreeForm,
                Sender::Agent,
                false,
                "go",
            ),
            (
                Channel::WhatsApp,
                None,
                MessageKind::FreeForm,
                Sender::Agent,
                false,
                "refuse",
            ),
            (
                Channel::WhatsApp,
                None,
                MessageKind::FreeForm,
                Sender::Agent,
                true,
                "recontact",
            ),
            (
                Channel::WhatsApp,
                None,
                MessageKind::Template,
                Sender::Automation,
                true,
                "go",
            ),
            (
                Channel::Messenger,
                Some(-30 * 3600),
                MessageKind::FreeForm,
                Sender::Agent,
                false,
                "go",
            ),
            (
                Channel::Messenger,
                Some(-30 * 3600),
                MessageKind::FreeForm,
                Sender::Automation,
                true,
                "refuse",
            ),
            (
                Channel::Email,
                None,
                MessageKind::Template,
                Sender::Agent,
                true,
                "refuse",
            ),
        ];
        for (channel, inbound, kind, who, recontact, expected) in cases {
            let got = may_go(*channel, inbound.map(t), *kind, *who, *recontact, t(0));
            let name = match got {
                MayGo::Go => "go",
                MayGo::AsRecontactTemplate => "recontact",
                MayGo::Refuse(_) => "refuse",
            };
            assert_eq!(
                name, *expected,
                "{channel:?} {inbound:?} {kind:?} {who:?} {recontact}"
            );
        }
        assert_eq!(sender_of(false, SendPurpose::Agent), Sender::Agent);
        assert_eq!(sender_of(true, SendPurpose::Bot), Sender::Agent);
        assert_eq!(sender_of(false, SendPurpose::Csat), Sender::Automation);
        assert!(is_campaign_traffic(false, SendPurpose::Campaign));
        assert!(is_campaign_traffic(true, SendPurpose::Agent));
        assert!(!is_campaign_traffic(false, SendPurpose::Agent));
    }

    // DECISIONS 21: an ambiguous marketing (or unknown) template is not sent again.
    #[test]
    fn send_2_ambiguous_marketing_is_final() {
        assert!(!ambiguous_send_is_final(None));
        assert!(ambiguous_send_is_final(Some(None)));
        assert!(ambiguous_send_is_final(Some(Some(
            TemplateCategory::Marketing
        ))));
        assert!(!ambiguous_send_is_final(Some(Some(
            TemplateCategory::Utility
        ))));
    }

    // SEND-1 / WIN-5 / SEND-5 / TPL-1: the verdict's refusals, parks and goes, as a table.
    // BILL-5: the verdict predicts from the contact's billing history and hands back what to
    // write (expired conversations dropped; the new one joins once Meta accepted).
    #[test]
    fn bill_5_verdict_predicts_from_the_contacts_history() {
        use crate::billing::{BilledConversation, ConversationUse, FreeReason, PricingCategory};
        // 2025-03-10 09:00 UTC: conversation-based pricing.
        let h0 = 1_741_597_200;
        let at = |h: i64| Timestamp::from_unix(h0 + h * 3600);
        let mut f = fixture();
        f.history = BillingHistory {
            conversations: vec![
                BilledConversation {
                    category: PricingCategory::Marketing,
                    opened_at: at(0),
                    expires_at: at(24),
                },
                BilledConversation {
                    category: PricingCategory::Utility,
                    opened_at: at(-30),
                    expires_at: at(-6),
                },
            ],
        };
        let mut s = state(None);
        s.windows.last_inbound_at = Some(at(4));
        let text = request(SendPurpose::Agent, OutboundContent::text("hi"), false);
        let Verdict::Go(go) = verdict(&case(&f, &text, Some(&s), None), millis(at(5))) else {
            panic!()
        };
        assert_eq!(go.prediction.category, PricingCategory::Marketing);
        assert!(matches!(
            go.prediction.conversation,
            Some(ConversationUse::Continued { .. })
        ));
        assert_eq!(
            go.prediction.free_reason,
            Some(FreeReason::ConversationOpen)
        );
        assert_eq!(go.prediction.opened_conversation(), None);
        assert_eq!(go.history.conversations, f.history.conversations[..1]);
        // Hour 25: the marketing conversation expired; the text opens a service one.
        let Verdict::Go(go) = verdict(&case(&f, &text, Some(&s), None), millis(at(25))) else {
            panic!()
        };
        assert_eq!(go.prediction.category, PricingCategory::Service);
        assert_eq!(
            go.prediction.opened_conversation().map(|c| c.expires_at),
            Some(at(49))
        );
        assert!(go.history.is_empty());
    }

    #[test]
    fn send_1_verdict_table() {
        let f = fixture();
        let open = state(Some(-3600));
        let closed = state(Some(-30 * 3600));
        let text = request(SendPurpose::Agent, OutboundContent::text("hi"), false);
        let long = request(
            SendPurpose::Agent,
            OutboundContent::text("hello there!"),
            false,
        );
        let text_recontact = request(SendPurpose::Agent, OutboundContent::text("hi"), true);
        let promo = request(SendPurpose::Agent, template_content("promo"), false);
        let promo_t = approved("promo", TemplateCategory::Marketing);
        let mut paused = promo_t.clone();
        paused.status = TemplateStatus::Paused;
        let mut rejected = promo_t.clone();
        rejected.status = TemplateStatus::Rejected;

        // Inside the CSW: a text goes, free.
        let v = verdict(&case(&f, &text, Some(&open), None), millis(t(0)));
        let Verdict::Go(go) = v else { panic!("{v:?}") };
        assert_eq!(go.content, OutboundContent::text("hi"));
        assert!(!go.prediction.charged);
        // Outside: refused with the reason, or the recontact template is needed.
        let v = verdict(&case(&f, &text, Some(&closed), None), millis(t(0)));
        assert!(reason(&v).contains("templates only"), "{v:?}");
        let v = verdict(
            &case(&f, &text_recontact, Some(&closed), None),
            millis(t(0)),
        );
        assert_eq!(v, Verdict::Need(Need::Recontact));
        let recontact_t = approved("come_back", TemplateCategory::Utility);
        let read = Ok((recontact_t.clone(), template_content("come_back")));
        let mut c = case(&f, &text_recontact, Some(&closed), None);
        c.recontact = Some(&read);
        let Verdict::Go(go) = verdict(&c, millis(t(0))) else {
            panic!()
        };
        assert_eq!(go.content, template_content("come_back"));
        assert!(
            go.prediction.charged,
            "a utility template outside the CSW is charged"
        );
        let missing = Err("window closed and no recontact template can be sent".to_owned());
        c.recontact = Some(&missing);
        assert!(reason(&verdict(&c, millis(t(0)))).contains("no recontact template"));
        // SEND-5: content Meta would refuse is refused with the field named.
        let mut c = case(&f, &long, Some(&open), None);
        c.check_content = &too_long;
        assert!(reason(&verdict(&c, millis(t(0)))).contains("text.body"));
        // TPL-1: unknown, paused (parked), not approved.
        let v = verdict(&case(&f, &promo, Some(&open), None), millis(t(0)));
        assert!(reason(&v).contains("not in the number's catalogue"));
        assert_eq!(
            verdict(&case(&f, &promo, Some(&open), Some(&paused)), millis(t(0))),
            Verdict::Park(ParkOn::TemplateApproved {
                name: promo_t.name.clone(),
                language: "en".into()
            })
        );
        let v = verdict(
            &case(&f, &promo, Some(&open), Some(&rejected)),
            millis(t(0)),
        );
        assert!(
            matches!(
                v,
                Verdict::Refuse {
                    row: RowStep::Release,
                    ..
                }
            ),
            "{v:?}"
        );
        // SEND-2: a stopped number parks everything.
        let mut stopped = fixture();
        stopped.number.stopped = true;
        assert_eq!(
            verdict(&case(&stopped, &text, Some(&open), None), millis(t(0))),
            Verdict::Park(ParkOn::NumberResumed)
        );
        // SEND-3: a throttled number waits.
        let mut throttled = fixture();
        throttled.number.throttled_until = Some(millis(t(60)));
        assert!(matches!(
            verdict(&case(&throttled, &text, Some(&open), None), millis(t(0))),
            Verdict::WaitUntil { at, .. } if at == millis(t(60))
        ));
    }

    // OUT-10: a template with buttons is an outreach whoever sends it; its quick replies are the
    // buttons that carry OUT-8 payloads.
    #[test]
    fn out_10_a_template_with_buttons_is_an_outreach() {
        let quick = approved("offer", TemplateCategory::Marketing); // one quick reply "Yes"
        let mut two = approved("offer", TemplateCategory::Marketing);
        two.buttons = vec![
            Button::QuickReply { text: "Yes".into() },
            Button::Url {
                text: "Shop".into(),
                url: "https://example.com".into(),
            },
            Button::QuickReply { text: "No".into() },
        ];
        let mut links = approved("offer", TemplateCategory::Marketing);
        links.buttons = vec![Button::Url {
            text: "Shop".into(),
            url: "https://example.com".into(),
        }];
        let mut plain = approved("offer", TemplateCategory::Marketing);
        plain.buttons.clear();
        let other = approved("other", TemplateCategory::Marketing);
        let offer = template_content("offer");
        let text = OutboundContent::text("hi");
        let strs = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        type Row<'a> = (
            &'a str,
            &'a OutboundContent,
            Option<&'a Template>,
            Option<Vec<String>>,
        );
        let table: [Row<'_>; 7] = [
            ("quick replies", &offer, Some(&quick), strs(&["Yes"])),
            (
                "quick replies among calls to action, in order",
                &offer,
                Some(&two),
                strs(&["Yes", "No"]),
            ),
            (
                "calls to action only: an outreach without payloads",
                &offer,
                Some(&links),
                strs(&[]),
            ),
            (
                "no buttons: a plain template send",
                &offer,
                Some(&plain),
                None,
            ),
            ("not in the catalogue", &offer, None, None),
            ("another template read", &offer, Some(&other), None),
            ("free-form", &text, Some(&quick), None),
        ];
        for (what, content, template, expected) in table {
            assert_eq!(
                outreach_buttons(content, template),
                expected,
                "OUT-10: {what}"
            );
        }
    }

    // CAMP-3 / CAMP-5 / CAMP-10 / OUT-8: a campaign's send.
    #[test]
    fn camp_3_camp_5_camp_10_campaign_verdicts() {
        let f = fixture();
        let promo_t = approved("promo", TemplateCategory::Marketing);
        let req = request(SendPurpose::Campaign, template_content("promo"), false);
        let c1 = campaign("c1");
        let id = CampaignId::new("c1").unwrap();
        let fresh = state(None);
        let mut c = case(&f, &req, Some(&fresh), Some(&promo_t));
        c.campaign = CampaignRead::Found {
            id: &id,
            campaign: &c1,
        };
        c.outreach = Some(OutreachRead {
            id: &f.outreach,
            buttons: 1,
            key: &f.key,
        });
        // OUT-8: the buttons carry signed payloads.
        let Verdict::Go(go) = verdict(&c, millis(t(10))) else {
            panic!()
        };
        let OutboundContent::Template {
            button_payloads, ..
        } = &go.content
        else {
            panic!()
        };
        assert_eq!(button_payloads.len(), 1);
        let decoded = ButtonPayload::verify(&f.key, &button_payloads[0]).unwrap();
        assert_eq!(decoded.sent_at, t(10));
        assert_eq!(go.outreach_sent_at, Some(t(10)));
        // CAMP-10: ended.
        assert!(matches!(
            verdict(&c, millis(t(90_000))),
            Verdict::Refuse {
                row: RowStep::Release,
                ..
            }
        ));
        // CAMP-3: another campaign's interaction is open.
        let mut busy = state(None);
        busy.campaign = Some(CampaignInteraction {
            campaign: CampaignId::new("c0").unwrap(),
            outreach: OutreachId::new("o0").unwrap(),
            sent_at: t(0),
            respond_by: t(3600),
            hand_off: Default::default(),
            buttons: vec![],
        });
        let mut c3 = c;
        c3.state = Some(&busy);
        assert!(matches!(
            verdict(&c3, millis(t(10))),
            Verdict::Refuse { row: RowStep::OtherCampaignOpen { ref other }, .. } if other.as_str() == "c0"
        ));
        assert!(matches!(verdict(&c3, millis(t(3601))), Verdict::Go(_)));
        // CAMP-5: a long wait sends the contact back to the hopper; a short one waits.
        let mut paused = fixture();
        paused.number.campaign_traffic_paused_until = Some(millis(t(3600)));
        let mut c5 = case(&paused, &req, Some(&fresh), Some(&promo_t));
        c5.campaign = CampaignRead::Found {
            id: &id,
            campaign: &c1,
        };
        let v = verdict(&c5, millis(t(10)));
        assert!(
            matches!(&v, Verdict::Refuse { row: RowStep::Release, reason } if reason.starts_with("CAMP-5")),
            "{v:?}"
        );
        assert!(matches!(
            verdict(&c5, millis(t(3570))),
            Verdict::WaitUntil { .. }
        ));
        // TPL-1: a paused template holds the campaign rather than parking each send.
        let mut paused_t = promo_t.clone();
        paused_t.status = TemplateStatus::Paused;
        c5.template = Some(&paused_t);
        assert!(matches!(
            verdict(&c5, millis(t(10))),
            Verdict::Refuse {
                row: RowStep::ReleaseAndHoldCampaign,
                ..
            }
        ));
        // A deleted campaign.
        c5.campaign = CampaignRead::Missing(&id);
        assert!(reason(&verdict(&c5, millis(t(10)))).contains("does not exist"));
    }

    // SEND-2 132015 (issue 16, case 11): the catalogue shows the template paused; Meta's later
    // approval supersedes it.
    #[test]
    fn send_2_132015_pauses_the_template_in_the_catalogue() {
        let policy = RetryPolicy::default();
        let failed = |code| FailedAttempt {
            failure: SendFailure::Meta {
                code,
                http_status: Some(400),
            },
            attempt: 1,
            first_attempt_at: t(0),
            pair_rate_failures: 0,
            recipient_free_at: None,
            jitter_seed: 0,
            campaign: false,
        };
        let promo = approved("promo", TemplateCategory::Marketing);
        let (plan, next) = after_failure(&failed(132015), &policy, millis(t(0)));
        assert_eq!(next, AfterFailure::HoldForTemplate);
        let event = template_event_after_failure(&plan, &promo.name, "en", t(0)).unwrap();
        let mut catalogue = TemplateCatalogue {
            templates: vec![promo.clone()],
        };
        catalogue.apply(&event);
        assert_eq!(catalogue.templates[0].status, TemplateStatus::Paused);
        assert!(catalogue.templates[0].check_sendable().is_err());
        catalogue.apply(&TemplateEvent {
            at: t(60),
            change: TemplateChange::Status {
                status: TemplateStatus::Approved,
                reason: None,
            },
            ..event
        });
        assert_eq!(catalogue.templates[0].status, TemplateStatus::Approved);
        let (other, _) = after_failure(&failed(131000), &policy, millis(t(0)));
        assert_eq!(
            template_event_after_failure(&other, &promo.name, "en", t(0)),
            None
        );
    }

    // SEND-4: service errors back off from 5 s, doubling with jitter, at most 15 min apart, and
    // fail after 10 attempts or 24 h; the number's throttle doubles while it persists.
    #[test]
    fn send_4_backoff_and_giving_up() {
        let policy = RetryPolicy::default();
        let now = millis(t(0));
        let mut previous = 0;
        let mut total = 0;
        for attempt in 1..=10 {
            let failed = FailedAttempt {
                failure: SendFailure::Meta {
                    code: 131000,
                    http_status: Some(500),
                },
                attempt,
                first_attempt_at: t(0),
                pair_rate_failures: 0,
                recipient_free_at: None,
                jitter_seed: 42,
                campaign: false,
            };
            let (plan, next) = after_failure(&failed, &policy, now);
            assert_eq!(plan.class, ErrorClass::ServiceError);
            if attempt == 10 {
                assert_eq!(next, AfterFailure::Fail, "fails for good after 10 attempts");
                assert!(
                    plan.reason.contains("given up after 10 attempts"),
                    "{}",
                    plan.reason
                );
                continue;
            }
            let AfterFailure::RetryAt(at) = next else {
                panic!("{next:?}")
            };
            let delay = (at - now) / 1000;
            assert!(delay >= 5, "attempt {attempt}: {delay} s");
            assert!(delay <= 15 * 60, "attempt {attempt}: {delay} s");
            if attempt > 1 && delay < 15 * 60 * 3 / 4 {
                assert!(delay > previous, "doubling: {previous} then {delay}");
            }
            previous = delay;
            total += delay;
        }
        // Ten minutes of 131000 now costs a handful of calls, not 105.
        assert!(total > 600, "{total}");
        // Jitter: two keys do not retry in step.
        let delays: std::collections::BTreeSet<i64> = (0..20u64)
            .map(|seed| policy.jittered(Duration::minutes(8), seed).as_seconds())
            .collect();
        assert!(delays.len() > 5);
        assert!(delays.iter().all(|d| (360..=480).contains(d)));
        // 24 h since the first attempt: given up even with attempts left.
        let late = FailedAttempt {
            failure: SendFailure::Timeout,
            attempt: 3,
            first_attempt_at: t(-86_390),
            pair_rate_failures: 0,
            recipient_free_at: None,
            jitter_seed: 1,
            campaign: true,
        };
        let (plan, next) = after_failure(&late, &policy, now);
        assert_eq!(next, AfterFailure::Fail);
        assert_eq!(
            plan.campaign_contact,
            CampaignContactFate::Retry { after: None }
        );

        // Throttles: 60 s, doubling while they persist, at most 1 h; a quiet spell starts over.
        let mut number = NumberPacing::default();
        let (plan, _) = after_failure(
            &FailedAttempt {
                failure: SendFailure::Meta {
                    code: 130429,
                    http_status: Some(400),
                },
                ..late
            },
            &policy,
            now,
        );
        let effect = plan.number.unwrap();
        let mut at = now;
        let mut pauses = vec![];
        for _ in 0..8 {
            number.apply(effect, at);
            let until = number.throttled_until.unwrap();
            pauses.push((until - at) / 1000);
            at = until; // throttled again as soon as it lifts
        }
        assert_eq!(pauses, vec![60, 120, 240, 480, 960, 1920, 3600, 3600]);
        number.apply(effect, at + 3 * 3_600_000);
        assert_eq!(number.last_throttle, Some(60_000));
    }
}

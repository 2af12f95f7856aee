//! One send (a [`SendJob`]): take the key, check the window and channel at send time (SEND-1),
//! the template's status (TPL-1) and the campaign's rules (CAMP-3, stop honoured), pace it
//! (SEND-3, CAMP-5), predict its cost (BILL-3), call the Graph API, and record what happened —
//! or classify the failure and act on it (SEND-2, CAMP-6).
//!
//! The send record (by idempotency key) is the lock and the memory: a redelivered job whose key
//! has a wamid sends nothing; a job another invocation holds waits for its lease; a job whose call
//! may have reached Meta is ambiguous and waits for a status webhook naming it
//! (`biz_opaque_callback_data`) before anything is sent again — never again for a marketing
//! template (DECISIONS 21).
//!
//! ## Three store calls for a send that goes through
//!
//! 1. [`SendingStore::send_context`]: the record, the key's claim, the number's and the
//!    recipient's pacing, the contact's state (window, channel, open campaign interaction), and
//!    the template and the number's settings when the job needs them — one read.
//! 2. [`SendingStore::begin_call`]: the record (`calling`, so a crash during the call leaves an
//!    ambiguous send), the key's claim and the pacing taken — one write, conditional on every
//!    version read. Of two invocations of one job only one gets here; a conflict reads again and
//!    decides again (the record changed: another invocation has it; the pacing changed: pace
//!    again).
//! 3. [`SendingStore::record_accepted`] once Meta accepted.
//!
//! Every other outcome (refused, parked, waiting, CAMP-3/CAMP-5 back to the campaign, the
//! WIN-5 recontact template …) first holds the key with the same conditional write (a lease,
//! without pacing), then acts as before: nothing is written for a job before this invocation
//! holds its key, and an invocation that dies before that leaves nothing behind (the job comes
//! again).

use crate::core::{Outcome, Result, Sender, SenderError, ms_of, second_of};
use crate::graph::{GraphApi, GraphError, OutgoingMessage};
use crate::{Clock, alerts::Alert};
use queue::{DelayedQueue, Destination, SendJob, SendOrigin};
use rules::billing::{self, BillingHistory, PricingModel, SendForBilling, ServiceMessages};
use rules::campaign::{RowEvent, SendingGate};
use rules::channel::{MessageKind, SendPermission, Sender as Who, may_send};
use rules::outreach::{ButtonPayload, DEFAULT_EXPIRY, OutreachRecord};
use rules::pacing::{Millis, SendPace, SendSlotRequest};
use rules::send_error::{ErrorClass, FailureAction, NumberEffect, plan_after_failure};
use rules::templates::{Template, TemplateCategory, TemplateStatus, render_parameters};
use rules::{Date, Duration, MessageId, OutboundContent, SendPurpose, Timestamp};
use store::{
    AcceptedSend, BeginCall, CallBegun, CallInProgress, LedgerAddition, NewOutreach,
    NumberPacingRecord, PacingWrite, ParkReason, ParkedSend, RecipientRecord, SendClaimWrite,
    SendContext, SendContextQuery, SendRecord, SendState, SendingStore, SentMessage, Store,
    Undeliverable, Versioned,
};

/// Conditional writes retried this often on a version conflict before giving up for now.
pub(crate) const CONFLICT_RETRIES: usize = 16;

/// The reason kept when an ambiguous marketing send is not sent again.
pub const AMBIGUOUS_MARKETING: &str =
    "the request may have reached Meta (no clear answer); a marketing template is not sent again";

enum Take {
    Go(Taken),
    Done(Outcome),
    /// The record changed under a write: read again.
    Again,
}

/// A key this invocation decided to work on: read, not yet written. `record` is in state
/// `InFlight` (this invocation's lease) and goes out with the first write.
struct Taken {
    record: SendRecord,
    /// The record's version read (`None`: absent).
    expected: Option<u64>,
    /// The key's claim, written with the record when the read found none.
    claim: Option<SendClaimWrite>,
}

/// What deciding on a taken key came to.
enum Step {
    Done(Outcome),
    /// A write conflicted with a concurrent one: read again and decide again.
    Again(Conflict),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conflict {
    Record,
    Pacing,
}

/// Holds the key (the lease write) before an outcome other than the call; a conflict sends the
/// send back to its read.
macro_rules! hold {
    ($sender:expr, $taken:expr) => {
        match $sender.hold($taken).await? {
            Some(held) => held,
            None => return Ok(Step::Again(Conflict::Record)),
        }
    };
}

/// A refusal before sending, with the reason kept on the record.
struct Refusal(String);

impl<S, Q, G, C> Sender<S, Q, G, C>
where
    S: Store + SendingStore,
    Q: DelayedQueue,
    G: GraphApi,
    C: Clock,
{
    /// Handles one send job (SEND-1..3, BILL-3, CAMP-3/5/6).
    pub async fn send(&self, job: SendJob) -> Result<Outcome> {
        let query = SendContextQuery {
            key: job.key.clone(),
            number: job.number.clone(),
            contact: job.contact.clone(),
            // The outreach's expiry, for the acceptance.
            settings: job.outreach.is_some(),
            // TPL-1: the template's status.
            template: match &job.request.content {
                OutboundContent::Template { name, language, .. } => {
                    Some((name.clone(), language.clone()))
                }
                _ => None,
            },
            now: self.clock.now(),
        };
        let (mut record_conflicts, mut pacing_conflicts) = (0, 0);
        loop {
            let now = self.clock.now();
            let context = self
                .store
                .send_context(&SendContextQuery {
                    now,
                    ..query.clone()
                })
                .await?;
            let outcome = match self.take(&job, &context, now).await? {
                Take::Go(taken) => {
                    let contended = pacing_conflicts >= CONFLICT_RETRIES * 4;
                    match self.send_taken(&job, context, taken, contended).await? {
                        Step::Done(outcome) => return Ok(outcome),
                        Step::Again(Conflict::Pacing) => {
                            pacing_conflicts += 1;
                            continue;
                        }
                        Step::Again(Conflict::Record) => None,
                    }
                }
                Take::Again => None,
                Take::Done(outcome) => Some(outcome),
            };
            let outcome = match outcome {
                Some(outcome) => outcome,
                None => {
                    record_conflicts += 1;
                    if record_conflicts < CONFLICT_RETRIES {
                        continue;
                    }
                    Outcome::Busy {
                        until_ms: ms_of(now + self.options.lease),
                    }
                }
            };
            match &outcome {
                Outcome::Busy { until_ms } | Outcome::Waiting { until_ms, .. } => {
                    self.requeue_job(&job, *until_ms).await?;
                }
                Outcome::Ambiguous { check_until } => {
                    self.requeue_job(&job, ms_of(*check_until)).await?;
                }
                _ => {}
            }
            return Ok(outcome);
        }
    }

    /// Decides from the record read whether this invocation takes the key, or says why not.
    async fn take(&self, job: &SendJob, context: &SendContext, now: Timestamp) -> Result<Take> {
        let now_ms = self.clock.now_ms();
        let lease = SendState::InFlight {
            since: now,
            lease_until: now + self.options.lease,
            calling: false,
        };
        // The claim the console's outbound log lists (first caller wins; a claim made before is
        // kept), with the message as requested for the log to show.
        let claim = |context: &SendContext| SendClaimWrite {
            claimed_at: context.claimed_at.unwrap_or(now),
            body: serde_json::to_value(&job.request.content).ok(),
        };
        let Some(Versioned {
            version,
            value: mut rec,
        }) = context.record.clone()
        else {
            return Ok(Take::Go(Taken {
                record: SendRecord {
                    key: job.key.clone(),
                    number: job.number.clone(),
                    contact: job.contact.clone(),
                    state: lease,
                    attempts: 0,
                    job: job_json(job),
                    updated_at: now,
                    calling: None,
                    failure_seen: None,
                },
                expected: None,
                claim: Some(claim(context)),
            }));
        };
        match rec.state.clone() {
            SendState::Sent { wamid, .. } => Ok(Take::Done(Outcome::AlreadySent { wamid })),
            SendState::Refused { reason, .. } => Ok(Take::Done(Outcome::Refused { reason })),
            SendState::Failed { code, reason, .. } => {
                Ok(Take::Done(Outcome::Failed { code, reason }))
            }
            SendState::InFlight { lease_until, .. } if now < lease_until => {
                Ok(Take::Done(Outcome::Busy {
                    until_ms: ms_of(lease_until),
                }))
            }
            SendState::InFlight { calling: true, .. } => {
                // The invocation that was calling Meta stopped: the request may have gone out.
                rec.state = SendState::Ambiguous {
                    since: rec.updated_at,
                    check_until: rec.updated_at + self.options.ambiguity_wait,
                    reason: "an earlier attempt stopped during its call to Meta".into(),
                };
                self.store.put_send_record(&rec, Some(version)).await?;
                Ok(Take::Again)
            }
            SendState::Ambiguous { check_until, .. } if now < check_until => {
                Ok(Take::Done(Outcome::Ambiguous { check_until }))
            }
            SendState::Ambiguous { .. } if self.is_marketing(job, &rec).await? => {
                // DECISIONS 21: no status named it in time; a marketing template is not sent
                // twice.
                rec.state = SendState::Failed {
                    code: None,
                    title: None,
                    reason: AMBIGUOUS_MARKETING.into(),
                    at: now,
                };
                rec.updated_at = now;
                if self
                    .store
                    .put_send_record(&rec, Some(version))
                    .await?
                    .is_none()
                {
                    return Ok(Take::Again);
                }
                self.campaign_row_closed(job, AMBIGUOUS_MARKETING).await?;
                Ok(Take::Done(Outcome::Failed {
                    code: None,
                    reason: AMBIGUOUS_MARKETING.into(),
                }))
            }
            SendState::Waiting {
                not_before_ms,
                because,
            } if now_ms < not_before_ms => Ok(Take::Done(Outcome::Waiting {
                until_ms: not_before_ms,
                because,
            })),
            // Due (waiting, ambiguous and not marketing), unparked, or an expired lease that
            // never reached the call: take it.
            _ => {
                rec.state = lease;
                rec.updated_at = now;
                Ok(Take::Go(Taken {
                    record: rec,
                    expected: Some(version),
                    // A key with a record has its claim, but for records older than the claim
                    // being written with them.
                    claim: context.claimed_at.is_none().then(|| claim(context)),
                }))
            }
        }
    }

    /// Holds the key under this invocation's lease: the record (and the key's claim, when the
    /// read found none) written conditionally on the version read, without pacing. `None`: the
    /// record changed since.
    async fn hold(&self, taken: Taken) -> Result<Option<(SendRecord, u64)>> {
        let write = BeginCall {
            record: taken.record,
            expected: taken.expected,
            claim: taken.claim,
            pacing: PacingWrite::default(),
        };
        match self.store.begin_call(&write).await? {
            CallBegun::Begun { version } => Ok(Some((write.record, version))),
            CallBegun::RecordChanged | CallBegun::PacingChanged => Ok(None),
        }
    }

    /// Everything after the key was taken (read, not yet written): decide, then either begin
    /// the call (one conditional write) and make it, or hold the key and act on the outcome.
    /// `contended`: the pacing kept changing under this invocation; it waits instead.
    async fn send_taken(
        &self,
        job: &SendJob,
        context: SendContext,
        taken: Taken,
        contended: bool,
    ) -> Result<Step> {
        let now = self.clock.now();
        let number = &job.number;
        let contact = &job.contact;

        // CAMP-10: a stopped campaign sends nothing more.
        let mut campaign = match &job.origin {
            SendOrigin::Campaign { campaign } => match self.load_campaign(campaign).await? {
                Some(c) => Some(c),
                None => {
                    let (record, version) = hold!(self, taken);
                    return self
                        .refuse(
                            job,
                            record,
                            version,
                            Refusal(format!("campaign {campaign} does not exist")),
                        )
                        .await
                        .map(Step::Done);
                }
            },
            _ => None,
        };
        if let Some(c) = &campaign
            && c.campaign.sending_gate(now) != SendingGate::Open
        {
            let reason = format!("campaign {} is {}", c.id, c.campaign.status());
            let (record, version) = hold!(self, taken);
            self.release_row(job).await?;
            return self
                .refuse(job, record, version, Refusal(reason))
                .await
                .map(Step::Done);
        }

        // SEND-2: a stopped number holds every send until a person resumes it.
        if context.number_pacing.0.pacing.stopped {
            let (record, version) = hold!(self, taken);
            return self
                .park(job, record, version, ParkReason::NumberResumed)
                .await
                .map(Step::Done);
        }

        // SEND-1: the window and the channel, now.
        let state = context.contact.map(|v| v.value);
        let (channel, windows) = state
            .as_ref()
            .map(|s| (s.channel, s.windows.clone()))
            .unwrap_or((rules::Channel::WhatsApp, Default::default()));
        let window = rules::window(&windows, channel, now);

        // CAMP-3: another campaign's interaction is open: the contact waits in `pending`.
        if let (Some(c), Some(s)) = (&mut campaign, &state)
            && let Some(open) = &s.campaign
            && open.campaign != c.id
            && now <= open.respond_by
        {
            let other = open.campaign.clone();
            let (record, version) = hold!(self, taken);
            self.move_row(c, contact, |campaign, row| {
                row.queued = None;
                campaign.apply(
                    &mut row.contact,
                    RowEvent::OtherCampaignOpen {
                        campaign: other.clone(),
                        at: now,
                    },
                )
            })
            .await?;
            let reason =
                format!("CAMP-3: campaign {other} has an interaction open with the contact");
            return self
                .refuse(job, record, version, Refusal(reason))
                .await
                .map(Step::Done);
        }

        let who = match (&job.origin, job.request.purpose) {
            (SendOrigin::Console { agent: Some(_) }, _) | (_, SendPurpose::Agent) => Who::Agent,
            _ => Who::Automation,
        };
        let mut content = job.request.content.clone();
        let refusal = match may_send(channel, windows.last_inbound_at, content.kind(), who, now) {
            SendPermission::TemplateOnly if job.request.recontact_if_closed => {
                // WIN-5: the number's recontact template instead.
                match self.recontact_content(job).await? {
                    Ok(recontact) => {
                        content = recontact;
                        None
                    }
                    Err(refusal) => Some(refusal),
                }
            }
            SendPermission::TemplateOnly => {
                let reason = rules::channel::RefusalReason::WindowClosedTemplatesOnly.describe();
                Some(Refusal(reason.to_owned()))
            }
            SendPermission::Refused(r) => Some(Refusal(r.describe().to_owned())),
            SendPermission::Allowed
            | SendPermission::AllowedWithTag(_)
            | SendPermission::AllowedBilled => None,
        };
        // Meta's limits on the content (lengths, counts): refused here with the field named,
        // whatever the adapter.
        let refusal = refusal.or_else(|| {
            whatsapp::Outgoing::try_from(&content)
                .err()
                .map(|e| Refusal(format!("invalid message: {e}")))
        });
        if let Some(refusal) = refusal {
            let (record, version) = hold!(self, taken);
            return self
                .refuse(job, record, version, refusal)
                .await
                .map(Step::Done);
        }

        // TPL-1: only APPROVED templates are sent; a paused one holds the send.
        let template = match &content {
            OutboundContent::Template { name, language, .. } => {
                // Read with the context, unless a recontact template replaced the job's.
                let read = match (&context.template, &job.request.content) {
                    (
                        read,
                        OutboundContent::Template {
                            name: asked,
                            language: asked_language,
                            ..
                        },
                    ) if asked == name && asked_language == language => read.clone(),
                    _ => self.store.template(number, name, language).await?,
                };
                match read {
                    None => {
                        let reason = format!(
                            "template {name} ({language}) is not in the number's catalogue"
                        );
                        let (record, version) = hold!(self, taken);
                        return self
                            .refuse(job, record, version, Refusal(reason))
                            .await
                            .map(Step::Done);
                    }
                    Some(t) if t.status == TemplateStatus::Paused => {
                        let (record, version) = hold!(self, taken);
                        return self
                            .template_paused(job, record, version, &t, campaign)
                            .await
                            .map(Step::Done);
                    }
                    Some(t) => match t.check_sendable() {
                        Ok(()) => Some(t),
                        Err(e) => {
                            let (record, version) = hold!(self, taken);
                            self.release_row(job).await?;
                            return self
                                .refuse(job, record, version, Refusal(e.to_string()))
                                .await
                                .map(Step::Done);
                        }
                    },
                }
            }
            _ => None,
        };

        // SEND-3 / CAMP-5: pace it; what does not fit waits.
        let outside = !window.is_open();
        // SEND-2 131048 holds campaign traffic: a campaign's own sends, and anything sent for
        // a campaign's purpose.
        let campaign_traffic = campaign.is_some() || job.request.purpose == SendPurpose::Campaign;
        let paced = self
            .pace(
                job,
                &context.number_pacing,
                &context.recipient,
                campaign_traffic,
                outside,
                contended,
            )
            .await;
        let (now_ms, pacing) = match paced {
            Ok(slot) => slot,
            Err(PaceStop::Wait { until_ms, because })
                if campaign.is_some()
                    && until_ms - self.clock.now_ms()
                        > self.options.campaign_idle_tick.as_seconds() * 1000 =>
            {
                // CAMP-5: a campaign contact that does not fit for long waits in the hopper (the
                // tick issues it again when the limit allows), not on the queue.
                let (record, version) = hold!(self, taken);
                self.release_row(job).await?;
                let reason =
                    format!("CAMP-5: back in the hopper until the limits allow ({because})");
                return self
                    .refuse(job, record, version, Refusal(reason))
                    .await
                    .map(Step::Done);
            }
            Err(PaceStop::Wait { until_ms, because }) => {
                let (record, version) = hold!(self, taken);
                return self
                    .wait(job, record, version, until_ms, because)
                    .await
                    .map(Step::Done);
            }
            Err(PaceStop::Stopped) => {
                let (record, version) = hold!(self, taken);
                return self
                    .park(job, record, version, ParkReason::NumberResumed)
                    .await
                    .map(Step::Done);
            }
        };
        let now = second_of(now_ms);

        // OUT-8: the outreach's button payloads carry its id and the send time.
        let outreach_sent_at = match (&job.outreach, &mut content) {
            (
                Some(plan),
                OutboundContent::Template {
                    button_payloads, ..
                },
            ) => {
                let mut payloads = Vec::with_capacity(plan.buttons.len());
                for button in 0..plan.buttons.len().min(u8::MAX as usize) {
                    let payload = ButtonPayload {
                        outreach: plan.id.clone(),
                        sent_at: now,
                        button: button as u8,
                    };
                    match payload.encode(&self.outreach_key) {
                        Ok(p) => payloads.push(p),
                        Err(e) => {
                            let (record, version) = hold!(self, taken);
                            return self
                                .refuse(job, record, version, Refusal(format!("outreach: {e}")))
                                .await
                                .map(Step::Done);
                        }
                    }
                }
                *button_payloads = payloads;
                Some(now)
            }
            _ => None,
        };

        // BILL-3: what it will cost, predicted before the call.
        let kind = match &template {
            Some(t) => billing::MessageKind::Template(t.category),
            None => billing::MessageKind::FreeForm,
        };
        let service_messages_this_month = match (kind, self.options.pricing.rule_at(now).model) {
            (
                billing::MessageKind::FreeForm,
                PricingModel::PerMessage {
                    service: ServiceMessages::FreeUpTo { .. },
                    ..
                },
            ) => self.service_messages_this_month(job, now).await?,
            _ => 0,
        };
        let prediction = match billing::predict(
            &self.options.pricing,
            &SendForBilling {
                sent_at: now,
                kind,
                service_window_open: window.is_open(),
                free_entry_point_open: window.free_entry_point_open(),
                service_messages_this_month,
            },
            &BillingHistory::default(),
        ) {
            Ok(p) => p.prediction,
            Err(e) => {
                let (record, version) = hold!(self, taken);
                return self
                    .refuse(job, record, version, Refusal(e.to_string()))
                    .await
                    .map(Step::Done);
            }
        };
        let predicted_micros = self
            .options
            .rates
            .cost(&prediction, contact.as_str())
            .map_or(0, |m| m.micros);

        // The call. The record says so first, in the same write as the key's claim and the
        // pacing taken: if this invocation dies during the call, the next one knows the send is
        // ambiguous; if another invocation wrote first, this one writes nothing and reads again.
        let mut record = taken.record;
        record.state = SendState::InFlight {
            since: now,
            lease_until: now + self.options.lease,
            calling: true,
        };
        record.attempts += 1;
        record.updated_at = now;
        record.calling = Some(CallInProgress {
            template: template.as_ref().map(|t| t.name.to_string()),
            prediction: Some(prediction),
            predicted_micros,
            outreach_sent_at,
        });
        let begin = BeginCall {
            record,
            expected: taken.expected,
            claim: taken.claim,
            pacing,
        };
        let version = match self.store.begin_call(&begin).await? {
            CallBegun::Begun { version } => version,
            CallBegun::RecordChanged => return Ok(Step::Again(Conflict::Record)),
            CallBegun::PacingChanged => return Ok(Step::Again(Conflict::Pacing)),
        };
        let mut record = begin.record;
        let message = OutgoingMessage {
            to: contact.clone(),
            content,
            callback: job.key.clone(),
        };
        let expiry = context
            .settings
            .as_ref()
            .map_or(DEFAULT_EXPIRY, |s| s.outreach_expiry);
        let outcome = match self.graph.send_message(number, &message).await {
            Ok(wamid) => {
                self.accept(job, record, version, wamid, now, campaign, Some(expiry))
                    .await
            }
            Err(GraphError::Ambiguous { reason }) => {
                let check_until = now + self.options.ambiguity_wait;
                record.state = SendState::Ambiguous {
                    since: now,
                    check_until,
                    reason: reason.clone(),
                };
                record.updated_at = now;
                self.store.put_send_record(&record, Some(version)).await?;
                tracing::warn!(key = %job.key, number = %number, %reason, "send ambiguous: waiting for a status webhook before deciding");
                self.requeue_job(job, ms_of(check_until)).await?;
                Ok(Outcome::Ambiguous { check_until })
            }
            Err(error) => {
                self.failed(job, record, version, &error, template.as_ref(), campaign)
                    .await
            }
        };
        outcome.map(Step::Done)
    }

    /// Meta accepted: record it all at once, then tell the contact's lane about an outreach and
    /// move the campaign contact to `pending`. `expiry`: the number's outreach expiry when it was
    /// read already (else it is read for an outreach).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn accept(
        &self,
        job: &SendJob,
        mut record: SendRecord,
        mut version: u64,
        wamid: MessageId,
        at: Timestamp,
        campaign: Option<crate::campaigns::LoadedCampaign>,
        expiry: Option<Duration>,
    ) -> Result<Outcome> {
        let call = record.calling.clone().unwrap_or(CallInProgress {
            template: None,
            prediction: None,
            predicted_micros: 0,
            outreach_sent_at: None,
        });
        record.state = SendState::Sent {
            wamid: wamid.clone(),
            at,
        };
        record.updated_at = at;
        let campaign_id = match &job.origin {
            SendOrigin::Campaign { campaign } => Some(campaign.clone()),
            _ => None,
        };
        let message = SentMessage {
            wamid: wamid.clone(),
            key: job.key.clone(),
            number: job.number.clone(),
            contact: job.contact.clone(),
            sent_at: at,
            prediction: call.prediction,
            campaign: campaign_id,
            template: call.template.clone(),
        };
        let predicted = call.prediction.map(|p| LedgerAddition {
            number: job.number.clone(),
            day: p.sent_at.date(),
            category: p.category.to_string(),
            micros: call.predicted_micros,
        });
        let outreach = match &job.outreach {
            Some(plan) => {
                let sent_at = call.outreach_sent_at.unwrap_or(at);
                let expiry = match expiry {
                    Some(expiry) => expiry,
                    None => self
                        .store
                        .settings(&job.number)
                        .await?
                        .map_or(DEFAULT_EXPIRY, |s| s.outreach_expiry),
                };
                let template = call
                    .template
                    .as_deref()
                    .or(match &job.request.content {
                        OutboundContent::Template { name, .. } => Some(name.as_str()),
                        _ => None,
                    })
                    .unwrap_or("unknown");
                Some(NewOutreach {
                    record: OutreachRecord {
                        id: plan.id.clone(),
                        wamid: wamid.clone(),
                        template: rules::TemplateName::new(template)
                            .map_err(|e| SenderError::Invalid(e.to_string()))?,
                        sent_at,
                        buttons: plan.buttons.clone(),
                        campaign: plan.campaign.clone(),
                    },
                    expires_at: store::outreach_expires_at(sent_at, expiry),
                })
            }
            None => None,
        };
        let mut accepted = AcceptedSend {
            record,
            expected_version: version,
            message,
            predicted,
            outreach,
        };
        let mut recorded = false;
        for _ in 0..CONFLICT_RETRIES {
            if self.store.record_accepted(&accepted).await? {
                recorded = true;
                break;
            }
            match self.store.send_record(&job.key).await? {
                Some(Versioned {
                    value:
                        SendRecord {
                            state: SendState::Sent { wamid: other, .. },
                            ..
                        },
                    ..
                }) => {
                    if other != wamid {
                        tracing::error!(key = %job.key, first = %other, second = %wamid, "one key was sent twice (a lease expired during a call)");
                    }
                    return Ok(Outcome::AlreadySent { wamid: other });
                }
                Some(current) => {
                    version = current.version;
                    accepted.expected_version = version;
                }
                None => break,
            }
        }
        if !recorded {
            return Err(SenderError::Store(store::StoreError::Retryable {
                operation: "record_accepted",
                message: format!("the send record of {} kept changing", job.key),
            }));
        }
        // CAMP-3 / CAMP-7: the contact's lane opens the campaign interaction in order.
        if let Some(outreach) = &accepted.outreach {
            let event = whatsapp::lane_event(
                job.number.as_str(),
                job.contact.as_str(),
                format!("{}#outreach", job.key),
                rules::Event::OutreachSent(outreach.record.clone()),
            );
            self.queue
                .send(
                    Destination::Inbound,
                    vec![queue::Envelope::of_event(&event)],
                )
                .await?;
        }
        if let (Some(mut loaded), Some(outreach)) = (campaign, &accepted.outreach) {
            let id = outreach.record.id.clone();
            let key = job.key.clone();
            self.move_row(&mut loaded, &job.contact, |campaign, row| {
                if row.queued.as_ref().is_some_and(|q| q.key != key) {
                    return Err(rules::campaign::TransitionError::NotAllowed {
                        event: "a send".into(),
                        state: "queued for another job".into(),
                    });
                }
                row.queued = None;
                row.sent_key = Some(key.clone());
                campaign.apply(
                    &mut row.contact,
                    RowEvent::Sent {
                        outreach: id.clone(),
                        at,
                    },
                )
            })
            .await?;
        }
        tracing::info!(key = %job.key, number = %job.number, wamid = %wamid, "sent");
        Ok(Outcome::Sent { wamid })
    }

    /// SEND-2 / CAMP-6: Meta refused the send.
    async fn failed(
        &self,
        job: &SendJob,
        mut record: SendRecord,
        version: u64,
        error: &GraphError,
        template: Option<&Template>,
        campaign: Option<crate::campaigns::LoadedCampaign>,
    ) -> Result<Outcome> {
        let now_ms = self.clock.now_ms();
        let now = second_of(now_ms);
        let Some(failure) = error.failure() else {
            return Err(SenderError::Invalid(
                "an ambiguous failure has no class".into(),
            ));
        };
        let (code, title) = error.code_and_title();
        let (pair_failures, recipient_wait) =
            self.recipient_failure(job, code, error, now_ms).await?;
        let mut plan = plan_after_failure(
            &failure,
            record.attempts,
            pair_failures,
            &self.options.retry,
        );
        if let GraphError::NotSent { reason } = error {
            plan.reason = format!("not sent ({reason}): {}", plan.reason);
        }
        if let Some(effect) = plan.number {
            self.number_effect(&job.number, effect, code, &plan.reason, now_ms)
                .await?;
        }
        tracing::warn!(key = %job.key, number = %job.number, code, class = ?plan.class, attempt = record.attempts, reason = %plan.reason, "send failed");

        if let Some(mut loaded) = campaign {
            // CAMP-6: the contact's fate; the campaign stops instead of failing every contact.
            let key = job.key.clone();
            let plan_for_row = plan.clone();
            let outcome = self
                .move_row(&mut loaded, &job.contact, |campaign, row| {
                    row.queued = None;
                    let _ = &key;
                    campaign.record_failure(&mut row.contact, code, &plan_for_row, now)
                })
                .await?;
            if let Some(outcome) = outcome
                && let Some(reason) = outcome.campaign_stopped
            {
                self.save_campaign_status(&loaded.id, |c| {
                    if c.status() == rules::campaign::CampaignStatus::Running {
                        c.stop(reason.clone()).is_ok()
                    } else {
                        false
                    }
                })
                .await?;
                tracing::warn!(campaign = %loaded.id, reason = %reason, "campaign stopped");
            }
            return self
                .finish(
                    job,
                    record,
                    version,
                    SendState::Failed {
                        code,
                        title,
                        reason: plan.reason.clone(),
                        at: now,
                    },
                )
                .await
                .map(|()| Outcome::Failed {
                    code,
                    reason: plan.reason,
                });
        }
        match (plan.retry_after, plan.action) {
            (Some(after), _) => {
                let until_ms =
                    (now_ms + after.as_seconds() * 1000).max(recipient_wait.unwrap_or(0));
                let because = format!("{:?}: {}", plan.class, plan.reason);
                self.wait(job, record, version, until_ms, because).await
            }
            (None, FailureAction::HoldUntilTemplateApproved) => {
                let on = match template {
                    Some(t) => ParkReason::TemplateApproved {
                        name: t.name.to_string(),
                        language: t.language.clone(),
                    },
                    None => ParkReason::NumberResumed,
                };
                self.park(job, record, version, on).await
            }
            (None, FailureAction::StopNumberAndAlert) => {
                self.park(job, record, version, ParkReason::NumberResumed)
                    .await
            }
            (None, _) => {
                record.attempts = record.attempts.max(1);
                self.finish(
                    job,
                    record,
                    version,
                    SendState::Failed {
                        code,
                        title,
                        reason: plan.reason.clone(),
                        at: now,
                    },
                )
                .await?;
                Ok(Outcome::Failed {
                    code,
                    reason: plan.reason,
                })
            }
        }
    }

    /// The recipient's side of a failure: 131056 starts (or lengthens) the 4^n wait; an
    /// undeliverable contact is flagged. Returns the earlier 131056 failures (for the plan) and
    /// when the recipient may be sent to again.
    async fn recipient_failure(
        &self,
        job: &SendJob,
        code: Option<u32>,
        error: &GraphError,
        now_ms: Millis,
    ) -> Result<(u32, Option<Millis>)> {
        let class = error
            .failure()
            .map(|f| rules::send_error::classify(&f).class);
        for _ in 0..CONFLICT_RETRIES {
            let (mut recipient, version) = self.store.recipient(&job.number, &job.contact).await?;
            let earlier = recipient.pace.pair_rate_failures();
            let wait = match class {
                Some(ErrorClass::PairRateLimit) => {
                    Some(recipient.pace.record_pair_rate_error(now_ms))
                }
                Some(ErrorClass::UndeliverableToUser) => {
                    recipient.undeliverable = Some(Undeliverable {
                        code: code.unwrap_or(0),
                        at: second_of(now_ms),
                    });
                    None
                }
                _ => return Ok((earlier, None)),
            };
            let write = PacingWrite {
                number: None,
                recipient: Some((job.number.clone(), job.contact.clone(), recipient, version)),
            };
            if self.store.put_pacing(&write).await? {
                return Ok((earlier, wait));
            }
        }
        Ok((0, None))
    }

    /// SEND-2: a number-wide effect (throttle, pause campaign traffic, stop and alert).
    pub(crate) async fn number_effect(
        &self,
        number: &rules::BusinessNumberId,
        effect: NumberEffect,
        code: Option<u32>,
        reason: &str,
        now_ms: Millis,
    ) -> Result<()> {
        for _ in 0..CONFLICT_RETRIES {
            let (mut record, version) = self.store.number_pacing(number).await?;
            if version.is_none() {
                record.settings = self.options.default_pacing;
            }
            let newly_stopped = effect == NumberEffect::StopAndAlert && !record.pacing.stopped;
            let before = record.clone();
            record.pacing.apply(effect, now_ms);
            if newly_stopped {
                record.stop_reason = Some(reason.to_owned());
            }
            if record == before {
                return Ok(());
            }
            let write = PacingWrite {
                number: Some((number.clone(), record, version)),
                recipient: None,
            };
            if self.store.put_pacing(&write).await? {
                if newly_stopped {
                    self.alerts.raise(&Alert {
                        number: number.clone(),
                        code,
                        reason: reason.to_owned(),
                    });
                }
                return Ok(());
            }
        }
        Err(SenderError::Store(store::StoreError::Retryable {
            operation: "put_pacing",
            message: format!("the pacing of {number} kept changing"),
        }))
    }

    /// SEND-3 / CAMP-5: finds a send slot (number throughput, recipient pace, messaging limit,
    /// throttles) from the pacing read, waiting in place when the wait is short. Returns the time
    /// of the slot and the pacing write that takes it (written with the call: a concurrent send
    /// that took it first makes that write fail, and the send paces again from a new read).
    /// `contended`: the pacing kept changing; the send waits a second instead.
    async fn pace(
        &self,
        job: &SendJob,
        number_read: &(NumberPacingRecord, Option<u64>),
        recipient_read: &(RecipientRecord, Option<u64>),
        campaign: bool,
        outside_service_window: bool,
        contended: bool,
    ) -> Result<(Millis, PacingWrite), PaceStop> {
        for _ in 0..CONFLICT_RETRIES * 4 {
            if contended {
                break;
            }
            let (mut number, nv) = number_read.clone();
            if nv.is_none() {
                number.settings = self.options.default_pacing;
            }
            let (mut recipient, rv) = recipient_read.clone();
            let now_ms = self.clock.now_ms();
            let settings = number.settings;
            match number.pacing.pace(
                &settings,
                &mut recipient.pace,
                SendSlotRequest {
                    contact: &job.contact,
                    campaign,
                    outside_service_window,
                    now: now_ms,
                },
            ) {
                SendPace::Go { .. } => {
                    let write = PacingWrite {
                        number: Some((job.number.clone(), number, nv)),
                        recipient: Some((job.number.clone(), job.contact.clone(), recipient, rv)),
                    };
                    return Ok((now_ms, write));
                }
                SendPace::Wait { at, because } => {
                    if at - now_ms <= self.options.inline_wait_ms {
                        self.clock.sleep_until_ms(at).await;
                    } else {
                        return Err(PaceStop::Wait {
                            until_ms: at,
                            because: format!("{because:?}"),
                        });
                    }
                }
                SendPace::Stopped => return Err(PaceStop::Stopped),
            }
        }
        Err(PaceStop::Wait {
            until_ms: self.clock.now_ms() + 1_000,
            because: "pacing state contended".into(),
        })
    }

    async fn wait(
        &self,
        job: &SendJob,
        record: SendRecord,
        version: u64,
        until_ms: Millis,
        because: String,
    ) -> Result<Outcome> {
        self.finish(
            job,
            record,
            version,
            SendState::Waiting {
                not_before_ms: until_ms,
                because: because.clone(),
            },
        )
        .await?;
        self.requeue_job(job, until_ms).await?;
        Ok(Outcome::Waiting { until_ms, because })
    }

    async fn park(
        &self,
        job: &SendJob,
        record: SendRecord,
        version: u64,
        on: ParkReason,
    ) -> Result<Outcome> {
        let now = self.clock.now();
        self.store
            .park(
                &job.number,
                &on,
                &ParkedSend {
                    key: job.key.clone(),
                    job: job_json(job),
                    at: now,
                },
            )
            .await?;
        self.finish(
            job,
            record,
            version,
            SendState::Parked {
                on: on.clone(),
                at: now,
            },
        )
        .await?;
        tracing::info!(key = %job.key, number = %job.number, on = ?on, "send parked");
        Ok(Outcome::Parked { on })
    }

    async fn refuse(
        &self,
        job: &SendJob,
        record: SendRecord,
        version: u64,
        refusal: Refusal,
    ) -> Result<Outcome> {
        let reason = refusal.0;
        self.finish(
            job,
            record,
            version,
            SendState::Refused {
                reason: reason.clone(),
                at: self.clock.now(),
            },
        )
        .await?;
        tracing::info!(key = %job.key, number = %job.number, %reason, "send refused");
        Ok(Outcome::Refused { reason })
    }

    /// Writes the record's next state (conditional on the version this invocation holds).
    async fn finish(
        &self,
        job: &SendJob,
        mut record: SendRecord,
        version: u64,
        state: SendState,
    ) -> Result<()> {
        record.state = state;
        record.updated_at = self.clock.now();
        if self
            .store
            .put_send_record(&record, Some(version))
            .await?
            .is_none()
        {
            tracing::warn!(key = %job.key, "send record changed by another invocation; its state stands");
        }
        Ok(())
    }

    /// TPL-1 / SEND-2 132015: a paused template holds the send until it is approved again; a
    /// campaign using it stops (and resumes on approval) instead.
    async fn template_paused(
        &self,
        job: &SendJob,
        record: SendRecord,
        version: u64,
        template: &Template,
        campaign: Option<crate::campaigns::LoadedCampaign>,
    ) -> Result<Outcome> {
        if let Some(loaded) = campaign {
            self.release_row(job).await?;
            self.save_campaign_status(&loaded.id, |c| {
                c.on_template_change(
                    rules::templates::CampaignEffect::Pause,
                    TemplateStatus::Paused,
                    self.clock.now(),
                )
            })
            .await?;
            let reason = format!(
                "template {} is paused; the campaign resumes when it is approved",
                template.name
            );
            return self.refuse(job, record, version, Refusal(reason)).await;
        }
        self.park(
            job,
            record,
            version,
            ParkReason::TemplateApproved {
                name: template.name.to_string(),
                language: template.language.clone(),
            },
        )
        .await
    }

    /// WIN-5 / TPL-5: the number's recontact template, rendered for the contact.
    async fn recontact_content(
        &self,
        job: &SendJob,
    ) -> Result<std::result::Result<OutboundContent, Refusal>> {
        let templates = self.store.templates(&job.number).await?;
        let catalogue = rules::templates::TemplateCatalogue { templates };
        // Decision: the number's recontact template is the approved, flagged one first by name
        // and language (a number normally flags one).
        let mut candidates: Vec<&Template> = catalogue.recontact_candidates().collect();
        candidates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
        let chosen = candidates.first().map(|t| (&t.name, t.language.as_str()));
        let template = match catalogue.recontact_template(chosen) {
            Ok(t) => t,
            Err(e) => {
                return Ok(Err(Refusal(format!(
                    "window closed and no recontact template can be sent: {e}"
                ))));
            }
        };
        let profile = self
            .store
            .contact_summary(&job.number, &job.contact)
            .await?
            .map(|s| s.profile)
            .unwrap_or_default();
        let fields = rules::templates::ContactFields {
            first_name: profile.first_name.clone(),
            last_name: profile.last_name.clone(),
            email: profile.email.clone(),
            phone: profile.phone.as_ref().map(|p| p.as_str().to_owned()),
            custom: Default::default(),
        };
        let rendered = render_parameters(template, &fields)
            .map_err(|e| e.to_string())
            .and_then(|p| {
                crate::campaigns::template_header(template, &p).map(|header| (p, header))
            });
        match rendered {
            Ok((parameters, header)) => Ok(Ok(OutboundContent::Template {
                name: template.name.clone(),
                language: template.language.clone(),
                header,
                parameters: parameters.body,
                button_payloads: Vec::new(),
            })),
            Err(e) => Ok(Err(Refusal(format!(
                "the recontact template cannot be filled for this contact: {e}"
            )))),
        }
    }

    /// A template send whose category is marketing (or unknown: treated as marketing).
    async fn is_marketing(&self, job: &SendJob, record: &SendRecord) -> Result<bool> {
        let name = record.calling.as_ref().and_then(|c| c.template.clone());
        let (name, language) = match (&job.request.content, name) {
            (OutboundContent::Template { name, language, .. }, _) => {
                (name.to_string(), language.clone())
            }
            (_, Some(recontact)) => (recontact, String::new()),
            _ => return Ok(false),
        };
        let templates = self.store.templates(&job.number).await?;
        Ok(templates
            .iter()
            .find(|t| t.name.as_str() == name && (language.is_empty() || t.language == language))
            .is_none_or(|t| t.category == TemplateCategory::Marketing))
    }

    /// BILL-4's third entry: service messages predicted this month on the number.
    async fn service_messages_this_month(&self, job: &SendJob, now: Timestamp) -> Result<u32> {
        let today = now.date();
        let (year, month) = today.month_key();
        let first = Date::new(year, month, 1);
        let lines = self.store.ledger(&job.number, first, today).await?;
        Ok(lines
            .iter()
            .filter(|l| l.category == billing::PricingCategory::Service.to_string())
            .map(|l| l.predicted_count.max(0) as u32)
            .sum())
    }

    /// Resumes a stopped number (a person fixed the account): clears the stop and puts every
    /// send parked on it back on the queue. See [`crate::resume::resume_number`].
    pub async fn resume_number(&self, number: &rules::BusinessNumberId) -> Result<usize> {
        Ok(
            crate::resume::resume_number(&self.store, &self.queue, number)
                .await?
                .released,
        )
    }

    /// Puts parked sends back on the queue (each taken by exactly one caller).
    pub(crate) async fn unpark_all(
        &self,
        number: &rules::BusinessNumberId,
        on: &ParkReason,
    ) -> Result<usize> {
        crate::resume::release_parked(&self.store, &self.queue, number, on).await
    }
}

enum PaceStop {
    Wait { until_ms: Millis, because: String },
    Stopped,
}

pub(crate) fn job_json(job: &SendJob) -> String {
    serde_json::to_string(job).expect("a send job always serialises")
}

/// Whether content is free-form (for the tests' readability).
pub fn is_free_form(content: &OutboundContent) -> bool {
    content.kind() == MessageKind::FreeForm
}

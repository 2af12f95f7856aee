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
use queue::{DelayedQueue, Destination, OutreachPlan, SendJob, SendOrigin};
use rules::billing;
use rules::campaign::RowEvent;
use rules::channel::MessageKind;
use rules::outreach::{DEFAULT_EXPIRY, OutreachRecord};
use rules::pacing::Millis;
use rules::send_error::{ErrorClass, NumberEffect};
use rules::sending::{
    self, AfterFailure, BillingRead, CampaignRead, FailedAttempt, Go, Need, OutreachRead,
    PacingRead, ParkOn, RowStep, SendCase, Verdict,
};
use rules::templates::{Template, TemplateStatus};
use rules::{Date, Duration, MessageId, OutboundContent, Timestamp};
use store::{
    AcceptedSend, BeginCall, CallBegun, CallInProgress, LedgerAddition, NewOutreach, PacingWrite,
    ParkReason, ParkedSend, SendClaimWrite, SendContext, SendContextQuery, SendRecord, SendState,
    SendingStore, SentMessage, Store, Undeliverable, Versioned,
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
        let mut job = job;
        let query = SendContextQuery {
            key: job.key.clone(),
            number: job.number.clone(),
            contact: job.contact.clone(),
            // The outreach's expiry, for the acceptance (a template may be one: OUT-10).
            settings: job.outreach.is_some()
                || job.request.recontact_if_closed
                || matches!(job.request.content, OutboundContent::Template { .. }),
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
            // OUT-10: a template with buttons is an outreach whoever sends it.
            if job.outreach.is_none() {
                job.outreach =
                    implied_outreach(&job.key, &job.request.content, context.template.as_ref());
            }
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

    /// Everything after the key was taken (read, not yet written): ask the rules for the verdict
    /// ([`sending::verdict`]), then either begin the call (one conditional write) and make it, or
    /// hold the key and carry the verdict out. `contended`: the pacing kept changing under this
    /// invocation; it waits instead.
    async fn send_taken(
        &self,
        job: &SendJob,
        context: SendContext,
        taken: Taken,
        contended: bool,
    ) -> Result<Step> {
        let contact = &job.contact;
        let mut campaign = match &job.origin {
            SendOrigin::Campaign { campaign } => {
                Some((campaign, self.load_campaign(campaign).await?))
            }
            _ => None,
        };
        let (mut number_record, number_version) = context.number_pacing.clone();
        if number_version.is_none() {
            number_record.settings = self.options.default_pacing;
        }
        let (recipient_record, recipient_version) = context.recipient.clone();
        let state = context.contact.as_ref().map(|v| &v.value);
        let rates = self.remember_rates(context.rates.clone());
        let check_content = |content: &OutboundContent| -> std::result::Result<(), String> {
            whatsapp::Outgoing::try_from(content)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let mut recontact = None;
        // OUT-10: the recontact template that replaces a free-form message (WIN-5) is an outreach
        // when it has buttons, as any template is.
        let mut recontact_outreach: Option<OutreachPlan> = None;
        let mut service_messages_this_month = None;
        let mut inline_waits = 0;
        let go = loop {
            let now_ms = self.clock.now_ms();
            let case = SendCase {
                contact,
                request: &job.request,
                console_agent: matches!(job.origin, SendOrigin::Console { agent: Some(_) }),
                campaign: match &campaign {
                    None => CampaignRead::None,
                    Some((id, None)) => CampaignRead::Missing(id),
                    Some((_, Some(loaded))) => CampaignRead::Found {
                        id: &loaded.id,
                        campaign: &loaded.campaign,
                    },
                },
                state,
                template: context.template.as_ref(),
                recontact: recontact.as_ref(),
                pacing: PacingRead {
                    settings: number_record.settings,
                    number: &number_record.pacing,
                    recipient: &recipient_record.pace,
                    contended: contended || inline_waits >= CONFLICT_RETRIES * 4,
                    hopper_beyond: self.options.campaign_idle_tick,
                },
                outreach: job
                    .outreach
                    .as_ref()
                    .or(recontact_outreach.as_ref())
                    .map(|plan| OutreachRead {
                        id: &plan.id,
                        buttons: plan.buttons.len(),
                        key: &self.outreach_key,
                    }),
                billing: BillingRead {
                    schedule: &self.options.pricing,
                    rates: &rates,
                    history: &recipient_record.billing,
                    service_messages_this_month,
                },
                check_content: &check_content,
            };
            match sending::verdict(&case, now_ms) {
                Verdict::Go(go) => break go,
                Verdict::Need(Need::Recontact) => {
                    let read = self.recontact_content(job).await?;
                    if job.outreach.is_none()
                        && let Ok((template, content)) = &read
                    {
                        recontact_outreach = implied_outreach(&job.key, content, Some(template));
                    }
                    recontact = Some(read);
                }
                Verdict::Need(Need::ServiceMessagesThisMonth) => {
                    service_messages_this_month = Some(
                        self.service_messages_this_month(job, second_of(now_ms))
                            .await?,
                    );
                }
                Verdict::WaitUntil { at, .. }
                    if at - now_ms <= self.options.inline_wait_ms
                        && inline_waits < CONFLICT_RETRIES * 4 =>
                {
                    // A short wait (the throughput's next slot) is waited in place.
                    inline_waits += 1;
                    self.clock.sleep_until_ms(at).await;
                }
                Verdict::WaitUntil { at, because } => {
                    let (record, version) = hold!(self, taken);
                    return self
                        .wait(job, record, version, at, because)
                        .await
                        .map(Step::Done);
                }
                Verdict::Park(on) => {
                    let (record, version) = hold!(self, taken);
                    return self
                        .park(job, record, version, park_reason(on))
                        .await
                        .map(Step::Done);
                }
                Verdict::Refuse { reason, row } => {
                    let (record, version) = hold!(self, taken);
                    let now = self.clock.now();
                    match (row, &mut campaign) {
                        (RowStep::None, _) => {}
                        (RowStep::Release, _) => self.release_row(job).await?,
                        (RowStep::OtherCampaignOpen { other }, Some((_, Some(loaded)))) => {
                            self.move_row(loaded, contact, |campaign, row| {
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
                        }
                        (RowStep::ReleaseAndHoldCampaign, Some((_, Some(loaded)))) => {
                            self.release_row(job).await?;
                            self.save_campaign_status(&loaded.id, |c| {
                                c.on_template_change(
                                    rules::templates::CampaignEffect::Pause,
                                    TemplateStatus::Paused,
                                    now,
                                )
                            })
                            .await?;
                        }
                        (
                            RowStep::OtherCampaignOpen { .. } | RowStep::ReleaseAndHoldCampaign,
                            _,
                        ) => {}
                    }
                    return self
                        .refuse(job, record, version, Refusal(reason))
                        .await
                        .map(Step::Done);
                }
            }
        };
        let campaign = campaign.and_then(|(_, loaded)| loaded);
        // The job as it goes out: with the recontact template's outreach, kept on the record so
        // that an ambiguous send linked later by its status records it too.
        let with_outreach;
        let recontact_planned = recontact_outreach.is_some();
        let job = match recontact_outreach {
            Some(plan) => {
                with_outreach = SendJob {
                    outreach: Some(plan),
                    ..job.clone()
                };
                &with_outreach
            }
            None => job,
        };
        let Go {
            content,
            template,
            number: number_pacing,
            recipient: recipient_pace,
            at: now_ms,
            prediction,
            history,
            predicted_micros,
            outreach_sent_at,
        } = *go;
        let now = second_of(now_ms);
        number_record.pacing = number_pacing;
        let mut recipient_record = recipient_record;
        recipient_record.pace = recipient_pace;
        recipient_record.billing = history;
        let pacing = PacingWrite {
            number: Some((job.number.clone(), number_record, number_version)),
            recipient: Some((
                job.number.clone(),
                contact.clone(),
                recipient_record,
                recipient_version,
            )),
        };

        // The call. The record says so first, in the same write as the key's claim and the
        // pacing taken: if this invocation dies during the call, the next one knows the send is
        // ambiguous; if another invocation wrote first, this one writes nothing and reads again.
        let mut record = taken.record;
        if recontact_planned {
            // Only the recontact's plan is new here: any other job was recorded as it is.
            record.job = job_json(job);
        }
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
        // Issue 16, case 15: the log shows an outreach as it went out, with the signed button
        // payloads it carries (OUT-8), when this write makes the key's claim.
        let mut claim = taken.claim;
        if let (Some(claim), Some(_)) = (claim.as_mut(), outreach_sent_at) {
            claim.body = serde_json::to_value(&content).ok().or(claim.body.take());
        }
        let begin = BeginCall {
            record,
            expected: taken.expected,
            claim,
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
        let outcome = match self.graph.send_message(&job.number, &message).await {
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
                tracing::warn!(key = %self.outreach_key.log_id(&job.key), number = %job.number, %reason, "send ambiguous: waiting for a status webhook before deciding");
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
            charge: p.charge().label().to_owned(),
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
            // BILL-5: the conversation the send opened joins the contact's history.
            opened: call.prediction.and_then(|p| p.opened_conversation()),
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
                        tracing::error!(key = %self.outreach_key.log_id(&job.key), first = %other, second = %wamid, "one key was sent twice (a lease expired during a call)");
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
        tracing::info!(key = %self.outreach_key.log_id(&job.key), number = %job.number, wamid = %wamid, "sent");
        Ok(Outcome::Sent { wamid })
    }

    /// SEND-2 / SEND-4 / CAMP-6: Meta refused the send; the rules' plan
    /// ([`sending::after_failure`]) says what follows.
    async fn failed(
        &self,
        job: &SendJob,
        record: SendRecord,
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
        let attempt = FailedAttempt {
            failure,
            attempt: record.attempts.max(1),
            // SEND-4: the 24 h run from the request.
            first_attempt_at: job.requested_at,
            pair_rate_failures: pair_failures,
            recipient_free_at: recipient_wait,
            jitter_seed: jitter_seed(&job.key),
            campaign: campaign.is_some(),
        };
        let (mut plan, next) = sending::after_failure(&attempt, &self.options.retry, now_ms);
        if let GraphError::NotSent { reason } = error {
            plan.reason = format!("not sent ({reason}): {}", plan.reason);
        }
        if let Some(effect) = plan.number {
            self.number_effect(&job.number, effect, code, &plan.reason, now_ms)
                .await?;
        }
        if let Some(t) = template
            && let Some(event) =
                sending::template_event_after_failure(&plan, &t.name, &t.language, now)
        {
            self.template_paused_by_meta(&job.number, event).await?;
        }
        tracing::warn!(key = %self.outreach_key.log_id(&job.key), number = %job.number, code, class = ?plan.class, attempt = record.attempts, reason = %plan.reason, "send failed");

        if let Some(mut loaded) = campaign {
            // CAMP-6 / SEND-4: the contact's fate, planned with the row's own attempts (each
            // issue of a campaign contact is a new send key); the campaign stops instead of
            // failing every contact.
            let policy = self.options.retry;
            let prefix = match error {
                GraphError::NotSent { reason } => Some(format!("not sent ({reason}): ")),
                _ => None,
            };
            let outcome = self
                .move_row(&mut loaded, &job.contact, |campaign, row| {
                    row.queued = None;
                    let (mut plan, _) = sending::after_failure(
                        &FailedAttempt {
                            attempt: row.contact.failed_attempt(),
                            first_attempt_at: row.contact.attempts_since().unwrap_or(now),
                            ..attempt
                        },
                        &policy,
                        now_ms,
                    );
                    if let Some(prefix) = &prefix {
                        plan.reason = format!("{prefix}{}", plan.reason);
                    }
                    campaign.record_failure(&mut row.contact, code, &plan, now)
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
        match next {
            AfterFailure::RetryAt(until_ms) => {
                let because = format!(
                    "{:?}: {} (attempt {})",
                    plan.class, plan.reason, record.attempts
                );
                self.wait(job, record, version, until_ms, because).await
            }
            AfterFailure::HoldForTemplate => {
                let on = match template {
                    Some(t) => ParkReason::TemplateApproved {
                        name: t.name.to_string(),
                        language: t.language.clone(),
                    },
                    None => ParkReason::NumberResumed,
                };
                self.park(job, record, version, on).await
            }
            AfterFailure::HoldForNumber => {
                self.park(job, record, version, ParkReason::NumberResumed)
                    .await
            }
            AfterFailure::Fail => {
                let mut record = record;
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
        tracing::info!(key = %self.outreach_key.log_id(&job.key), number = %job.number, on = ?on, "send parked");
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
        tracing::info!(key = %self.outreach_key.log_id(&job.key), number = %job.number, %reason, "send refused");
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
            tracing::warn!(key = %self.outreach_key.log_id(&job.key), "send record changed by another invocation; its state stands");
        }
        Ok(())
    }

    /// WIN-5 / TPL-5: reads what the number's recontact template needs (the catalogue, the
    /// contact's fields) and asks the rules for it, rendered for the contact.
    async fn recontact_content(
        &self,
        job: &SendJob,
    ) -> Result<std::result::Result<(Template, OutboundContent), String>> {
        let templates = self.store.templates(&job.number).await?;
        let catalogue = rules::templates::TemplateCatalogue { templates };
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
        Ok(sending::recontact_content(&catalogue, &fields))
    }

    /// DECISIONS 21: whether an ambiguous send is final (a marketing template, or one whose
    /// category the catalogue no longer knows: [`sending::ambiguous_send_is_final`]).
    async fn is_marketing(&self, job: &SendJob, record: &SendRecord) -> Result<bool> {
        let name = record.calling.as_ref().and_then(|c| c.template.clone());
        let (name, language) = match (&job.request.content, name) {
            (OutboundContent::Template { name, language, .. }, _) => {
                (name.to_string(), language.clone())
            }
            (_, Some(recontact)) => (recontact, String::new()),
            _ => return Ok(sending::ambiguous_send_is_final(None)),
        };
        let templates = self.store.templates(&job.number).await?;
        let category = templates
            .iter()
            .find(|t| t.name.as_str() == name && (language.is_empty() || t.language == language))
            .map(|t| t.category);
        Ok(sending::ambiguous_send_is_final(Some(category)))
    }

    /// SEND-2 132015: the catalogue shows the template paused (TPL-4's rules for the event).
    pub(crate) async fn template_paused_by_meta(
        &self,
        number: &rules::BusinessNumberId,
        event: rules::templates::TemplateEvent,
    ) -> Result<()> {
        let Some(template) = self
            .store
            .template(number, &event.name, &event.language)
            .await?
        else {
            return Ok(());
        };
        let mut catalogue = rules::templates::TemplateCatalogue {
            templates: vec![template.clone()],
        };
        catalogue.apply(&event);
        if catalogue.templates[0] != template {
            self.store
                .put_template(number, &catalogue.templates[0])
                .await?;
            tracing::warn!(number = %number, template = %event.name, "template paused by Meta (132015)");
        }
        Ok(())
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

/// The store's park reason for the rules' one.
pub(crate) fn park_reason(on: ParkOn) -> ParkReason {
    match on {
        ParkOn::NumberResumed => ParkReason::NumberResumed,
        ParkOn::TemplateApproved { name, language } => ParkReason::TemplateApproved {
            name: name.to_string(),
            language,
        },
    }
}

/// SEND-4's jitter seed: a stable function of the send's key.
pub(crate) fn jitter_seed(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// OUT-10: a template with buttons sent without an outreach planned (an agent's or a bot's, through
/// the contact's lane) is an outreach as the console's outreach action makes one: the same plan,
/// with an id from the send key (as a campaign's), so a redelivered job is the same outreach.
fn implied_outreach(
    key: &str,
    content: &OutboundContent,
    template: Option<&Template>,
) -> Option<OutreachPlan> {
    sending::outreach_buttons(content, template).map(|buttons| OutreachPlan {
        id: crate::campaigns::outreach_id(key),
        buttons,
        campaign: None,
    })
}

pub(crate) fn job_json(job: &SendJob) -> String {
    serde_json::to_string(job).expect("a send job always serialises")
}

/// Whether content is free-form (for the tests' readability).
pub fn is_free_form(content: &OutboundContent) -> bool {
    content.kind() == MessageKind::FreeForm
}

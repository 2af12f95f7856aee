//! What Meta tells us about what we sent (the updates queue): statuses applied monotonically with
//! their pricing in the ledger (HOOK-3, BILL-3), `failed` statuses classified (SEND-2, CAMP-6),
//! template status and quality applied to the catalogue with their campaigns paused and resumed
//! (TPL-4, TPL-1), and messaging-limit and throughput changes applied to the number's pacing
//! (SEND-3).

use crate::core::{Outcome, Result, Sender, SenderError};
use crate::graph::GraphApi;
use crate::{Clock, send::CONFLICT_RETRIES};
use queue::{DelayedQueue, SendJob, SendOrigin};
use rules::billing::{self, Charge, ReportedPricing, Verdict};
use rules::pacing::{MAX_PER_SECOND, MessagingLimit, Throughput};
use rules::send_error::{ErrorClass, SendFailure, plan_after_failure};
use rules::sending::{self, AfterFailure, FailedAttempt};
use rules::templates::{
    Quality, TemplateCatalogue, TemplateChange, TemplateEvent, TemplateStatus, TemplateUpdate,
};
use rules::{BusinessNumberId, ContactKey, MessageId, TemplateName, Timestamp};
use store::{
    DeliveryError, DeliveryStatus, LedgerAddition, PacingWrite, ParkReason, ParkedSend, SendState,
    SendingStore, SentMessage, StatusUpdate, Store, Undeliverable,
};
use whatsapp::{EventBody, StatusUpdate as WireStatus};

fn invalid(e: impl std::fmt::Display) -> SenderError {
    SenderError::Invalid(e.to_string())
}

impl<S, Q, G, C> Sender<S, Q, G, C>
where
    S: Store + SendingStore,
    Q: DelayedQueue,
    G: GraphApi,
    C: Clock,
{
    /// One normalised webhook event from the updates queue.
    pub async fn apply_update(&self, event: whatsapp::Event) -> Result<Outcome> {
        let number = match &event.business {
            Some(b) => Some(BusinessNumberId::new(b.phone_number_id.as_str()).map_err(invalid)?),
            None => None,
        };
        if let (Some(b), Some(n)) = (&event.business, &number) {
            self.link_number(&event.waba_id, n, b.display_phone_number.as_deref())
                .await?;
        }
        let now = self.clock.now();
        match event.body {
            EventBody::Status(status) => self.status(number, status).await,
            EventBody::AccountError(e) => {
                let at = e.time.map_or(now, Timestamp::from_unix);
                self.account_error(&event.waba_id, number, e.error, at)
                    .await
            }
            EventBody::TemplateStatus(t) => {
                let Some(name) = t.name.clone() else {
                    return Ok(Outcome::Ignored {
                        why: format!("template event {} names no template", t.template_id),
                    });
                };
                let status = match TemplateStatus::from_meta(t.event.as_str()) {
                    Ok(s) => s,
                    Err(_) => {
                        return Ok(Outcome::Ignored {
                            why: format!("template event {} is not a status", t.event.as_str()),
                        });
                    }
                };
                let change = TemplateChange::Status {
                    status,
                    reason: t.reason.clone(),
                };
                let at = t.time.map_or(now, Timestamp::from_unix);
                self.template_event(&event.waba_id, &name, t.language.as_deref(), at, change)
                    .await
            }
            EventBody::TemplateQuality(q) => {
                let (Some(name), Some(score)) = (q.name.clone(), q.new_quality_score.clone())
                else {
                    return Ok(Outcome::Ignored {
                        why: "quality event without template name or score".into(),
                    });
                };
                let quality = match Quality::from_meta(&score) {
                    Ok(quality) => quality,
                    Err(e) => return Ok(Outcome::Ignored { why: e.to_string() }),
                };
                let at = q.time.map_or(now, Timestamp::from_unix);
                let change = TemplateChange::Quality { quality };
                self.template_event(&event.waba_id, &name, q.language.as_deref(), at, change)
                    .await
            }
            EventBody::PhoneNumberQuality(p) => {
                let at = p.time.map_or(now, Timestamp::from_unix);
                let throughput_upgrade = p
                    .event
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case("THROUGHPUT_UPGRADE"));
                let limit = if throughput_upgrade {
                    None
                } else {
                    p.current_limit.as_ref().and_then(messaging_limit)
                };
                let numbers = self
                    .store
                    .account_numbers(&event.waba_id)
                    .await?
                    .into_iter()
                    .filter(|l| {
                        p.display_phone_number.is_none()
                            || l.display_phone_number == p.display_phone_number
                    })
                    .map(|l| l.number)
                    .collect::<Vec<_>>();
                self.limits(&numbers, at, limit, throughput_upgrade).await
            }
            EventBody::Capability(c) => {
                let at = c.time.map_or(now, Timestamp::from_unix);
                let limit = c.messaging_limit.as_ref().and_then(messaging_limit);
                // The messaging limit is the business portfolio's: every number of the account.
                let numbers = self
                    .store
                    .account_numbers(&event.waba_id)
                    .await?
                    .into_iter()
                    .map(|l| l.number)
                    .collect::<Vec<_>>();
                self.limits(&numbers, at, limit, false).await
            }
            EventBody::OtherField(f) => Ok(Outcome::Ignored {
                why: format!("field {} is not the sender's", f.field),
            }),
            EventBody::Message(_) | EventBody::TimerFired(_) | EventBody::Lane(_) => {
                Err(SenderError::Invalid(format!(
                    "event {} belongs on the inbound queue, not the updates queue",
                    event.key
                )))
            }
        }
    }

    /// HOOK-3, BILL-3, SEND-2: one delivery status.
    async fn status(&self, number: Option<BusinessNumberId>, s: WireStatus) -> Result<Outcome> {
        let wamid = MessageId::new(s.message_id.as_str()).map_err(invalid)?;
        let at = Timestamp::from_unix(s.timestamp);
        // A send whose answer was lost, named by its status: linked now.
        if let Some(key) = s.biz_opaque_callback_data.as_deref() {
            self.link_ambiguous(key, &wamid).await?;
        }
        let status = match s.status {
            whatsapp::event::DeliveryStatus::Sent => Some(DeliveryStatus::Sent),
            whatsapp::event::DeliveryStatus::Delivered => Some(DeliveryStatus::Delivered),
            whatsapp::event::DeliveryStatus::Read | whatsapp::event::DeliveryStatus::Played => {
                Some(DeliveryStatus::Read)
            }
            whatsapp::event::DeliveryStatus::Failed => Some(DeliveryStatus::Failed),
            _ => None,
        };
        let error = s.errors.first().map(|e| DeliveryError {
            code: e.code.unwrap_or(0),
            title: e
                .title
                .clone()
                .or_else(|| e.message.clone())
                .unwrap_or_default(),
            details: e.error_data.as_ref().and_then(|d| d.details.clone()),
        });
        if let Some(status) = status {
            let pricing = s
                .pricing
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(invalid)?;
            self.store
                .apply_status(&StatusUpdate {
                    wamid: wamid.clone(),
                    status,
                    at,
                    pricing,
                    error: error.clone(),
                })
                .await?;
        }
        let sent = self.store.sent_message(&wamid).await?;
        let number = sent.as_ref().map(|m| m.number.clone()).or(number);
        let recipient = sent.as_ref().map(|m| m.contact.clone()).or_else(|| {
            s.recipient_wa_id
                .as_deref()
                .and_then(|r| ContactKey::new(r).ok())
        });

        // BILL-3: what Meta reported, once per message.
        if let (Some(pricing), Some(number)) = (&s.pricing, &number) {
            self.reported_pricing(
                &wamid,
                number,
                recipient.as_ref(),
                sent.as_ref(),
                pricing,
                at,
            )
            .await?;
        }
        match (status, &sent) {
            (Some(DeliveryStatus::Delivered | DeliveryStatus::Read), Some(sent)) => {
                self.delivered(sent).await?;
            }
            (Some(DeliveryStatus::Failed), Some(sent)) => {
                if let Some(error) = &error {
                    self.status_failed(sent, error).await?;
                }
            }
            _ => {}
        }
        Ok(Outcome::Applied { what: "status" })
    }

    async fn reported_pricing(
        &self,
        wamid: &MessageId,
        number: &BusinessNumberId,
        recipient: Option<&ContactKey>,
        sent: Option<&SentMessage>,
        pricing: &whatsapp::event::Pricing,
        at: Timestamp,
    ) -> Result<()> {
        let (Some(model), Some(category)) = (&pricing.pricing_model, &pricing.category) else {
            return Ok(());
        };
        let reported = match ReportedPricing::from_meta(
            pricing.billable.unwrap_or(false),
            model.as_str(),
            category,
            pricing.pricing_type.as_ref().map(|t| t.as_str()),
        ) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(wamid = %wamid, error = %e, "pricing not understood; not counted");
                return Ok(());
            }
        };
        let sent_at = sent.map_or(at, |m| m.sent_at);
        let predicted = sent.and_then(|m| m.prediction.as_ref());
        // BILL-6: charged or free and why, as Meta reported it; a charge is priced by the rate
        // table in force on the send's date.
        let charge = reported.charge(predicted);
        let micros = if charge == Charge::Charged {
            let digits = recipient.map_or("", |r| r.as_str());
            self.current_rates()
                .await?
                .rate(reported.category, digits, sent_at.date())
                .unwrap_or(0)
        } else {
            0
        };
        let line = LedgerAddition {
            number: number.clone(),
            day: sent_at.date(),
            category: reported.category.to_string(),
            charge: charge.label().to_owned(),
            micros,
        };
        if self
            .store
            .record_reported_pricing(wamid, &reported, &line)
            .await?
        {
            let verdict = billing::reconcile(number, wamid, sent_at, predicted, &reported).verdict;
            if let Verdict::Mismatch(fields) = verdict {
                tracing::info!(wamid = %wamid, number = %number, ?fields, "reported pricing differs from the prediction");
            }
        }
        Ok(())
    }

    /// A delivery resets the recipient's 4^n pair-rate sequence (DECISIONS 30).
    async fn delivered(&self, sent: &SentMessage) -> Result<()> {
        for _ in 0..CONFLICT_RETRIES {
            let (mut recipient, version) =
                self.store.recipient(&sent.number, &sent.contact).await?;
            if recipient.pace.pair_rate_failures() == 0 {
                return Ok(());
            }
            recipient.pace.record_delivered();
            let write = PacingWrite {
                number: None,
                recipient: Some((
                    sent.number.clone(),
                    sent.contact.clone(),
                    recipient,
                    version,
                )),
            };
            if self.store.put_pacing(&write).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// SEND-2 / CAMP-6: a message Meta accepted and then could not deliver. Acted on once per
    /// message (the send record remembers it), whatever the number of redeliveries.
    async fn status_failed(&self, sent: &SentMessage, error: &DeliveryError) -> Result<()> {
        let Ok(code) = u32::try_from(error.code) else {
            return Ok(());
        };
        let now_ms = self.clock.now_ms();
        let now = crate::core::second_of(now_ms);
        // Once per message.
        let mut record = None;
        for _ in 0..CONFLICT_RETRIES {
            let Some(current) = self.store.send_record(&sent.key).await? else {
                break;
            };
            let mut value = current.value;
            if value.failure_seen.is_some() {
                return Ok(());
            }
            value.failure_seen = Some(now);
            if self
                .store
                .put_send_record(&value, Some(current.version))
                .await?
                .is_some()
            {
                record = Some(value);
                break;
            }
        }
        let failure = SendFailure::Meta {
            code,
            http_status: None,
        };
        // SEND-4: a status-triggered resend is a new key (`~` per generation): the attempt is
        // the generation's, and the 24 h run from the original request.
        let job = record
            .as_ref()
            .and_then(|r| serde_json::from_str::<SendJob>(&r.job).ok());
        let attempt = FailedAttempt {
            failure,
            attempt: sent.key.matches('~').count() as u32 + 1,
            first_attempt_at: job.as_ref().map_or(now, |j| j.requested_at),
            pair_rate_failures: self
                .store
                .recipient(&sent.number, &sent.contact)
                .await?
                .0
                .pace
                .pair_rate_failures(),
            recipient_free_at: None,
            jitter_seed: crate::send::jitter_seed(&sent.key),
            campaign: sent.campaign.is_some(),
        };
        let (plan, next) = sending::after_failure(&attempt, &self.options.retry, now_ms);
        tracing::warn!(wamid = %sent.wamid, key = %self.outreach_key.log_id(&sent.key), code, class = ?plan.class, "message failed after it was accepted");
        // The recipient's and the number's side, as for a refused send.
        if matches!(
            plan.class,
            ErrorClass::PairRateLimit | ErrorClass::UndeliverableToUser
        ) {
            for _ in 0..CONFLICT_RETRIES {
                let (mut r, version) = self.store.recipient(&sent.number, &sent.contact).await?;
                if plan.class == ErrorClass::PairRateLimit {
                    r.pace.record_pair_rate_error(now_ms);
                } else {
                    r.undeliverable = Some(Undeliverable { code, at: now });
                }
                let write = PacingWrite {
                    number: None,
                    recipient: Some((sent.number.clone(), sent.contact.clone(), r, version)),
                };
                if self.store.put_pacing(&write).await? {
                    break;
                }
            }
        }
        if let Some(effect) = plan.number {
            self.number_effect(&sent.number, effect, Some(code), &plan.reason, now_ms)
                .await?;
        }
        if let (Some(name), Some(rules::OutboundContent::Template { language, .. })) =
            (&sent.template, job.as_ref().map(|j| &j.request.content))
            && let Ok(name) = TemplateName::new(name.as_str())
            && let Some(event) = sending::template_event_after_failure(&plan, &name, language, now)
        {
            self.template_paused_by_meta(&sent.number, event).await?;
        }
        if let Some(campaign) = &sent.campaign {
            let Some(mut loaded) = self.load_campaign(campaign).await? else {
                return Ok(());
            };
            let key = sent.key.clone();
            let policy = self.options.retry;
            let outcome = self
                .move_row(&mut loaded, &sent.contact, |campaign, row| {
                    if row.sent_key.as_deref() != Some(key.as_str()) {
                        return Err(rules::campaign::TransitionError::NotAllowed {
                            event: "a failed status".into(),
                            state: "sent by another job".into(),
                        });
                    }
                    // CAMP-6 / SEND-4: planned with the row's own attempts.
                    let (plan, _) = sending::after_failure(
                        &FailedAttempt {
                            attempt: row.contact.failed_attempt(),
                            first_attempt_at: row.contact.attempts_since().unwrap_or(now),
                            ..attempt
                        },
                        &policy,
                        now_ms,
                    );
                    campaign.record_failure(&mut row.contact, Some(code), &plan, now)
                })
                .await?;
            if let Some(outcome) = outcome
                && let Some(reason) = outcome.campaign_stopped
            {
                self.save_campaign_status(campaign, |c| {
                    c.status() == rules::campaign::CampaignStatus::Running
                        && c.stop(reason.clone()).is_ok()
                })
                .await?;
            }
            return Ok(());
        }
        // Not a campaign: a temporary failure sends the message again as a new attempt.
        let Some(job) = job else {
            return Ok(());
        };
        let retry = SendJob {
            key: retry_key(&sent.key),
            ..job
        };
        match next {
            AfterFailure::RetryAt(at_ms) => {
                self.requeue_job(&retry, at_ms).await?;
            }
            AfterFailure::HoldForTemplate => {
                if let (Some(name), rules::OutboundContent::Template { language, .. }) =
                    (&sent.template, &retry.request.content)
                {
                    let on = ParkReason::TemplateApproved {
                        name: name.clone(),
                        language: language.clone(),
                    };
                    self.store
                        .park(
                            &sent.number,
                            &on,
                            &ParkedSend {
                                key: retry.key.clone(),
                                job: crate::send::job_json(&retry),
                                at: now,
                            },
                        )
                        .await?;
                }
            }
            AfterFailure::HoldForNumber | AfterFailure::Fail => {}
        }
        Ok(())
    }

    /// Links an ambiguous send to the wamid its status revealed.
    async fn link_ambiguous(&self, key: &str, wamid: &MessageId) -> Result<()> {
        let Some(current) = self.store.send_record(key).await? else {
            return Ok(());
        };
        let ambiguous_since = match &current.value.state {
            SendState::Ambiguous { since, .. } => *since,
            SendState::InFlight {
                calling: true,
                since,
                ..
            } => *since,
            _ => return Ok(()),
        };
        let job: SendJob = serde_json::from_str(&current.value.job)
            .map_err(|e| SenderError::Corrupt(format!("send record {key}: {e}")))?;
        let campaign = match &job.origin {
            SendOrigin::Campaign { campaign } => self.load_campaign(campaign).await?,
            _ => None,
        };
        tracing::info!(key = %self.outreach_key.log_id(key), wamid = %wamid, "ambiguous send linked by its status");
        self.accept(
            &job,
            current.value,
            current.version,
            wamid.clone(),
            ambiguous_since,
            campaign,
            None,
        )
        .await?;
        Ok(())
    }

    /// SEND-2: an error about the number or the app (`value.errors[]`), not about one message.
    async fn account_error(
        &self,
        waba: &str,
        number: Option<BusinessNumberId>,
        error: whatsapp::webhook::MetaError,
        at: Timestamp,
    ) -> Result<Outcome> {
        let Some(code) = error.code.and_then(|c| u32::try_from(c).ok()) else {
            return Ok(Outcome::Ignored {
                why: "account error without a code".into(),
            });
        };
        let plan = plan_after_failure(
            &SendFailure::Meta {
                code,
                http_status: None,
            },
            1,
            0,
            &self.options.retry,
        );
        let Some(effect) = plan.number else {
            return Ok(Outcome::Ignored {
                why: format!("account error {code} changes nothing on the number"),
            });
        };
        let numbers = match number {
            Some(n) => vec![n],
            None => self
                .store
                .account_numbers(waba)
                .await?
                .into_iter()
                .map(|l| l.number)
                .collect(),
        };
        for n in &numbers {
            self.number_effect(n, effect, Some(code), &plan.reason, at.unix() * 1000)
                .await?;
        }
        Ok(Outcome::Applied {
            what: "account error",
        })
    }

    /// TPL-4: a template status or quality event, on every number of the account that has the
    /// template; TPL-1: campaigns using it pause, resume or stop; sends held for it go out when it
    /// is approved again.
    async fn template_event(
        &self,
        waba: &str,
        name: &str,
        language: Option<&str>,
        at: Timestamp,
        change: TemplateChange,
    ) -> Result<Outcome> {
        let name = TemplateName::new(name).map_err(invalid)?;
        let numbers = self.store.account_numbers(waba).await?;
        if numbers.is_empty() {
            return Ok(Outcome::Ignored {
                why: format!("no business number of account {waba} is known yet"),
            });
        }
        let mut applied = false;
        for link in numbers {
            let templates = self.store.templates(&link.number).await?;
            for template in templates
                .into_iter()
                .filter(|t| t.name == name && language.is_none_or(|l| l == t.language))
            {
                let mut catalogue = TemplateCatalogue {
                    templates: vec![template.clone()],
                };
                let update = catalogue.apply(&TemplateEvent {
                    name: name.clone(),
                    language: template.language.clone(),
                    at,
                    change: change.clone(),
                });
                let changed = &catalogue.templates[0];
                if changed != &template {
                    self.store.put_template(&link.number, changed).await?;
                    applied = true;
                }
                if let TemplateUpdate::StatusChanged { new, campaigns, .. } = update {
                    tracing::info!(number = %link.number, template = %name, language = %template.language, status = %new, "template status changed");
                    self.template_changed_for_campaigns(&link.number, changed, campaigns, new)
                        .await?;
                    if new == TemplateStatus::Approved {
                        let on = ParkReason::TemplateApproved {
                            name: name.to_string(),
                            language: template.language.clone(),
                        };
                        self.unpark_all(&link.number, &on).await?;
                    }
                }
            }
        }
        Ok(if applied {
            Outcome::Applied { what: "template" }
        } else {
            Outcome::Ignored {
                why: "template unknown, or the event is stale or repeated".into(),
            }
        })
    }

    /// SEND-3: the messaging limit or the throughput tier of numbers changed (later events win).
    async fn limits(
        &self,
        numbers: &[BusinessNumberId],
        at: Timestamp,
        limit: Option<MessagingLimit>,
        throughput_upgrade: bool,
    ) -> Result<Outcome> {
        if limit.is_none() && !throughput_upgrade {
            return Ok(Outcome::Ignored {
                why: "no messaging limit or throughput in the event".into(),
            });
        }
        for number in numbers {
            for _ in 0..CONFLICT_RETRIES {
                let (mut record, version) = self.store.number_pacing(number).await?;
                if version.is_none() {
                    record.settings = self.options.default_pacing;
                }
                if record.limits_as_of.is_some_and(|t| t > at) {
                    break;
                }
                if let Some(limit) = limit {
                    record.settings.messaging_limit = limit;
                }
                if throughput_upgrade {
                    record.settings.throughput = Throughput::per_second(MAX_PER_SECOND)
                        .expect("the maximum throughput is valid");
                }
                record.limits_as_of = Some(at);
                let write = PacingWrite {
                    number: Some((number.clone(), record, version)),
                    recipient: None,
                };
                if self.store.put_pacing(&write).await? {
                    tracing::info!(number = %number, ?limit, throughput_upgrade, "number limits changed");
                    break;
                }
            }
        }
        Ok(Outcome::Applied { what: "limits" })
    }
}

/// A whatsapp messaging limit as the rules read it.
fn messaging_limit(limit: &whatsapp::event::MessagingLimit) -> Option<MessagingLimit> {
    if limit.unlimited {
        return Some(MessagingLimit::Unlimited);
    }
    match (limit.per_day, &limit.tier) {
        (Some(n), _) => MessagingLimit::contacts(u32::try_from(n).unwrap_or(u32::MAX)).ok(),
        (None, Some(tier)) => MessagingLimit::from_meta(tier).ok(),
        (None, None) => None,
    }
}

/// The key of the next attempt of a message that failed after Meta accepted it.
pub fn retry_key(key: &str) -> String {
    format!("{key}~")
}

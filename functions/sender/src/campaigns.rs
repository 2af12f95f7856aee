//! Campaign sending (CAMP-1..6, CAMP-10): ticks move the next contacts from the hopper into
//! sending, within the number's throughput and messaging limit (CAMP-5); stop, pause and the end
//! are honoured; the chain of ticks goes on while contacts remain.
//!
//! Storage: the campaign's definition is the rules' [`Campaign`] as JSON (its hopper counts are
//! the store's counters, which move atomically with the rows); each row's data is a
//! [`CampaignRowData`] at the stage of its bucket. Every transition is the rules' own
//! ([`Campaign::apply`], [`Campaign::record_failure`]); this module only moves the results.

use crate::core::{Outcome, Result, Sender, SenderError, ms_of, second_of};
use crate::graph::GraphApi;
use crate::{Clock, send::CONFLICT_RETRIES};
use queue::{
    CampaignResult, CampaignTick, DelayedQueue, Destination, OutreachPlan, SendJob, SendOrigin,
};
use rules::campaign::{
    AnswerVerdict, Campaign, ImportedContact, PendingReason, RowEvent, RowState, SendingGate,
    TransitionError,
};
use rules::outreach::CampaignLink;
use rules::pacing::{MessagingLimit, Reach};
use rules::state::CampaignOutcome;
use rules::templates::{CampaignEffect, Template, TemplateStatus, render_parameters};
use rules::{
    BusinessNumberId, CampaignId, ContactKey, Duration, OutboundContent, OutreachId, SendPurpose,
    SendRequest, Timestamp,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use store::{CampaignRecord, CampaignRow, CampaignRowData, QueuedSend, SendingStore, Store};

/// A tick that is this much overdue no longer blocks a new chain (a lost tick is replaced).
pub const TICK_GRACE: Duration = Duration::minutes(5);
/// A job issued this long ago without finishing may be issued again (same key: sent once).
pub const REISSUE_AFTER: Duration = Duration::minutes(15);
/// Rows read per page of a hopper scan.
const PAGE: u32 = 100;

/// A campaign as the sender works on it.
#[derive(Debug, Clone)]
pub struct LoadedCampaign {
    pub id: CampaignId,
    pub number: BusinessNumberId,
    pub campaign: Campaign,
}

/// The rules' campaign of a stored record, with the store's hopper counters (the truth).
pub fn campaign_of(record: &CampaignRecord) -> Result<Campaign> {
    record
        .campaign()
        .map_err(|e| SenderError::Corrupt(format!("campaign {}: {e}", record.id)))
}

/// Stores a campaign and admits its imported contacts as `fresh` rows (CAMP-2; a contact in two
/// lists is messaged once). Returns how many rows were added. For the console and tests.
pub async fn add_campaign<S: Store>(
    store: &S,
    number: &BusinessNumberId,
    campaign: &mut Campaign,
    contacts: &[ImportedContact],
    now: Timestamp,
) -> Result<u32> {
    store
        .put_campaign(&CampaignRecord::of(number, campaign))
        .await?;
    let rows = campaign
        .admit(contacts, &BTreeSet::new(), now)
        .map_err(|e| SenderError::Invalid(e.to_string()))?;
    let mut added = 0;
    for contact in rows {
        let stage = contact.state().bucket().name();
        let row = CampaignRow {
            contact: contact.contact.clone(),
            stage: stage.to_owned(),
            data: row_json(&CampaignRowData {
                contact,
                emitted: 0,
                queued: None,
                sent_key: None,
            }),
        };
        if store.add_campaign_row(&campaign.id, &row).await? {
            added += 1;
        }
    }
    store
        .put_campaign(&CampaignRecord::of(number, campaign))
        .await?;
    Ok(added)
}

fn row_json(data: &CampaignRowData) -> serde_json::Value {
    serde_json::to_value(data).expect("a campaign row always serialises")
}

fn row_data(id: &CampaignId, row: &CampaignRow) -> Result<CampaignRowData> {
    serde_json::from_value(row.data.clone())
        .map_err(|e| SenderError::Corrupt(format!("campaign {id} row {}: {e}", row.contact)))
}

pub use rules::sending::template_header;

/// The key of tick `seq` of a campaign's chain.
pub fn tick_key(campaign: &CampaignId, seq: u64) -> String {
    format!("tick:{campaign}:{seq}")
}

/// The idempotency key of a campaign send: one per contact and issue.
pub fn campaign_send_key(campaign: &CampaignId, contact: &ContactKey, issue: u32) -> String {
    format!("camp:{campaign}:{contact}:{issue}")
}

/// An outreach id from a send key (OUT-8 ids allow letters, digits, `_`, `-`; at most 64).
pub fn outreach_id(key: &str) -> OutreachId {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    OutreachId::new(format!("o{}", &digest[..32])).expect("a digest is a valid id")
}

impl<S, Q, G, C> Sender<S, Q, G, C>
where
    S: Store + SendingStore,
    Q: DelayedQueue,
    G: GraphApi,
    C: Clock,
{
    pub(crate) async fn load_campaign(&self, id: &CampaignId) -> Result<Option<LoadedCampaign>> {
        match self.store.campaign(id).await? {
            Some(record) => Ok(Some(LoadedCampaign {
                id: id.clone(),
                campaign: campaign_of(&record)?,
                number: record.number,
            })),
            None => Ok(None),
        }
    }

    /// Changes the campaign's status with a rules transition `change` (which says whether it
    /// changed anything) and stores it. Returns whether it changed.
    pub(crate) async fn save_campaign_status(
        &self,
        id: &CampaignId,
        change: impl Fn(&mut Campaign) -> bool,
    ) -> Result<bool> {
        // Conditional on the version read: a console write in between (start, stop, a list) is
        // never overwritten; the change is applied again to what the console wrote.
        for _ in 0..CONFLICT_RETRIES {
            let Some(read) = self.store.versioned_campaign(id).await? else {
                return Ok(false);
            };
            let mut campaign = campaign_of(&read.value)?;
            if !change(&mut campaign) {
                return Ok(false);
            }
            if self
                .store
                .put_campaign_if(
                    &CampaignRecord::of(&read.value.number, &campaign),
                    Some(read.version),
                )
                .await?
                .is_some()
            {
                tracing::info!(campaign = %id, status = %campaign.status(), "campaign status changed");
                return Ok(true);
            }
        }
        Err(SenderError::Store(store::StoreError::Retryable {
            operation: "put_campaign_if",
            message: format!("campaign {id} kept changing"),
        }))
    }

    /// Applies a rules transition to one row and moves it (with the hopper counters) in one
    /// conditional write; re-reads on a concurrent move. `Ok(None)`: the row is absent or the
    /// transition does not apply (a duplicate or stale event).
    pub(crate) async fn move_row<T>(
        &self,
        loaded: &mut LoadedCampaign,
        contact: &ContactKey,
        mut change: impl FnMut(&mut Campaign, &mut CampaignRowData) -> Result<T, TransitionError>,
    ) -> Result<Option<T>> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(row) = self.store.campaign_row(&loaded.id, contact).await? else {
                return Ok(None);
            };
            let mut data = row_data(&loaded.id, &row)?;
            let mut campaign = loaded.campaign.clone();
            let out = match change(&mut campaign, &mut data) {
                Ok(out) => out,
                Err(e) => {
                    tracing::debug!(campaign = %loaded.id, error = %e, "campaign row unchanged");
                    return Ok(None);
                }
            };
            let next = CampaignRow {
                contact: contact.clone(),
                stage: data.contact.state().bucket().name().to_owned(),
                data: row_json(&data),
            };
            if self
                .store
                .move_campaign_row(&loaded.id, &row.stage, &next)
                .await?
            {
                loaded.campaign = campaign;
                return Ok(Some(out));
            }
        }
        Err(SenderError::Store(store::StoreError::Retryable {
            operation: "move_campaign_row",
            message: format!("campaign {} row kept changing", loaded.id),
        }))
    }

    /// A campaign job that ends without a send: the row is free to be issued again.
    pub(crate) async fn release_row(&self, job: &SendJob) -> Result<()> {
        let SendOrigin::Campaign { campaign } = &job.origin else {
            return Ok(());
        };
        let Some(mut loaded) = self.load_campaign(campaign).await? else {
            return Ok(());
        };
        let key = job.key.clone();
        self.move_row(&mut loaded, &job.contact, |_, row| {
            if row.queued.as_ref().is_some_and(|q| q.key == key) {
                row.queued = None;
                Ok(())
            } else {
                Err(TransitionError::NotAllowed {
                    event: "a release".into(),
                    state: "not queued for this job".into(),
                })
            }
        })
        .await?;
        Ok(())
    }

    /// CAMP-6: a campaign contact whose send ended for good without a code (an ambiguous
    /// marketing send) is closed with the reason.
    pub(crate) async fn campaign_row_closed(&self, job: &SendJob, reason: &str) -> Result<()> {
        let SendOrigin::Campaign { campaign } = &job.origin else {
            return Ok(());
        };
        let Some(mut loaded) = self.load_campaign(campaign).await? else {
            return Ok(());
        };
        let now = self.clock.now();
        self.move_row(&mut loaded, &job.contact, |campaign, row| {
            row.queued = None;
            campaign.apply(
                &mut row.contact,
                RowEvent::Failed {
                    code: None,
                    reason: reason.to_owned(),
                    next: rules::campaign::FailedRowState::Closed,
                    at: now,
                },
            )
        })
        .await?;
        Ok(())
    }

    /// TPL-1 / TPL-4: a template's status changed: pause, resume or stop the number's campaigns
    /// that use it; a resumed campaign gets a tick.
    pub(crate) async fn template_changed_for_campaigns(
        &self,
        number: &BusinessNumberId,
        template: &Template,
        effect: CampaignEffect,
        new: TemplateStatus,
    ) -> Result<u32> {
        if effect == CampaignEffect::None {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut changed = 0;
        for id in self.store.number_campaigns(number).await? {
            let Some(loaded) = self.load_campaign(&id).await? else {
                continue;
            };
            let settings = &loaded.campaign.settings;
            if settings.template != template.name || settings.language != template.language {
                continue;
            }
            if self
                .save_campaign_status(&id, |c| c.on_template_change(effect, new, now))
                .await?
            {
                changed += 1;
                if effect == CampaignEffect::Resume {
                    let tick = CampaignTick {
                        key: format!("resume:{id}:{}", now.unix()),
                        campaign: id.clone(),
                        at: now,
                    };
                    self.queue
                        .send(Destination::Outbound, vec![tick.envelope()])
                        .await?;
                }
            }
        }
        Ok(changed)
    }

    /// CAMP-7..9: the router's verdict on a contact's answer (or its absence): the contact is
    /// closed with its result, once (a repeated or stale result changes nothing); the campaign
    /// completes when nothing is left.
    pub async fn campaign_result(&self, result: CampaignResult) -> Result<Outcome> {
        let Some(mut loaded) = self.load_campaign(&result.campaign).await? else {
            return Ok(Outcome::Ignored {
                why: format!("campaign {} does not exist", result.campaign),
            });
        };
        let event = match &result.outcome {
            CampaignOutcome::Answered { title, .. } => RowEvent::Answered {
                verdict: AnswerVerdict::InTime(title.clone()),
                at: result.at,
            },
            CampaignOutcome::Late => RowEvent::Answered {
                verdict: AnswerVerdict::Late,
                at: result.at,
            },
            CampaignOutcome::FreeText => RowEvent::Answered {
                verdict: AnswerVerdict::FreeText,
                at: result.at,
            },
            CampaignOutcome::TimedOut => RowEvent::ResponseTimedOut { at: result.at },
        };
        let outreach = result.outreach.clone();
        let moved = self
            .move_row(&mut loaded, &result.contact, |campaign, row| {
                let awaiting = matches!(
                    row.contact.state(),
                    RowState::Pending(PendingReason::AwaitingAnswer { outreach: o, .. }) if *o == outreach
                );
                if !awaiting {
                    return Err(TransitionError::NotAllowed {
                        event: "a result".into(),
                        state: "not awaiting this outreach".into(),
                    });
                }
                campaign.apply(&mut row.contact, event.clone())
            })
            .await?;
        if moved.is_none() {
            return Ok(Outcome::Ignored {
                why: format!("result {} is repeated or stale", result.key),
            });
        }
        let now = self.clock.now();
        self.save_campaign_status(&loaded.id, |c| c.complete_if_done(now).is_some())
            .await?;
        Ok(Outcome::Applied {
            what: "campaign result",
        })
    }

    /// One campaign tick.
    pub async fn tick(&self, tick: CampaignTick) -> Result<Outcome> {
        let now = self.clock.now();
        let Some(mut loaded) = self.load_campaign(&tick.campaign).await? else {
            return Ok(Outcome::Ignored {
                why: format!("campaign {} does not exist", tick.campaign),
            });
        };
        // One chain per campaign: this tick must be the chain's next one, or start a new chain
        // when none is alive.
        let (mut sending, version) = self.store.campaign_sending(&loaded.id).await?;
        let own = sending
            .next_tick
            .is_some_and(|(seq, _)| tick.key == tick_key(&loaded.id, seq));
        if !own
            && let Some((_, at)) = sending.next_tick
            && now < at + TICK_GRACE
        {
            return Ok(Outcome::StaleTick);
        }
        if !own {
            // The number's link to the campaign (template changes find it there), written by the
            // first tick of each chain: links are never removed, so a chain's later ticks (one a
            // minute while contacts wait for answers) need not write it again.
            self.store.link_campaign(&loaded.number, &loaded.id).await?;
        }
        sending.seq += 1;
        let seq = sending.seq;
        sending.next_tick = Some((seq, now + TICK_GRACE));
        if !self
            .store
            .put_campaign_sending(&loaded.id, &sending, version)
            .await?
        {
            return Ok(Outcome::StaleTick);
        }
        let version = Some(version.map_or(1, |v| v + 1));

        let (issued, next) = match loaded.campaign.sending_gate(now) {
            SendingGate::Closed => {
                self.save_campaign_status(&loaded.id, |c| c.complete_if_done(now).is_some())
                    .await?;
                self.close_unsent_rows(&loaded.id, now).await?;
                (0, None)
            }
            SendingGate::NotYet { until } => (0, Some(until)),
            SendingGate::Open => self.issue(&mut loaded, &mut sending, now).await?,
        };
        sending.next_tick = next.map(|at| (seq, at));
        if !self
            .store
            .put_campaign_sending(&loaded.id, &sending, version)
            .await?
        {
            return Ok(Outcome::StaleTick);
        }
        if let Some(at) = next {
            let tick = CampaignTick {
                key: tick_key(&loaded.id, seq),
                campaign: loaded.id.clone(),
                at,
            };
            self.requeue_tick(&tick, at).await?;
        }
        Ok(Outcome::Ticked {
            campaign: loaded.id,
            issued,
            next,
        })
    }

    /// CAMP-2 (issue 16, case 12): a campaign completed by its end closes the contacts it never
    /// sent, each with the reason in its history ([`Campaign::end_of_campaign`]).
    async fn close_unsent_rows(&self, id: &CampaignId, now: Timestamp) -> Result<()> {
        let Some(mut loaded) = self.load_campaign(id).await? else {
            return Ok(());
        };
        let mut cursor = None;
        loop {
            let page = self
                .store
                .campaign_rows(id, PAGE, cursor.as_deref())
                .await?;
            for row in &page.items {
                let data = row_data(id, row)?;
                if loaded
                    .campaign
                    .end_of_campaign(&data.contact, now)
                    .is_none()
                {
                    continue;
                }
                self.move_row(&mut loaded, &row.contact, |campaign, row| {
                    let Some(event) = campaign.end_of_campaign(&row.contact, now) else {
                        return Err(TransitionError::NotAllowed {
                            event: "the campaign's end".into(),
                            state: "already moved".into(),
                        });
                    };
                    row.queued = None;
                    campaign.apply(&mut row.contact, event)
                })
                .await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Issues the next due contacts within the limits; returns how many and when to tick again.
    async fn issue(
        &self,
        loaded: &mut LoadedCampaign,
        sending: &mut store::CampaignSending,
        now: Timestamp,
    ) -> Result<(u32, Option<Timestamp>)> {
        let hopper = *loaded.campaign.hopper();
        if hopper.total() > 0 && hopper.fresh() + hopper.retry() + hopper.pending() == 0 {
            self.save_campaign_status(&loaded.id, |c| c.complete_if_done(now).is_some())
                .await?;
            return Ok((0, None));
        }
        let idle = now + self.options.campaign_idle_tick;
        let (pacing, pacing_version) = self.store.number_pacing(&loaded.number).await?;
        let settings = if pacing_version.is_none() {
            self.options.default_pacing
        } else {
            pacing.settings
        };
        if pacing.pacing.stopped {
            return Ok((0, Some(idle)));
        }
        let now_ms = ms_of(now);
        let held = [
            pacing.pacing.throttled_until,
            pacing.pacing.campaign_traffic_paused_until,
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(until) = held
            && until > now_ms
        {
            return Ok((0, Some(second_of(until) + Duration::seconds(1))));
        }
        // CAMP-5: no more than the number's throughput per tick, nor than the contacts the
        // messaging limit still allows (each send still takes its own slot when it goes out).
        let mut budget = self.options.campaign_slice.min(settings.throughput.get());
        if let MessagingLimit::Contacts(max) = settings.messaging_limit {
            let used = pacing.pacing.reach.count(now).min(u64::from(u32::MAX)) as u32;
            if used >= max {
                let at = match pacing.pacing.reach.check_new(settings.messaging_limit, now) {
                    Reach::WaitUntil { at } => at,
                    Reach::Allowed { .. } => idle,
                };
                return Ok((0, Some(at)));
            }
            budget = budget.min(max - used);
        }

        let settings = loaded.campaign.settings.clone();
        let template = self
            .store
            .template(&loaded.number, &settings.template, &settings.language)
            .await?;
        let template = match template {
            Some(t) if t.status == TemplateStatus::Approved => t,
            other => {
                // TPL-1: paused → stopped until approved; otherwise unusable.
                let (effect, status) = match other.map(|t| t.status) {
                    Some(TemplateStatus::Paused) => (CampaignEffect::Pause, TemplateStatus::Paused),
                    Some(status) => (CampaignEffect::Stop, status),
                    None => (CampaignEffect::Stop, TemplateStatus::Disabled),
                };
                self.save_campaign_status(&loaded.id, |c| {
                    c.on_template_change(effect, status, now)
                })
                .await?;
                return Ok((0, None));
            }
        };

        let started_at_beginning = sending.cursor.is_none();
        let mut cursor = sending.cursor.clone();
        let mut issued = 0u32;
        let mut jobs = Vec::new();
        let mut busy = 0u32;
        let mut earliest_retry: Option<Timestamp> = None;
        let mut budget_reached = false;
        'scan: loop {
            let page = self
                .store
                .campaign_rows(&loaded.id, PAGE, cursor.as_deref())
                .await?;
            for row in &page.items {
                cursor = Some(store::keys::campaign_row(&loaded.id, &row.contact).sk);
                let data = row_data(&loaded.id, row)?;
                match data.contact.state() {
                    RowState::Fresh | RowState::Retry { .. } if data.contact.due(now) => {
                        let reissue = match &data.queued {
                            None => None,
                            Some(q) if now < q.at + REISSUE_AFTER => {
                                busy += 1;
                                continue;
                            }
                            Some(q) => match self.store.send_record(&q.key).await? {
                                // Lost before anyone took it: the same job again (same key).
                                None => Some(q.key.clone()),
                                // Still alive (waiting, parked, in flight): not twice.
                                Some(r) if !r.value.state.is_final() => {
                                    busy += 1;
                                    continue;
                                }
                                // Finished without moving the row: a new issue.
                                Some(_) => None,
                            },
                        };
                        if let Some(job) = self
                            .issue_row(loaded, &template, &data, reissue, now)
                            .await?
                        {
                            jobs.push(job.envelope());
                            issued += 1;
                        }
                        if issued >= budget {
                            budget_reached = true;
                            break 'scan;
                        }
                    }
                    RowState::Retry {
                        not_before: Some(t),
                    } => {
                        earliest_retry = Some(earliest_retry.map_or(*t, |e| e.min(*t)));
                    }
                    RowState::Pending(PendingReason::WaitingForOtherCampaign {
                        campaign: other,
                        ..
                    }) => {
                        self.recheck_waiting(loaded, &row.contact, other, now)
                            .await?;
                    }
                    _ => {}
                }
            }
            if page.next.is_none() {
                cursor = None;
                break;
            }
        }
        if !jobs.is_empty() {
            self.queue.send(Destination::Outbound, jobs).await?;
        }
        sending.cursor = cursor.clone();
        let soon = now + Duration::seconds(1);
        let next = if budget_reached || !started_at_beginning {
            Some(soon)
        } else if issued > 0 || busy > 0 {
            Some(now + Duration::seconds(5))
        } else {
            let after = self.load_campaign(&loaded.id).await?;
            let hopper = after.map(|c| *c.campaign.hopper()).unwrap_or(hopper);
            if hopper.fresh() + hopper.retry() + hopper.pending() == 0 {
                self.save_campaign_status(&loaded.id, |c| c.complete_if_done(now).is_some())
                    .await?;
                None
            } else {
                Some(earliest_retry.map_or(idle, |t| t.max(soon).min(idle)))
            }
        };
        tracing::info!(campaign = %loaded.id, issued, busy, next = ?next, "campaign tick");
        Ok((issued, next))
    }

    /// Builds the send of one row and marks the row as queued for it. `None`: the row moved
    /// meanwhile, or it cannot be sent (closed with the reason).
    async fn issue_row(
        &self,
        loaded: &mut LoadedCampaign,
        template: &Template,
        data: &CampaignRowData,
        reissue: Option<String>,
        now: Timestamp,
    ) -> Result<Option<SendJob>> {
        let contact = data.contact.contact.clone();
        let rendered = render_parameters(template, &data.contact.fields)
            .map_err(|e| e.to_string())
            .and_then(|p| template_header(template, &p).map(|header| (p, header)));
        let (parameters, header) = match rendered {
            Ok(p) => p,
            Err(e) => {
                // TPL-3: a variable the contact cannot fill: closed with the reason.
                let reason = e;
                self.move_row(loaded, &contact, |campaign, row| {
                    campaign.apply(
                        &mut row.contact,
                        RowEvent::Failed {
                            code: None,
                            reason: reason.clone(),
                            next: rules::campaign::FailedRowState::Closed,
                            at: now,
                        },
                    )
                })
                .await?;
                return Ok(None);
            }
        };
        let issue = if reissue.is_some() {
            data.emitted
        } else {
            data.emitted + 1
        };
        let key = reissue.unwrap_or_else(|| campaign_send_key(&loaded.id, &contact, issue));
        let seen = data.emitted;
        let marked = self
            .move_row(loaded, &contact, |_, row| {
                if row.emitted != seen || !row.contact.due(now) {
                    return Err(TransitionError::NotAllowed {
                        event: "an issue".into(),
                        state: "moved meanwhile".into(),
                    });
                }
                row.emitted = issue;
                row.queued = Some(QueuedSend {
                    key: key.clone(),
                    at: now,
                });
                Ok(())
            })
            .await?;
        if marked.is_none() {
            return Ok(None);
        }
        let settings = &loaded.campaign.settings;
        let hand_off = settings.handoff.clone();
        Ok(Some(SendJob {
            key: key.clone(),
            number: loaded.number.clone(),
            contact,
            request: SendRequest {
                purpose: SendPurpose::Campaign,
                content: OutboundContent::Template {
                    name: template.name.clone(),
                    language: template.language.clone(),
                    header,
                    parameters: parameters.body,
                    button_payloads: Vec::new(),
                },
                conversation: None,
                recontact_if_closed: false,
            },
            origin: SendOrigin::Campaign {
                campaign: loaded.id.clone(),
            },
            requested_at: now,
            outreach: Some(OutreachPlan {
                id: outreach_id(&key),
                buttons: template.quick_replies().map(str::to_owned).collect(),
                campaign: Some(CampaignLink {
                    campaign: loaded.id.clone(),
                    response_timeout: settings.response_timeout,
                    hand_off,
                }),
            }),
        }))
    }

    /// CAMP-3: a contact waiting for another campaign's interaction goes back to `fresh` once
    /// that interaction is closed (answered, timed out, or superseded).
    async fn recheck_waiting(
        &self,
        loaded: &mut LoadedCampaign,
        contact: &ContactKey,
        other: &CampaignId,
        now: Timestamp,
    ) -> Result<()> {
        let state = self
            .store
            .load_contact(&loaded.number, contact, now)
            .await?
            .state
            .map(|s| s.value);
        let still_open = state
            .and_then(|s| s.campaign)
            .is_some_and(|open| &open.campaign == other && now <= open.respond_by);
        if !still_open {
            self.move_row(loaded, contact, |campaign, row| {
                campaign.apply(&mut row.contact, RowEvent::OtherCampaignClosed { at: now })
            })
            .await?;
        }
        Ok(())
    }
}

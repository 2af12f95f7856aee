//! Outbound template campaigns as data and pure transitions (CAMP-1..6, CAMP-10; seed 002).
//!
//! - CAMP-1 [`Campaign`]: template, lists, start and end, response timeout, retry on/off, the
//!   hand-off after an answer ([`Handoff`]: the bot recipe by default, or an agent), and a status
//!   `DRAFT → RUNNING ⇄ STOPPED → COMPLETED` changed only by [`Campaign::start`],
//!   [`Campaign::stop`], [`Campaign::complete_if_done`] and [`Campaign::on_template_change`],
//!   each refusing what makes no sense with a typed error.
//! - CAMP-2 [`Hopper`]: the counts of `fresh`, `retry`, `pending` and `closed` contacts. Its
//!   counters are private and change only inside [`Campaign::admit`] and [`Campaign::apply`],
//!   which move one [`CampaignContact`] between states and adjust the counts in the same step, so
//!   the counts add up to the campaign's contacts by construction (and a property test drives
//!   random sequences to check it). Every move is returned as a [`RowMove`] so the store can update
//!   its counters atomically.
//! - CAMP-3 Before sending, the sender asks whether another campaign interaction is open for the
//!   contact. If so the contact is **not sent**: it moves to `pending` marked
//!   [`PendingReason::WaitingForOtherCampaign`] (seed 002: "remains on pending status until the
//!   open interaction is closed"). When that interaction closes, it moves back to `fresh` and is
//!   sent on the next pass. Waiting uses no attempt and no retry run. (Decision.)
//! - CAMP-4 [`import_list`]: list rows → imported contacts and refused rows, each with its row
//!   number and reason (E.164 through [`PhoneNumber::parse`]); the rest of the list is imported.
//! - CAMP-5 is pacing: see [`crate::pacing`].
//! - CAMP-6 [`Campaign::record_failure`] applies a [`FailurePlan`] from [`crate::send_error`]:
//!   permanent → `closed` with the reason; temporary → `retry` (sent again automatically while the
//!   plan allows, then by a retry run); an account problem (expired token …) or a paused template
//!   stops the campaign with that reason and puts the contact back to `fresh` instead of failing
//!   every contact. [`Campaign::check_retry_run`] allows retry runs until the campaign's end.
//! - CAMP-7..9 [`classify_answer`]: in time with a quick reply, late, or free text. What the
//!   conversation does next is the conversation engine's matter.
//! - CAMP-10 Each [`CampaignContact`] keeps its history (sends, failures with code and reason,
//!   waiting, answer) and its result, for the console.
//!
//! Decisions: a campaign completes when nothing is `fresh`, `retry` or `pending`, or when its end
//! passes; completion leaves the rows as they are (contacts still `fresh` were never reached, and
//! the console shows them so), and answers to contacts still `pending` are still recorded.
//! Temporary failures with automatic retries left go to `retry` even when retry is off; retry off
//! only means that a contact whose automatic retries are used up is closed instead of waiting for
//! a retry run.

use crate::ids::TemplateName;
use crate::ids::{AgentId, CampaignId, ContactKey, OutreachId, PhoneError, PhoneNumber, RecipeId};
use crate::send_error::{CampaignContactFate, FailureAction, FailurePlan, NumberEffect};
use crate::templates::{
    CampaignEffect, ContactFields, Template, TemplateError, TemplateStatus, Variable, check_mapping,
};
use crate::time::{Duration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A contact list of the Contact Manager.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ListId(String);

impl ListId {
    pub fn new(value: impl Into<String>) -> Result<Self, CampaignError> {
        let value = value.into();
        if value.trim().is_empty() {
            return Err(CampaignError::EmptyListId);
        }
        Ok(ListId(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// CAMP-1: a campaign's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CampaignStatus {
    Draft,
    Running,
    Stopped,
    Completed,
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CampaignStatus::Draft => "DRAFT",
            CampaignStatus::Running => "RUNNING",
            CampaignStatus::Stopped => "STOPPED",
            CampaignStatus::Completed => "COMPLETED",
        })
    }
}

/// Why a campaign is `STOPPED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// Stopped from the console.
    ByUser { by: Option<AgentId> },
    /// TPL-1: the template was paused; the campaign resumes when it is approved again.
    TemplatePaused,
    /// TPL-1: the template was disabled or rejected; the campaign cannot go on with it.
    TemplateUnusable { status: TemplateStatus },
    /// CAMP-6: token, permission, payment or policy problem on the number.
    AccountProblem { reason: String },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::ByUser { by: Some(a) } => write!(f, "stopped by {a}"),
            StopReason::ByUser { by: None } => f.write_str("stopped from the console"),
            StopReason::TemplatePaused => {
                f.write_str("the template is paused; the campaign resumes when it is approved")
            }
            StopReason::TemplateUnusable { status } => write!(f, "the template is {status}"),
            StopReason::AccountProblem { reason } => write!(f, "sending stopped: {reason}"),
        }
    }
}

/// Why a campaign is `COMPLETED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionReason {
    /// Nothing left fresh, to retry or pending.
    AllContactsDone,
    /// The campaign's end passed.
    EndPassed,
}

/// CAMP-7: who takes the conversation after a counted answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Handoff {
    /// A bot recipe: `None` is the number's enabled recipe.
    Bot { recipe: Option<RecipeId> },
    /// An agent: `None` lets the queue choose (AUTO-4).
    Agent { agent: Option<AgentId> },
}

impl Default for Handoff {
    fn default() -> Self {
        Handoff::Bot { recipe: None }
    }
}

impl Handoff {
    /// Reads a hand-off as written now (`{"to": "agent", "agent": "ana"}`) or as outreach
    /// records and campaign interactions wrote it before they carried the recipe or agent
    /// (`"bot"`, `"agent"`: the number's recipe, the queue).
    pub fn deserialize_either<'de, D>(d: D) -> Result<Handoff, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Bare {
            Bot,
            Agent,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Now(Handoff),
            Before(Bare),
        }
        Ok(match Either::deserialize(d)? {
            Either::Now(h) => h,
            Either::Before(Bare::Bot) => Handoff::Bot { recipe: None },
            Either::Before(Bare::Agent) => Handoff::Agent { agent: None },
        })
    }
}

/// CAMP-1: what an administrator sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignSettings {
    pub name: String,
    pub template: TemplateName,
    pub language: String,
    pub lists: Vec<ListId>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub response_timeout: Duration,
    pub retry_enabled: bool,
    #[serde(default)]
    pub handoff: Handoff,
}

/// CAMP-2: where a contact stands in the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Fresh,
    Retry,
    Pending,
    Closed,
}

impl Bucket {
    pub const ALL: [Bucket; 4] = [
        Bucket::Fresh,
        Bucket::Retry,
        Bucket::Pending,
        Bucket::Closed,
    ];

    /// The stage name (as serialised): the store's row stages and hopper counter names, the
    /// console's. The one place these names are written.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Fresh => "fresh",
            Bucket::Retry => "retry",
            Bucket::Pending => "pending",
            Bucket::Closed => "closed",
        }
    }
}

/// CAMP-2: the hopper's counts. Private counters: only this module's transitions change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hopper {
    fresh: u32,
    retry: u32,
    pending: u32,
    closed: u32,
}

impl Hopper {
    pub fn fresh(&self) -> u32 {
        self.fresh
    }
    pub fn retry(&self) -> u32 {
        self.retry
    }
    pub fn pending(&self) -> u32 {
        self.pending
    }
    pub fn closed(&self) -> u32 {
        self.closed
    }
    /// The campaign's contacts: always the sum of the four counts.
    pub fn total(&self) -> u32 {
        self.fresh + self.retry + self.pending + self.closed
    }
    pub fn count(&self, bucket: Bucket) -> u32 {
        match bucket {
            Bucket::Fresh => self.fresh,
            Bucket::Retry => self.retry,
            Bucket::Pending => self.pending,
            Bucket::Closed => self.closed,
        }
    }

    fn slot(&mut self, bucket: Bucket) -> &mut u32 {
        match bucket {
            Bucket::Fresh => &mut self.fresh,
            Bucket::Retry => &mut self.retry,
            Bucket::Pending => &mut self.pending,
            Bucket::Closed => &mut self.closed,
        }
    }

    fn moved(&mut self, from: Bucket, to: Bucket) {
        if from != to {
            let f = self.slot(from);
            *f = f.saturating_sub(1);
            *self.slot(to) += 1;
        }
    }
}

/// Why a contact is `pending`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingReason {
    /// CAMP-7: sent; the interaction is open until the answer or `answer_by`.
    AwaitingAnswer {
        outreach: OutreachId,
        sent_at: Timestamp,
        answer_by: Timestamp,
    },
    /// CAMP-3: not sent, because another campaign's interaction is open for the contact.
    WaitingForOtherCampaign {
        campaign: CampaignId,
        since: Timestamp,
    },
}

/// CAMP-10: the result of a closed contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ContactResult {
    /// CAMP-7: pressed one of the template's quick replies in time.
    Answered { button: String, at: Timestamp },
    /// CAMP-8: answered after the response timeout.
    AnsweredLate { at: Timestamp },
    /// CAMP-9: wrote instead of pressing a button.
    AnsweredWithText { at: Timestamp },
    /// No answer before the response timeout.
    NoAnswer,
    /// CAMP-6: failed for good (or temporarily with retry off), with Meta's code and the reason.
    Failed { code: Option<u32>, reason: String },
}

/// CAMP-2: a contact's state in the campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RowState {
    Fresh,
    /// Temporary failure. `not_before`: when the sender tries again by itself; `None`: waits for a
    /// retry run.
    Retry {
        not_before: Option<Timestamp>,
    },
    Pending(PendingReason),
    Closed(ContactResult),
}

impl RowState {
    pub fn bucket(&self) -> Bucket {
        match self {
            RowState::Fresh => Bucket::Fresh,
            RowState::Retry { .. } => Bucket::Retry,
            RowState::Pending(_) => Bucket::Pending,
            RowState::Closed(_) => Bucket::Closed,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            RowState::Fresh => "fresh",
            RowState::Retry { .. } => "retry",
            RowState::Pending(PendingReason::AwaitingAnswer { .. }) => "pending (awaiting answer)",
            RowState::Pending(PendingReason::WaitingForOtherCampaign { .. }) => {
                "pending (waiting for another campaign)"
            }
            RowState::Closed(_) => "closed",
        }
    }
}

/// CAMP-10: one line of a contact's history in the campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub event: HistoryEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HistoryEvent {
    Imported {
        row: Option<u32>,
    },
    Sent {
        outreach: OutreachId,
        attempt: u32,
    },
    WaitingForOtherCampaign {
        campaign: CampaignId,
    },
    OtherCampaignClosed,
    Failed {
        code: Option<u32>,
        reason: String,
        next: Bucket,
        /// SEND-4: identical failures in a row are one entry counting its attempts (the entry's
        /// `at` is the latest).
        #[serde(default = "one_attempt")]
        attempts: u32,
    },
    RetryRun,
    Closed(ContactResult),
}

fn one_attempt() -> u32 {
    1
}

/// A contact of the campaign: its state, attempts and history (CAMP-2, CAMP-10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignContact {
    pub contact: ContactKey,
    pub phone: PhoneNumber,
    pub fields: ContactFields,
    state: RowState,
    attempts: u32,
    history: Vec<HistoryEntry>,
}

impl CampaignContact {
    pub fn state(&self) -> &RowState {
        &self.state
    }
    /// Sends made so far (for backoff: the attempt number of the next failure is this).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }
    /// SEND-4: the number of the attempt that just failed: a failure reported for a send already
    /// counted (a `failed` status of a sent message) is that send's; a refused call counts one
    /// more.
    pub fn failed_attempt(&self) -> u32 {
        match self.state {
            RowState::Pending(PendingReason::AwaitingAnswer { .. }) => self.attempts.max(1),
            _ => self.attempts + 1,
        }
    }
    /// SEND-4: when the current run of attempts began (the first send or failure since the
    /// import, the last retry run, or the end of another campaign's interaction).
    pub fn attempts_since(&self) -> Option<Timestamp> {
        self.history
            .iter()
            .rev()
            .take_while(|h| {
                !matches!(
                    h.event,
                    HistoryEvent::Imported { .. }
                        | HistoryEvent::RetryRun
                        | HistoryEvent::OtherCampaignClosed
                )
            })
            .filter(|h| {
                matches!(
                    h.event,
                    HistoryEvent::Sent { .. } | HistoryEvent::Failed { .. }
                )
            })
            .map(|h| h.at)
            .last()
    }
    /// CAMP-10: the answer or the failure, once closed.
    pub fn result(&self) -> Option<&ContactResult> {
        match &self.state {
            RowState::Closed(r) => Some(r),
            _ => None,
        }
    }
    /// Whether the sender should send to this contact now: `fresh`, or `retry` whose automatic
    /// retry time has come.
    pub fn due(&self, now: Timestamp) -> bool {
        match self.state {
            RowState::Fresh => true,
            RowState::Retry {
                not_before: Some(t),
            } => now >= t,
            _ => false,
        }
    }
}

/// CAMP-7..9: the customer's answer to a campaign template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "button", rename_all = "snake_case")]
pub enum CampaignAnswer {
    /// One of the template's quick replies (see [`match_quick_reply`]).
    QuickReply(String),
    /// Anything else: text, media, a button that is not one of the template's quick replies.
    Other,
}

/// CAMP-7..9: how an answer counts for the campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "button", rename_all = "snake_case")]
pub enum AnswerVerdict {
    /// CAMP-7: a quick reply within the response timeout: the contact's result.
    InTime(String),
    /// CAMP-8: after the response timeout (whatever it is): not counted.
    Late,
    /// CAMP-9: free text within the timeout: the campaign ends for the contact.
    FreeText,
}

/// The template quick reply an inbound button text or payload stands for, if any.
pub fn match_quick_reply<'a>(template: &'a Template, pressed: &str) -> Option<&'a str> {
    let pressed = pressed.trim();
    template
        .quick_replies()
        .find(|label| label.trim().eq_ignore_ascii_case(pressed))
}

/// CAMP-7..9: an answer at `answered_at` to a template sent at `sent_at`. In time means at most
/// `response_timeout` after the send (the deadline itself is in time).
pub fn classify_answer(
    response_timeout: Duration,
    sent_at: Timestamp,
    answered_at: Timestamp,
    answer: &CampaignAnswer,
) -> AnswerVerdict {
    if answered_at > sent_at + response_timeout {
        return AnswerVerdict::Late;
    }
    match answer {
        CampaignAnswer::QuickReply(button) => AnswerVerdict::InTime(button.clone()),
        CampaignAnswer::Other => AnswerVerdict::FreeText,
    }
}

/// What happened to a contact; [`Campaign::apply`] moves it accordingly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RowEvent {
    /// The template was accepted by Meta for this contact.
    Sent { outreach: OutreachId, at: Timestamp },
    /// CAMP-3: another campaign's interaction is open for the contact; it is not sent.
    OtherCampaignOpen { campaign: CampaignId, at: Timestamp },
    /// CAMP-3: that interaction closed.
    OtherCampaignClosed { at: Timestamp },
    /// CAMP-6: a failure whose fate [`Campaign::record_failure`] decided.
    Failed {
        code: Option<u32>,
        reason: String,
        next: FailedRowState,
        at: Timestamp,
    },
    /// CAMP-7..9: the customer answered.
    Answered {
        verdict: AnswerVerdict,
        at: Timestamp,
    },
    /// The response timeout's timer fired.
    ResponseTimedOut { at: Timestamp },
    /// CAMP-6: a retry run picks the contact up again.
    RetryRun { at: Timestamp },
}

/// Where a failed contact goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum FailedRowState {
    Retry { not_before: Option<Timestamp> },
    Closed,
    Fresh,
}

/// A contact's move between buckets: the store applies `-1` to `from` and `+1` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowMove {
    pub from: Bucket,
    pub to: Bucket,
}

/// A transition the contact's state does not allow (a duplicate, late or stale event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TransitionError {
    #[error("{event} does not apply to a contact that is {state}")]
    NotAllowed { event: String, state: String },
    #[error("the response timeout is at {answer_by}; a timer at {at} is early")]
    TimeoutNotDue { answer_by: Timestamp, at: Timestamp },
}

/// Why a campaign cannot start (all reasons are returned together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum StartProblem {
    #[error("add at least one contact list")]
    NoLists,
    #[error("the campaign ended at {ends_at}")]
    Ended { ends_at: Timestamp },
    #[error("the campaign uses template {expected} ({language}), not {given}")]
    WrongTemplate {
        expected: TemplateName,
        language: String,
        given: TemplateName,
    },
    #[error("template {name} is {status}; only APPROVED templates can be sent")]
    TemplateNotApproved {
        name: TemplateName,
        status: TemplateStatus,
    },
    #[error("map every template variable to a contact field first: {}", vars(.unmapped))]
    UnmappedVariables { unmapped: Vec<Variable> },
    #[error("the template's mapping is not valid: {reason}")]
    InvalidMapping { reason: String },
}

fn vars(v: &[Variable]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CampaignError {
    #[error("a list id must not be empty")]
    EmptyListId,
    #[error("the campaign's end ({ends_at}) must be after its start ({starts_at})")]
    EndNotAfterStart {
        starts_at: Timestamp,
        ends_at: Timestamp,
    },
    #[error("the response timeout must be positive")]
    NonPositiveResponseTimeout,
    #[error("the campaign cannot start: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    CannotStart(Vec<StartProblem>),
    #[error("cannot {action} a campaign that is {status}")]
    InvalidTransition {
        action: &'static str,
        status: CampaignStatus,
    },
    #[error("retry is off for this campaign")]
    RetryDisabled,
    #[error("the campaign ended at {ends_at}; retry runs are allowed until its end")]
    RetryAfterEnd { ends_at: Timestamp },
}

/// A campaign: settings, status and hopper (CAMP-1, CAMP-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub settings: CampaignSettings,
    status: CampaignStatus,
    stop_reason: Option<StopReason>,
    completion: Option<CompletionReason>,
    hopper: Hopper,
}

/// CAMP-6: what a failure did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureOutcome {
    pub moved: RowMove,
    /// Set when this failure stopped the campaign.
    pub campaign_stopped: Option<StopReason>,
}

/// Whether the sender may send for the campaign now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum SendingGate {
    Open,
    /// Running, but the start time has not come.
    NotYet {
        until: Timestamp,
    },
    /// Not running, or ended.
    Closed,
}

impl Campaign {
    /// A new campaign in `DRAFT`.
    pub fn new(id: CampaignId, settings: CampaignSettings) -> Result<Self, CampaignError> {
        if settings.ends_at <= settings.starts_at {
            return Err(CampaignError::EndNotAfterStart {
                starts_at: settings.starts_at,
                ends_at: settings.ends_at,
            });
        }
        if settings.response_timeout <= Duration::ZERO {
            return Err(CampaignError::NonPositiveResponseTimeout);
        }
        Ok(Campaign {
            id,
            settings,
            status: CampaignStatus::Draft,
            stop_reason: None,
            completion: None,
            hopper: Hopper::default(),
        })
    }

    pub fn status(&self) -> CampaignStatus {
        self.status
    }
    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stop_reason.as_ref()
    }
    pub fn completion(&self) -> Option<CompletionReason> {
        self.completion
    }
    pub fn hopper(&self) -> &Hopper {
        &self.hopper
    }

    /// CAMP-1/TPL-1/TPL-3: `DRAFT` or `STOPPED` → `RUNNING`, if it has lists, has not ended, and
    /// its template is the one given, `APPROVED` and fully mapped.
    pub fn start(&mut self, template: &Template, now: Timestamp) -> Result<(), CampaignError> {
        if !matches!(self.status, CampaignStatus::Draft | CampaignStatus::Stopped) {
            return Err(CampaignError::InvalidTransition {
                action: "start",
                status: self.status,
            });
        }
        let mut problems = Vec::new();
        if self.settings.lists.is_empty() {
            problems.push(StartProblem::NoLists);
        }
        if now >= self.settings.ends_at {
            problems.push(StartProblem::Ended {
                ends_at: self.settings.ends_at,
            });
        }
        if template.name != self.settings.template || template.language != self.settings.language {
            problems.push(StartProblem::WrongTemplate {
                expected: self.settings.template.clone(),
                language: self.settings.language.clone(),
                given: template.name.clone(),
            });
        } else {
            if template.status != TemplateStatus::Approved {
                problems.push(StartProblem::TemplateNotApproved {
                    name: template.name.clone(),
                    status: template.status,
                });
            }
            match check_mapping(template) {
                Ok(()) => {}
                Err(TemplateError::UnmappedVariables(unmapped)) => {
                    problems.push(StartProblem::UnmappedVariables { unmapped })
                }
                Err(other) => problems.push(StartProblem::InvalidMapping {
                    reason: other.to_string(),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(CampaignError::CannotStart(problems));
        }
        self.status = CampaignStatus::Running;
        self.stop_reason = None;
        Ok(())
    }

    /// CAMP-10/CAMP-6: `RUNNING` → `STOPPED` with a reason.
    pub fn stop(&mut self, reason: StopReason) -> Result<(), CampaignError> {
        if self.status != CampaignStatus::Running {
            return Err(CampaignError::InvalidTransition {
                action: "stop",
                status: self.status,
            });
        }
        self.status = CampaignStatus::Stopped;
        self.stop_reason = Some(reason);
        Ok(())
    }

    /// Completes the campaign when its end has passed, or when it is running and nothing is left
    /// fresh, to retry or pending. Returns the reason when it completed now.
    pub fn complete_if_done(&mut self, now: Timestamp) -> Option<CompletionReason> {
        let reason = match self.status {
            CampaignStatus::Running | CampaignStatus::Stopped if now >= self.settings.ends_at => {
                CompletionReason::EndPassed
            }
            CampaignStatus::Running
                if self.hopper.total() > 0
                    && self.hopper.fresh + self.hopper.retry + self.hopper.pending == 0 =>
            {
                CompletionReason::AllContactsDone
            }
            _ => return None,
        };
        self.status = CampaignStatus::Completed;
        self.completion = Some(reason);
        Some(reason)
    }

    /// CAMP-1 / CAMP-2 (issue 16, case 12): once the campaign completed because its end passed,
    /// a contact never sent (`fresh`) or still to retry is closed with the reason in its history,
    /// instead of staying `fresh` with none. `None`: nothing to do for this row.
    pub fn end_of_campaign(&self, row: &CampaignContact, now: Timestamp) -> Option<RowEvent> {
        if self.completion != Some(CompletionReason::EndPassed) {
            return None;
        }
        let reason = match row.state {
            RowState::Fresh => "the campaign ended before this contact was sent",
            RowState::Retry { .. } => "the campaign ended before this contact's retry was sent",
            _ => return None,
        };
        Some(RowEvent::Failed {
            code: None,
            reason: format!("{reason} (end {})", self.settings.ends_at),
            next: FailedRowState::Closed,
            at: now,
        })
    }

    /// TPL-1: a change of the campaign's template. Returns whether the status changed.
    pub fn on_template_change(
        &mut self,
        effect: CampaignEffect,
        new_status: TemplateStatus,
        now: Timestamp,
    ) -> bool {
        match (effect, self.status) {
            (CampaignEffect::Pause, CampaignStatus::Running) => {
                self.status = CampaignStatus::Stopped;
                self.stop_reason = Some(StopReason::TemplatePaused);
                true
            }
            (CampaignEffect::Resume, CampaignStatus::Stopped)
                if self.stop_reason == Some(StopReason::TemplatePaused)
                    && now < self.settings.ends_at =>
            {
                self.status = CampaignStatus::Running;
                self.stop_reason = None;
                true
            }
            (CampaignEffect::Stop, CampaignStatus::Running) => {
                self.status = CampaignStatus::Stopped;
                self.stop_reason = Some(StopReason::TemplateUnusable { status: new_status });
                true
            }
            (CampaignEffect::Stop, CampaignStatus::Stopped)
                if self.stop_reason == Some(StopReason::TemplatePaused) =>
            {
                self.stop_reason = Some(StopReason::TemplateUnusable { status: new_status });
                true
            }
            _ => false,
        }
    }

    /// Whether the sender may send for this campaign now.
    pub fn sending_gate(&self, now: Timestamp) -> SendingGate {
        if self.status != CampaignStatus::Running || now >= self.settings.ends_at {
            SendingGate::Closed
        } else if now < self.settings.starts_at {
            SendingGate::NotYet {
                until: self.settings.starts_at,
            }
        } else {
            SendingGate::Open
        }
    }

    /// CAMP-6: a retry run is allowed while retry is on, until the campaign's end, unless the
    /// campaign is completed. The shell then applies [`RowEvent::RetryRun`] to each `retry` contact.
    pub fn check_retry_run(&self, now: Timestamp) -> Result<(), CampaignError> {
        if !self.settings.retry_enabled {
            return Err(CampaignError::RetryDisabled);
        }
        if now >= self.settings.ends_at {
            return Err(CampaignError::RetryAfterEnd {
                ends_at: self.settings.ends_at,
            });
        }
        if matches!(
            self.status,
            CampaignStatus::Completed | CampaignStatus::Draft
        ) {
            return Err(CampaignError::InvalidTransition {
                action: "retry",
                status: self.status,
            });
        }
        Ok(())
    }

    /// CAMP-2: adds imported contacts as `fresh`, skipping those already in the campaign (a contact
    /// in two lists is messaged once). Not allowed once completed.
    pub fn admit(
        &mut self,
        contacts: &[ImportedContact],
        already_in_campaign: &BTreeSet<ContactKey>,
        at: Timestamp,
    ) -> Result<Vec<CampaignContact>, CampaignError> {
        if self.status == CampaignStatus::Completed {
            return Err(CampaignError::InvalidTransition {
                action: "add contacts to",
                status: self.status,
            });
        }
        let mut seen = already_in_campaign.clone();
        let mut out = Vec::new();
        for c in contacts {
            if !seen.insert(c.contact.clone()) {
                continue;
            }
            self.hopper.fresh += 1;
            out.push(CampaignContact {
                contact: c.contact.clone(),
                phone: c.phone.clone(),
                fields: c.fields.clone(),
                state: RowState::Fresh,
                attempts: 0,
                history: vec![HistoryEntry {
                    at,
                    event: HistoryEvent::Imported { row: Some(c.row) },
                }],
            });
        }
        Ok(out)
    }

    /// CAMP-2: moves one contact by one event and updates the hopper in the same step.
    pub fn apply(
        &mut self,
        row: &mut CampaignContact,
        event: RowEvent,
    ) -> Result<RowMove, TransitionError> {
        let not_allowed = |event: &RowEvent, state: &RowState| TransitionError::NotAllowed {
            event: event_name(event).to_owned(),
            state: state.name().to_owned(),
        };
        let (next, entry) = match (&row.state, &event) {
            (RowState::Fresh | RowState::Retry { .. }, RowEvent::Sent { outreach, at }) => (
                RowState::Pending(PendingReason::AwaitingAnswer {
                    outreach: outreach.clone(),
                    sent_at: *at,
                    answer_by: *at + self.settings.response_timeout,
                }),
                HistoryEntry {
                    at: *at,
                    event: HistoryEvent::Sent {
                        outreach: outreach.clone(),
                        attempt: row.attempts + 1,
                    },
                },
            ),
            (
                RowState::Fresh | RowState::Retry { .. },
                RowEvent::OtherCampaignOpen { campaign, at },
            ) => (
                RowState::Pending(PendingReason::WaitingForOtherCampaign {
                    campaign: campaign.clone(),
                    since: *at,
                }),
                HistoryEntry {
                    at: *at,
                    event: HistoryEvent::WaitingForOtherCampaign {
                        campaign: campaign.clone(),
                    },
                },
            ),
            (
                RowState::Pending(PendingReason::WaitingForOtherCampaign { .. }),
                RowEvent::OtherCampaignClosed { at },
            ) => (
                RowState::Fresh,
                HistoryEntry {
                    at: *at,
                    event: HistoryEvent::OtherCampaignClosed,
                },
            ),
            (
                RowState::Fresh
                | RowState::Retry { .. }
                | RowState::Pending(PendingReason::AwaitingAnswer { .. }),
                RowEvent::Failed {
                    code,
                    reason,
                    next,
                    at,
                },
            ) => {
                let state = match next {
                    FailedRowState::Retry { not_before } => RowState::Retry {
                        not_before: *not_before,
                    },
                    FailedRowState::Fresh => RowState::Fresh,
                    FailedRowState::Closed => RowState::Closed(ContactResult::Failed {
                        code: *code,
                        reason: reason.clone(),
                    }),
                };
                let entry = HistoryEntry {
                    at: *at,
                    event: HistoryEvent::Failed {
                        code: *code,
                        reason: reason.clone(),
                        next: state.bucket(),
                        attempts: 1,
                    },
                };
                (state, entry)
            }
            (
                RowState::Pending(PendingReason::AwaitingAnswer { .. }),
                RowEvent::Answered { verdict, at },
            ) => {
                let result = match verdict {
                    AnswerVerdict::InTime(button) => ContactResult::Answered {
                        button: button.clone(),
                        at: *at,
                    },
                    AnswerVerdict::Late => ContactResult::AnsweredLate { at: *at },
                    AnswerVerdict::FreeText => ContactResult::AnsweredWithText { at: *at },
                };
                (
                    RowState::Closed(result.clone()),
                    HistoryEntry {
                        at: *at,
                        event: HistoryEvent::Closed(result),
                    },
                )
            }
            (
                RowState::Pending(PendingReason::AwaitingAnswer { answer_by, .. }),
                RowEvent::ResponseTimedOut { at },
            ) => {
                if at < answer_by {
                    return Err(TransitionError::TimeoutNotDue {
                        answer_by: *answer_by,
                        at: *at,
                    });
                }
                (
                    RowState::Closed(ContactResult::NoAnswer),
                    HistoryEntry {
                        at: *at,
                        event: HistoryEvent::Closed(ContactResult::NoAnswer),
                    },
                )
            }
            (RowState::Retry { .. }, RowEvent::RetryRun { at }) => (
                RowState::Fresh,
                HistoryEntry {
                    at: *at,
                    event: HistoryEvent::RetryRun,
                },
            ),
            (state, event) => return Err(not_allowed(event, state)),
        };
        if matches!(event, RowEvent::Sent { .. }) {
            row.attempts += 1;
        }
        let moved = RowMove {
            from: row.state.bucket(),
            to: next.bucket(),
        };
        self.hopper.moved(moved.from, moved.to);
        row.state = next;
        row.history.push(entry);
        Ok(moved)
    }

    /// CAMP-6: applies a failure plan from [`crate::send_error::plan_after_failure`] to the
    /// contact, and stops the campaign when the failure is the account's or the template's rather
    /// than the contact's.
    pub fn record_failure(
        &mut self,
        row: &mut CampaignContact,
        code: Option<u32>,
        plan: &FailurePlan,
        at: Timestamp,
    ) -> Result<FailureOutcome, TransitionError> {
        let mut reason = plan.reason.clone();
        // SEND-4: a refused call is an attempt (a sent message's was counted when it was sent).
        let called = !matches!(
            row.state,
            RowState::Pending(PendingReason::AwaitingAnswer { .. })
        );
        let next = match plan.campaign_contact {
            CampaignContactFate::Retry { after: Some(d) } => FailedRowState::Retry {
                not_before: Some(at + d),
            },
            CampaignContactFate::Retry { after: None } if self.settings.retry_enabled => {
                FailedRowState::Retry { not_before: None }
            }
            CampaignContactFate::Retry { after: None } => {
                reason.push_str(" (retry is off for this campaign)");
                FailedRowState::Closed
            }
            CampaignContactFate::Closed => FailedRowState::Closed,
            CampaignContactFate::NotReached => FailedRowState::Fresh,
        };
        let moved = self.apply(
            row,
            RowEvent::Failed {
                code,
                reason: reason.clone(),
                next,
                at,
            },
        )?;
        if called {
            row.attempts += 1;
        }
        // SEND-4: the history records attempts, not every identical error.
        if let [.., previous, latest] = &mut row.history[..]
            && let (
                HistoryEvent::Failed {
                    code: c1,
                    reason: r1,
                    next: n1,
                    attempts,
                },
                HistoryEvent::Failed {
                    code: c2,
                    reason: r2,
                    next: n2,
                    ..
                },
            ) = (&mut previous.event, &latest.event)
            && (&*c1, &*r1, &*n1) == (c2, r2, n2)
        {
            *attempts += 1;
            previous.at = latest.at;
            row.history.pop();
        }
        let stop = if plan.number == Some(NumberEffect::StopAndAlert) {
            Some(StopReason::AccountProblem { reason })
        } else if plan.action == FailureAction::HoldUntilTemplateApproved {
            Some(StopReason::TemplatePaused)
        } else {
            None
        };
        // Later failures of sends already in flight find the campaign stopped: no second stop.
        let campaign_stopped = match stop {
            Some(reason) if self.status == CampaignStatus::Running => {
                self.status = CampaignStatus::Stopped;
                self.stop_reason = Some(reason.clone());
                Some(reason)
            }
            _ => None,
        };
        Ok(FailureOutcome {
            moved,
            campaign_stopped,
        })
    }
}

fn event_name(event: &RowEvent) -> &'static str {
    match event {
        RowEvent::Sent { .. } => "a send",
        RowEvent::OtherCampaignOpen { .. } => "another campaign's open interaction",
        RowEvent::OtherCampaignClosed { .. } => "the close of another campaign's interaction",
        RowEvent::Failed { .. } => "a failure",
        RowEvent::Answered { .. } => "an answer",
        RowEvent::ResponseTimedOut { .. } => "the response timeout",
        RowEvent::RetryRun { .. } => "a retry run",
    }
}

/// CAMP-4: one row of an uploaded contact list, as the console's CSV reader produced it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListRow {
    /// The row number the admin sees (header = row 1, first contact = row 2).
    pub row: u32,
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub custom: BTreeMap<String, String>,
}

/// CAMP-4: an accepted row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedContact {
    pub row: u32,
    /// The WhatsApp contact: the number's digits (`wa_id`).
    pub contact: ContactKey,
    pub phone: PhoneNumber,
    pub fields: ContactFields,
}

/// CAMP-4: why a row was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ImportProblem {
    #[error("phone {input:?}: {reason}")]
    InvalidPhone { input: String, reason: String },
    #[error("the same phone number as row {first_row}")]
    DuplicatePhone { first_row: u32 },
    #[error("{email:?} is not an email address")]
    InvalidEmail { email: String },
}

/// CAMP-4: a refused row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("row {row}: {problem}")]
pub struct RowRefused {
    pub row: u32,
    pub problem: ImportProblem,
}

/// CAMP-4: the result of importing a list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListImport {
    pub imported: Vec<ImportedContact>,
    pub refused: Vec<RowRefused>,
}

fn looks_like_email(email: &str) -> bool {
    let mut parts = email.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

fn invalid_phone(input: &str, e: &PhoneError) -> ImportProblem {
    ImportProblem::InvalidPhone {
        input: input.chars().take(40).collect(),
        reason: e.to_string(),
    }
}

fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// CAMP-4: imports what can be imported and refuses the rest with row number and reason.
/// Decision: a malformed email refuses the row too (it could be rendered into a template), and a
/// phone number already seen in the list refuses the later row.
pub fn import_list(rows: &[ListRow]) -> ListImport {
    let mut out = ListImport::default();
    let mut first_row_of: BTreeMap<PhoneNumber, u32> = BTreeMap::new();
    for r in rows {
        let refuse = |problem| RowRefused {
            row: r.row,
            problem,
        };
        let phone = match PhoneNumber::parse(&r.phone) {
            Ok(p) => p,
            Err(e) => {
                out.refused.push(refuse(invalid_phone(&r.phone, &e)));
                continue;
            }
        };
        if let Some(&first_row) = first_row_of.get(&phone) {
            out.refused
                .push(refuse(ImportProblem::DuplicatePhone { first_row }));
            continue;
        }
        let email = clean(&r.email);
        if let Some(e) = &email
            && !looks_like_email(e)
        {
            out.refused
                .push(refuse(ImportProblem::InvalidEmail { email: e.clone() }));
            continue;
        }
        let Ok(contact) = ContactKey::new(phone.wa_digits()) else {
            // Unreachable: a parsed number has 8 to 15 digits.
            out.refused
                .push(refuse(invalid_phone(&r.phone, &PhoneError::Empty)));
            continue;
        };
        first_row_of.insert(phone.clone(), r.row);
        out.imported.push(ImportedContact {
            row: r.row,
            contact,
            fields: ContactFields {
                first_name: clean(&r.first_name),
                last_name: clean(&r.last_name),
                email,
                phone: Some(phone.as_str().to_owned()),
                custom: r
                    .custom
                    .iter()
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                    .collect(),
            },
            phone,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send_error::{RetryPolicy, SendFailure, plan_after_failure};
    use crate::templates::{Button, Component, ContactField, TemplateCategory};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(1_750_000_000 + s)
    }

    // CAMP-2: the hopper's stage names are the buckets' serialised names, written once.
    #[test]
    fn camp_2_stage_names_are_the_buckets_serialised_names() {
        for b in Bucket::ALL {
            assert_eq!(serde_json::to_value(b).unwrap(), b.name());
        }
    }

    fn template() -> Template {
        let mut tpl = Template::new(
            TemplateName::new("contact_pref").unwrap(),
            "en",
            TemplateCategory::Marketing,
            "Hi {{1}}, how would you like to be contacted?",
        );
        tpl.buttons = ["Phone call", "WhatsApp message", "Email"]
            .iter()
            .map(|b| Button::QuickReply { text: (*b).into() })
            .collect();
        tpl.status = TemplateStatus::Approved;
        tpl.mapping.set(
            Variable {
                component: Component::Body,
                index: 1,
            },
            ContactField::FirstName,
        );
        tpl
    }

    fn settings() -> CampaignSettings {
        CampaignSettings {
            name: "Contact preferences".into(),
            template: TemplateName::new("contact_pref").unwrap(),
            language: "en".into(),
            lists: vec![ListId::new("vip").unwrap()],
            starts_at: t(0),
            ends_at: t(7 * 86_400),
            response_timeout: Duration::hours(24),
            retry_enabled: true,
            handoff: Handoff::default(),
        }
    }

    fn running() -> Campaign {
        let mut c = Campaign::new(CampaignId::new("c1").unwrap(), settings()).unwrap();
        c.start(&template(), t(0)).unwrap();
        c
    }

    fn rows(c: &mut Campaign, n: usize) -> Vec<CampaignContact> {
        let list: Vec<ListRow> = (0..n)
            .map(|i| ListRow {
                row: i as u32 + 2,
                phone: format!("+39333000{i:04}"),
                first_name: Some(format!("Name{i}")),
                ..ListRow::default()
            })
            .collect();
        let import = import_list(&list);
        c.admit(&import.imported, &BTreeSet::new(), t(0)).unwrap()
    }

    fn outreach(i: u32) -> OutreachId {
        OutreachId::new(format!("wamid.{i}")).unwrap()
    }

    fn tally(rows: &[CampaignContact]) -> [u32; 4] {
        let mut out = [0; 4];
        for r in rows {
            out[r.state().bucket() as usize] += 1;
        }
        out
    }

    fn counts(c: &Campaign) -> [u32; 4] {
        let h = c.hopper();
        [h.fresh(), h.retry(), h.pending(), h.closed()]
    }

    // CAMP-1: a campaign's settings are checked; it starts in DRAFT with the bot as hand-off.
    #[test]
    fn camp_1_new_campaign_is_a_draft() {
        let c = Campaign::new(CampaignId::new("c1").unwrap(), settings()).unwrap();
        assert_eq!(c.status(), CampaignStatus::Draft);
        assert_eq!(c.settings.handoff, Handoff::Bot { recipe: None });
        let mut bad = settings();
        bad.ends_at = bad.starts_at;
        assert!(matches!(
            Campaign::new(CampaignId::new("c2").unwrap(), bad),
            Err(CampaignError::EndNotAfterStart { .. })
        ));
        let mut bad = settings();
        bad.response_timeout = Duration::ZERO;
        assert_eq!(
            Campaign::new(CampaignId::new("c3").unwrap(), bad),
            Err(CampaignError::NonPositiveResponseTimeout)
        );
        assert_eq!(ListId::new(" "), Err(CampaignError::EmptyListId));
    }

    // CAMP-1 + TPL-1 + TPL-3: start is refused with every reason at once.
    #[test]
    fn camp_1_start_is_refused_with_all_reasons() {
        let mut s = settings();
        s.lists.clear();
        let mut c = Campaign::new(CampaignId::new("c1").unwrap(), s).unwrap();
        let mut tpl = template();
        tpl.status = TemplateStatus::Pending;
        tpl.mapping = Default::default();
        let err = c.start(&tpl, t(8 * 86_400)).unwrap_err();
        assert_eq!(
            err,
            CampaignError::CannotStart(vec![
                StartProblem::NoLists,
                StartProblem::Ended {
                    ends_at: t(7 * 86_400)
                },
                StartProblem::TemplateNotApproved {
                    name: tpl.name.clone(),
                    status: TemplateStatus::Pending
                },
                StartProblem::UnmappedVariables {
                    unmapped: vec![Variable {
                        component: Component::Body,
                        index: 1
                    }]
                },
            ])
        );
        assert!(
            err.to_string()
                .starts_with("the campaign cannot start: add at least one contact list; ")
        );
        assert_eq!(c.status(), CampaignStatus::Draft);

        let mut other = template();
        other.name = TemplateName::new("other").unwrap();
        let mut c = Campaign::new(CampaignId::new("c2").unwrap(), settings()).unwrap();
        assert!(matches!(
            c.start(&other, t(0)),
            Err(CampaignError::CannotStart(p)) if matches!(p[..], [StartProblem::WrongTemplate { .. }])
        ));
    }

    // CAMP-1/CAMP-10: start, stop, start again, complete; invalid transitions are refused.
    #[test]
    fn camp_1_status_transitions() {
        let mut c = Campaign::new(CampaignId::new("c1").unwrap(), settings()).unwrap();
        assert_eq!(
            c.stop(StopReason::ByUser { by: None }),
            Err(CampaignError::InvalidTransition {
                action: "stop",
                status: CampaignStatus::Draft
            })
        );
        c.start(&template(), t(-3600)).unwrap();
        assert_eq!(c.sending_gate(t(-10)), SendingGate::NotYet { until: t(0) });
        assert_eq!(c.sending_gate(t(0)), SendingGate::Open);
        assert!(matches!(
            c.start(&template(), t(1)),
            Err(CampaignError::InvalidTransition { .. })
        ));
        c.stop(StopReason::ByUser {
            by: Some(AgentId::new("ann").unwrap()),
        })
        .unwrap();
        assert_eq!(c.status(), CampaignStatus::Stopped);
        assert_eq!(c.stop_reason().unwrap().to_string(), "stopped by ann");
        assert_eq!(c.sending_gate(t(10)), SendingGate::Closed);
        c.start(&template(), t(20)).unwrap();
        assert_eq!(c.stop_reason(), None);

        // Nothing admitted yet: not "done".
        assert_eq!(c.complete_if_done(t(30)), None);
        let mut r = rows(&mut c, 1);
        assert_eq!(c.complete_if_done(t(30)), None, "a fresh contact is left");
        c.apply(
            &mut r[0],
            RowEvent::Sent {
                outreach: outreach(1),
                at: t(40),
            },
        )
        .unwrap();
        assert_eq!(c.complete_if_done(t(50)), None, "a pending contact is left");
        c.apply(&mut r[0], RowEvent::ResponseTimedOut { at: t(40 + 86_400) })
            .unwrap();
        assert_eq!(
            c.complete_if_done(t(40 + 86_400)),
            Some(CompletionReason::AllContactsDone)
        );
        assert_eq!(c.status(), CampaignStatus::Completed);
        assert!(matches!(
            c.start(&template(), t(1)),
            Err(CampaignError::InvalidTransition { .. })
        ));
        assert!(c.admit(&[], &BTreeSet::new(), t(1)).is_err());

        let mut ended = running();
        let _ = rows(&mut ended, 3);
        assert_eq!(ended.complete_if_done(t(7 * 86_400 - 1)), None);
        assert_eq!(
            ended.complete_if_done(t(7 * 86_400)),
            Some(CompletionReason::EndPassed)
        );
        assert_eq!(
            ended.hopper().fresh(),
            3,
            "completion leaves unreached contacts visible"
        );
    }

    // TPL-1: a paused template stops the campaign until approved again; a disabled one for good.
    #[test]
    fn camp_1_tpl_1_template_changes_pause_resume_and_stop() {
        let mut c = running();
        assert!(c.on_template_change(CampaignEffect::Pause, TemplateStatus::Paused, t(10)));
        assert_eq!(c.stop_reason(), Some(&StopReason::TemplatePaused));
        assert!(c.on_template_change(CampaignEffect::Resume, TemplateStatus::Approved, t(20)));
        assert_eq!(c.status(), CampaignStatus::Running);

        c.stop(StopReason::ByUser { by: None }).unwrap();
        assert!(
            !c.on_template_change(CampaignEffect::Resume, TemplateStatus::Approved, t(30)),
            "a campaign stopped by a person is not resumed by the template"
        );
        c.start(&template(), t(40)).unwrap();
        assert!(c.on_template_change(CampaignEffect::Stop, TemplateStatus::Disabled, t(50)));
        assert_eq!(
            c.stop_reason(),
            Some(&StopReason::TemplateUnusable {
                status: TemplateStatus::Disabled
            })
        );
        assert!(!c.on_template_change(CampaignEffect::Resume, TemplateStatus::Approved, t(60)));
    }

    // CAMP-2: each move changes one count by one; the counts add up to the contacts.
    #[test]
    fn camp_2_hopper_counts_follow_every_move() {
        let mut c = running();
        let mut r = rows(&mut c, 4);
        assert_eq!(counts(&c), [4, 0, 0, 0]);
        let m = c
            .apply(
                &mut r[0],
                RowEvent::Sent {
                    outreach: outreach(0),
                    at: t(1),
                },
            )
            .unwrap();
        assert_eq!(
            m,
            RowMove {
                from: Bucket::Fresh,
                to: Bucket::Pending
            }
        );
        let plan = plan_after_failure(&SendFailure::Timeout, 1, 0, &RetryPolicy::default());
        c.record_failure(&mut r[1], None, &plan, t(2)).unwrap();
        let gone = plan_after_failure(
            &SendFailure::Meta {
                code: 131026,
                http_status: Some(400),
            },
            1,
            0,
            &RetryPolicy::default(),
        );
        c.record_failure(&mut r[2], Some(131026), &gone, t(3))
            .unwrap();
        assert_eq!(counts(&c), [1, 1, 1, 1]);
        assert_eq!(counts(&c), tally(&r));
        assert_eq!(c.hopper().total(), 4);
        // Refused moves change nothing.
        assert!(
            c.apply(
                &mut r[2],
                RowEvent::Sent {
                    outreach: outreach(9),
                    at: t(4)
                }
            )
            .is_err()
        );
        assert!(c.apply(&mut r[3], RowEvent::RetryRun { at: t(4) }).is_err());
        assert_eq!(counts(&c), tally(&r));
        // A contact in two lists is admitted once.
        let already: BTreeSet<ContactKey> = r.iter().map(|x| x.contact.clone()).collect();
        let again = import_list(&[ListRow {
            row: 2,
            phone: "+393330000000".into(),
            ..Default::default()
        }]);
        assert_eq!(c.admit(&again.imported, &already, t(5)).unwrap().len(), 0);
        assert_eq!(c.hopper().total(), 4);
    }

    // CAMP-3: with another campaign's interaction open the contact is not sent; it waits in pending
    // and goes back to fresh when that interaction closes.
    #[test]
    fn camp_3_contact_waits_while_another_campaign_interaction_is_open() {
        let mut c = running();
        let mut r = rows(&mut c, 1);
        let other = CampaignId::new("c0").unwrap();
        c.apply(
            &mut r[0],
            RowEvent::OtherCampaignOpen {
                campaign: other.clone(),
                at: t(5),
            },
        )
        .unwrap();
        assert_eq!(
            r[0].state(),
            &RowState::Pending(PendingReason::WaitingForOtherCampaign {
                campaign: other,
                since: t(5)
            })
        );
        assert_eq!(counts(&c), [0, 0, 1, 0]);
        assert!(!r[0].due(t(6)));
        assert_eq!(r[0].attempts(), 0, "waiting uses no attempt");
        // It cannot time out or be answered: it was never sent.
        assert!(
            c.apply(&mut r[0], RowEvent::ResponseTimedOut { at: t(999_999) })
                .is_err()
        );
        assert_eq!(
            c.complete_if_done(t(100)),
            None,
            "a waiting contact keeps the campaign open"
        );
        c.apply(&mut r[0], RowEvent::OtherCampaignClosed { at: t(50) })
            .unwrap();
        assert_eq!(r[0].state(), &RowState::Fresh);
        assert!(r[0].due(t(50)));
        assert_eq!(counts(&c), [1, 0, 0, 0]);
    }

    // CAMP-4: E.164 rows are imported; the others are refused with row number and reason.
    #[test]
    fn camp_4_list_import_refuses_rows_with_reasons() {
        let row = |row: u32, phone: &str, email: Option<&str>| ListRow {
            row,
            phone: phone.into(),
            first_name: Some(" Ada ".into()),
            last_name: None,
            email: email.map(Into::into),
            custom: BTreeMap::from([
                ("plan".into(), " gold ".into()),
                ("empty".into(), " ".into()),
            ]),
        };
        let report = import_list(&[
            row(2, "+39 333 123 4567", Some("ada@example.com")),
            row(3, "3331234567", None),
            row(4, "+39 333 123 4567", None),
            row(5, "+1 415 555 0100", Some("not-an-email")),
            row(6, "+0123456789", None),
            row(7, "", None),
            row(8, "+44 20 7946 0018", Some("  ")),
        ]);
        let imported: Vec<(u32, &str)> = report
            .imported
            .iter()
            .map(|c| (c.row, c.phone.as_str()))
            .collect();
        assert_eq!(imported, vec![(2, "+393331234567"), (8, "+442079460018")]);
        let first = &report.imported[0];
        assert_eq!(first.contact.as_str(), "393331234567");
        assert_eq!(first.fields.first_name.as_deref(), Some("Ada"));
        assert_eq!(first.fields.phone.as_deref(), Some("+393331234567"));
        assert_eq!(
            first.fields.custom,
            BTreeMap::from([("plan".into(), "gold".into())])
        );
        assert_eq!(report.imported[1].fields.email, None);

        let refused: Vec<String> = report.refused.iter().map(ToString::to_string).collect();
        assert_eq!(
            refused,
            vec![
                "row 3: phone \"3331234567\": phone number must start with + and the country code (E.164), e.g. +4915123456789",
                "row 4: the same phone number as row 2",
                "row 5: \"not-an-email\" is not an email address",
                "row 6: phone \"+0123456789\": a country code never starts with 0",
                "row 7: phone \"\": phone number is empty",
            ]
        );
    }

    // CAMP-6: failures by class — permanent closes, temporary retries, the token stops the campaign.
    #[test]
    fn camp_6_failures_by_class() {
        let policy = RetryPolicy::default();
        let meta = |code| SendFailure::Meta {
            code,
            http_status: Some(400),
        };
        let mut c = running();
        let mut r = rows(&mut c, 5);

        // Permanent: closed with code and reason.
        let plan = plan_after_failure(&meta(131026), 1, 0, &policy);
        c.apply(
            &mut r[0],
            RowEvent::Sent {
                outreach: outreach(0),
                at: t(1),
            },
        )
        .unwrap();
        let out = c
            .record_failure(&mut r[0], Some(131026), &plan, t(2))
            .unwrap();
        assert_eq!(
            out.moved,
            RowMove {
                from: Bucket::Pending,
                to: Bucket::Closed
            }
        );
        assert!(matches!(
            r[0].result(),
            Some(ContactResult::Failed { code: Some(131026), reason }) if reason.contains("cannot be delivered")
        ));

        // Temporary with automatic retries left: retry, due again after the backoff.
        let plan = plan_after_failure(&meta(131000), 1, 0, &policy);
        c.record_failure(&mut r[1], Some(131000), &plan, t(10))
            .unwrap();
        assert_eq!(
            r[1].state(),
            &RowState::Retry {
                not_before: Some(t(15))
            }
        );
        assert!(!r[1].due(t(14)) && r[1].due(t(15)));

        // Automatic retries used up: waits in retry for a retry run (retry on).
        let plan = plan_after_failure(&meta(131000), 10, 0, &policy);
        c.record_failure(&mut r[2], Some(131000), &plan, t(20))
            .unwrap();
        assert_eq!(r[2].state(), &RowState::Retry { not_before: None });
        assert!(!r[2].due(t(1_000_000)));
        c.check_retry_run(t(30)).unwrap();
        c.apply(&mut r[2], RowEvent::RetryRun { at: t(30) })
            .unwrap();
        assert_eq!(r[2].state(), &RowState::Fresh);
        assert_eq!(
            c.check_retry_run(t(7 * 86_400)),
            Err(CampaignError::RetryAfterEnd {
                ends_at: t(7 * 86_400)
            })
        );

        // Expired token: the campaign stops with the reason; the contact is not failed.
        let plan = plan_after_failure(&meta(190), 1, 0, &policy);
        let out = c
            .record_failure(&mut r[3], Some(190), &plan, t(40))
            .unwrap();
        assert_eq!(
            out.moved,
            RowMove {
                from: Bucket::Fresh,
                to: Bucket::Fresh
            }
        );
        assert!(
            matches!(&out.campaign_stopped, Some(StopReason::AccountProblem { reason }) if reason.starts_with("190: "))
        );
        assert_eq!(c.status(), CampaignStatus::Stopped);
        // A second in-flight send failing the same way does not stop it again, nor fail the contact.
        let out = c
            .record_failure(&mut r[4], Some(190), &plan, t(41))
            .unwrap();
        assert_eq!(out.campaign_stopped, None);
        assert_eq!(r[4].state(), &RowState::Fresh);
        assert_eq!(counts(&c), tally(&r));

        // Template paused (132015): the campaign holds until the template is approved again.
        let mut c = running();
        let mut r = rows(&mut c, 1);
        let plan = plan_after_failure(&meta(132015), 1, 0, &policy);
        let out = c
            .record_failure(&mut r[0], Some(132015), &plan, t(1))
            .unwrap();
        assert_eq!(out.campaign_stopped, Some(StopReason::TemplatePaused));
        assert!(c.on_template_change(CampaignEffect::Resume, TemplateStatus::Approved, t(2)));
    }

    // CAMP-6: with retry off, a contact whose automatic retries are used up is closed.
    #[test]
    fn camp_6_retry_off_closes_exhausted_temporary_failures() {
        let mut s = settings();
        s.retry_enabled = false;
        let mut c = Campaign::new(CampaignId::new("c1").unwrap(), s).unwrap();
        c.start(&template(), t(0)).unwrap();
        let mut r = rows(&mut c, 1);
        let plan = plan_after_failure(
            &SendFailure::Http { status: 503 },
            10,
            0,
            &RetryPolicy::default(),
        );
        c.record_failure(&mut r[0], None, &plan, t(1)).unwrap();
        assert!(matches!(
            r[0].result(),
            Some(ContactResult::Failed { code: None, reason }) if reason.ends_with("(retry is off for this campaign)")
        ));
        assert_eq!(c.check_retry_run(t(2)), Err(CampaignError::RetryDisabled));
    }

    // CAMP-7..9: in time with a quick reply, late, or free text.
    #[test]
    fn camp_7_9_answers_are_classified() {
        let timeout = Duration::hours(2);
        let sent = t(0);
        let button = CampaignAnswer::QuickReply("Email".into());
        let cases = [
            (t(60), &button, AnswerVerdict::InTime("Email".into())),
            (t(7200), &button, AnswerVerdict::InTime("Email".into())),
            (t(7201), &button, AnswerVerdict::Late),
            (t(60), &CampaignAnswer::Other, AnswerVerdict::FreeText),
            (t(9000), &CampaignAnswer::Other, AnswerVerdict::Late),
        ];
        for (at, answer, verdict) in cases {
            assert_eq!(
                classify_answer(timeout, sent, at, answer),
                verdict,
                "{at} {answer:?}"
            );
        }
        let tpl = template();
        assert_eq!(match_quick_reply(&tpl, " email "), Some("Email"));
        assert_eq!(match_quick_reply(&tpl, "Please call me"), None);
    }

    // CAMP-10: the per-contact history shows sends, failures with reasons, and the answer.
    #[test]
    fn camp_10_contact_history_and_result() {
        let mut c = running();
        let mut r = rows(&mut c, 1);
        let row = &mut r[0];
        let plan = plan_after_failure(
            &SendFailure::Meta {
                code: 130429,
                http_status: Some(400),
            },
            1,
            0,
            &RetryPolicy::default(),
        );
        c.record_failure(row, Some(130429), &plan, t(1)).unwrap();
        c.apply(
            row,
            RowEvent::Sent {
                outreach: outreach(1),
                at: t(100),
            },
        )
        .unwrap();
        // A timer fired early (stale) does nothing (TIME-2).
        assert_eq!(
            c.apply(row, RowEvent::ResponseTimedOut { at: t(200) }),
            Err(TransitionError::TimeoutNotDue {
                answer_by: t(100 + 86_400),
                at: t(200)
            })
        );
        let verdict = classify_answer(
            c.settings.response_timeout,
            t(100),
            t(500),
            &CampaignAnswer::QuickReply("Phone call".into()),
        );
        c.apply(
            row,
            RowEvent::Answered {
                verdict,
                at: t(500),
            },
        )
        .unwrap();
        assert_eq!(
            row.result(),
            Some(&ContactResult::Answered {
                button: "Phone call".into(),
                at: t(500)
            })
        );
        let events: Vec<&HistoryEvent> = row.history().iter().map(|h| &h.event).collect();
        assert!(
            matches!(
                events[..],
                [
                    HistoryEvent::Imported { row: Some(2) },
                    HistoryEvent::Failed {
                        code: Some(130429),
                        next: Bucket::Retry,
                        ..
                    },
                    HistoryEvent::Sent { attempt: 2, .. },
                    HistoryEvent::Closed(ContactResult::Answered { .. }),
                ]
            ),
            "{events:?}"
        );
        // A second answer to a closed contact is refused, not recorded twice.
        let again = c.apply(
            row,
            RowEvent::Answered {
                verdict: AnswerVerdict::FreeText,
                at: t(600),
            },
        );
        assert!(matches!(again, Err(TransitionError::NotAllowed { .. })));
        assert_eq!(row.history().len(), 4);
        let json = serde_json::to_string(&*row).unwrap();
        assert_eq!(
            serde_json::from_str::<CampaignContact>(&json).unwrap(),
            *row
        );
    }

    // CAMP-2 (issue 16, case 12): a campaign that reaches its end closes its unsent contacts
    // with the reason; answered and pending ones are left as they are.
    #[test]
    fn camp_2_end_of_campaign_closes_unsent_contacts_with_the_reason() {
        let mut c = running();
        let mut r = rows(&mut c, 3);
        c.apply(
            &mut r[1],
            RowEvent::Sent {
                outreach: OutreachId::new("o1").unwrap(),
                at: t(10),
            },
        )
        .unwrap();
        assert_eq!(c.end_of_campaign(&r[0], t(20)), None, "not ended yet");
        let end = t(8 * 86_400);
        assert_eq!(c.complete_if_done(end), Some(CompletionReason::EndPassed));
        let event = c.end_of_campaign(&r[0], end).expect("fresh: closed");
        c.apply(&mut r[0], event).unwrap();
        assert!(matches!(
            r[0].result(),
            Some(ContactResult::Failed { code: None, reason }) if reason.contains("campaign ended before")
        ));
        assert_eq!(
            c.end_of_campaign(&r[1], end),
            None,
            "pending waits for its answer"
        );
        assert_eq!(c.end_of_campaign(&r[0], end), None, "closed: nothing more");
        let h = c.hopper();
        assert_eq!(h.fresh() + h.retry() + h.pending() + h.closed(), 3);
    }

    mod hopper_property {
        use super::*;
        use proptest::prelude::*;

        fn event(kind: u8, arg: u32, at: Timestamp) -> RowEvent {
            match kind % 9 {
                0 => RowEvent::Sent {
                    outreach: outreach(arg),
                    at,
                },
                1 => RowEvent::OtherCampaignOpen {
                    campaign: CampaignId::new("other").unwrap(),
                    at,
                },
                2 => RowEvent::OtherCampaignClosed { at },
                3 => RowEvent::Answered {
                    verdict: AnswerVerdict::InTime("Email".into()),
                    at,
                },
                4 => RowEvent::Answered {
                    verdict: AnswerVerdict::FreeText,
                    at,
                },
                5 => RowEvent::ResponseTimedOut { at },
                6 => RowEvent::RetryRun { at },
                7 => RowEvent::Failed {
                    code: Some(131000),
                    reason: "service".into(),
                    next: match arg % 3 {
                        0 => FailedRowState::Retry { not_before: None },
                        1 => FailedRowState::Closed,
                        _ => FailedRowState::Fresh,
                    },
                    at,
                },
                _ => RowEvent::Answered {
                    verdict: AnswerVerdict::Late,
                    at,
                },
            }
        }

        proptest! {
            // CAMP-2: any sequence of transitions keeps the hopper adding up to the contacts, and
            // each count equal to the contacts in that state.
            #[test]
            fn camp_2_hopper_always_adds_up(
                n in 1usize..8,
                steps in proptest::collection::vec((0usize..8, any::<u8>(), any::<u32>(), 0i64..200_000), 0..120),
                codes in proptest::collection::vec(prop_oneof![Just(131000u32), Just(131026), Just(190), Just(131056), Just(132015), Just(4)], 0..10),
            ) {
                let mut c = running();
                let mut r = rows(&mut c, n);
                let mut now = 0;
                for (i, (who, kind, arg, dt)) in steps.into_iter().enumerate() {
                    now += dt;
                    let idx = who % r.len();
                    let row = &mut r[idx];
                    if let Some(&code) = codes.get(i % codes.len().max(1)).filter(|_| kind % 5 == 0) {
                        let plan = plan_after_failure(
                            &SendFailure::Meta { code, http_status: Some(400) },
                            row.attempts().max(1), 0, &RetryPolicy::default(),
                        );
                        let _ = c.record_failure(row, Some(code), &plan, t(now));
                    } else {
                        let _ = c.apply(row, event(kind, arg, t(now)));
                    }
                    prop_assert_eq!(counts(&c), tally(&r));
                    prop_assert_eq!(c.hopper().total() as usize, r.len());
                }
            }
        }
    }
}

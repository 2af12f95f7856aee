//! A business number's settings: automation (AUTO-1..12 with their bounds), the enabled bot
//! recipe, outreach expiry and expired-outreach text, closing logic (CHAN-3). Validated with
//! `rules::settings::validate` and AUTO-2's ice-breaker rules before anything is stored.
//!
//! And its pacing (SEND-3, CAMP-5): throughput, messaging limit and recipient burst, kept in the
//! pacing record the sender reads before every send; and the resume of a number that sending
//! stopped on (SEND-2, CAMP-6).

use super::{Errors, number_id};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::extract::{JsonBody, PathParams};
use crate::submitter::{SubmitError, TemplateSubmitter};
use axum::Json;
use axum::extract::State;
use rules::pacing::{
    MAX_PER_SECOND, MessagingLimit, PacingError, PacingSettings, PairPace, Throughput,
};
use rules::settings::{ConversationalAutomation, SettingsError};
use rules::templates::{IceBreakerError, IceBreakers};
use rules::{NumberSettings, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{NumberPacingRecord, PacingWrite, SendingStore, SettingsStore};
use utoipa::ToSchema;

/// The number's settings (defaults when none were saved).
#[utoipa::path(
    get, path = "/v1/numbers/{number}/settings", tag = "numbers",
    params(("number" = String, Path, description = "Business number")),
    responses((status = 200, description = "NumberSettings: durations in seconds", body = Object), Errors)
)]
pub async fn get_settings<D: Deps>(
    State(d): State<Arc<D>>,
    _caller: Caller,
    PathParams(number): PathParams<String>,
) -> ApiResult<Json<NumberSettings>> {
    let number = number_id(&number)?;
    let settings = d
        .store()
        .settings(&number)
        .await?
        .unwrap_or_else(|| NumberSettings::new(number));
    Ok(Json(settings))
}

fn settings_field(e: &SettingsError) -> &'static str {
    match e {
        SettingsError::AutoCloseOutOfRange(_) => "auto_close_after",
        SettingsError::NotPositive { field, .. } => field,
        SettingsError::ExpiryOutOfRange(_) => "outreach_expiry",
        SettingsError::EmptyExpiredText => "expired_outreach_text",
        SettingsError::Recipe(_) => "recipe",
        SettingsError::TwoBots => "external_bot",
    }
}

fn ice_breaker_field(e: &IceBreakerError) -> String {
    match e {
        IceBreakerError::TooMany { .. } => "ice_breakers".to_owned(),
        IceBreakerError::Empty { position }
        | IceBreakerError::TooLong { position, .. }
        | IceBreakerError::ContainsEmoji { position, .. }
        | IceBreakerError::Duplicate { position, .. } => format!("ice_breakers[{}]", position - 1),
    }
}

/// Saves the number's settings (admin). Bounds: auto-close 1 minute to 72 hours (AUTO-7); at most
/// 4 ice breakers of at most 80 characters, no emoji (AUTO-2); outreach expiry 1 to 365 days.
/// When the ice breakers or the welcome change, they are set at Meta first
/// (`conversational_automation`): Meta's refusal answers 422 `meta_refused`, an outage 502, and
/// then nothing is saved.
#[utoipa::path(
    put, path = "/v1/numbers/{number}/settings", tag = "numbers",
    params(("number" = String, Path, description = "Business number")),
    request_body(content = Object, description = "NumberSettings (see GET); `number` may be left out"),
    responses(
        (status = 200, description = "The saved settings", body = Object),
        (status = 502, description = "The Graph API failed (ice breakers, welcome)", body = crate::error::ErrorBody),
        Errors
    )
)]
pub async fn put_settings<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
    JsonBody(mut raw): JsonBody<serde_json::Value>,
) -> ApiResult<Json<NumberSettings>> {
    caller.require_admin("change a number's settings")?;
    let number = number_id(&number)?;
    let object = raw
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("settings", "must be a JSON object"))?;
    match object.get("number") {
        None => {
            object.insert(
                "number".into(),
                serde_json::Value::String(number.to_string()),
            );
        }
        Some(n) if n.as_str() == Some(number.as_str()) => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "number",
                "must be the number in the path",
            ));
        }
    }
    let settings: NumberSettings =
        serde_json::from_value(raw).map_err(|e| ApiError::invalid("settings", e))?;
    if let Err(e) = rules::settings::validate(&settings) {
        return Err(ApiError::invalid(settings_field(&e), e));
    }
    if let Err(errors) = IceBreakers::new(settings.ice_breakers.clone()) {
        let fields: Vec<FieldProblem> = errors
            .iter()
            .map(|e| FieldProblem {
                field: ice_breaker_field(e),
                problem: e.to_string(),
            })
            .collect();
        let summary = fields
            .iter()
            .map(|f| f.problem.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ApiError::invalid_fields(summary, fields));
    }
    // AUTO-1/AUTO-2: customers see the ice breakers (and Meta announces them opening the chat)
    // only once Meta has them: pushed first, so a refusal or an outage is the answer and nothing
    // is saved that customers would never see (saving again pushes again).
    let before = d.store().settings(&number).await?;
    if let Some(automation) = ConversationalAutomation::to_push(before.as_ref(), &settings) {
        d.submitter()
            .set_conversational_automation(number.as_str(), &automation)
            .await
            .map_err(|e| match e {
                SubmitError::Refused { .. } => ApiError::refused(
                    "meta_refused",
                    format!("ice breakers and welcome not set at Meta, settings not saved: {e}"),
                ),
                SubmitError::Unavailable(_) => ApiError::bad_gateway(format!(
                    "ice breakers and welcome not set at Meta, settings not saved: {e}"
                )),
            })?;
        tracing::info!(number = %settings.number, "conversational automation set at Meta");
    }
    d.store().put_settings(&settings).await?;
    tracing::info!(number = %settings.number, "settings saved");
    Ok(Json(settings))
}

// ----- pacing limits and the stop (SEND-3, CAMP-5, SEND-2) ---------------------------------------

/// SEND-3 / CAMP-5: what the sender paces the number by, and whether sending is stopped (SEND-2).
/// The sender reads exactly this record (`store::NumberPacingRecord`) before every send.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NumberLimits {
    /// Messages per second (SEND-3: 1 to 1,000; 80 by default).
    pub throughput: u32,
    /// Unique contacts the number may reach with business-initiated messages outside a CSW in a
    /// moving 24 h; `null`: unlimited (Meta's `TIER_UNLIMITED`).
    pub messaging_limit: Option<u32>,
    /// Messages to one recipient back to back before the pace of one per 6 s applies (1 to 45).
    pub pair_burst: u32,
    /// Contacts counted toward the messaging limit now.
    pub contacts_reached: u64,
    /// When the limits last changed (an admin here, or Meta's messaging-limit and throughput
    /// events: the later wins), epoch seconds; `null`: defaults.
    pub limits_as_of: Option<i64>,
    /// SEND-2: sending stopped on a token, permission, payment or policy error until an admin
    /// resumes the number (`POST …/resume`).
    pub stopped: bool,
    pub stop_reason: Option<String>,
}

fn limits_view(record: &NumberPacingRecord, now: Timestamp) -> NumberLimits {
    let s = &record.settings;
    NumberLimits {
        throughput: s.throughput.get(),
        messaging_limit: match s.messaging_limit {
            MessagingLimit::Contacts(n) => Some(n),
            MessagingLimit::Unlimited => None,
        },
        pair_burst: s.pair.burst,
        contacts_reached: record.pacing.reach.count(now),
        limits_as_of: record.limits_as_of.map(Timestamp::unix),
        stopped: record.pacing.stopped,
        stop_reason: record.stop_reason.clone(),
    }
}

/// The messaging limit as given: a number of contacts, or Meta's tier name (`TIER_1K`,
/// `TIER_UNLIMITED`) or `unlimited`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MessagingLimitInput {
    Contacts(i64),
    Named(String),
}

/// A change of the number's limits; a field left out (or `null`) is kept.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsChange {
    /// Messages per second, 1 to 1,000.
    #[serde(default)]
    pub throughput: Option<i64>,
    /// 1 to 10,000,000 contacts, `"TIER_250"` … `"TIER_100K"`, `"TIER_UNLIMITED"` or `"unlimited"`.
    #[serde(default)]
    pub messaging_limit: Option<MessagingLimitInput>,
    /// 1 to 45 messages.
    #[serde(default)]
    pub pair_burst: Option<i64>,
}

/// The largest messaging limit given as a number (the rules' bound).
pub const MAX_MESSAGING_LIMIT: i64 = rules::pacing::MAX_MESSAGING_LIMIT as i64;

/// Every bound checked, every wrong field named.
fn apply_change(change: &LimitsChange, settings: &mut PacingSettings) -> ApiResult<()> {
    let mut fields = Vec::new();
    if let Some(t) = change.throughput {
        match u32::try_from(t)
            .map_err(|_| PacingError::Throughput(0))
            .and_then(Throughput::per_second)
        {
            Ok(t) => settings.throughput = t,
            Err(_) => fields.push(FieldProblem {
                field: "throughput".into(),
                problem: format!(
                    "must be between 1 and {MAX_PER_SECOND} messages per second, got {t}"
                ),
            }),
        }
    }
    if let Some(b) = change.pair_burst {
        match u32::try_from(b).ok().map(PairPace::new) {
            Some(Ok(p)) => settings.pair = p,
            _ => fields.push(FieldProblem {
                field: "pair_burst".into(),
                problem: format!("must be between 1 and 45 messages, got {b}"),
            }),
        }
    }
    match &change.messaging_limit {
        None => {}
        Some(MessagingLimitInput::Contacts(n)) if (1..=MAX_MESSAGING_LIMIT).contains(n) => {
            settings.messaging_limit = MessagingLimit::Contacts(*n as u32);
        }
        Some(MessagingLimitInput::Contacts(n)) => fields.push(FieldProblem {
            field: "messaging_limit".into(),
            problem: format!("must be between 1 and {MAX_MESSAGING_LIMIT} contacts, got {n}"),
        }),
        Some(MessagingLimitInput::Named(name)) if name.trim().eq_ignore_ascii_case("unlimited") => {
            settings.messaging_limit = MessagingLimit::Unlimited;
        }
        Some(MessagingLimitInput::Named(name)) => match MessagingLimit::from_meta(name) {
            Ok(MessagingLimit::Contacts(n)) if i64::from(n) > MAX_MESSAGING_LIMIT => {
                fields.push(FieldProblem {
                    field: "messaging_limit".into(),
                    problem: format!("at most {MAX_MESSAGING_LIMIT} contacts"),
                })
            }
            Ok(limit) => settings.messaging_limit = limit,
            Err(e) => fields.push(FieldProblem {
                field: "messaging_limit".into(),
                problem: e.to_string(),
            }),
        },
    }
    if fields.is_empty() {
        Ok(())
    } else {
        let summary = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.problem))
            .collect::<Vec<_>>()
            .join("; ");
        Err(ApiError::invalid_fields(summary, fields))
    }
}

/// SEND-3 / CAMP-5: the number's throughput, messaging limit and recipient burst, the contacts
/// counted now, and whether sending is stopped (admin).
#[utoipa::path(
    get, path = "/v1/numbers/{number}/limits", tag = "numbers",
    params(("number" = String, Path, description = "Business number")),
    responses((status = 200, description = "The limits the sender paces by", body = NumberLimits), Errors)
)]
pub async fn get_limits<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
) -> ApiResult<Json<NumberLimits>> {
    caller.require_admin("read a number's limits")?;
    let number = number_id(&number)?;
    let (record, _) = d.store().number_pacing(&number).await?;
    Ok(Json(limits_view(&record, d.now())))
}

/// SEND-3 / CAMP-5: changes the number's throughput (1 to 1,000 per second), messaging limit and
/// recipient burst (admin). Fields left out are kept. The sender paces every later send by them;
/// a later messaging-limit or throughput event from Meta replaces what it names.
#[utoipa::path(
    put, path = "/v1/numbers/{number}/limits", tag = "numbers",
    params(("number" = String, Path, description = "Business number")),
    request_body = LimitsChange,
    responses((status = 200, description = "The limits now", body = NumberLimits), Errors)
)]
pub async fn put_limits<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
    JsonBody(change): JsonBody<LimitsChange>,
) -> ApiResult<Json<NumberLimits>> {
    caller.require_admin("change a number's limits")?;
    let number = number_id(&number)?;
    apply_change(&change, &mut PacingSettings::default())?;
    // The pacing record changes with every send: the write is conditional on the version read
    // and retried, so neither the sender's slots nor this change are lost.
    for _ in 0..LIMITS_WRITE_ATTEMPTS {
        let (mut record, version) = d.store().number_pacing(&number).await?;
        apply_change(&change, &mut record.settings)?;
        let now = d.now();
        record.limits_as_of = Some(record.limits_as_of.map_or(now, |t| t.max(now)));
        let write = PacingWrite {
            number: Some((number.clone(), record.clone(), version)),
            recipient: None,
        };
        if d.store().put_pacing(&write).await? {
            tracing::info!(number = %number, "number limits changed");
            return Ok(Json(limits_view(&record, now)));
        }
    }
    Err(ApiError::unavailable(
        "the number's pacing kept changing; try again",
    ))
}

const LIMITS_WRITE_ATTEMPTS: usize = 16;

/// What a resume did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResumeReport {
    /// Why sending had stopped (SEND-2: token, permission, payment or policy).
    pub stop_reason: Option<String>,
    /// Sends held while the number was stopped, now back on the outbound queue.
    pub released: usize,
    pub limits: NumberLimits,
}

/// SEND-2 / CAMP-6: resumes sending on a number that stopped on a token, permission, payment or
/// policy error, once the account is fixed (admin). The sends held meanwhile go back to the
/// sender (each once). 409 when the number is not stopped and nothing is held.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/resume", tag = "numbers",
    params(("number" = String, Path, description = "Business number")),
    responses((status = 200, description = "Resumed", body = ResumeReport), Errors)
)]
pub async fn resume_number<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
) -> ApiResult<Json<ResumeReport>> {
    caller.require_admin("resume a number")?;
    let number = number_id(&number)?;
    let resumed = sender::resume_number(d.store(), d.queue(), &number)
        .await
        .map_err(sender_error)?;
    if !resumed.was_stopped && resumed.released == 0 {
        return Err(ApiError::conflict(
            "not_stopped",
            format!("sending on {number} is not stopped"),
        ));
    }
    tracing::info!(number = %number, by = %caller.agent, released = resumed.released, "number resumed");
    let (record, _) = d.store().number_pacing(&number).await?;
    Ok(Json(ResumeReport {
        stop_reason: resumed.stop_reason,
        released: resumed.released,
        limits: limits_view(&record, d.now()),
    }))
}

fn sender_error(e: sender::SenderError) -> ApiError {
    match e {
        sender::SenderError::Store(e) => e.into(),
        sender::SenderError::Queue(e) => e.into(),
        other => {
            tracing::error!(error = %other, "resume failed");
            ApiError::internal("a held send could not be read; the number may be partly resumed")
        }
    }
}

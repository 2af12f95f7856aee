//! A business number's settings: automation (AUTO-1..12 with their bounds), the enabled bot
//! recipe, outreach expiry and expired-outreach text, closing logic (CHAN-3). Validated with
//! `rules::settings::validate` and AUTO-2's ice-breaker rules before anything is stored.

use super::{Errors, number_id};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::extract::{JsonBody, PathParams};
use axum::Json;
use axum::extract::State;
use rules::NumberSettings;
use rules::settings::SettingsError;
use rules::templates::{IceBreakerError, IceBreakers};
use std::sync::Arc;
use store::SettingsStore;

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
#[utoipa::path(
    put, path = "/v1/numbers/{number}/settings", tag = "numbers",
    params(("number" = String, Path, description = "Business number")),
    request_body(content = Object, description = "NumberSettings (see GET); `number` may be left out"),
    responses((status = 200, description = "The saved settings", body = Object), Errors)
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
    d.store().put_settings(&settings).await?;
    tracing::info!(number = %settings.number, "settings saved");
    Ok(Json(settings))
}

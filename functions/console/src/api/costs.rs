//! BILL-3 / BILL-6: the cost report, predicted against reported, per number, day, category and
//! charge (`charged`, or free and why).

use super::{Errors, number_id};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParams, QueryParams};
use axum::Json;
use axum::extract::State;
use rules::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::LedgerStore;
use utoipa::{IntoParams, ToSchema};

/// The longest range one report covers.
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CostParams {
    /// First day, `YYYY-MM-DD` (UTC); default 30 days before `to`.
    pub from: Option<String>,
    /// Last day, inclusive; default today (UTC).
    pub to: Option<String>,
}

/// Counts and amounts (millionths of the rate table's currency unit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CostFigures {
    pub predicted_count: i64,
    pub predicted_micros: i64,
    pub reported_count: i64,
    pub reported_micros: i64,
}

impl CostFigures {
    fn add(&mut self, l: &store::LedgerLine) {
        self.predicted_count += l.predicted_count;
        self.predicted_micros += l.predicted_micros;
        self.reported_count += l.reported_count;
        self.reported_micros += l.reported_micros;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CostLine {
    /// `YYYY-MM-DD`
    pub day: String,
    /// Meta's pricing category (`marketing`, `utility`, `authentication`, `service`,
    /// `referral_conversion`, …).
    pub category: String,
    /// BILL-6: `charged`, or free and why: `free_service_window` (service inside the customer
    /// service window), `free_utility_in_service_window` (before 2026-10-01),
    /// `free_entry_point`, `free_conversation_open` (conversation-based pricing: the message fell
    /// into a conversation already open), `free_service_tier` (the month's free service
    /// messages), `free` (not billable, no reason given). Empty on lines counted before charges
    /// were kept. A prediction and Meta's report of one message count on the lines of their own
    /// charge, so a line where they disagree shows it.
    pub charge: String,
    #[serde(flatten)]
    pub figures: CostFigures,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CostReport {
    pub number: String,
    pub from: String,
    pub to: String,
    /// The rate table's currency (amounts are millionths of it); absent while none is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Per day, category and charge.
    pub lines: Vec<CostLine>,
    /// Per category over the range.
    pub categories: BTreeMap<String, CostFigures>,
    /// Per charge (`charged`, `free_…`) over the range.
    pub charges: BTreeMap<String, CostFigures>,
    pub total: CostFigures,
}

/// Parses `YYYY-MM-DD` as a real calendar date.
pub fn parse_date(field: &str, text: &str) -> ApiResult<Date> {
    Date::parse(text)
        .ok_or_else(|| ApiError::invalid(field, format!("{text:?} is not a date YYYY-MM-DD")))
}

/// BILL-3: predicted against reported cost per category and day (admin).
#[utoipa::path(
    get, path = "/v1/numbers/{number}/costs", tag = "costs",
    params(("number" = String, Path, description = "Business number"), CostParams),
    responses((status = 200, description = "The report", body = CostReport), Errors)
)]
pub async fn cost_report<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
    QueryParams(p): QueryParams<CostParams>,
) -> ApiResult<Json<CostReport>> {
    caller.require_admin("read the cost report")?;
    let number = number_id(&number)?;
    let to = match &p.to {
        Some(t) => parse_date("to", t)?,
        None => d.now().date(),
    };
    let from = match &p.from {
        Some(f) => parse_date("from", f)?,
        None => Date::from_day_number(to.day_number() - 30),
    };
    if from > to {
        return Err(ApiError::invalid("from", "must not be after to"));
    }
    if to.day_number() - from.day_number() >= MAX_DAYS {
        return Err(ApiError::invalid(
            "from",
            format!("a report covers at most {MAX_DAYS} days"),
        ));
    }
    let lines = d.store().ledger(&number, from, to).await?;
    let currency = d.store().rates().await?.map(|t| t.currency);
    let mut categories: BTreeMap<String, CostFigures> = BTreeMap::new();
    let mut charges: BTreeMap<String, CostFigures> = BTreeMap::new();
    let mut total = CostFigures::default();
    for l in &lines {
        categories.entry(l.category.clone()).or_default().add(l);
        charges.entry(l.charge.clone()).or_default().add(l);
        total.add(l);
    }
    Ok(Json(CostReport {
        number: number.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        currency,
        lines: lines
            .into_iter()
            .map(|l| {
                let mut figures = CostFigures::default();
                figures.add(&l);
                CostLine {
                    day: l.day,
                    category: l.category,
                    charge: l.charge,
                    figures,
                }
            })
            .collect(),
        categories,
        charges,
        total,
    }))
}

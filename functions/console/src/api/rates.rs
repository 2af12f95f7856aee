//! BILL-6: the rate table, configuration an admin reads and replaces (`GET`/`PUT /v1/rates`).
//! The sender reads it with every send; predictions and Meta's reports are priced by the entry
//! in force on the send's date for the recipient's market.

use super::Errors;
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::extract::JsonBody;
use axum::Json;
use axum::extract::State;
use rules::Date;
use rules::billing::{PricingCategory, Rate, RateTable};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::LedgerStore;
use utoipa::ToSchema;

/// One price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateEntry {
    /// Meta's pricing category: `marketing`, `utility`, `authentication`,
    /// `authentication_international`, `marketing_lite`, `service`.
    #[schema(example = "marketing")]
    pub category: String,
    /// The recipient's country calling code (1 to 4 digits; the longest that starts the
    /// recipient's number wins), or `*` for every market without its own price.
    #[schema(example = "39")]
    pub market: String,
    /// `YYYY-MM-DD` (UTC): the price applies to messages sent from this date until a later entry
    /// of the same category and market.
    #[schema(example = "2025-07-01")]
    pub effective_from: String,
    /// Millionths of the table's currency per charged message (per opened conversation under
    /// conversation-based pricing): `0.0691` is `69100`.
    #[schema(example = 69100)]
    pub micros: i64,
}

/// The rate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateTableBody {
    /// ISO 4217 code, e.g. `USD`.
    #[schema(example = "USD")]
    pub currency: String,
    /// Where the prices come from and as of when (kept and shown, never used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default)]
    pub rates: Vec<RateEntry>,
}

impl From<&RateTable> for RateTableBody {
    fn from(t: &RateTable) -> Self {
        RateTableBody {
            currency: t.currency.clone(),
            source: t.source.clone(),
            rates: t
                .rates
                .iter()
                .map(|r| RateEntry {
                    category: r.category.to_string(),
                    market: r.market.clone(),
                    effective_from: r.effective_from.to_string(),
                    micros: r.micros,
                })
                .collect(),
        }
    }
}

impl RateTableBody {
    /// The rules' table, every problem named by its field.
    pub fn parse(&self) -> ApiResult<RateTable> {
        let mut problems = Vec::new();
        let mut rates = Vec::with_capacity(self.rates.len());
        for (i, r) in self.rates.iter().enumerate() {
            let category = match PricingCategory::from_meta(&r.category) {
                Ok(PricingCategory::ReferralConversion) => {
                    problems.push(FieldProblem {
                        field: format!("rates[{i}].category"),
                        problem: "referral_conversion messages are free".into(),
                    });
                    None
                }
                Ok(c) => Some(c),
                Err(e) => {
                    problems.push(FieldProblem {
                        field: format!("rates[{i}].category"),
                        problem: e.to_string(),
                    });
                    None
                }
            };
            let date = Date::parse(&r.effective_from);
            if date.is_none() {
                problems.push(FieldProblem {
                    field: format!("rates[{i}].effective_from"),
                    problem: format!("{:?} is not a date YYYY-MM-DD", r.effective_from),
                });
            }
            if let (Some(category), Some(effective_from)) = (category, date) {
                rates.push(Rate {
                    category,
                    market: r.market.clone(),
                    effective_from,
                    micros: r.micros,
                });
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(
                "the rate table has invalid entries",
                problems,
            ));
        }
        let table = RateTable {
            currency: self.currency.clone(),
            source: self.source.clone(),
            rates,
        };
        table.validate().map_err(|problem| {
            let field = problem.split(':').next().unwrap_or("rates").to_owned();
            ApiError::invalid(&field, problem)
        })?;
        Ok(table)
    }
}

/// BILL-6: the rate table (admin); 404 until one is set.
#[utoipa::path(
    get, path = "/v1/rates", tag = "costs",
    responses((status = 200, description = "The rate table", body = RateTableBody), Errors)
)]
pub async fn get_rates<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
) -> ApiResult<Json<RateTableBody>> {
    caller.require_admin("read the rate table")?;
    match d.store().rates().await? {
        Some(table) => Ok(Json(RateTableBody::from(&table))),
        None => Err(ApiError::not_found(
            "no rate table is set: costs are counted but priced at 0 (PUT /v1/rates)",
        )),
    }
}

/// BILL-6: replaces the rate table (admin). Predictions made from then on, and Meta's reports
/// received from then on, are priced by it.
#[utoipa::path(
    put, path = "/v1/rates", tag = "costs",
    request_body = RateTableBody,
    responses((status = 200, description = "The rate table now", body = RateTableBody), Errors)
)]
pub async fn put_rates<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    JsonBody(body): JsonBody<RateTableBody>,
) -> ApiResult<Json<RateTableBody>> {
    caller.require_admin("change the rate table")?;
    let table = body.parse()?;
    d.store().put_rates(&table).await?;
    tracing::info!(entries = table.rates.len(), currency = %table.currency, "rate table replaced");
    Ok(Json(RateTableBody::from(&table)))
}

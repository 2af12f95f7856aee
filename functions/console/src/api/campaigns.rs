//! Campaigns (CAMP-1..10 at the console): create, attach contact lists (CSV, CAMP-4), start, stop,
//! retry run, hopper counts (CAMP-2) and per-contact history (CAMP-10).
//!
//! Storage convention shared with the sender: a campaign record's `definition` is the rules'
//! [`Campaign`] as JSON; each contact is a row whose `stage` is its hopper bucket (`fresh`,
//! `retry`, `pending`, `closed`) and whose `data` is the rules' [`CampaignContact`] as JSON. The
//! hopper counts shown are the store's counters, which move with the rows atomically.

use super::{Errors, fresh_key, number_id, page_limit};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::extract::{JsonBody, PathParams, QueryParams, RawBody, idempotency_key, if_match};
use crate::lists::parse_csv;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use queue::{CampaignTick, Destination, EventQueue};
use rules::campaign::{
    Bucket, Campaign, CampaignContact, CampaignError, CampaignSettings, Handoff, ListId, RowEvent,
    StopReason, import_list,
};
use rules::{BusinessNumberId, CampaignId, ContactKey, Duration, TemplateName, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;
use store::{CampaignRecord, CampaignRow, CampaignStore, SendingStore, TemplateStore};
use utoipa::{IntoParams, ToSchema};

/// CAMP-2: the hopper's counts (they add up to `total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HopperView {
    pub fresh: i64,
    pub retry: i64,
    pub pending: i64,
    pub closed: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    /// The definition's version: send it back as `If-Match` to change only what you saw (409
    /// when it moved). Hopper counts move without changing it.
    pub version: u64,
    pub number: String,
    pub name: String,
    /// `DRAFT`, `RUNNING`, `STOPPED` or `COMPLETED`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    pub template: String,
    pub language: String,
    pub lists: Vec<String>,
    pub starts_at: i64,
    pub ends_at: i64,
    /// Seconds.
    pub response_timeout: i64,
    pub retry_enabled: bool,
    #[schema(value_type = Object)]
    pub handoff: Handoff,
    pub hopper: HopperView,
}

fn view(record: &CampaignRecord, version: u64, c: &Campaign) -> CampaignView {
    let count = |b: Bucket| record.count(b);
    let hopper = HopperView {
        fresh: count(Bucket::Fresh),
        retry: count(Bucket::Retry),
        pending: count(Bucket::Pending),
        closed: count(Bucket::Closed),
        total: Bucket::ALL.into_iter().map(count).sum(),
    };
    let s = &c.settings;
    CampaignView {
        id: c.id.to_string(),
        version,
        number: record.number.to_string(),
        name: s.name.clone(),
        status: c.status().to_string(),
        stop_reason: c.stop_reason().map(ToString::to_string),
        template: s.template.to_string(),
        language: s.language.clone(),
        lists: s.lists.iter().map(|l| l.as_str().to_owned()).collect(),
        starts_at: s.starts_at.unix(),
        ends_at: s.ends_at.unix(),
        response_timeout: s.response_timeout.as_seconds(),
        retry_enabled: s.retry_enabled,
        handoff: s.handoff.clone(),
        hopper,
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// Optional id (letters, digits, `_`, `-`; at most 64): repeating a create with the same id
    /// answers 409 instead of creating a second campaign.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub template: String,
    pub language: String,
    /// Epoch seconds.
    pub starts_at: i64,
    pub ends_at: i64,
    /// Seconds (CAMP-7).
    pub response_timeout: i64,
    #[serde(default)]
    pub retry_enabled: bool,
    /// CAMP-7: `{"to":"bot","recipe":null}` (default) or `{"to":"agent","agent":null}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub handoff: Option<Handoff>,
}

struct Loaded {
    record: CampaignRecord,
    /// The definition's version as read.
    version: u64,
    campaign: Campaign,
}

impl Loaded {
    fn view(&self) -> CampaignView {
        view(&self.record, self.version, &self.campaign)
    }
}

fn campaign_id(text: &str) -> ApiResult<CampaignId> {
    if text.is_empty()
        || text.len() > 64
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::invalid(
            "campaign",
            "letters, digits, '_' and '-', at most 64",
        ));
    }
    CampaignId::new(text).map_err(|e| ApiError::invalid("campaign", e))
}

async fn load<D: Deps>(d: &D, number: &BusinessNumberId, id: &str) -> ApiResult<Loaded> {
    let id = campaign_id(id)?;
    let read = d
        .store()
        .versioned_campaign(&id)
        .await?
        .filter(|r| &r.value.number == number)
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id} on number {number}")))?;
    let (record, version) = (read.value, read.version);
    let campaign = record.campaign().map_err(|e| {
        tracing::error!(campaign = %id, error = %e, "campaign definition unreadable");
        ApiError::internal("the campaign's stored definition cannot be read")
    })?;
    Ok(Loaded {
        record,
        version,
        campaign,
    })
}

fn stale(id: &CampaignId, detail: impl std::fmt::Display) -> ApiError {
    ApiError::conflict(
        "stale_version",
        format!("campaign {id} changed ({detail}); read it again and retry"),
    )
}

/// 409 when the client's `If-Match` is not the version read.
fn check_version(loaded: &Loaded, expected: Option<u64>) -> ApiResult<()> {
    match expected {
        Some(v) if v != loaded.version => Err(stale(
            &loaded.campaign.id,
            format!("version {} now, {v} expected", loaded.version),
        )),
        _ => Ok(()),
    }
}

/// Writes the definition, conditional on the version read. `Ok(false)`: someone (the sender, another
/// admin) wrote it since.
async fn save<D: Deps>(d: &D, loaded: &mut Loaded) -> ApiResult<bool> {
    loaded.record.set_campaign(&loaded.campaign);
    let Some(version) = d
        .store()
        .put_campaign_if(&loaded.record, Some(loaded.version))
        .await?
    else {
        return Ok(false);
    };
    loaded.version = version;
    // The counters are the store's: read them back for the answer.
    if let Some(fresh) = d.store().campaign(&loaded.record.id).await? {
        loaded.record.hopper = fresh.hopper;
    }
    Ok(true)
}

const UPDATE_ATTEMPTS: usize = 4;

/// Read, change, write conditionally. With `If-Match`, a version that moved at any point is a
/// 409; without, a concurrent write (the sender pausing or completing the campaign) makes the
/// change run again on what is stored now, so nothing is lost and the rules judge the new state.
async fn update<D: Deps>(
    d: &D,
    number: &BusinessNumberId,
    id: &str,
    expected: Option<u64>,
    change: impl Fn(&mut Loaded) -> ApiResult<()>,
) -> ApiResult<Loaded> {
    for _ in 0..UPDATE_ATTEMPTS {
        let mut loaded = load(d, number, id).await?;
        check_version(&loaded, expected)?;
        change(&mut loaded)?;
        if save(d, &mut loaded).await? {
            return Ok(loaded);
        }
        if expected.is_some() {
            return Err(stale(&loaded.campaign.id, "written while this request ran"));
        }
    }
    Err(ApiError::conflict(
        "stale_version",
        "the campaign kept changing while this request ran; try again",
    ))
}

fn campaign_error(e: CampaignError) -> ApiError {
    match e {
        CampaignError::EndNotAfterStart { .. } => ApiError::invalid("ends_at", e),
        CampaignError::NonPositiveResponseTimeout => ApiError::invalid("response_timeout", e),
        CampaignError::EmptyListId => ApiError::invalid("list", e),
        CampaignError::CannotStart(problems) => {
            let fields = problems
                .iter()
                .map(|p| FieldProblem {
                    field: serde_json::to_value(p)
                        .ok()
                        .and_then(|v| v.get("problem").and_then(|p| p.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| "campaign".into()),
                    problem: p.to_string(),
                })
                .collect();
            let mut err = ApiError::refused(
                "cannot_start",
                CampaignError::CannotStart(problems).to_string(),
            );
            err.fields = fields;
            err
        }
        CampaignError::InvalidTransition { .. } => {
            ApiError::conflict("invalid_transition", e.to_string())
        }
        CampaignError::RetryDisabled => ApiError::refused("retry_disabled", e.to_string()),
        CampaignError::RetryAfterEnd { .. } => ApiError::refused("campaign_ended", e.to_string()),
    }
}

async fn tick<D: Deps>(d: &D, id: &CampaignId, what: &str, key: Option<String>) -> ApiResult<()> {
    let t = CampaignTick {
        key: format!("console:{what}:{id}:{}", key.unwrap_or_else(fresh_key)),
        campaign: id.clone(),
        at: d.now(),
    };
    d.queue()
        .send(Destination::Outbound, vec![t.envelope()])
        .await?;
    Ok(())
}

/// CAMP-1: creates a campaign in `DRAFT` (admin).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/campaigns", tag = "campaigns",
    params(("number" = String, Path, description = "Business number")),
    request_body = NewCampaign,
    responses((status = 201, description = "Created", body = CampaignView), Errors)
)]
pub async fn create_campaign<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
    JsonBody(n): JsonBody<NewCampaign>,
) -> ApiResult<(StatusCode, Json<CampaignView>)> {
    caller.require_admin("create campaigns")?;
    let number = number_id(&number)?;
    let name = n.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "1 to 100 characters"));
    }
    let template =
        TemplateName::new(n.template.as_str()).map_err(|e| ApiError::invalid("template", e))?;
    if d.store()
        .template(&number, &template, &n.language)
        .await?
        .is_none()
    {
        return Err(ApiError::refused(
            "unknown_template",
            format!("no template {template} in {} on this number", n.language),
        ));
    }
    let id = match &n.id {
        Some(id) => campaign_id(id)?,
        None => CampaignId::new(format!("cmp-{}", fresh_key()))
            .map_err(|e| ApiError::internal(e.to_string()))?,
    };
    let settings = CampaignSettings {
        name: name.to_owned(),
        template,
        language: n.language,
        lists: Vec::new(),
        starts_at: Timestamp::from_unix(n.starts_at),
        ends_at: Timestamp::from_unix(n.ends_at),
        response_timeout: Duration::seconds(n.response_timeout),
        retry_enabled: n.retry_enabled,
        handoff: n.handoff.unwrap_or_default(),
    };
    let campaign = Campaign::new(id.clone(), settings).map_err(campaign_error)?;
    let record = CampaignRecord::of(&number, &campaign);
    // Created only if absent: two creates with one id make one campaign.
    let Some(version) = d.store().put_campaign_if(&record, None).await? else {
        return Err(ApiError::conflict(
            "already_exists",
            format!("campaign {id} exists"),
        ));
    };
    // The number's campaign directory: the list below, and the sender's template events.
    d.store().link_campaign(&number, &id).await?;
    tracing::info!(campaign = %id, "campaign created");
    Ok((StatusCode::CREATED, Json(view(&record, version, &campaign))))
}

/// A campaign with its hopper counts (CAMP-2).
#[utoipa::path(
    get, path = "/v1/numbers/{number}/campaigns/{campaign}", tag = "campaigns",
    params(("number" = String, Path, description = "Business number"), ("campaign" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "The campaign", body = CampaignView), Errors)
)]
pub async fn get_campaign<D: Deps>(
    State(d): State<Arc<D>>,
    _caller: Caller,
    PathParams((number, campaign)): PathParams<(String, String)>,
) -> ApiResult<Json<CampaignView>> {
    let number = number_id(&number)?;
    let loaded = load(d.as_ref(), &number, &campaign).await?;
    Ok(Json(loaded.view()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The list's name (Contact Manager list id).
    pub list: String,
}

/// CAMP-4: a refused row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RefusedRow {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: u32,
    /// `invalid_phone`, `duplicate_phone`, `invalid_email` or `unreadable`.
    pub problem: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub list: String,
    /// Contact rows read.
    pub rows: usize,
    /// Rows accepted.
    pub imported: usize,
    /// Contacts new to the campaign (a contact already in it, from another list, is messaged
    /// once).
    pub added: usize,
    pub refused: Vec<RefusedRow>,
    pub campaign: CampaignView,
}

/// CAMP-4: attaches a contact list (CSV with a header row: `phone` (E.164 with the country
/// prefix), `first_name`, `last_name`, `email`, other columns as custom fields). Rows without a
/// valid number are refused with their row number and reason; the rest are imported.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/campaigns/{campaign}/lists", tag = "campaigns",
    params(
        ("number" = String, Path, description = "Business number"),
        ("campaign" = String, Path, description = "Campaign id"),
        ListParams,
        ("If-Match" = Option<String>, Header, description = "The campaign version the client saw (409 when it moved)"),
    ),
    request_body(content = String, content_type = "text/csv", description = "The list"),
    responses((status = 200, description = "What was imported and refused", body = ImportReport), Errors)
)]
pub async fn upload_list<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, campaign)): PathParams<(String, String)>,
    QueryParams(p): QueryParams<ListParams>,
    RawBody(body): RawBody,
) -> ApiResult<Json<ImportReport>> {
    caller.require_admin("attach contact lists")?;
    let number = number_id(&number)?;
    let list = ListId::new(p.list.trim()).map_err(|e| ApiError::invalid("list", e))?;
    if list.as_str().len() > 100 {
        return Err(ApiError::invalid("list", "at most 100 characters"));
    }
    let expected = if_match(&headers)?;
    let mut loaded = load(d.as_ref(), &number, &campaign).await?;
    check_version(&loaded, expected)?;
    let parsed = parse_csv(&body).map_err(|e| ApiError::invalid("body", e))?;
    let import = import_list(&parsed.rows);
    let mut refused: Vec<RefusedRow> = parsed
        .unreadable
        .iter()
        .map(|(row, message)| RefusedRow {
            row: *row,
            problem: "unreadable".into(),
            message: message.clone(),
        })
        .chain(import.refused.iter().map(|r| {
            RefusedRow {
                row: r.row,
                problem: serde_json::to_value(&r.problem)
                    .ok()
                    .and_then(|v| v.get("problem").and_then(|p| p.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| "refused".into()),
                message: r.to_string(),
            }
        }))
        .collect();
    refused.sort_by_key(|r| r.row);
    // Contacts already in the campaign (from another list) are not added twice.
    let mut existing: BTreeSet<ContactKey> = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = d
            .store()
            .campaign_rows(&loaded.campaign.id, 500, cursor.as_deref())
            .await?;
        existing.extend(page.items.into_iter().map(|r| r.contact));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let rows = loaded
        .campaign
        .admit(&import.imported, &existing, d.now())
        .map_err(campaign_error)?;
    let mut added = 0;
    for row in &rows {
        let data = serde_json::to_value(row)
            .map_err(|e| ApiError::internal(format!("row cannot be serialised: {e}")))?;
        let stored = CampaignRow {
            contact: row.contact.clone(),
            stage: row.state().bucket().name().to_owned(),
            data,
        };
        if d.store()
            .add_campaign_row(&loaded.campaign.id, &stored)
            .await?
        {
            added += 1;
        }
    }
    // The rows are in (adding them does not move the version); the list joins the definition.
    let loaded = update(d.as_ref(), &number, &campaign, expected, |l| {
        if !l.campaign.settings.lists.contains(&list) {
            l.campaign.settings.lists.push(list.clone());
        }
        Ok(())
    })
    .await?;
    tracing::info!(
        campaign = %loaded.campaign.id,
        rows = parsed.rows.len(),
        added,
        refused = refused.len(),
        "contact list imported"
    );
    Ok(Json(ImportReport {
        list: list.as_str().to_owned(),
        rows: parsed.rows.len() + parsed.unreadable.len(),
        imported: import.imported.len(),
        added,
        refused,
        campaign: loaded.view(),
    }))
}

/// CAMP-10: starts (or restarts) the campaign: `DRAFT`/`STOPPED` → `RUNNING` if it has lists,
/// has not ended, and its template is approved and fully mapped (TPL-1, TPL-3). The sender is
/// woken with a campaign tick.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/campaigns/{campaign}/start", tag = "campaigns",
    params(
        ("number" = String, Path, description = "Business number"),
        ("campaign" = String, Path, description = "Campaign id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The campaign version the client saw (409 when it moved)"),
    ),
    responses((status = 202, description = "Running; sending is queued", body = CampaignView), Errors)
)]
pub async fn start_campaign<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, campaign)): PathParams<(String, String)>,
) -> ApiResult<(StatusCode, Json<CampaignView>)> {
    caller.require_admin("start campaigns")?;
    let key = idempotency_key(&headers)?;
    let expected = if_match(&headers)?;
    let number = number_id(&number)?;
    let first = load(d.as_ref(), &number, &campaign).await?;
    check_version(&first, expected)?;
    let s = &first.campaign.settings;
    let template = d
        .store()
        .template(&number, &s.template, &s.language)
        .await?
        .ok_or_else(|| {
            ApiError::refused(
                "unknown_template",
                format!(
                    "the campaign's template {} ({}) is gone",
                    s.template, s.language
                ),
            )
        })?;
    let now = d.now();
    let loaded = update(d.as_ref(), &number, &campaign, expected, |l| {
        l.campaign.start(&template, now).map_err(campaign_error)
    })
    .await?;
    tick(d.as_ref(), &loaded.campaign.id, "start", key).await?;
    tracing::info!(campaign = %loaded.campaign.id, "campaign started");
    Ok((StatusCode::ACCEPTED, Json(loaded.view())))
}

/// CAMP-10: stops a running campaign.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/campaigns/{campaign}/stop", tag = "campaigns",
    params(
        ("number" = String, Path, description = "Business number"),
        ("campaign" = String, Path, description = "Campaign id"),
        ("If-Match" = Option<String>, Header, description = "The campaign version the client saw (409 when it moved)"),
    ),
    responses((status = 200, description = "Stopped", body = CampaignView), Errors)
)]
pub async fn stop_campaign<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, campaign)): PathParams<(String, String)>,
) -> ApiResult<Json<CampaignView>> {
    caller.require_admin("stop campaigns")?;
    let expected = if_match(&headers)?;
    let number = number_id(&number)?;
    let loaded = update(d.as_ref(), &number, &campaign, expected, |l| {
        l.campaign
            .stop(StopReason::ByUser {
                by: Some(caller.agent.clone()),
            })
            .map_err(campaign_error)
    })
    .await?;
    tracing::info!(campaign = %loaded.campaign.id, "campaign stopped");
    Ok(Json(loaded.view()))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetryRun {
    /// Contacts moved from `retry` back to `fresh`.
    pub retried: usize,
    pub campaign: CampaignView,
}

/// CAMP-6/CAMP-10: a retry run: every contact in `retry` goes back to `fresh` and the sender is
/// woken. Allowed while retry is on, until the campaign's end, as often as wanted.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/campaigns/{campaign}/retry", tag = "campaigns",
    params(
        ("number" = String, Path, description = "Business number"),
        ("campaign" = String, Path, description = "Campaign id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely"),
        ("If-Match" = Option<String>, Header, description = "The campaign version the client saw (409 when it moved)"),
    ),
    responses((status = 202, description = "Retry run queued", body = RetryRun), Errors)
)]
pub async fn retry_campaign<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, campaign)): PathParams<(String, String)>,
) -> ApiResult<(StatusCode, Json<RetryRun>)> {
    caller.require_admin("run retries")?;
    let key = idempotency_key(&headers)?;
    let expected = if_match(&headers)?;
    let number = number_id(&number)?;
    let mut loaded = load(d.as_ref(), &number, &campaign).await?;
    check_version(&loaded, expected)?;
    let now = d.now();
    loaded
        .campaign
        .check_retry_run(now)
        .map_err(campaign_error)?;
    let mut retried = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = d
            .store()
            .campaign_rows(&loaded.campaign.id, 500, cursor.as_deref())
            .await?;
        for row in page
            .items
            .into_iter()
            .filter(|r| r.stage == Bucket::Retry.name())
        {
            let original = row.data;
            let mut contact: CampaignContact = match serde_json::from_value(original.clone()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(campaign = %loaded.campaign.id, error = %e, "campaign row unreadable");
                    continue;
                }
            };
            if loaded
                .campaign
                .apply(&mut contact, RowEvent::RetryRun { at: now })
                .is_err()
            {
                continue;
            }
            let moved = CampaignRow {
                contact: contact.contact.clone(),
                stage: contact.state().bucket().name().to_owned(),
                data: merge_row(original, &contact),
            };
            // Conditional on the row still being in `retry`: the sender may have moved it.
            if d.store()
                .move_campaign_row(&loaded.campaign.id, Bucket::Retry.name(), &moved)
                .await?
            {
                retried += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // The rows moved (with the store's counters); the definition is unchanged, so nothing
    // else is written. Read back for the answer.
    tick(d.as_ref(), &loaded.campaign.id, "retry", key).await?;
    tracing::info!(campaign = %loaded.campaign.id, retried, "retry run");
    let loaded = load(d.as_ref(), &number, &campaign).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RetryRun {
            retried,
            campaign: loaded.view(),
        }),
    ))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignPage {
    pub items: Vec<CampaignView>,
    /// The next page's cursor; `null` on the last page.
    pub next: Option<String>,
}

/// The number's campaigns, by id, in pages (CAMP-10: an admin finds the campaign to start, stop
/// or retry; agents may read).
#[utoipa::path(
    get, path = "/v1/numbers/{number}/campaigns", tag = "campaigns",
    params(("number" = String, Path, description = "Business number"), PageParams),
    responses((status = 200, description = "The number's campaigns", body = CampaignPage), Errors)
)]
pub async fn list_campaigns<D: Deps>(
    State(d): State<Arc<D>>,
    _caller: Caller,
    PathParams(number): PathParams<String>,
    QueryParams(p): QueryParams<PageParams>,
) -> ApiResult<Json<CampaignPage>> {
    let number = number_id(&number)?;
    let limit = page_limit(p.limit)? as usize;
    let after = super::decode_cursor(p.cursor)?;
    // The number's directory of campaigns (written on create, and by the sender's ticks), in id
    // order; the cursor is the last id of the previous page.
    let mut ids = d.store().number_campaigns(&number).await?;
    ids.sort();
    ids.dedup();
    let start = match &after {
        Some(last) => ids.partition_point(|id| id.as_str() <= last.as_str()),
        None => 0,
    };
    let mut items = Vec::with_capacity(limit);
    let mut last: Option<&CampaignId> = None;
    let mut rest = ids[start..].iter();
    for id in rest.by_ref() {
        if let Some(read) = d.store().versioned_campaign(id).await?
            && read.value.number == number
        {
            match read.value.campaign() {
                Ok(campaign) => items.push(view(&read.value, read.version, &campaign)),
                Err(e) => {
                    // One unreadable campaign does not hide the others; it is logged.
                    tracing::error!(campaign = %id, error = %e, "campaign definition unreadable");
                }
            }
        }
        last = Some(id);
        if items.len() == limit {
            break;
        }
    }
    let next = match (last, rest.next()) {
        (Some(last), Some(_)) => super::encode_cursor(Some(last.to_string())),
        _ => None,
    };
    Ok(Json(CampaignPage { items, next }))
}

/// CAMP-10: one contact's state, attempts, result and history in the campaign.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignContactView {
    pub contact: String,
    pub phone: String,
    /// The hopper bucket: `fresh`, `retry`, `pending` or `closed`.
    pub stage: String,
    #[schema(value_type = Object)]
    pub state: serde_json::Value,
    pub attempts: u32,
    /// The answer or the failure reason, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignContactPage {
    pub items: Vec<CampaignContactView>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// CAMP-10: the per-contact history (answers and failure reasons), in pages.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/campaigns/{campaign}/contacts", tag = "campaigns",
    params(("number" = String, Path, description = "Business number"), ("campaign" = String, Path, description = "Campaign id"), PageParams),
    responses((status = 200, description = "Contacts of the campaign", body = CampaignContactPage), Errors)
)]
pub async fn campaign_contacts<D: Deps>(
    State(d): State<Arc<D>>,
    _caller: Caller,
    PathParams((number, campaign)): PathParams<(String, String)>,
    QueryParams(p): QueryParams<PageParams>,
) -> ApiResult<Json<CampaignContactPage>> {
    let number = number_id(&number)?;
    let limit = page_limit(p.limit)?;
    let loaded = load(d.as_ref(), &number, &campaign).await?;
    let cursor = super::decode_cursor(p.cursor)?;
    let page = d
        .store()
        .campaign_rows(&loaded.campaign.id, limit, cursor.as_deref())
        .await
        .map_err(|e| match e {
            store::StoreError::Invalid(_) => {
                ApiError::invalid("cursor", "is not a cursor of this API")
            }
            other => other.into(),
        })?;
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        let contact: CampaignContact = serde_json::from_value(row.data).map_err(|e| {
            tracing::error!(campaign = %loaded.campaign.id, error = %e, "campaign row unreadable");
            ApiError::internal("a campaign row cannot be read")
        })?;
        items.push(CampaignContactView {
            contact: contact.contact.to_string(),
            phone: contact.phone.to_string(),
            stage: row.stage,
            state: to_json(contact.state()),
            attempts: contact.attempts(),
            result: contact.result().map(to_json),
            history: contact.history().iter().map(to_json).collect(),
        });
    }
    Ok(Json(CampaignContactPage {
        items,
        next: super::encode_cursor(page.next),
    }))
}

/// A row's data after a move: the contact's new state over the stored object, so fields the
/// sender keeps beside the contact (its send bookkeeping) survive.
fn merge_row(original: serde_json::Value, contact: &CampaignContact) -> serde_json::Value {
    let mut merged = match original {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    if let serde_json::Value::Object(fields) = to_json(contact) {
        merged.extend(fields);
    }
    serde_json::Value::Object(merged)
}

/// Rules types are plain data: serialising them cannot fail.
fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

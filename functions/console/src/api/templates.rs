//! The template catalogue (TPL-1..5): list with status and quality, create locally with TPL-1/2
//! validation (every problem named by its field), map variables to contact fields (TPL-3), flag a
//! recontact template (TPL-5), and submit to Meta (`POST /{waba_id}/message_templates`).

use super::{Errors, number_id};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::extract::{JsonBody, PathParams};
use crate::submitter::{SubmitError, TemplateSubmitter};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rules::templates::{
    Button, ButtonRules, Component, ContactField, Header, Template, TemplateCatalogue,
    TemplateCategory, TemplateError, TemplateStatus, VariableMapping, check_mapping,
};
use rules::{BusinessNumberId, TemplateName};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use store::{NumberLink, SendingStore, TemplateStore};
use utoipa::ToSchema;

/// A template as the console shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TemplateView {
    pub name: String,
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// TPL-1: `PENDING`, `APPROVED`, `REJECTED`, `PAUSED` or `DISABLED`.
    pub status: String,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality: String,
    #[schema(value_type = Option<Object>)]
    pub header: Option<Header>,
    pub body: String,
    pub footer: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub buttons: Vec<Button>,
    /// TPL-5.
    pub recontact: bool,
    /// The variables, as `body {{1}}`.
    pub variables: Vec<String>,
    /// TPL-3: variable number → contact field, per component.
    #[schema(value_type = Object)]
    pub mapping: VariableMapping,
    /// TPL-3: variables not mapped yet (a campaign cannot use the template until it is empty).
    pub unmapped: Vec<String>,
    /// TPL-1: only APPROVED templates are sent.
    pub sendable: bool,
}

fn label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<&Template> for TemplateView {
    fn from(t: &Template) -> Self {
        let unmapped = match check_mapping(t) {
            Err(TemplateError::UnmappedVariables(vars)) => {
                vars.iter().map(ToString::to_string).collect()
            }
            _ => Vec::new(),
        };
        TemplateView {
            name: t.name.to_string(),
            language: t.language.clone(),
            category: label(&t.category),
            status: t.status.to_string(),
            quality: label(&t.quality),
            header: t.header.clone(),
            body: t.body.clone(),
            footer: t.footer.clone(),
            buttons: t.buttons.clone(),
            recontact: t.recontact,
            variables: t.variables().iter().map(ToString::to_string).collect(),
            mapping: t.mapping.clone(),
            unmapped,
            sendable: t.status == TemplateStatus::Approved,
        }
    }
}

/// A new template (TPL-1, TPL-2).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    /// Lowercase letters, digits and underscores.
    pub name: String,
    /// Meta's language code (`en_US`, `it`).
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    #[schema(value_type = String)]
    pub category: TemplateCategory,
    /// `{"kind":"text","text":"…"}` (≤ 60 characters, ≤ 1 variable) or a media kind.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub header: Option<Header>,
    /// At most 1024 characters; variables `{{1}}`, `{{2}}`, … without gaps.
    pub body: String,
    /// At most 60 characters.
    #[serde(default)]
    pub footer: Option<String>,
    /// `{"kind":"quick_reply","text":…}`, `{"kind":"url","text":…,"url":…}`,
    /// `{"kind":"phone_number","text":…,"phone":…}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub buttons: Vec<Button>,
    /// TPL-5.
    #[serde(default)]
    pub recontact: bool,
    /// TPL-3: the mapping, if already known.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub mapping: Option<VariableMapping>,
    /// TPL-2: `strict` follows seed 002 (quick replies or calls to action, never both; at most
    /// one phone and one URL).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub button_rules: Option<ButtonRules>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Header variable number → contact field (`{"field":"first_name"}`,
    /// `{"field":"custom","name":"plan"}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub header: BTreeMap<u32, ContactField>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub body: BTreeMap<u32, ContactField>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecontactFlag {
    pub recontact: bool,
}

/// Example values Meta reviews with the template (one per variable). Absent: taken from the
/// mapping's field names.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The WhatsApp Business Account that owns the number.
    pub waba_id: String,
    #[serde(default)]
    pub header_example: Option<String>,
    #[serde(default)]
    pub body_examples: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Submitted {
    /// Meta's template id.
    pub meta_id: String,
    pub template: TemplateView,
}

fn template_key(name: &str, language: &str) -> ApiResult<(TemplateName, String)> {
    let name = TemplateName::new(name).map_err(|e| ApiError::invalid("name", e))?;
    if language.is_empty() || language.len() > 16 {
        return Err(ApiError::invalid("language", "is not a language code"));
    }
    Ok((name, language.to_owned()))
}

async fn find<D: Deps>(
    d: &D,
    number: &BusinessNumberId,
    name: &str,
    language: &str,
) -> ApiResult<Template> {
    let (name, language) = template_key(name, language)?;
    d.store()
        .template(number, &name, &language)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no template {name} in {language}")))
}

/// TPL-3: a mapping may name only the template's variables (a partial mapping is fine).
fn check_stray(t: &Template) -> ApiResult<()> {
    let known = t.variables();
    let stray: Vec<String> = t
        .mapping
        .header
        .keys()
        .map(|&index| rules::templates::Variable {
            component: Component::Header,
            index,
        })
        .chain(
            t.mapping
                .body
                .keys()
                .map(|&index| rules::templates::Variable {
                    component: Component::Body,
                    index,
                }),
        )
        .filter(|v| !known.contains(v))
        .map(|v| v.to_string())
        .collect();
    if stray.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "mapping",
            format!("the template has no {}", stray.join(", ")),
        ))
    }
}

fn template_error(e: TemplateError) -> ApiError {
    match e {
        TemplateError::Invalid(invalid) => {
            let fields: Vec<FieldProblem> = invalid
                .0
                .iter()
                .map(|f| FieldProblem {
                    field: f.field.clone(),
                    problem: f.problem.to_string(),
                })
                .collect();
            ApiError::invalid_fields(invalid.to_string(), fields)
        }
        TemplateError::AlreadyExists { .. } => ApiError::conflict("already_exists", e.to_string()),
        TemplateError::CatalogueFull(_) => ApiError::refused("catalogue_full", e.to_string()),
        TemplateError::UnknownVariables(_) => ApiError::invalid("mapping", e),
        other => ApiError::refused("template_refused", other.to_string()),
    }
}

/// TPL-2: the template names of the other numbers of `number`'s WhatsApp Business Account (none
/// while the number is linked to no account: a template submission, a webhook or the desk file
/// links it).
async fn account_names<D: Deps>(
    d: &D,
    number: &BusinessNumberId,
) -> ApiResult<BTreeSet<TemplateName>> {
    let mut names = BTreeSet::new();
    let Some(waba) = d.store().number_account(number).await? else {
        return Ok(names);
    };
    for link in d.store().account_numbers(&waba).await? {
        if &link.number != number {
            let templates = d.store().templates(&link.number).await?;
            names.extend(templates.into_iter().map(|t| t.name));
        }
    }
    Ok(names)
}

/// The number's catalogue with status and quality (TPL-1, TPL-4).
#[utoipa::path(
    get, path = "/v1/numbers/{number}/templates", tag = "templates",
    params(("number" = String, Path, description = "Business number")),
    responses((status = 200, description = "Templates", body = Vec<TemplateView>), Errors)
)]
pub async fn list_templates<D: Deps>(
    State(d): State<Arc<D>>,
    _caller: Caller,
    PathParams(number): PathParams<String>,
) -> ApiResult<Json<Vec<TemplateView>>> {
    let number = number_id(&number)?;
    let templates = d.store().templates(&number).await?;
    Ok(Json(templates.iter().map(TemplateView::from).collect()))
}

/// Creates a template locally (`PENDING` until submitted and approved). TPL-1/TPL-2 problems
/// answer 400 with every field named.
#[utoipa::path(
    post, path = "/v1/numbers/{number}/templates", tag = "templates",
    params(("number" = String, Path, description = "Business number")),
    request_body = NewTemplate,
    responses((status = 201, description = "Created", body = TemplateView), Errors)
)]
pub async fn create_template<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(number): PathParams<String>,
    JsonBody(t): JsonBody<NewTemplate>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    caller.require_admin("create templates")?;
    let number = number_id(&number)?;
    let name = TemplateName::new(t.name.as_str()).map_err(|e| ApiError::invalid("name", e))?;
    let mut template = Template::new(name, t.language, t.category, t.body);
    template.header = t.header;
    template.footer = t.footer;
    template.buttons = t.buttons;
    template.recontact = t.recontact;
    if let Some(mapping) = t.mapping {
        template.mapping = mapping;
        check_stray(&template)?;
    }
    let mut catalogue = TemplateCatalogue {
        templates: d.store().templates(&number).await?,
    };
    let others = account_names(d.as_ref(), &number).await?;
    catalogue
        .add_in_account(
            template.clone(),
            t.button_rules.unwrap_or_default(),
            &others,
        )
        .map_err(template_error)?;
    d.store().put_template(&number, &template).await?;
    tracing::info!(number = %number, template = %template.name, "template created");
    Ok((StatusCode::CREATED, Json(TemplateView::from(&template))))
}

/// One template.
#[utoipa::path(
    get, path = "/v1/numbers/{number}/templates/{name}/{language}", tag = "templates",
    params(
        ("number" = String, Path, description = "Business number"),
        ("name" = String, Path, description = "Template name"),
        ("language" = String, Path, description = "Language code"),
    ),
    responses((status = 200, description = "The template", body = TemplateView), Errors)
)]
pub async fn get_template<D: Deps>(
    State(d): State<Arc<D>>,
    _caller: Caller,
    PathParams((number, name, language)): PathParams<(String, String, String)>,
) -> ApiResult<Json<TemplateView>> {
    let number = number_id(&number)?;
    let t = find(d.as_ref(), &number, &name, &language).await?;
    Ok(Json(TemplateView::from(&t)))
}

/// TPL-3: maps the template's variables to contact fields. A partial mapping is saved (and its
/// gaps listed in `unmapped`); a mapping of variables the template lacks is refused.
#[utoipa::path(
    put, path = "/v1/numbers/{number}/templates/{name}/{language}/mapping", tag = "templates",
    params(
        ("number" = String, Path, description = "Business number"),
        ("name" = String, Path, description = "Template name"),
        ("language" = String, Path, description = "Language code"),
    ),
    request_body = Mapping,
    responses((status = 200, description = "The template", body = TemplateView), Errors)
)]
pub async fn put_mapping<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams((number, name, language)): PathParams<(String, String, String)>,
    JsonBody(m): JsonBody<Mapping>,
) -> ApiResult<Json<TemplateView>> {
    caller.require_admin("map template variables")?;
    let number = number_id(&number)?;
    let mut t = find(d.as_ref(), &number, &name, &language).await?;
    for field in m.header.values().chain(m.body.values()) {
        if let ContactField::Custom(name) = field
            && name.trim().is_empty()
        {
            return Err(ApiError::invalid("mapping", "a custom field needs a name"));
        }
    }
    t.mapping = VariableMapping {
        header: m.header,
        body: m.body,
    };
    check_stray(&t)?;
    d.store().put_template(&number, &t).await?;
    Ok(Json(TemplateView::from(&t)))
}

/// TPL-5: flags (or unflags) the template as a recontact template.
#[utoipa::path(
    put, path = "/v1/numbers/{number}/templates/{name}/{language}/recontact", tag = "templates",
    params(
        ("number" = String, Path, description = "Business number"),
        ("name" = String, Path, description = "Template name"),
        ("language" = String, Path, description = "Language code"),
    ),
    request_body = RecontactFlag,
    responses((status = 200, description = "The template", body = TemplateView), Errors)
)]
pub async fn put_recontact<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams((number, name, language)): PathParams<(String, String, String)>,
    JsonBody(f): JsonBody<RecontactFlag>,
) -> ApiResult<Json<TemplateView>> {
    caller.require_admin("flag recontact templates")?;
    let number = number_id(&number)?;
    let mut t = find(d.as_ref(), &number, &name, &language).await?;
    t.recontact = f.recontact;
    d.store().put_template(&number, &t).await?;
    Ok(Json(TemplateView::from(&t)))
}

/// Meta's `message_templates` request body for a template.
pub fn meta_body(t: &Template, s: &Submission) -> serde_json::Value {
    let example = |component: Component, index: u32| -> String {
        t.mapping
            .get(rules::templates::Variable { component, index })
            .map(ToString::to_string)
            .unwrap_or_else(|| format!("example {index}"))
    };
    let mut components = Vec::new();
    match &t.header {
        Some(Header::Text(text)) => {
            let mut header = json!({"type": "HEADER", "format": "TEXT", "text": text});
            if !rules::templates::placeholder_indices(text).is_empty() {
                let value = s
                    .header_example
                    .clone()
                    .unwrap_or_else(|| example(Component::Header, 1));
                header["example"] = json!({ "header_text": [value] });
            }
            components.push(header);
        }
        Some(media) => {
            let format = match media {
                Header::Image => "IMAGE",
                Header::Video => "VIDEO",
                Header::Document => "DOCUMENT",
                _ => "LOCATION",
            };
            components.push(json!({"type": "HEADER", "format": format}));
        }
        None => {}
    }
    let mut body = json!({"type": "BODY", "text": t.body});
    let indices = rules::templates::placeholder_indices(&t.body);
    if !indices.is_empty() {
        let mut sorted = indices;
        sorted.sort_unstable();
        let values: Vec<String> = match &s.body_examples {
            Some(v) => v.clone(),
            None => sorted
                .iter()
                .map(|&i| example(Component::Body, i))
                .collect(),
        };
        body["example"] = json!({ "body_text": [values] });
    }
    components.push(body);
    if let Some(footer) = &t.footer {
        components.push(json!({"type": "FOOTER", "text": footer}));
    }
    if !t.buttons.is_empty() {
        let buttons: Vec<serde_json::Value> = t
            .buttons
            .iter()
            .map(|b| match b {
                Button::QuickReply { text } => json!({"type": "QUICK_REPLY", "text": text}),
                Button::Url { text, url } => json!({"type": "URL", "text": text, "url": url}),
                Button::PhoneNumber { text, phone } => {
                    json!({"type": "PHONE_NUMBER", "text": text, "phone_number": phone})
                }
            })
            .collect();
        components.push(json!({"type": "BUTTONS", "buttons": buttons}));
    }
    json!({
        "name": t.name.as_str(),
        "language": t.language,
        "category": label(&t.category),
        "components": components,
    })
}

/// Submits the template to Meta for review; the status Meta answers (`PENDING`, sometimes
/// `APPROVED` or `REJECTED` at once) is saved. Later changes arrive as webhooks (TPL-4).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/templates/{name}/{language}/submit", tag = "templates",
    params(
        ("number" = String, Path, description = "Business number"),
        ("name" = String, Path, description = "Template name"),
        ("language" = String, Path, description = "Language code"),
    ),
    request_body = Submission,
    responses(
        (status = 200, description = "Submitted", body = Submitted),
        (status = 502, description = "The Graph API failed", body = crate::error::ErrorBody),
        Errors
    )
)]
pub async fn submit_template<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams((number, name, language)): PathParams<(String, String, String)>,
    JsonBody(s): JsonBody<Submission>,
) -> ApiResult<Json<Submitted>> {
    caller.require_admin("submit templates to Meta")?;
    let number = number_id(&number)?;
    let waba = s.waba_id.trim();
    if waba.is_empty() || waba.len() > 32 || !waba.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "waba_id",
            "must be the numeric WhatsApp Business Account id",
        ));
    }
    let mut t = find(d.as_ref(), &number, &name, &language).await?;
    if matches!(t.status, TemplateStatus::Approved | TemplateStatus::Paused) {
        return Err(ApiError::conflict(
            "already_approved",
            format!("template {} is {}; it needs no review", t.name, t.status),
        ));
    }
    if let Some(examples) = &s.body_examples {
        let expected = rules::templates::placeholder_indices(&t.body).len();
        if examples.len() != expected || examples.iter().any(|e| e.trim().is_empty()) {
            return Err(ApiError::invalid(
                "body_examples",
                format!("give {expected} non-empty examples, one per body variable"),
            ));
        }
    }
    // TPL-4: Meta's template webhooks name only the account; the sender applies them to the
    // account's numbers it knows. Recorded before the submission, so the approval that may
    // follow at once is never ignored on a number no webhook has named yet.
    d.store()
        .link_number(
            waba,
            &NumberLink {
                number: number.clone(),
                display_phone_number: None,
            },
        )
        .await?;
    let body = meta_body(&t, &s);
    let created = d
        .submitter()
        .create_template(waba, &body)
        .await
        .map_err(|e| match e {
            SubmitError::Refused { .. } => ApiError::refused("meta_refused", e.to_string()),
            SubmitError::Unavailable(_) => ApiError::bad_gateway(e.to_string()),
        })?;
    if let Ok(status) = TemplateStatus::from_meta(&created.status) {
        t.status = status;
    }
    if let Some(category) = created.category.as_deref().and_then(|c| {
        serde_json::from_value::<TemplateCategory>(json!(c.to_ascii_uppercase())).ok()
    }) {
        t.category = category;
    }
    d.store().put_template(&number, &t).await?;
    tracing::info!(number = %number, template = %t.name, meta_id = %created.id, "template submitted");
    Ok(Json(Submitted {
        meta_id: created.id,
        template: TemplateView::from(&t),
    }))
}

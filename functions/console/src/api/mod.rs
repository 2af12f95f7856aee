//! The `/v1` routes, their OpenAPI document, and what the handlers share.
//!
//! Every route is registered through [`Routes::add`], which also records its method and path, so
//! a test can check that the router and the OpenAPI document list the same operations.

mod actions;
mod agents;
mod campaigns;
mod contacts;
mod costs;
pub mod dead_letters;
pub mod events;
use events::EventSchemas;
pub mod integrations;
mod numbers;
mod outreach;
pub mod rates;
mod templates;
pub mod webhooks;

use crate::Deps;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldProblem};
use axum::Router;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post, put};
use rules::{BusinessNumberId, ContactKey};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub use actions::*;
pub use agents::*;
pub use campaigns::*;
pub use contacts::*;
pub use costs::*;
pub use numbers::*;
pub use outreach::*;
pub use templates::*;

/// The errors every operation may answer, documented once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Errors {
    /// Invalid input: the message (and `fields`) name what is wrong.
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// No valid identity.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The caller may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such number, contact, template, campaign or agent.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The resource is not in the state the request assumed (stale version, nothing to close).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is too large.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not JSON (`Content-Type: application/json`), or not CSV for lists.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// A rule refuses the request (window closed: templates only, template not approved, …).
    #[response(status = 422)]
    Refused(ErrorBody),
    /// The store, the queue or Meta is unavailable; try again.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(
                        "JWT (AWS) or a configured token (local); integration tokens sbi_… (EVT-5)",
                    )
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard console API",
        version = "1",
        description = "What agents and admins use: the inbox, actions on conversations (applied in each contact's lane), numbers' automation settings, agents, templates, campaigns, outreach and the cost report. Errors are `{ \"error\": code, \"message\": text }`."
    ),
    paths(
        me,
        list_agents, put_agent, put_presence,
        get_settings, put_settings, get_limits, put_limits, resume_number,
        search_contacts, list_conversations, get_contact, put_contact, window_check, message_log,
        send_message, claim, transfer, close, snooze,
        send_outreach,
        list_templates, create_template, get_template, put_mapping, put_recontact, submit_template,
        create_campaign, list_campaigns, get_campaign, upload_list, start_campaign, stop_campaign, retry_campaign,
        campaign_contacts,
        cost_report,
        rates::get_rates, rates::put_rates,
        events::list_events,
        webhooks::create_webhook, webhooks::list_webhooks, webhooks::get_webhook, webhooks::put_webhook,
        webhooks::delete_webhook, webhooks::rotate_webhook, webhooks::list_webhook_dead_letters,
        webhooks::redeliver_webhook_dead_letters,
        dead_letters::list_dead_letters, dead_letters::redeliver_dead_letter,
        dead_letters::redeliver_all_dead_letters,
        crate::media::upload, crate::media::describe, crate::media::download, crate::media::erase,
        crate::media::declare, crate::media::receive, crate::media::send_upload,
        integrations::create_integration, integrations::list_integrations,
        integrations::revoke_integration, integrations::bot_hand_off, integrations::bot_complete,
    ),
    components(schemas(ErrorBody, FieldProblem, Role, SearchScope, InboxScope, InboxFilter, MessagingLimitInput)),
    modifiers(&BearerAuth, &EventSchemas),
    security(("bearer" = [])),
    tags(
        (name = "identity"), (name = "agents"), (name = "numbers"), (name = "contacts"),
        (name = "conversations"), (name = "templates"), (name = "campaigns"), (name = "costs"),
        (name = "events"), (name = "webhooks"),
        (name = "operations", description = "Running the deployment: dead letters (OPS-4)"),
        (name = "integrations", description = "EVT-5: integration tokens (sbi_…) and what an external bot does; on AWS also under /v1/integration/…, where only integration tokens authenticate"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document, with the document's own route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The router and the (method, path) of every operation it serves.
pub struct Routes<D> {
    router: Router<Arc<D>>,
    table: Vec<(Method, &'static str)>,
}

impl<D: Deps> Routes<D> {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<Arc<D>>) -> Self {
        self.table.push((method, path));
        self.router = self.router.route(path, route);
        self
    }

    /// Every operation: method and path (OpenAPI path syntax).
    pub fn table(&self) -> &[(Method, &'static str)] {
        &self.table
    }
}

/// Every `/v1` operation.
pub fn routes<D: Deps>() -> Routes<D> {
    Routes::new()
        .add(Method::GET, "/v1/me", get(me::<D>))
        .add(Method::GET, "/v1/agents", get(list_agents::<D>))
        .add(Method::PUT, "/v1/agents/{agent}", put(put_agent::<D>))
        .add(
            Method::PUT,
            "/v1/agents/{agent}/presence",
            put(put_presence::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/settings",
            get(get_settings::<D>),
        )
        .add(
            Method::PUT,
            "/v1/numbers/{number}/settings",
            put(put_settings::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/limits",
            get(get_limits::<D>),
        )
        .add(
            Method::PUT,
            "/v1/numbers/{number}/limits",
            put(put_limits::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/resume",
            post(resume_number::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/contacts",
            get(search_contacts::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/conversations",
            get(list_conversations::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/contacts/{contact}",
            get(get_contact::<D>),
        )
        .add(
            Method::PUT,
            "/v1/numbers/{number}/contacts/{contact}",
            put(put_contact::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/contacts/{contact}/window",
            get(window_check::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/contacts/{contact}/messages",
            get(message_log::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/messages",
            post(send_message::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/claim",
            post(claim::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/transfer",
            post(transfer::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/close",
            post(close::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/snooze",
            post(snooze::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/outreach",
            post(send_outreach::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/templates",
            get(list_templates::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/templates",
            post(create_template::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/templates/{name}/{language}",
            get(get_template::<D>),
        )
        .add(
            Method::PUT,
            "/v1/numbers/{number}/templates/{name}/{language}/mapping",
            put(put_mapping::<D>),
        )
        .add(
            Method::PUT,
            "/v1/numbers/{number}/templates/{name}/{language}/recontact",
            put(put_recontact::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/templates/{name}/{language}/submit",
            post(submit_template::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/campaigns",
            post(create_campaign::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/campaigns",
            get(list_campaigns::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/campaigns/{campaign}",
            get(get_campaign::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/campaigns/{campaign}/lists",
            post(upload_list::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/campaigns/{campaign}/start",
            post(start_campaign::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/campaigns/{campaign}/stop",
            post(stop_campaign::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/campaigns/{campaign}/retry",
            post(retry_campaign::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/campaigns/{campaign}/contacts",
            get(campaign_contacts::<D>),
        )
        .add(
            Method::GET,
            "/v1/numbers/{number}/costs",
            get(cost_report::<D>),
        )
        .add(Method::GET, "/v1/rates", get(rates::get_rates::<D>))
        .add(Method::PUT, "/v1/rates", put(rates::put_rates::<D>))
        .add(Method::GET, "/v1/events", get(events::list_events::<D>))
        .add(
            Method::POST,
            "/v1/webhooks",
            post(webhooks::create_webhook::<D>),
        )
        .add(
            Method::GET,
            "/v1/webhooks",
            get(webhooks::list_webhooks::<D>),
        )
        .add(
            Method::GET,
            "/v1/webhooks/{webhook}",
            get(webhooks::get_webhook::<D>),
        )
        .add(
            Method::PUT,
            "/v1/webhooks/{webhook}",
            put(webhooks::put_webhook::<D>),
        )
        .add(
            Method::DELETE,
            "/v1/webhooks/{webhook}",
            axum::routing::delete(webhooks::delete_webhook::<D>),
        )
        .add(
            Method::POST,
            "/v1/webhooks/{webhook}/rotate",
            post(webhooks::rotate_webhook::<D>),
        )
        .add(
            Method::GET,
            "/v1/webhooks/{webhook}/dead-letters",
            get(webhooks::list_webhook_dead_letters::<D>),
        )
        .add(
            Method::POST,
            "/v1/webhooks/{webhook}/dead-letters/redeliver",
            post(webhooks::redeliver_webhook_dead_letters::<D>),
        )
        .add(
            Method::GET,
            "/v1/dead-letters",
            get(dead_letters::list_dead_letters::<D>),
        )
        .add(
            Method::POST,
            "/v1/dead-letters/redeliver-all",
            post(dead_letters::redeliver_all_dead_letters::<D>),
        )
        .add(
            Method::POST,
            "/v1/dead-letters/{id}/redeliver",
            post(dead_letters::redeliver_dead_letter::<D>),
        )
        .add(
            Method::POST,
            "/v1/integrations",
            post(integrations::create_integration::<D>),
        )
        .add(
            Method::GET,
            "/v1/integrations",
            get(integrations::list_integrations::<D>),
        )
        .add(
            Method::DELETE,
            "/v1/integrations/{integration}",
            axum::routing::delete(integrations::revoke_integration::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/handoff",
            post(integrations::bot_hand_off::<D>),
        )
        .add(
            Method::POST,
            "/v1/numbers/{number}/contacts/{contact}/complete",
            post(integrations::bot_complete::<D>),
        )
}

/// EVT-5: where integrations call on AWS. `/v1/integration/<rest>` is served as `/v1/<rest>`,
/// marked [`IntegrationRoute`](crate::auth::IntegrationRoute) so that only an integration token
/// authenticates it (the stack routes that prefix past the JWT authorizer).
pub const INTEGRATION_PREFIX: &str = "/v1/integration/";

fn integration_route(mut request: axum::extract::Request) -> axum::extract::Request {
    let rewritten = request
        .uri()
        .path_and_query()
        .and_then(|pq| pq.as_str().strip_prefix(INTEGRATION_PREFIX))
        .and_then(|rest| {
            format!("/v1/{rest}")
                .parse::<axum::http::uri::PathAndQuery>()
                .ok()
        });
    if let Some(path_and_query) = rewritten {
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
            request
                .extensions_mut()
                .insert(crate::auth::IntegrationRoute);
        }
    }
    request
}

/// The router behind the integration prefix's rewrite (done before routing).
fn with_integration_prefix(router: Router) -> Router {
    Router::new().fallback_service(tower::util::MapRequest::new(router, integration_route))
}

/// The console's router: every `/v1` operation, `/v1/openapi.json`, JSON 404/405 answers.
pub fn app<D: Deps>(deps: D) -> Router {
    let routes = routes::<D>();
    with_integration_prefix(
        routes
            .router
            .route("/v1/openapi.json", get(serve_openapi))
            .fallback(no_route)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(Arc::new(deps)),
    )
}

/// [`app`] and the live event stream, `GET /v1/events/stream` (server-sent events, EVT-3), for a
/// server that keeps connections open (the local runner). A Lambda answers once, so on AWS the
/// feed is long-polled instead (`GET /v1/events?wait=`).
pub fn app_with_event_stream<D: Deps>(deps: D) -> Router {
    with_integration_prefix(
        routes::<D>()
            .router
            .route("/v1/events/stream", get(events::stream_events::<D>))
            .route("/v1/openapi.json", get(serve_openapi))
            .fallback(no_route)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(Arc::new(deps)),
    )
}

async fn serve_openapi() -> impl IntoResponse {
    axum::Json(openapi())
}

async fn no_route() -> ApiError {
    ApiError::not_found("no such route; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: "method not allowed on this route; see /v1/openapi.json".to_owned(),
        fields: Vec::new(),
    }
}

// ----- shared by the handlers -------------------------------------------------------------------

/// HOOK-6: a business number in a path is Meta's `phone_number_id`: digits only, checked before
/// any read (`1' OR 1=1`, `../../etc/passwd` answer 400 with the reason).
pub(crate) fn number_id(text: &str) -> ApiResult<BusinessNumberId> {
    whatsapp::PhoneNumberId::parse(text)
        .map(BusinessNumberId::from)
        .map_err(|e| ApiError::invalid("number", e))
}

pub(crate) fn contact_key(text: &str) -> ApiResult<ContactKey> {
    ContactKey::new(text).map_err(|e| ApiError::invalid("contact", e))
}

/// A fresh key for an action the client gave no `Idempotency-Key` for.
pub(crate) fn fresh_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A stable id from the caller and their idempotency key (same request, same id), else fresh.
pub(crate) fn stable_id(prefix: &str, caller: &Caller, key: Option<&str>) -> String {
    match key {
        Some(key) => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(format!("{}\n{key}", caller.agent).as_bytes());
            format!("{prefix}{}", &hex::encode(digest)[..32])
        }
        None => format!("{prefix}{}", fresh_key()),
    }
}

/// The API's page cursors: the store's cursor, base64url-encoded (URL-safe and opaque).
pub(crate) fn encode_cursor(store_cursor: Option<String>) -> Option<String> {
    use base64::Engine as _;
    store_cursor.map(|c| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c))
}

/// The store's cursor from the API's; 400 when it is not one of ours.
pub(crate) fn decode_cursor(api_cursor: Option<String>) -> ApiResult<Option<String>> {
    use base64::Engine as _;
    match api_cursor.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c.as_bytes())
            .ok()
            .filter(|_| c.len() <= 2048)
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor of this API")),
    }
}

/// Page size: 1 to 100, 25 when not given.
pub(crate) fn page_limit(limit: Option<u32>) -> ApiResult<u32> {
    match limit {
        None => Ok(25),
        Some(n @ 1..=100) => Ok(n),
        Some(n) => Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and 100, got {n}"),
        )),
    }
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub agent: String,
    pub role: Role,
    /// The business numbers the caller works on (every number of the desk: agents are not
    /// assigned to numbers), in id order.
    pub numbers: Vec<String>,
}

#[utoipa::path(
    get, path = "/v1/me", tag = "identity",
    responses((status = 200, description = "The caller", body = Me), Errors)
)]
pub async fn me<D: Deps>(
    axum::extract::State(d): axum::extract::State<Arc<D>>,
    caller: Caller,
) -> ApiResult<axum::Json<Me>> {
    use store::SettingsStore as _;
    let numbers = d.store().numbers().await?;
    Ok(axum::Json(Me {
        agent: caller.agent.to_string(),
        role: caller.role,
        numbers: numbers.iter().map(ToString::to_string).collect(),
    }))
}

//! Outreach to one contact: a template sent as an outreach (seed 000), whose quick replies carry
//! OUT-8 payloads (outreach id and send time under the deployment's HMAC key). It goes on the
//! outbound queue for the sender, which records the outreach once Meta accepts it.

use super::actions::{TemplateRef, template_content};
use super::contacts::{action_headers, load_contact};
use super::{Errors, stable_id};
use crate::Deps;
use crate::access::{acting_agent, check_version};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use queue::{Destination, EventQueue, OutreachPlan, SendJob, SendOrigin};
use rules::outreach::ButtonPayload;
use rules::{Channel, OutreachId, SendPurpose, SendRequest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutreachAccepted {
    /// The outreach's id (its buttons' payloads carry it).
    pub outreach: String,
    /// The send's idempotency key on the outbound queue.
    pub key: String,
    pub agent: String,
}

/// Sends an approved template to one contact as an outreach; returns its id. The template's
/// variables come from `parameters` or the contact's fields (TPL-3).
#[utoipa::path(
    post, path = "/v1/numbers/{number}/contacts/{contact}/outreach", tag = "conversations",
    params(
        ("number" = String, Path, description = "Business number"),
        ("contact" = String, Path, description = "Contact key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely: same key, same outreach"),
        ("If-Match" = Option<String>, Header, description = "The contact version the client saw"),
    ),
    request_body = TemplateRef,
    responses((status = 202, description = "Queued for the sender", body = OutreachAccepted), Errors)
)]
pub async fn send_outreach<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: HeaderMap,
    PathParams((number, contact)): PathParams<(String, String)>,
    JsonBody(t): JsonBody<TemplateRef>,
) -> ApiResult<(StatusCode, Json<OutreachAccepted>)> {
    let (idempotency, if_match) = action_headers(&headers)?;
    let c = load_contact(d.as_ref(), &number, &contact).await?;
    check_version(if_match, c.version())?;
    let acting = acting_agent(&caller, c.state())?;
    let channel = c.state().map_or(Channel::WhatsApp, |s| s.channel);
    if channel != Channel::WhatsApp {
        return Err(ApiError::refused(
            "no_templates_on_channel",
            "outreach is a WhatsApp template; this contact's channel has no templates",
        ));
    }
    let id = stable_id("o-", &caller, idempotency.as_deref());
    let outreach = OutreachId::new(id.as_str()).map_err(|e| ApiError::internal(e.to_string()))?;
    let now = d.now();
    let key = d.outreach_key().clone();
    let mut buttons = Vec::new();
    let (_, content) = template_content(d.as_ref(), &c, &t, |template| {
        buttons = template.quick_replies().map(str::to_owned).collect();
        // OUT-8: each quick reply's payload names the outreach and its send time, signed.
        (0..buttons.len())
            .map(|i| {
                ButtonPayload {
                    outreach: outreach.clone(),
                    sent_at: now,
                    button: u8::try_from(i).unwrap_or(u8::MAX),
                }
                .encode(&key)
                .map_err(|e| ApiError::internal(e.to_string()))
            })
            .collect()
    })
    .await?;
    let job = SendJob {
        key: format!("outreach:{outreach}"),
        number: c.number.clone(),
        contact: c.contact.clone(),
        request: SendRequest {
            purpose: SendPurpose::Agent,
            content,
            conversation: None,
            recontact_if_closed: false,
        },
        origin: SendOrigin::Console {
            agent: Some(acting.clone()),
        },
        requested_at: now,
        outreach: Some(OutreachPlan {
            id: outreach.clone(),
            buttons,
            campaign: None,
        }),
    };
    d.queue()
        .send(Destination::Outbound, vec![job.envelope()])
        .await?;
    tracing::info!(outreach = %outreach, key = %job.key, "outreach queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(OutreachAccepted {
            outreach: outreach.to_string(),
            key: job.key,
            agent: acting.to_string(),
        }),
    ))
}

//! The event feed (EVT-2, EVT-3): `GET /v1/events`, in commit order, from a cursor; and the
//! JSON schema of every event type, versioned, in the OpenAPI document (`Event` and
//! `<type>.v<version>` under `components.schemas`).
//!
//! Who sees what: admins every number's events; agents the numbers they work on. The desk has no
//! assignment of agents to numbers yet (every agent takes conversations of every number), so an
//! agent works on every configured number; naming a number that is not configured answers 404.

use super::{Errors, decode_cursor, encode_cursor, number_id};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use axum::Json;
use axum::extract::State;
use rules::BusinessNumberId;
use rules::events::{EVENT_VERSION, EventData};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use store::{EventStore, SettingsStore};
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, Modify, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// The business number whose events to read (all the caller may see when absent).
    pub number: Option<String>,
    /// `next` of the previous page (from the first event when absent).
    pub after: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<u32>,
    /// Long polling: when nothing is newer than `after`, wait up to this many seconds (0 to 20,
    /// default 0) for the next event before answering.
    pub wait: Option<u32>,
}

/// The most a long poll waits: under API Gateway's 30-second integration timeout.
pub const MAX_WAIT_SECONDS: u32 = 20;
/// How often a waiting request (a long poll, the event stream) looks for new events.
pub const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A page of events. `next` is the cursor to ask with next time: after the last event returned,
/// or the same cursor when nothing new was committed (poll again with it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    #[schema(schema_with = event_list)]
    pub events: Vec<Value>,
    pub next: Option<String>,
}

fn event_list() -> ArrayBuilder {
    ArrayBuilder::new().items(RefOr::Ref(Ref::from_schema_name("Event")))
}

/// The numbers the caller may read events of (EVT-3), narrowed to `number` when given.
pub async fn readable_numbers<D: Deps>(
    d: &D,
    _caller: &Caller,
    number: Option<&str>,
) -> ApiResult<Vec<BusinessNumberId>> {
    match number {
        Some(n) => {
            let n = number_id(n)?;
            if d.store().settings(&n).await?.is_none() {
                return Err(ApiError::not_found(format!("no number {n}")));
            }
            Ok(vec![n])
        }
        None => Ok(d.store().numbers().await?),
    }
}

/// Pages through events in commit order (EVT-3).
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(EventParams),
    responses((status = 200, description = "Events after the cursor, oldest first. Live: `GET /v1/events/stream` on the local runner (server-sent events, resuming from `Last-Event-ID`); on AWS, poll this route with `next`.", body = EventPage), Errors)
)]
pub async fn list_events<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    QueryParams(p): QueryParams<EventParams>,
) -> ApiResult<Json<EventPage>> {
    let limit = bounded_limit(p.limit, 100, 500)?;
    let wait = match p.wait {
        None => 0,
        Some(w @ 0..=MAX_WAIT_SECONDS) => w,
        Some(w) => {
            return Err(ApiError::invalid(
                "wait",
                format!("must be between 0 and {MAX_WAIT_SECONDS} seconds, got {w}"),
            ));
        }
    };
    let numbers = readable_numbers(d.as_ref(), &caller, p.number.as_deref()).await?;
    let after = decode_cursor(p.after.clone())?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait.into());
    let page = loop {
        let page = read_page(d.as_ref(), &numbers, after.as_deref(), limit).await?;
        if !page.items.is_empty() || tokio::time::Instant::now() >= deadline {
            break page;
        }
        // On AWS each look is one Query per number; a second apart keeps a waiting agent at
        // about 20 reads per long poll.
        tokio::time::sleep(if cfg!(test) {
            POLL_EVERY
        } else {
            POLL_EVERY.max(std::time::Duration::from_secs(1))
        })
        .await;
    };
    let events = page
        .items
        .iter()
        .map(|e| serde_json::to_value(&e.event))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let next = match page.next {
        Some(c) => encode_cursor(Some(c)),
        None => p.after.filter(|a| !a.is_empty()),
    };
    Ok(Json(EventPage { events, next }))
}

/// A page size from 1 to `max` (`default` when absent); 400 naming `limit` otherwise.
pub(crate) fn bounded_limit(limit: Option<u32>, default: u32, max: u32) -> ApiResult<u32> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {max}, got {n}"),
        )),
    }
}

async fn read_page<D: Deps>(
    d: &D,
    numbers: &[BusinessNumberId],
    after: Option<&str>,
    limit: u32,
) -> ApiResult<store::Page<store::StoredEvent>> {
    d.store()
        .events_after(Some(numbers), after, limit)
        .await
        .map_err(|e| match e {
            store::StoreError::Invalid(_) => ApiError::invalid("after", "is not an event cursor"),
            other => other.into(),
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    pub number: Option<String>,
    /// Where to start when no `Last-Event-ID` header is sent (absent: from now on).
    pub after: Option<String>,
}

/// EVT-3, live: server-sent events (the local runner serves this at `/v1/events/stream`). Each
/// SSE message is one event: `event:` its type, `data:` the event's JSON, `id:` the feed's
/// cursor after it, so a reconnecting browser (`EventSource` sends `Last-Event-ID`) resumes
/// exactly where it stopped. Without either, the stream starts at the newest event.
pub async fn stream_events<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    QueryParams(p): QueryParams<StreamParams>,
) -> ApiResult<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
> {
    use axum::response::sse::{Event as Sse, KeepAlive};
    let numbers = readable_numbers(d.as_ref(), &caller, p.number.as_deref()).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(p.after);
    let cursor = match decode_cursor(resume)? {
        Some(c) => {
            read_page(d.as_ref(), &numbers, Some(&c), 1).await?; // 400 on a foreign cursor
            Some(c)
        }
        None => latest_cursor(d.as_ref(), &numbers).await?,
    };
    let state = (d, numbers, cursor, std::collections::VecDeque::<Sse>::new());
    let stream =
        futures_util::stream::unfold(state, |(d, numbers, mut cursor, mut ready)| async move {
            loop {
                if let Some(next) = ready.pop_front() {
                    return Some((Ok(next), (d, numbers, cursor, ready)));
                }
                match d
                    .store()
                    .events_after(Some(&numbers), cursor.as_deref(), 100)
                    .await
                {
                    Ok(page) if !page.items.is_empty() => {
                        for e in page.items {
                            let data = serde_json::to_string(&e.event).unwrap_or_default();
                            ready.push_back(
                                Sse::default()
                                    .id(encode_cursor(Some(e.cursor.clone())).unwrap_or_default())
                                    .event(e.event.kind())
                                    .data(data),
                            );
                            cursor = Some(e.cursor);
                        }
                    }
                    Ok(_) => tokio::time::sleep(POLL_EVERY).await,
                    Err(error) => {
                        tracing::warn!(%error, "event stream read failed; retrying");
                        tokio::time::sleep(POLL_EVERY * 4).await;
                    }
                }
            }
        });
    Ok(axum::response::sse::Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The cursor of the newest event of `numbers` (`None`: there is none yet).
async fn latest_cursor<D: Deps>(d: &D, numbers: &[BusinessNumberId]) -> ApiResult<Option<String>> {
    let mut cursor: Option<String> = None;
    loop {
        let page = read_page(d, numbers, cursor.as_deref(), 500).await?;
        match page.next {
            Some(next) if !page.items.is_empty() => cursor = Some(next),
            _ => return Ok(cursor),
        }
    }
}

/// The JSON schema of each event type's `data`, version [`EVENT_VERSION`].
pub fn data_schema(kind: &str) -> Value {
    let id = |d: &str| json!({"type": "string", "description": d});
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    match kind {
        "message.received" => obj(
            json!({
                "message": id("Meta's message id (wamid)"),
                "bot": id("EVT-5: the external bot handling the conversation, which is to answer it (absent otherwise)")
            }),
            &["message"],
        ),
        "message.sent" => obj(json!({"send": id("the send's idempotency key")}), &["send"]),
        "message.refused" => obj(
            json!({"reason": id("why the rules refused it")}),
            &["reason"],
        ),
        "delivery.updated" => obj(
            json!({
                "message": id("Meta's message id (wamid)"),
                "status": {"type": "string", "enum": ["sent", "delivered", "read", "failed"]},
                "error_code": {"type": "integer", "description": "Meta's error code, on failed"}
            }),
            &["message", "status"],
        ),
        "conversation.assigned" => obj(json!({"agent": id("the agent")}), &["agent"]),
        "conversation.queued" => obj(
            json!({"position": {"type": "integer", "minimum": 1}}),
            &["position"],
        ),
        "conversation.snoozed" => obj(
            json!({"until": {"type": "integer", "description": "epoch seconds"}}),
            &["until"],
        ),
        "conversation.closed" => obj(
            json!({"reason": {"type": "string", "enum": ["bot_completed", "bot_timeout", "auto_close", "agent", "replaced_by_outreach", "campaign_ended"]}}),
            &["reason"],
        ),
        "csat.answered" => obj(
            json!({"score": {"type": "integer", "minimum": 1, "maximum": 5}, "agent": id("the agent who served")}),
            &["score"],
        ),
        "outreach.pressed" => obj(
            json!({
                "outreach": id("the outreach"),
                "button": {"type": "integer", "minimum": 0},
                "expired": {"type": "boolean"},
                "started": {"type": "boolean", "description": "the press started the conversation"}
            }),
            &["outreach", "expired", "started"],
        ),
        "campaign.progress" => obj(
            json!({
                "campaign": id("the campaign"),
                "hopper": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "contacts per stage"}
            }),
            &["campaign", "hopper"],
        ),
        "template.updated" => obj(
            json!({
                "name": id("template name"), "language": id("language code"),
                "status": {"type": "string", "enum": ["PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED"]},
                "quality": {"type": "string"}
            }),
            &["name", "language", "status", "quality"],
        ),
        "number.updated" => obj(
            json!({
                "stopped": id("why sending stopped (absent: sending)"),
                "messaging_limit": {"type": "integer", "description": "unique contacts per 24 h (absent: unlimited)"}
            }),
            &[],
        ),
        "media.not_fetched" => obj(
            json!({
                "message": id("Meta's message id (wamid) of the customer's media message"),
                "kind": {"type": "string", "enum": ["image", "video", "audio", "document", "sticker"]},
                "reason": id("why the last attempt failed")
            }),
            &["message", "kind", "reason"],
        ),
        _ => obj(json!({}), &[]),
    }
}

/// The full schema of one event type, version [`EVENT_VERSION`].
pub fn event_schema(kind: &str) -> Value {
    json!({
        "type": "object",
        "title": format!("{kind} v{EVENT_VERSION}"),
        "properties": {
            "id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$", "description": "stable: the same change always has this id (deduplicate by it; it is the webhook-id header)"},
            "type": {"type": "string", "const": kind},
            "version": {"type": "integer", "const": EVENT_VERSION},
            "occurred_at": {"type": "integer", "description": "epoch seconds"},
            "number": {"type": "string"},
            "contact": {"type": ["string", "null"]},
            "conversation": {"type": ["string", "null"]},
            "data": data_schema(kind)
        },
        "required": ["id", "type", "version", "occurred_at", "number", "contact", "conversation", "data"]
    })
}

/// Adds `Event` (one of every type) and each `<type>.v<version>` schema to the document.
pub struct EventSchemas;

impl Modify for EventSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut one_of = Vec::new();
        let mut mapping = serde_json::Map::new();
        for kind in EventData::TYPES {
            let name = format!("{kind}.v{EVENT_VERSION}");
            let schema: Schema =
                serde_json::from_value(event_schema(kind)).expect("event schemas are valid");
            components.schemas.insert(name.clone(), RefOr::T(schema));
            let reference = format!("#/components/schemas/{name}");
            mapping.insert(kind.to_owned(), Value::String(reference.clone()));
            one_of.push(json!({ "$ref": reference }));
        }
        let event: Schema = serde_json::from_value(json!({
            "oneOf": one_of,
            "discriminator": {"propertyName": "type", "mapping": mapping},
            "description": "A domain event (EVT-2). Types only gain optional fields within a version; any other change is a new version, documented here beside the old one."
        }))
        .expect("the Event schema is valid");
        components
            .schemas
            .insert("Event".to_owned(), RefOr::T(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::effect::{CloseReason, LogEntry, Notice};
    use rules::events::{DeliveryTimes, ItemChange, NumberStatus, project};
    use rules::{ContactKey, ConversationId, MessageId, Timestamp};

    fn validator(kind: &str) -> jsonschema::Validator {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&event_schema(kind))
            .expect("the documented schema compiles")
    }

    // EVT-2: an event of every type, as the projector makes it, validates against the schema the
    // OpenAPI document gives for its type (and not against another type's).
    #[test]
    fn evt_2_every_event_type_matches_its_documented_schema() {
        let n = BusinessNumberId::new("106540352242922").unwrap();
        let c = ContactKey::new("4915100000001").unwrap();
        let conv = ConversationId::new("conv-1").unwrap();
        let at = Timestamp::from_unix(1_750_000_000);
        let agent = rules::AgentId::new("ana").unwrap();
        let o = rules::OutreachId::new("o-1").unwrap();
        let notices = [
            Notice::ConversationOpened,
            Notice::ConversationClosed {
                reason: CloseReason::Agent,
            },
            Notice::AssignedTo {
                agent: agent.clone(),
            },
            Notice::Queued { position: 3 },
            Notice::Unassigned,
            Notice::HandedOffByBot,
            Notice::Snoozed { until: at },
            Notice::Reopened,
            Notice::CsatAnswered {
                score: 4,
                agent: Some(agent),
            },
            Notice::OutreachPressed {
                outreach: o,
                button: Some(1),
            },
            Notice::SendRefused {
                reason: "window closed".into(),
            },
            Notice::MediaNotFetched {
                message: MessageId::new("wamid.2").unwrap(),
                kind: rules::effect::MediaKind::Image,
                reason: "Meta answered 404".into(),
            },
        ];
        let mut events = Vec::new();
        let inbound = LogEntry::Inbound {
            message: MessageId::new("wamid.1").unwrap(),
            conversation: Some(conv.clone()),
            at,
            bot: None,
        };
        let mut entries = vec![inbound];
        entries.extend(notices.into_iter().map(|notice| LogEntry::Notice {
            conversation: conv.clone(),
            at,
            notice,
        }));
        for (i, entry) in entries.iter().enumerate() {
            events.extend(project(&ItemChange::LogAppended {
                number: &n,
                contact: &c,
                item_key: &format!("L#{i}"),
                entry,
            }));
        }
        events.extend(project(&ItemChange::SendClaimed {
            number: &n,
            contact: &c,
            idempotency_key: "wamid.1#0",
            claimed_at: at,
        }));
        let w = MessageId::new("wamid.out").unwrap();
        events.extend(project(&ItemChange::Delivery {
            number: Some(&n),
            contact: Some(&c),
            wamid: &w,
            before: DeliveryTimes::default(),
            after: DeliveryTimes {
                sent_at: Some(at),
                failed_at: Some(at),
                ..DeliveryTimes::default()
            },
            error_code: Some(131026),
        }));
        let hopper = [("fresh".to_owned(), 3)].into();
        events.extend(project(&ItemChange::Campaign {
            campaign: &rules::CampaignId::new("k-1").unwrap(),
            number: &n,
            before: None,
            after: &hopper,
            at,
        }));
        let template = rules::templates::Template::new(
            rules::TemplateName::new("promo").unwrap(),
            "en",
            rules::templates::TemplateCategory::Marketing,
            "Hi",
        );
        events.extend(project(&ItemChange::Template {
            number: &n,
            before: None,
            after: &template,
            at,
        }));
        events.extend(project(&ItemChange::Number {
            number: &n,
            before: None,
            after: &NumberStatus {
                stopped: Some("token expired".into()),
                messaging_limit: Some(1000),
            },
            at,
        }));
        let kinds: std::collections::BTreeSet<&str> = events.iter().map(|e| e.kind()).collect();
        assert_eq!(
            kinds,
            EventData::TYPES.into_iter().collect(),
            "every type is covered"
        );
        for e in &events {
            let json = serde_json::to_value(e).unwrap();
            let errors: Vec<String> = validator(e.kind())
                .iter_errors(&json)
                .map(|err| err.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?} in {json}", e.kind());
            let other = if e.kind() == "message.received" {
                "message.sent"
            } else {
                "message.received"
            };
            assert!(
                !validator(other).is_valid(&json),
                "{} passes as {other}",
                e.kind()
            );
        }
    }
}

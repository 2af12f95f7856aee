//! The runner's HTTP server: Meta's webhook (`GET`/`POST /webhook`, the ingest function's own
//! code), the console API (`/v1`, the console function's own router), and with the test clock on,
//! `/dev/clock`; the agent workspace at `/` ([`crate::desk`]).

use crate::engine::Engine;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use timers::Clock as _;
use whatsapp::signature::SIGNATURE_HEADER;

struct Hook {
    webhook: ingest::Webhook,
    engine: Arc<Engine>,
}

/// The whole app: webhook, console, and the test clock's routes when it is on.
pub fn app(
    webhook: ingest::Webhook,
    engine: Arc<Engine>,
    console: Router,
    test_clock: bool,
) -> Router {
    let hook = Arc::new(Hook {
        webhook,
        engine: engine.clone(),
    });
    let mut app = Router::new()
        .route("/webhook", get(webhook_handler).post(webhook_handler))
        .layer(DefaultBodyLimit::max(ingest::webhook::MAX_BODY_BYTES + 1))
        .with_state(hook)
        .route("/healthz", get(|| async { "ok" }));
    if test_clock {
        app = app.merge(
            Router::new()
                .route("/dev/clock", get(clock_now).post(clock_advance))
                .with_state(engine),
        );
    }
    // The agent workspace at `/` (DESK-1); the console's router brings the JSON 404 for every
    // other path.
    app.merge(crate::desk::routes()).merge(console)
}

async fn webhook_handler(
    State(hook): State<Arc<Hook>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or(""));
    let request = ingest::WebhookRequest {
        method: method.as_str(),
        query: query.as_deref().unwrap_or(""),
        signature,
        body: &body,
    };
    // HOOK-6 judges timestamps against the engine's clock (the test clock when it is on).
    let arrival = hook.engine.clock.now();
    let answer = ingest::handle_at(&hook.webhook, &hook.engine.queue, request, arrival).await;
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer.body,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    if answer.status == 405 {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_seconds: u64,
}

/// The longest one `POST /dev/clock` waits for the engine to finish what fell due.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);
/// The furthest one call moves the clock (a year), so a typo cannot overflow time.
const MAX_ADVANCE: u64 = 366 * 86_400;

fn clock_body(engine: &Engine, settled: Option<bool>) -> serde_json::Value {
    let mut body = serde_json::json!({
        "now": engine.clock.now().unix(),
        "offset_seconds": engine.clock.offset_seconds(),
    });
    if let Some(settled) = settled {
        body["settled"] = settled.into();
    }
    body
}

async fn clock_now(State(engine): State<Arc<Engine>>) -> Response {
    axum::Json(clock_body(&engine, None)).into_response()
}

/// Moves the engine's time forward, stopping at every timer and delayed message on the way (see
/// [`Engine::advance`]), and answers once the engine has handled everything that became due
/// (`settled: false` if that took over two minutes).
async fn clock_advance(State(engine): State<Arc<Engine>>, body: Bytes) -> Response {
    let advance = match serde_json::from_slice::<Advance>(&body) {
        Ok(a) if a.advance_seconds <= MAX_ADVANCE => a,
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("advance_seconds: at most {MAX_ADVANCE} (a year) per call"),
            );
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"advance_seconds\": N}} with N ≥ 0: {e}"),
            );
        }
    };
    let settled = engine.advance(advance.advance_seconds, SETTLE_LIMIT).await;
    axum::Json(clock_body(&engine, Some(settled))).into_response()
}

fn error(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": "invalid_input", "message": message})),
    )
        .into_response()
}

//! OPS-4, dead letters in the open (admin only): the messages the router and the sender gave up
//! on, and the timers' wake-ups that never reached the inbound queue, listed with why, how often and when, by the event's kind and key (never its text), and
//! delivered again, one or all. The queue port behind [`Deps::Queue`] is also the dead-letter
//! port: the stack's DLQs on AWS, the runner's `local_dead` table locally.

use super::{Errors, page_limit};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParams, QueryParams};
use axum::Json;
use axum::extract::State;
use queue::DeadLetters as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// One dead letter.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    /// Names it for `POST /v1/dead-letters/{id}/redeliver`.
    pub id: String,
    /// The queue it was taken from: `inbound`, `updates`, `outbound`, `media`, or `timers` (a
    /// wake-up Scheduler could not deliver; it goes back to the inbound queue).
    pub queue: String,
    /// What the event is: a message type (`text`, `image`, …), `status`, `timer_fired`, `lane`,
    /// `send`, `campaign_tick`, `wake_up`, …; `unreadable` for a body Switchboard did not write.
    pub kind: String,
    /// The event's key (a message id, `wamid:status`, a send's key, a wake-up's
    /// `number:kind:token`, …).
    pub key: String,
    pub reason: String,
    /// Deliveries tried (on AWS, SQS's receive count: a listing counts as one).
    pub attempts: u32,
    /// When it was first queued (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// When it was last tried and given up on (RFC 3339), when known (not on AWS: SQS does not
    /// record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

/// A page of dead letters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeadLetterView>,
    /// There are more than listed (a larger `limit` shows them; on AWS, a FIFO dead-letter queue
    /// shows at most ten of one contact's messages until those are redelivered).
    pub more: bool,
}

/// What a redelivery did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Redelivered {
    /// How many dead letters went back to their queues.
    pub redelivered: usize,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// 1 to 100, default 25.
    pub limit: Option<u32>,
}

fn rfc3339(ms: i64) -> String {
    rules::Timestamp::from_unix(ms.div_euclid(1000)).to_string()
}

impl From<queue::DeadLetter> for DeadLetterView {
    fn from(l: queue::DeadLetter) -> Self {
        DeadLetterView {
            id: l.id,
            queue: l.queue.to_owned(),
            kind: l.kind,
            key: l.key,
            reason: l.reason,
            attempts: l.attempts,
            first_seen: l.first_seen_ms.map(rfc3339),
            last_seen: l.last_seen_ms.map(rfc3339),
        }
    }
}

/// A dead letter's id as the API accepts it: `<queue>-<id>`, at most 128 characters of letters,
/// digits, `-`, `_` and `.`.
fn dead_letter_id(text: &str) -> ApiResult<&str> {
    let fits = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if fits && queue::dead::split_id(text).is_some() {
        Ok(text)
    } else {
        Err(ApiError::invalid(
            "id",
            "not a dead letter's id (`<queue>-<id>`, as listed by GET /v1/dead-letters)",
        ))
    }
}

/// The dead letters, oldest first per queue (admin).
#[utoipa::path(
    get, path = "/v1/dead-letters", tag = "operations",
    params(DeadLetterQuery),
    responses((status = 200, description = "Dead letters", body = DeadLetterPage), Errors)
)]
pub async fn list_dead_letters<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    QueryParams(q): QueryParams<DeadLetterQuery>,
) -> ApiResult<Json<DeadLetterPage>> {
    caller.require_admin("list dead letters")?;
    let limit = page_limit(q.limit)?;
    let list = d.queue().list(limit as usize).await?;
    Ok(Json(DeadLetterPage {
        dead_letters: list.letters.into_iter().map(Into::into).collect(),
        more: list.more,
    }))
}

/// Puts one dead letter back on the queue it came from (admin); 404 when there is no such dead
/// letter (already redelivered), 422 when it cannot go back (a timers' letter that is not a
/// wake-up; it stays listed, with why).
#[utoipa::path(
    post, path = "/v1/dead-letters/{id}/redeliver", tag = "operations",
    params(("id" = String, Path, description = "The dead letter's id, as listed")),
    responses((status = 200, description = "Redelivered", body = Redelivered), Errors)
)]
pub async fn redeliver_dead_letter<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<Redelivered>> {
    caller.require_admin("redeliver dead letters")?;
    let id = dead_letter_id(&id)?;
    if !d.queue().redeliver(id).await? {
        return Err(ApiError::not_found(format!(
            "no dead letter {id} (already redelivered?)"
        )));
    }
    tracing::info!(dead_letter = %id, by = %caller.agent, "dead letter redelivered");
    Ok(Json(Redelivered { redelivered: 1 }))
}

/// Puts every dead letter back on the queue it came from (admin).
#[utoipa::path(
    post, path = "/v1/dead-letters/redeliver-all", tag = "operations",
    responses((status = 200, description = "Redelivered", body = Redelivered), Errors)
)]
pub async fn redeliver_all_dead_letters<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
) -> ApiResult<Json<Redelivered>> {
    caller.require_admin("redeliver dead letters")?;
    let redelivered = d.queue().redeliver_all().await?;
    tracing::info!(redelivered, by = %caller.agent, "dead letters redelivered");
    Ok(Json(Redelivered { redelivered }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_4_dead_letter_ids_are_checked_before_any_queue_call() {
        assert_eq!(dead_letter_id("inbound-42").unwrap(), "inbound-42");
        assert!(dead_letter_id("outbound-0b6f1c2e-4a1d-4d8b-9c6e-2f0e8d1a7b3c").is_ok());
        assert!(dead_letter_id("timers-0b6f1c2e-4a1d-4d8b-9c6e-2f0e8d1a7b3c").is_ok());
        for bad in [
            "",
            "42",
            "wake-1",
            "timers-",
            "inbound-",
            "inbound-1' OR 1=1",
            "inbound-../../etc/passwd",
            &format!("inbound-{}", "9".repeat(130)),
        ] {
            let e = dead_letter_id(bad).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{bad}");
        }
    }
}

//! Events on SQLite (EVT-1, EVT-3, EVT-4): the event log is written by triggers on the `items`
//! table, inside the transaction of the change itself, through the same pure projector the
//! DynamoDB stream's function calls ([`crate::events::project_item`], registered on the writer's
//! connection as the SQL function `switchboard_project`). A rolled-back job (its savepoint) takes
//! its events with it; a committed one has them, in commit order (`seq`). Nothing in the router's
//! or the sender's code writes an event.
//!
//! Webhook endpoints, their delivery queue and dead letters live in their own tables.

use super::*;
use crate::events::{
    Delivery, EventStore, IntegrationStore, IntegrationToken, StoredEvent, WebhookEndpoint,
    WebhookStore,
};
use rusqlite::functions::FunctionFlags;

/// Item changes the projector function sees when written: outbound messages' delivery records,
/// campaigns, templates (a subset of what [`crate::events::feeds_events`] names; log entries
/// and send pointers are recorded by position, see [`schema`]).
const PROJECTED: &str = "(substr(new.pk, 1, 2) = 'W#' AND new.sk = 'W')
        OR (substr(new.pk, 1, 2) = 'K#' AND new.sk = 'CAMPAIGN')
        OR substr(new.pk, 1, 2) = 'T#'";

/// A number's pacing record changes at every send; only a stop, a resume or a new messaging
/// limit is an event, so the trigger compares those fields before calling the projector.
const PACING_CHANGED: &str = "substr(new.pk, 1, 2) = 'N#' AND new.sk = 'PACING' AND (
        old.data IS NULL
        OR json_extract(old.data, '$.stop_reason') IS NOT json_extract(new.data, '$.stop_reason')
        OR json_extract(old.data, '$.pacing.stopped') IS NOT json_extract(new.data, '$.pacing.stopped')
        OR json_extract(old.data, '$.settings.messaging_limit') IS NOT json_extract(new.data, '$.settings.messaging_limit'))";

/// The event log and the triggers that write it.
///
/// Message-log entries and send pointers (most events: one or more per message) are written
/// once and never change, so their trigger records only their position (`pk`, `sk`, no body):
/// one small row, no projection on the writer's thread. Reading projects them from the item
/// with the same pure projector, which gives the same event and id every time. Items that change
/// in place (delivery records, campaigns, templates, pacing) keep their projected events'
/// JSON (`body`), since their earlier images are gone after the next write.
///
/// The triggers are dropped and made again at every open, so a file written by an earlier build
/// gets the triggers of this one.
fn schema() -> String {
    format!(
        "
DROP TRIGGER IF EXISTS items_events_insert;
DROP TRIGGER IF EXISTS items_events_update;
DROP TRIGGER IF EXISTS event_log_appended;
DROP TRIGGER IF EXISTS event_log_created;
DROP TRIGGER IF EXISTS event_log_changed;
DROP TABLE IF EXISTS events;
CREATE TABLE IF NOT EXISTS event_log (
    seq INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    body TEXT,
    pk TEXT,
    sk TEXT
);
DROP INDEX IF EXISTS event_log_by_number;
CREATE TRIGGER IF NOT EXISTS event_log_appended AFTER INSERT ON items
WHEN substr(new.pk, 1, 2) = 'C#' AND substr(new.sk, 1, 2) IN ('L#', 'S#')
BEGIN
    INSERT INTO event_log (number, pk, sk)
    VALUES (substr(new.pk, 3, instr(substr(new.pk, 3), '#') - 1), new.pk, new.sk);
END;
CREATE TRIGGER IF NOT EXISTS event_log_created AFTER INSERT ON items
WHEN {PROJECTED} OR (substr(new.pk, 1, 2) = 'N#' AND new.sk = 'PACING')
BEGIN
    INSERT INTO event_log (number, body)
    SELECT json_extract(j.value, '$.number'), j.value
    FROM json_each(switchboard_project(new.pk, new.sk, NULL, new.data)) AS j;
END;
CREATE TRIGGER IF NOT EXISTS event_log_changed AFTER UPDATE ON items
WHEN (({PROJECTED}) AND old.data IS NOT new.data) OR ({PACING_CHANGED})
BEGIN
    INSERT INTO event_log (number, body)
    SELECT json_extract(j.value, '$.number'), j.value
    FROM json_each(switchboard_project(new.pk, new.sk, old.data, new.data)) AS j;
END;
CREATE TABLE IF NOT EXISTS integrations (
    token_hash TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    cursor INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS webhook_queue (
    endpoint TEXT NOT NULL,
    seq INTEGER NOT NULL,
    lane TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    dead INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_at INTEGER,
    next_at INTEGER NOT NULL,
    last_error TEXT,
    PRIMARY KEY (endpoint, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS webhook_lanes ON webhook_queue (endpoint, lane, seq) WHERE dead = 0;
CREATE INDEX IF NOT EXISTS webhook_due ON webhook_queue (next_at) WHERE dead = 0;
"
    )
}

fn wall_clock() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp::from_unix(secs)
}

/// Registers the projector on the writer's connection and creates the tables and triggers.
pub(super) fn install(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "switchboard_project",
        4,
        FunctionFlags::SQLITE_UTF8,
        |ctx| {
            let text = |i: usize| -> rusqlite::Result<Option<String>> { ctx.get(i) };
            let (pk, sk) = (text(0)?.unwrap_or_default(), text(1)?.unwrap_or_default());
            let (old, new) = (text(2)?, text(3)?);
            // The items' own times are the events' times; the commit's clock only dates
            // campaign and number changes (their items carry no time).
            let events = crate::events::project_item::<str>(
                &pk,
                &sk,
                old.as_deref(),
                new.as_deref(),
                wall_clock(),
            );
            if events.is_empty() {
                return Ok(None);
            }
            serde_json::to_string(&events)
                .map(Some)
                .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
        },
    )?;
    conn.execute_batch(&schema())
}

fn seq_of(cursor: Option<&str>) -> Result<i64> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| StoreError::Invalid(format!("not an event cursor: {c:?}"))),
    }
}

fn stored(seq: i64, body: &str) -> Result<StoredEvent> {
    let event = serde_json::from_str(body)
        .map_err(|e| StoreError::corrupt("event_log", &seq.to_string(), e))?;
    Ok(StoredEvent {
        cursor: seq.to_string(),
        event,
    })
}

/// One row of the event log, as read with its item (for rows recorded by position).
type LogRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const LOG_COLUMNS: &str = "SELECT e.seq, e.body, e.pk, e.sk, i.data FROM event_log e
     LEFT JOIN items i ON e.body IS NULL AND i.pk = e.pk AND i.sk = e.sk";

/// The event of a row: its stored JSON, or the projection of the item it points at.
fn event_of(row: &LogRow) -> Result<Option<StoredEvent>> {
    let (seq, body, pk, sk, data) = row;
    if let Some(body) = body {
        return stored(*seq, body).map(Some);
    }
    let (Some(pk), Some(sk)) = (pk, sk) else {
        return Err(StoreError::corrupt(
            "event_log",
            &seq.to_string(),
            "no body and no item",
        ));
    };
    // Log entries and send pointers carry their own time; `at` is unused for them.
    let Some(event) =
        crate::events::project_item::<str>(pk, sk, None, data.as_deref(), Timestamp::EPOCH)
            .into_iter()
            .next()
    else {
        // The item is gone (deleted by hand): its event can no longer be read.
        return Ok(None);
    };
    Ok(Some(StoredEvent {
        cursor: seq.to_string(),
        event,
    }))
}

fn log_rows(c: &Connection, from: i64, limit: u32, numbers: Option<&str>) -> Result<Vec<LogRow>> {
    let map = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?));
    match numbers {
        None => c
            .prepare_cached(&format!(
                "{LOG_COLUMNS} WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2"
            ))
            .and_then(|mut s| s.query_map(params![from, limit], map)?.collect()),
        Some(list) => c
            .prepare_cached(&format!(
                "{LOG_COLUMNS} WHERE e.seq > ?1 AND e.number IN (SELECT value FROM json_each(?3))
                 ORDER BY e.seq LIMIT ?2"
            ))
            .and_then(|mut s| s.query_map(params![from, limit, list], map)?.collect()),
    }
    .map_err(sql_error("events_after"))
}

impl EventStore for SqliteStore {
    async fn events_after(
        &self,
        numbers: Option<&[BusinessNumberId]>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredEvent>> {
        let from = seq_of(after)?;
        let numbers: Option<Vec<String>> =
            numbers.map(|ns| ns.iter().map(|n| n.to_string()).collect());
        self.read_with("events_after", false, move |c| {
            let list = match &numbers {
                Some(ns) => Some(
                    serde_json::to_string(ns).map_err(|e| StoreError::Invalid(e.to_string()))?,
                ),
                None => None,
            };
            let rows = log_rows(c, from, limit, list.as_deref())?;
            let mut items = Vec::with_capacity(rows.len());
            for row in &rows {
                if let Some(e) = event_of(row)? {
                    items.push(e);
                }
            }
            // The cursor moves past every row read, even one whose item is gone.
            let next = rows.last().map(|r| r.0.to_string());
            Ok(Page { next, items })
        })
    }
}

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        endpoint: r.get(0)?,
        position: r.get::<_, i64>(1)?.to_string(),
        event_id: r.get(2)?,
        event_type: r.get(3)?,
        body: r.get(4)?,
        attempts: r.get(5)?,
        first_attempt_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_unix),
        next_at: Timestamp::from_unix(r.get(7)?),
        last_error: r.get(8)?,
    })
}

const DELIVERY_COLUMNS: &str = "d.endpoint, d.seq, d.event_id, d.type, d.body, d.attempts, \
     d.first_at, d.next_at, d.last_error FROM webhook_queue d";

impl WebhookStore for SqliteStore {
    async fn put_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let data = encode(endpoint)?;
        let id = endpoint.id.clone();
        // A new endpoint starts at the end of the log: it gets what happens from now on.
        self.run("put_webhook", move |c| {
            c.prepare_cached(
                "INSERT INTO webhooks (id, data, cursor)
                 VALUES (?1, ?2, (SELECT coalesce(max(seq), 0) FROM event_log))
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            )
            .and_then(|mut s| s.execute(params![id, data]))
            .map_err(sql_error("put_webhook"))?;
            Ok(())
        })
        .await
    }

    async fn webhook(&self, id: &str) -> Result<Option<WebhookEndpoint>> {
        let id = id.to_owned();
        self.read_with("webhook", false, move |c| {
            let row: Option<(String, i64)> = c
                .prepare_cached("SELECT data, cursor FROM webhooks WHERE id = ?1")
                .and_then(|mut s| {
                    s.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(sql_error("webhook"))?;
            row.map(|(data, cursor)| endpoint_of(&id, &data, cursor))
                .transpose()
        })
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>> {
        self.read_with("webhooks", false, |c| {
            let rows: Vec<(String, String, i64)> = c
                .prepare_cached("SELECT id, data, cursor FROM webhooks ORDER BY id")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(sql_error("webhooks"))?;
            rows.iter()
                .map(|(id, data, cursor)| endpoint_of(id, data, *cursor))
                .collect()
        })
    }

    async fn delete_webhook(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.run("delete_webhook", move |c| {
            c.execute("DELETE FROM webhook_queue WHERE endpoint = ?1", params![id])
                .and_then(|_| c.execute("DELETE FROM webhooks WHERE id = ?1", params![id]))
                .map(|n| n > 0)
                .map_err(sql_error("delete_webhook"))
        })
        .await
    }

    async fn queue_deliveries(&self, now: Timestamp, limit: u32) -> Result<u32> {
        self.run("queue_deliveries", move |c| {
            let endpoints: Vec<(String, String, i64)> = c
                .prepare_cached("SELECT id, data, cursor FROM webhooks ORDER BY id")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(sql_error("queue_deliveries"))?;
            let mut queued = 0;
            for (id, data, cursor) in endpoints {
                let endpoint = endpoint_of(&id, &data, cursor)?;
                let rows = log_rows(c, cursor, limit, None)?;
                let Some(last) = rows.last().map(|r| r.0) else {
                    continue;
                };
                for row in &rows {
                    let Some(stored) = event_of(row)? else {
                        continue;
                    };
                    let (seq, event) = (row.0, stored.event);
                    let body = serde_json::to_string(&event)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    if !endpoint.delivers(&event) {
                        continue;
                    }
                    c.prepare_cached(
                        "INSERT OR IGNORE INTO webhook_queue
                         (endpoint, seq, lane, event_id, type, body, next_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            id,
                            seq,
                            event.ordering_key(),
                            event.id,
                            event.kind(),
                            body,
                            now.unix()
                        ])
                    })
                    .map_err(sql_error("queue_deliveries"))?;
                    queued += 1;
                }
                c.prepare_cached("UPDATE webhooks SET cursor = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, last]))
                    .map_err(sql_error("queue_deliveries"))?;
            }
            Ok(queued)
        })
        .await
    }

    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<Delivery>> {
        self.read_with("due_deliveries", false, move |c| {
            c.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS}
                 WHERE d.dead = 0 AND d.next_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM webhook_queue p WHERE p.endpoint = d.endpoint
                     AND p.lane = d.lane AND p.dead = 0 AND p.seq < d.seq)
                 ORDER BY d.seq LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![now.unix(), limit], delivery_row)?
                    .collect()
            })
            .map_err(sql_error("due_deliveries"))
        })
    }

    async fn delivered(&self, endpoint: &str, position: &str) -> Result<()> {
        let (endpoint, seq) = (endpoint.to_owned(), seq_of(Some(position))?);
        self.run("delivered", move |c| {
            c.prepare_cached("DELETE FROM webhook_queue WHERE endpoint = ?1 AND seq = ?2")
                .and_then(|mut s| s.execute(params![endpoint, seq]))
                .map_err(sql_error("delivered"))?;
            Ok(())
        })
        .await
    }

    async fn delivery_failed(
        &self,
        endpoint: &str,
        position: &str,
        first_attempt_at: Timestamp,
        retry_at: Option<Timestamp>,
        error: &str,
    ) -> Result<()> {
        let (endpoint, seq) = (endpoint.to_owned(), seq_of(Some(position))?);
        let error: String = error.chars().take(200).collect();
        self.run("delivery_failed", move |c| {
            c.prepare_cached(
                "UPDATE webhook_queue SET attempts = attempts + 1, first_at = ?3,
                 dead = ?4, next_at = coalesce(?5, next_at), last_error = ?6
                 WHERE endpoint = ?1 AND seq = ?2",
            )
            .and_then(|mut s| {
                s.execute(params![
                    endpoint,
                    seq,
                    first_attempt_at.unix(),
                    retry_at.is_none(),
                    retry_at.map(Timestamp::unix),
                    error
                ])
            })
            .map_err(sql_error("delivery_failed"))?;
            Ok(())
        })
        .await
    }

    async fn dead_letters(&self, endpoint: &str, limit: u32) -> Result<Vec<Delivery>> {
        let endpoint = endpoint.to_owned();
        self.read_with("dead_letters", false, move |c| {
            c.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} WHERE d.endpoint = ?1 AND d.dead = 1 ORDER BY d.seq LIMIT ?2"
            ))
            .and_then(|mut s| s.query_map(params![endpoint, limit], delivery_row)?.collect())
            .map_err(sql_error("dead_letters"))
        })
    }

    async fn redeliver(
        &self,
        endpoint: &str,
        event_id: Option<&str>,
        now: Timestamp,
    ) -> Result<u32> {
        let (endpoint, event_id) = (endpoint.to_owned(), event_id.map(str::to_owned));
        self.run("redeliver", move |c| {
            c.prepare_cached(
                "UPDATE webhook_queue SET dead = 0, attempts = 0, first_at = NULL, next_at = ?2
                 WHERE endpoint = ?1 AND dead = 1 AND (?3 IS NULL OR event_id = ?3)",
            )
            .and_then(|mut s| s.execute(params![endpoint, now.unix(), event_id]))
            .map(|n| n as u32)
            .map_err(sql_error("redeliver"))
        })
        .await
    }
}

fn endpoint_of(id: &str, data: &str, cursor: i64) -> Result<WebhookEndpoint> {
    let mut endpoint: WebhookEndpoint =
        serde_json::from_str(data).map_err(|e| StoreError::corrupt("webhooks", id, e))?;
    endpoint.cursor = Some(cursor.to_string());
    Ok(endpoint)
}

impl IntegrationStore for SqliteStore {
    async fn put_integration(&self, token: &IntegrationToken) -> Result<()> {
        let data = encode(token)?;
        let (hash, id) = (token.token_hash.clone(), token.id.clone());
        self.run("put_integration", move |c| {
            c.prepare_cached(
                "INSERT INTO integrations (token_hash, id, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (token_hash) DO UPDATE SET data = excluded.data",
            )
            .and_then(|mut s| s.execute(params![hash, id, data]))
            .map_err(sql_error("put_integration"))?;
            Ok(())
        })
        .await
    }

    async fn integrations(&self) -> Result<Vec<IntegrationToken>> {
        self.read_with("integrations", false, |c| {
            let rows: Vec<(String, String)> = c
                .prepare_cached("SELECT id, data FROM integrations ORDER BY id")
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(sql_error("integrations"))?;
            rows.iter()
                .map(|(id, data)| {
                    serde_json::from_str(data)
                        .map_err(|e| StoreError::corrupt("integrations", id, e))
                })
                .collect()
        })
    }

    async fn integration_by_hash(&self, token_hash: &str) -> Result<Option<IntegrationToken>> {
        let hash = token_hash.to_owned();
        self.read_with("integration_by_hash", false, move |c| {
            let data: Option<String> = c
                .prepare_cached("SELECT data FROM integrations WHERE token_hash = ?1")
                .and_then(|mut s| s.query_row(params![hash], |r| r.get(0)).optional())
                .map_err(sql_error("integration_by_hash"))?;
            data.map(|d| {
                serde_json::from_str(&d).map_err(|e| StoreError::corrupt("integrations", &hash, e))
            })
            .transpose()
        })
    }
}

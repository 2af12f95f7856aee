//! The local runner's queues and timers, durable in the store's SQLite file.
//!
//! [`SqliteQueue`] is the one-process twin of the three SQS queues (the queue port,
//! [`queue::EventQueue`] and [`queue::DelayedQueue`]): a message the webhook was told is queued is
//! in the database file, so a crash or Ctrl-C loses nothing; on start, whatever was taken and not
//! finished is offered again (SQS's visibility timeout, collapsed to "the process ended").
//! Writes go through the store's writer thread, so they share its group commit and never contend
//! with it for the file's write lock.
//!
//! Which messages are taken (handed to a consumer and not yet deleted or put back) is kept in
//! memory, not in the file: "taken" only means something while this process runs, and after a
//! restart everything left is offered again anyway. So handing messages out is a read (no write
//! transaction per receive), and a message costs the file two writes: its insert and its delete.
//! One [`SqliteQueue`] (and its clones) per queue file per process: two opened on one file would
//! not see each other's taken messages.
//!
//! What it keeps of each queue's semantics:
//! - **inbound** (FIFO): one message group at a time per contact. [`SqliteQueue::receive`] hands
//!   out a group's messages only while none of that group is taken, in order, stopping at the
//!   first one that is not due (a message put back for a retry holds its group, as in SQS FIFO);
//!   a key already waiting is not queued twice (FIFO deduplication, for as long as it waits).
//! - **updates** and **outbound** (standard): no order, per-message delays
//!   ([`queue::DelayedQueue::send_delayed`], due on the runner's clock).
//! - redelivery: [`SqliteQueue::retry`] puts a message back with a later due time and counts the
//!   attempt; [`SqliteQueue::dead_letter`] moves it to `local_dead` with the reason (the runner's
//!   dead-letter queue: kept for a person, never dropped).
//!
//! Timers: `local_timers` holds the armed wake-up of each slot (one per number, contact and kind;
//! arming again replaces it), so the runner's timer wheel is rebuilt after a restart;
//! [`SqliteQueue::fire_timer`] queues the wake-up's event and forgets the timer in one transaction.

use super::*;
use queue::{DelayedQueue, Destination, Envelope, EventQueue, QueueError};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const QUEUE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS local_queue (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    dest     INTEGER NOT NULL,
    grp      TEXT,
    key      TEXT NOT NULL,
    body     TEXT NOT NULL,
    due_ms   INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_ms INTEGER
);
DROP INDEX IF EXISTS local_queue_fifo;
DROP INDEX IF EXISTS local_queue_due;
CREATE INDEX IF NOT EXISTS local_queue_order ON local_queue (dest, seq);
CREATE INDEX IF NOT EXISTS local_queue_due_at ON local_queue (dest, due_ms);
CREATE UNIQUE INDEX IF NOT EXISTS local_queue_dedup ON local_queue (key) WHERE dest = 0;
CREATE TABLE IF NOT EXISTS local_dead (
    seq      INTEGER PRIMARY KEY,
    dest     INTEGER NOT NULL,
    grp      TEXT,
    key      TEXT NOT NULL,
    body     TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reason   TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    first_ms INTEGER
);
CREATE TABLE IF NOT EXISTS local_timers (
    slot    TEXT PRIMARY KEY,
    due     INTEGER NOT NULL,
    payload TEXT NOT NULL
);
";

/// A queue message handed to the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Its position in the queue (the receipt handle).
    pub seq: i64,
    pub dest: Destination,
    pub envelope: Envelope,
    /// How many times it was handed out before and put back.
    pub attempts: u32,
}

/// A message kept in `local_dead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub dest: Destination,
    pub key: String,
    pub attempts: u32,
    pub reason: String,
}

/// How much is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Messages due now and not taken.
    pub ready: usize,
    /// Messages taken and not yet deleted or put back.
    pub taken: usize,
    /// Messages waiting for a later due time.
    pub delayed: usize,
    /// The earliest due time among the delayed, in milliseconds.
    pub next_due_ms: Option<i64>,
}

/// An armed timer as the runner keeps it: its slot, its deadline and its wake-up payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTimer {
    pub slot: String,
    pub due: Timestamp,
    pub payload: String,
}

type NowMs = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The durable queues of the one-process runner (see the module documentation).
#[derive(Clone)]
pub struct SqliteQueue {
    store: SqliteStore,
    now_ms: NowMs,
    arrived: Arc<tokio::sync::Notify>,
    taken: Arc<Mutex<Taken>>,
}

/// The messages handed out and not yet deleted or put back (this process only).
#[derive(Debug, Default)]
struct Taken {
    /// Their queue positions.
    seqs: HashSet<i64>,
    /// Inbound groups with a message taken, and how many.
    groups: HashMap<String, usize>,
    /// The group of each taken inbound message.
    group_of: HashMap<i64, String>,
}

impl Taken {
    fn take(&mut self, m: &QueuedMessage) {
        self.seqs.insert(m.seq);
        if m.dest == Destination::Inbound {
            let group = m.envelope.group.clone().unwrap_or_default();
            *self.groups.entry(group.clone()).or_default() += 1;
            self.group_of.insert(m.seq, group);
        }
    }

    fn forget(&mut self, seqs: &[i64]) {
        for seq in seqs {
            self.seqs.remove(seq);
            if let Some(group) = self.group_of.remove(seq)
                && let Some(n) = self.groups.get_mut(&group)
            {
                *n -= 1;
                if *n == 0 {
                    self.groups.remove(&group);
                }
            }
        }
    }
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("store", &self.store)
            .finish()
    }
}

fn dest_code(dest: Destination) -> i64 {
    match dest {
        Destination::Inbound => 0,
        Destination::Updates => 1,
        Destination::Outbound => 2,
        Destination::Media => 3,
    }
}

fn dest_of(code: i64) -> Destination {
    match code {
        0 => Destination::Inbound,
        1 => Destination::Updates,
        3 => Destination::Media,
        _ => Destination::Outbound,
    }
}

fn unavailable(e: StoreError) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl SqliteQueue {
    /// The queues in `store`'s file (tables created if needed). Messages taken by a previous
    /// process and never finished are offered again. `now_ms` is the runner's clock: delays and
    /// retries fall due on it. Open one per file per process and clone it.
    pub async fn open(
        store: &SqliteStore,
        now_ms: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Result<SqliteQueue> {
        store
            .run("local_queue_open", |c| {
                // (Files from before taken was kept in memory have a `taken` column; it is
                // no longer read or indexed.)
                c.execute_batch(QUEUE_SCHEMA)
                    .map_err(sql_error("local_queue_open"))?;
                // Files from before OPS-4 lack when a message was first queued.
                for table in ["local_queue", "local_dead"] {
                    add_first_ms(c, table).map_err(sql_error("local_queue_open"))?;
                }
                Ok(())
            })
            .await?;
        Ok(SqliteQueue {
            store: store.clone(),
            now_ms: Arc::new(now_ms),
            arrived: Arc::new(tokio::sync::Notify::new()),
            taken: Arc::new(Mutex::new(Taken::default())),
        })
    }

    /// Resolves when a message is queued after the call (the consumer's wake-up).
    pub fn arrived(&self) -> tokio::sync::futures::Notified<'_> {
        self.arrived.notified()
    }

    async fn insert(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        due_ms: i64,
    ) -> std::result::Result<(), QueueError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let dest = dest_code(to);
        let now = (self.now_ms)();
        self.store
            .run("local_queue_send", move |c| {
                // Inbound keys deduplicate while they wait (SQS FIFO's deduplication id).
                let sql = if dest == 0 {
                    "INSERT OR IGNORE INTO local_queue (dest, grp, key, body, due_ms, first_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                } else {
                    "INSERT INTO local_queue (dest, grp, key, body, due_ms, first_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                };
                let mut stmt = c.prepare_cached(sql).map_err(sql_error("local_queue_send"))?;
                for e in &envelopes {
                    stmt.execute(params![dest, e.group, e.key, e.body, due_ms, now])
                        .map_err(sql_error("local_queue_send"))?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)?;
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Hands out up to `limit` messages of `from` that are due on the runner's clock, marking
    /// them taken. On the inbound queue: only groups with nothing taken, each group's messages in
    /// order up to its first message that is not due.
    pub async fn receive(&self, from: Destination, limit: usize) -> Result<Vec<QueuedMessage>> {
        let now = (self.now_ms)();
        let dest = dest_code(from);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let taken = self.taken.clone();
        self.store
            .read("local_queue_receive", move |c| {
                // Held across the read and the marking: two receivers never take one message.
                let mut taken = taken.lock().unwrap_or_else(|e| e.into_inner());
                let rows = if dest == 0 {
                    receive_fifo(c, &taken, now, limit)?
                } else {
                    receive_standard(c, &taken, dest, now, limit)?
                };
                for m in &rows {
                    taken.take(m);
                }
                Ok(rows)
            })
            .await
    }

    fn forget(&self, seqs: &[i64]) {
        self.taken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forget(seqs);
    }

    /// Deletes messages that were handled.
    pub async fn delete(&self, seqs: Vec<i64>) -> Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let deleted = seqs.clone();
        self.store
            .run("local_queue_delete", move |c| {
                let mut stmt = c
                    .prepare_cached("DELETE FROM local_queue WHERE seq = ?1")
                    .map_err(sql_error("local_queue_delete"))?;
                for seq in &seqs {
                    stmt.execute(params![seq])
                        .map_err(sql_error("local_queue_delete"))?;
                }
                Ok(())
            })
            .await?;
        // Only once the rows are gone: a receive before that must still pass over them.
        self.forget(&deleted);
        Ok(())
    }

    /// Puts taken messages back, due again `after` from now, counting an attempt for each.
    pub async fn retry(&self, seqs: Vec<i64>, after: Duration) -> Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let due = (self.now_ms)() + i64::try_from(after.as_millis()).unwrap_or(i64::MAX / 2);
        let retried = seqs.clone();
        self.store
            .run("local_queue_retry", move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "UPDATE local_queue SET attempts = attempts + 1, due_ms = ?2 WHERE seq = ?1",
                    )
                    .map_err(sql_error("local_queue_retry"))?;
                for seq in &seqs {
                    stmt.execute(params![seq, due])
                        .map_err(sql_error("local_queue_retry"))?;
                }
                Ok(())
            })
            .await?;
        self.forget(&retried);
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Puts taken messages back, due now, without counting an attempt (they were taken but not
    /// tried: the group stopped before them).
    pub async fn release(&self, seqs: Vec<i64>) -> Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.forget(&seqs);
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Moves a taken message to the dead letters with the reason.
    pub async fn dead_letter(&self, seq: i64, reason: String) -> Result<()> {
        let now = (self.now_ms)();
        self.store
            .run("local_queue_dead_letter", move |c| {
                c.execute(
                    "INSERT OR REPLACE INTO local_dead (seq, dest, grp, key, body, attempts, reason, at_ms, first_ms)
                     SELECT seq, dest, grp, key, body, attempts + 1, ?2, ?3, first_ms FROM local_queue WHERE seq = ?1",
                    params![seq, reason, now],
                )
                .map_err(sql_error("local_queue_dead_letter"))?;
                c.execute("DELETE FROM local_queue WHERE seq = ?1", params![seq])
                    .map_err(sql_error("local_queue_dead_letter"))?;
                Ok(())
            })
            .await?;
        self.forget(&[seq]);
        Ok(())
    }

    /// The dead letters, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        self.store
            .read("local_queue_dead_letters", |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT dest, key, attempts, reason FROM local_dead ORDER BY seq",
                    )
                    .map_err(sql_error("local_queue_dead_letters"))?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(DeadLetter {
                            dest: dest_of(r.get(0)?),
                            key: r.get(1)?,
                            attempts: r.get::<_, i64>(2)?.try_into().unwrap_or(u32::MAX),
                            reason: r.get(3)?,
                        })
                    })
                    .and_then(Iterator::collect)
                    .map_err(sql_error("local_queue_dead_letters"))?;
                Ok(rows)
            })
            .await
    }

    /// What is waiting, over the three queues.
    pub async fn backlog(&self) -> Result<Backlog> {
        let now = (self.now_ms)();
        let taken = self.taken.clone();
        self.store
            .read("local_queue_backlog", move |c| {
                let taken = taken.lock().unwrap_or_else(|e| e.into_inner()).seqs.len();
                c.query_row(
                    "SELECT
                        COALESCE(SUM(due_ms <= ?1), 0),
                        COALESCE(SUM(due_ms > ?1), 0),
                        MIN(CASE WHEN due_ms > ?1 THEN due_ms END)
                     FROM local_queue",
                    params![now],
                    |r| {
                        // A taken message was due when it was taken, and stays so until it is
                        // put back.
                        let due: usize = r.get::<_, i64>(0)?.try_into().unwrap_or(0);
                        Ok(Backlog {
                            ready: due.saturating_sub(taken),
                            taken,
                            delayed: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                            next_due_ms: r.get(2)?,
                        })
                    },
                )
                .map_err(sql_error("local_queue_backlog"))
            })
            .await
    }

    /// Keeps the timer of `slot` (replacing the one armed there).
    pub async fn put_timer(&self, timer: StoredTimer) -> Result<()> {
        self.store
            .run("local_timer_put", move |c| {
                c.execute(
                    "INSERT OR REPLACE INTO local_timers (slot, due, payload) VALUES (?1, ?2, ?3)",
                    params![timer.slot, timer.due.unix(), timer.payload],
                )
                .map_err(sql_error("local_timer_put"))?;
                Ok(())
            })
            .await
    }

    /// Queues a fired timer's event on the inbound queue and forgets the timer, in one
    /// transaction; a timer armed again meanwhile (another payload in the slot) is kept.
    pub async fn fire_timer(&self, timer: StoredTimer, event: Envelope) -> Result<()> {
        queue::check(Destination::Inbound, std::slice::from_ref(&event)).map_err(|e| {
            StoreError::Backend {
                operation: "local_timer_fire",
                message: e.to_string(),
            }
        })?;
        let now = (self.now_ms)();
        self.store
            .run("local_timer_fire", move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO local_queue (dest, grp, key, body, due_ms, first_ms) VALUES (0, ?1, ?2, ?3, ?4, ?4)",
                    params![event.group, event.key, event.body, now],
                )
                .map_err(sql_error("local_timer_fire"))?;
                c.execute(
                    "DELETE FROM local_timers WHERE slot = ?1 AND payload = ?2",
                    params![timer.slot, timer.payload],
                )
                .map_err(sql_error("local_timer_fire"))?;
                Ok(())
            })
            .await?;
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Every armed timer, earliest first.
    pub async fn timers(&self) -> Result<Vec<StoredTimer>> {
        self.store
            .read("local_timers", |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT slot, due, payload FROM local_timers ORDER BY due, slot",
                    )
                    .map_err(sql_error("local_timers"))?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(StoredTimer {
                            slot: r.get(0)?,
                            due: Timestamp::from_unix(r.get(1)?),
                            payload: r.get(2)?,
                        })
                    })
                    .and_then(Iterator::collect)
                    .map_err(sql_error("local_timers"))?;
                Ok(rows)
            })
            .await
    }
}

/// Adds `first_ms` to a queue table made before it existed.
fn add_first_ms(c: &Connection, table: &str) -> rusqlite::Result<()> {
    let has = c
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = 'first_ms'"
        ))?
        .exists([])?;
    if !has {
        c.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN first_ms INTEGER"))?;
    }
    Ok(())
}

/// OPS-4: the runner's dead letters through the console's port. A dead letter's id is
/// `<queue>-<position>`; redelivering puts it back at the end of its queue, due now, with its
/// attempts counted afresh.
impl queue::DeadLetters for SqliteQueue {
    async fn list(&self, limit: usize) -> std::result::Result<queue::DeadLetterList, QueueError> {
        let scan = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        let rows = self
            .store
            .read("local_dead_list", move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT seq, dest, key, body, attempts, reason, at_ms, first_ms
                         FROM local_dead ORDER BY seq LIMIT ?1",
                    )
                    .map_err(sql_error("local_dead_list"))?;
                let rows = stmt
                    .query_map(params![scan], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            dest_of(r.get(1)?),
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, i64>(6)?,
                            r.get::<_, Option<i64>>(7)?,
                        ))
                    })
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(sql_error("local_dead_list"))?;
                Ok(rows)
            })
            .await
            .map_err(unavailable)?;
        let more = rows.len() > limit;
        let letters = rows
            .into_iter()
            .take(limit)
            .map(
                |(seq, dest, key, body, attempts, reason, at_ms, first_ms)| {
                    let (kind, described) = queue::dead::describe(dest, &body);
                    queue::DeadLetter {
                        id: format!("{}-{seq}", queue::dead::queue_name(dest)),
                        queue: queue::dead::queue_name(dest),
                        kind,
                        key: if described.is_empty() { key } else { described },
                        reason,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        first_seen_ms: first_ms,
                        last_seen_ms: Some(at_ms),
                    }
                },
            )
            .collect();
        Ok(queue::DeadLetterList { letters, more })
    }

    async fn redeliver(&self, id: &str) -> std::result::Result<bool, QueueError> {
        let Some((dest, seq)) = queue::dead::parse_id(id)
            .and_then(|(dest, rest)| Some((dest_code(dest), rest.parse::<i64>().ok()?)))
        else {
            return Ok(false);
        };
        let moved = self.move_dead(Some((dest, seq))).await?;
        Ok(moved > 0)
    }

    async fn redeliver_all(&self) -> std::result::Result<usize, QueueError> {
        self.move_dead(None).await
    }
}

impl SqliteQueue {
    /// Moves one dead letter (queue code and position) or all of them back to their queues, in
    /// one transaction; how many.
    async fn move_dead(&self, which: Option<(i64, i64)>) -> std::result::Result<usize, QueueError> {
        let now = (self.now_ms)();
        let moved = self
            .store
            .run("local_dead_redeliver", move |c| {
                let (filter, args) = match which {
                    Some((dest, seq)) => ("WHERE dest = ?2 AND seq = ?3", vec![now, dest, seq]),
                    None => ("", vec![now]),
                };
                // An inbound key already waiting again is not queued twice (FIFO dedup).
                c.execute(
                    &format!(
                        "INSERT OR IGNORE INTO local_queue (dest, grp, key, body, due_ms, attempts, first_ms)
                         SELECT dest, grp, key, body, ?1, 0, first_ms FROM local_dead {filter} ORDER BY seq"
                    ),
                    rusqlite::params_from_iter(&args),
                )
                .map_err(sql_error("local_dead_redeliver"))?;
                let moved = c
                    .execute(
                        &format!("DELETE FROM local_dead {}", filter.replace("?2", "?1").replace("?3", "?2")),
                        rusqlite::params_from_iter(&args[1..]),
                    )
                    .map_err(sql_error("local_dead_redeliver"))?;
                Ok(moved)
            })
            .await
            .map_err(unavailable)?;
        if moved > 0 {
            self.arrived.notify_waiters();
        }
        Ok(moved)
    }
}

fn message(r: &rusqlite::Row<'_>) -> rusqlite::Result<(QueuedMessage, i64)> {
    Ok((
        QueuedMessage {
            seq: r.get(0)?,
            dest: dest_of(r.get(1)?),
            envelope: Envelope {
                group: r.get(2)?,
                key: r.get(3)?,
                body: r.get(4)?,
            },
            attempts: r.get::<_, i64>(5)?.try_into().unwrap_or(u32::MAX),
        },
        r.get(6)?,
    ))
}

/// Standard queues: due messages, earliest due first.
fn receive_standard(
    c: &Connection,
    taken: &Taken,
    dest: i64,
    now: i64,
    limit: i64,
) -> Result<Vec<QueuedMessage>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, dest, grp, key, body, attempts, due_ms FROM local_queue
             WHERE dest = ?1 AND due_ms <= ?2 ORDER BY due_ms, seq LIMIT ?3",
        )
        .map_err(sql_error("local_queue_receive"))?;
    // Taken messages are still in the file: look past them.
    let scan = limit.saturating_add(i64::try_from(taken.seqs.len()).unwrap_or(i64::MAX));
    let rows = stmt
        .query_map(params![dest, now, scan], message)
        .and_then(|rows| {
            rows.filter(|r| {
                r.as_ref()
                    .map_or(true, |(m, _)| !taken.seqs.contains(&m.seq))
            })
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|r| r.map(|(m, _)| m))
            .collect()
        })
        .map_err(sql_error("local_queue_receive"))?;
    Ok(rows)
}

/// The FIFO queue: walks the waiting messages in queue order and hands out each group's run of
/// due messages, skipping groups with a message taken or a message not yet due ahead.
fn receive_fifo(c: &Connection, taken: &Taken, now: i64, limit: i64) -> Result<Vec<QueuedMessage>> {
    let mut blocked: HashSet<String> = HashSet::new();
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, dest, grp, key, body, attempts, due_ms FROM local_queue
             WHERE dest = 0 ORDER BY seq LIMIT ?1",
        )
        .map_err(sql_error("local_queue_receive"))?;
    // Look further than `limit`: taken messages and blocked groups' messages are passed over.
    let scan = limit
        .saturating_mul(4)
        .max(64)
        .saturating_add(i64::try_from(taken.seqs.len()).unwrap_or(i64::MAX));
    let rows = stmt
        .query_map(params![scan], message)
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(sql_error("local_queue_receive"))?;
    let mut out = Vec::new();
    for (m, due) in rows {
        if taken.seqs.contains(&m.seq) {
            continue;
        }
        let group = m.envelope.group.clone().unwrap_or_default();
        if blocked.contains(&group) || taken.groups.contains_key(&group) {
            continue;
        }
        if due > now || i64::try_from(out.len()).unwrap_or(i64::MAX) >= limit {
            blocked.insert(group);
            continue;
        }
        out.push(m);
    }
    Ok(out)
}

impl EventQueue for SqliteQueue {
    async fn send(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
    ) -> std::result::Result<(), QueueError> {
        queue::check(to, &envelopes)?;
        let now = (self.now_ms)();
        self.insert(to, envelopes, now).await
    }
}

impl DelayedQueue for SqliteQueue {
    async fn send_delayed(
        &self,
        to: Destination,
        envelopes: Vec<Envelope>,
        delay: Duration,
    ) -> std::result::Result<(), QueueError> {
        queue::check_delayed(to, &envelopes)?;
        let delay = delay.min(queue::MAX_DELAY);
        let due = (self.now_ms)() + i64::try_from(delay.as_millis()).unwrap_or(0);
        self.insert(to, envelopes, due).await
    }
}

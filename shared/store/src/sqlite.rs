//! The embedded adapter: SQLite (rusqlite, bundled) in WAL mode, one file, the same items and the
//! same conditional semantics as DynamoDB.
//!
//! One `items` table mirrors the DynamoDB table: primary key `(pk, sk)`, the item body as JSON in
//! `data`, plus the attributes DynamoDB conditions and indexes use as columns (`version`,
//! `expires_at`, `gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`) and the console's `profile`. Expired rows
//! are ignored on read like DynamoDB's late TTL; [`SqliteStore::purge_expired`] deletes them.
//!
//! ## Writes: one writer thread, group commit
//!
//! Every write (a commit, a conditional counter update, a queue change …) is a job sent over a
//! channel to one dedicated writer thread that owns the only write connection. The writer takes
//! every job waiting and applies them in ONE `BEGIN IMMEDIATE` transaction, each job inside its
//! own savepoint: a job that fails undoes only its own writes, and each job's conditions see the
//! jobs before it, exactly as if they had run one after the other (the writes are serialised, so
//! a conditional write here is as atomic as its DynamoDB twin). A job's caller gets its answer
//! only after the transaction committed; if the transaction fails, every job of it gets a
//! retryable error and nothing of it was written.
//!
//! ## Reads: their own connections, on the caller's thread
//!
//! Reads never take the write lock: they run on a small pool of read connections (WAL lets
//! readers run beside the writer and see the last committed state), directly on the calling
//! thread. A read is a few primary-key lookups served from the page cache (microseconds), so it is
//! cheaper to run it in place than to hand it to another thread. Reads of several statements run
//! in one deferred transaction (one snapshot).
//!
//! Checkpoints: a checkpointer thread copies the WAL back into the database file (passive, never
//! blocking the writer or readers) every few hundred writes; the writer's own automatic
//! checkpoint (every 8,000 pages) then has little left to copy and, by completing, lets the WAL
//! restart from its beginning, so the WAL stays bounded under sustained load.
//!
//! Durability: WAL with `synchronous=NORMAL` — a commit is atomic and survives a crash of the
//! process; a power loss may lose the last commits before a checkpoint (never corrupts the file).

mod events;
mod local_queue;
mod sending;

pub use local_queue::{Backlog, DeadLetter, QueuedMessage, SqliteQueue, StoredTimer};

use crate::items::*;
use crate::keys::{self, Key};
use crate::model::*;
use crate::ports::*;
use crate::{Result, StoreError};
use rules::agents::AgentLoad;
use rules::billing::RateTable;
use rules::templates::Template;
use rules::{
    AgentId, BusinessNumberId, CampaignId, ContactKey, ConversationId, Date, EventKey, MessageId,
    NumberSettings, TemplateName, Timestamp,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

/// The default database file of the one-process runner.
pub const DEFAULT_PATH: &str = "./switchboard.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    data TEXT,
    version INTEGER,
    expires_at INTEGER,
    profile TEXT,
    gsi1pk TEXT,
    gsi1sk TEXT,
    gsi2pk TEXT,
    gsi2sk TEXT,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gsi1 ON items (gsi1pk, gsi1sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS gsi2 ON items (gsi2pk, gsi2sk) WHERE gsi2pk IS NOT NULL;
";

/// The embedded store. Cheap to clone (one writer thread, one pool of read connections).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer thread's queue; the thread stops when the last clone of the store is dropped.
    writer: mpsc::Sender<Box<dyn Job>>,
    /// Idle read connections (at most one per thread that reads at the same time).
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
}

/// Most jobs one group transaction applies.
const MAX_BATCH: usize = 512;

/// The writer's page cache (negative: KiB; a read connection's cache is reset whenever the WAL
/// changed, so readers keep SQLite's small default).
const WRITER_PRAGMAS: &str = "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;";

/// The writer asks the checkpointer thread for a checkpoint after this many jobs.
const CHECKPOINT_EVERY: usize = 256;

/// One write, applied by the writer thread inside its own savepoint.
trait Job: Send {
    /// Whether the job runs inside its own savepoint (it may fail after writing).
    fn savepoint(&self) -> bool {
        true
    }
    /// Runs the write.
    fn apply(&mut self, c: &Connection) -> Applied;
    /// The transaction committed: hand the result to the caller.
    fn finish(self: Box<Self>);
}

struct Task<T, F> {
    f: Option<F>,
    out: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Task<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn apply(&mut self, c: &Connection) -> Applied {
        let Some(f) = self.f.take() else {
            return Applied::Undo;
        };
        let out = f(c);
        let applied = if out.is_ok() {
            Applied::Clean
        } else {
            Applied::Undo
        };
        self.out = Some(out);
        applied
    }

    fn finish(self: Box<Self>) {
        if let Some(out) = self.out {
            let _ = self.reply.send(out);
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn sql_error(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if busy {
            StoreError::Retryable {
                operation,
                message: e.to_string(),
            }
        } else {
            StoreError::Backend {
                operation,
                message: e.to_string(),
            }
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn decode<T: DeserializeOwned>(pk: &str, sk: &str, data: Option<&str>) -> Result<T> {
    let data = data.ok_or_else(|| StoreError::corrupt(pk, sk, "item has no data"))?;
    serde_json::from_str(data).map_err(|e| StoreError::corrupt(pk, sk, e))
}

/// The raw columns of one row.
struct Row {
    data: Option<String>,
    version: Option<i64>,
    expires_at: Option<i64>,
    profile: Option<String>,
}

impl Row {
    fn live(&self, now: Option<Timestamp>) -> bool {
        match (self.expires_at, now) {
            (Some(exp), Some(now)) => exp > now.unix(),
            _ => true,
        }
    }
}

fn get_row(c: &Connection, key: &Key) -> Result<Option<Row>> {
    c.prepare_cached(
        "SELECT data, version, expires_at, profile FROM items WHERE pk = ?1 AND sk = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![key.pk, key.sk], |r| {
            Ok(Row {
                data: r.get(0)?,
                version: r.get(1)?,
                expires_at: r.get(2)?,
                profile: r.get(3)?,
            })
        })
        .optional()
    })
    .map_err(sql_error("get"))
}

fn get_item<T: DeserializeOwned>(c: &Connection, key: &Key) -> Result<Option<T>> {
    match get_row(c, key)? {
        Some(row) => decode(&key.pk, &key.sk, row.data.as_deref()).map(Some),
        None => Ok(None),
    }
}

fn put_item<T: Serialize>(
    c: &Connection,
    key: &Key,
    value: &T,
    expires_at: Option<i64>,
) -> Result<()> {
    let data = encode(value)?;
    c.prepare_cached(
        "INSERT INTO items (pk, sk, data, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
    )
    .and_then(|mut s| s.execute(params![key.pk, key.sk, data, expires_at]))
    .map_err(sql_error("put"))?;
    Ok(())
}

fn delete_item(c: &Connection, key: &Key) -> Result<bool> {
    c.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut s| s.execute(params![key.pk, key.sk]))
        .map(|n| n > 0)
        .map_err(sql_error("delete"))
}

/// Items of partition `pk` with `lo <= sk < hi`, ascending or descending, at most `limit`.
fn query_range<T: DeserializeOwned>(
    c: &Connection,
    pk: &str,
    lo: &str,
    hi: &str,
    descending: bool,
    limit: u32,
) -> Result<Vec<(String, T)>> {
    let sql = if descending {
        "SELECT sk, data FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 ORDER BY sk DESC LIMIT ?4"
    } else {
        "SELECT sk, data FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 ORDER BY sk ASC LIMIT ?4"
    };
    let rows: Vec<(String, Option<String>)> = c
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params![pk, lo, hi, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(sql_error("query"))?;
    rows.into_iter()
        .map(|(sk, data)| {
            let item = decode(pk, &sk, data.as_deref())?;
            Ok((sk, item))
        })
        .collect()
}

/// The first string after every string starting with `prefix` (prefix ends in an ASCII byte).
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_owned();
    let last = end.pop().map_or(0, |c| c as u32 + 1);
    end.push(char::from_u32(last).unwrap_or(char::MAX));
    end
}

fn state_summary(key: &Key, row: &Row) -> Result<ContactSummary> {
    let item: StateItem = decode(&key.pk, &key.sk, row.data.as_deref())?;
    let profile = match &row.profile {
        Some(p) => Some(decode::<ContactProfile>(&key.pk, &key.sk, Some(p))?),
        None => None,
    };
    summary_of(&key.pk, &key.sk, item, profile)
}

pub(crate) fn summary_of(
    pk: &str,
    sk: &str,
    item: StateItem,
    profile: Option<ContactProfile>,
) -> Result<ContactSummary> {
    let (number, contact) = match (&item.state, item.number, item.contact) {
        (Some(s), _, _) => (s.number.clone(), s.contact.clone()),
        (None, Some(n), Some(c)) => (n, c),
        _ => return Err(StoreError::corrupt(pk, sk, "state item names no contact")),
    };
    let state = item.state.as_ref();
    Ok(ContactSummary {
        number,
        contact,
        status: state.map_or(InboxStatus::Closed, rules::search::status_of),
        assignee: state.and_then(assignee_of).cloned(),
        conversation: state.and_then(|s| s.conversation.as_ref().map(|c| c.id.clone())),
        updated_at: item.updated_at.unwrap_or(Timestamp::EPOCH),
        profile: {
            let mut profile = profile.unwrap_or_default();
            if profile.profile_name.is_none() {
                profile.profile_name = state.and_then(|s| s.profile_name.clone());
            }
            profile
        },
        waiting_since: state
            .and_then(|s| s.conversation.as_ref())
            .and_then(|c| c.unanswered_since),
        unread: state
            .and_then(|s| s.conversation.as_ref())
            .map_or(0, |c| c.unanswered_count),
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and starts its writer
    /// thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(sql_error("open"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|()| conn.pragma_update(None, "busy_timeout", 5000))
            // The checkpointer thread (below) copies most of the WAL back off the writer's path;
            // the writer's own checkpoint then has little left to copy, and completing it is
            // what lets the next write restart the WAL from its beginning (bounded WAL).
            .and_then(|()| conn.pragma_update(None, "wal_autocheckpoint", 8000))
            .and_then(|()| conn.pragma_update(None, "journal_size_limit", 64i64 << 20))
            .and_then(|()| conn.execute_batch(WRITER_PRAGMAS))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .and_then(|()| events::install(&conn))
            .map_err(sql_error("open"))?;
        conn.set_prepared_statement_cache_capacity(64);
        let checkpointer = Connection::open(&path).map_err(sql_error("open"))?;
        checkpointer
            .pragma_update(None, "busy_timeout", 5000)
            .map_err(sql_error("open"))?;
        let (wake, wakes) = mpsc::sync_channel::<()>(1);
        let (writer, jobs) = mpsc::channel();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| StoreError::Backend {
                    operation: "open",
                    message: e.to_string(),
                })
        };
        spawn(
            "sqlite-checkpoint",
            Box::new(move || checkpoint_loop(checkpointer, wakes)),
        )?;
        spawn(
            "sqlite-writer",
            Box::new(move || write_loop(conn, jobs, wake)),
        )?;
        let store = SqliteStore {
            inner: Arc::new(Inner {
                writer,
                readers: Mutex::new(Vec::new()),
                path,
            }),
        };
        let reader = store.open_reader()?;
        lock(&store.inner.readers).push(reader);
        Ok(store)
    }

    /// Opens `./switchboard.db`.
    pub fn open_default() -> Result<Self> {
        Self::open(DEFAULT_PATH)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_error("open"))?;
        conn.pragma_update(None, "busy_timeout", 5000)
            .and_then(|()| conn.pragma_update(None, "query_only", true))
            .map_err(sql_error("open"))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs the read `f` on a read connection, on this thread: one statement on its own, or
    /// several in one deferred transaction (`snapshot`).
    fn read_with<T>(
        &self,
        operation: &'static str,
        snapshot: bool,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let pooled = lock(&self.inner.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = if snapshot {
            conn.unchecked_transaction()
                .map_err(sql_error(operation))
                .and_then(|tx| {
                    let out = f(&tx)?;
                    tx.commit().map_err(sql_error(operation))?;
                    Ok(out)
                })
        } else {
            f(&conn)
        };
        lock(&self.inner.readers).push(conn);
        out
    }

    /// A read of several statements, on one snapshot.
    async fn read<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        self.read_with(operation, true, f)
    }

    fn send(&self, operation: &'static str, job: Box<dyn Job>) -> Result<()> {
        self.inner
            .writer
            .send(job)
            .map_err(|_| StoreError::Backend {
                operation,
                message: "the SQLite writer thread stopped".into(),
            })
    }

    /// Runs the write `f` on the writer thread (inside the next group transaction) and waits
    /// until that transaction committed.
    async fn run<T, F>(&self, operation: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(
            operation,
            Box::new(Task {
                f: Some(f),
                out: None,
                reply,
            }),
        )?;
        answer.await.map_err(|_| StoreError::Retryable {
            operation,
            message: "the group transaction failed; nothing was written".into(),
        })?
    }

    /// Deletes every row whose `expires_at` has passed (TTL clean-up; reads ignore them anyway).
    pub async fn purge_expired(&self, now: Timestamp) -> Result<usize> {
        self.run("purge_expired", move |c| {
            c.execute(
                "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                params![now.unix()],
            )
            .map_err(sql_error("purge_expired"))
        })
        .await
    }

    /// Runs raw SQL (tests use it to plant corrupt rows). Not for product code.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<usize> {
        let sql = sql.to_owned();
        self.run("execute_raw", move |c| {
            c.execute(&sql, []).map_err(sql_error("execute_raw"))
        })
        .await
    }
}

/// A commit with everything computed that does not need the database (keys, index attributes,
/// JSON), done on the caller's thread so the writer only checks and writes.
struct PreparedCommit {
    marker_key: Key,
    state_key: Key,
    expected: Option<i64>,
    version: u64,
    now: i64,
    state_data: String,
    gsi1pk: String,
    gsi1sk: String,
    gsi2pk: Option<String>,
    marker_data: String,
    marker_expires_at: i64,
    /// Log and outreach items: key, JSON, `expires_at`.
    items: Vec<(Key, String, Option<i64>)>,
}

/// The state item as a commit writes it (the same JSON as [`StateItem`], without cloning).
#[derive(Serialize)]
struct CommittedState<'a> {
    state: &'a rules::ContactState,
    #[serde(skip_serializing_if = "Option::is_none")]
    outbox: Option<&'a Outbox>,
    updated_at: Timestamp,
}

fn prepare_commit(commit: Commit) -> Result<PreparedCommit> {
    let number = &commit.next.number;
    let contact = &commit.next.contact;
    if commit.log.len() + commit.outreach.len() > MAX_COMMIT_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a commit writes at most {MAX_COMMIT_ITEMS} log and outreach items"
        )));
    }
    let now = commit.now;
    let status = rules::search::status_of(&commit.next);
    let outbox = (!commit.effects.is_empty()).then(|| Outbox {
        effects: commit
            .effects
            .into_iter()
            .enumerate()
            .map(|(i, effect)| OutboxEffect {
                id: format!("{}#{i}", commit.event_key),
                effect,
            })
            .collect(),
        event_key: commit.event_key.clone(),
    });
    let state_data = encode(&CommittedState {
        state: &commit.next,
        outbox: outbox.as_ref(),
        updated_at: now,
    })?;
    let marker_expires_at = now + DEDUP_TTL;
    let marker_data = encode(&MarkerItem {
        event_key: commit.event_key.clone(),
        at: now,
        expires_at: marker_expires_at,
    })?;
    let mut items = Vec::with_capacity(commit.log.len() + commit.outreach.len());
    for (i, record) in commit.log.into_iter().enumerate() {
        let key = keys::log(number, contact, record.at(), &commit.event_key, i);
        let item = LogItem {
            event_key: commit.event_key.clone(),
            body: record.body.as_ref().map(json_text),
            entry: record.entry,
        };
        items.push((key, encode(&item)?, None));
    }
    for o in commit.outreach {
        let key = keys::outreach(number, contact, &o.record.id);
        let expires_at = o.expires_at.unix();
        let item = OutreachItem {
            record: o.record,
            expires_at: o.expires_at,
        };
        items.push((key, encode(&item)?, Some(expires_at)));
    }
    Ok(PreparedCommit {
        marker_key: keys::dedup(number, contact, &commit.event_key),
        state_key: keys::state(number, contact),
        expected: commit.expected_version.map(|v| v as i64),
        version: commit.expected_version.unwrap_or(0) + 1,
        now: now.unix(),
        state_data,
        gsi1pk: keys::inbox_all(number, status),
        gsi1sk: keys::inbox_sort(now, contact),
        gsi2pk: assignee_of(&commit.next).map(|a| keys::inbox_mine(number, a, status)),
        marker_data,
        marker_expires_at: marker_expires_at.unix(),
        items,
    })
}

/// Checks the dedup marker and the version; nothing is written unless both pass.
fn check_commit(c: &Connection, p: &PreparedCommit) -> Result<Option<CommitOutcome>> {
    let marker: Option<Option<i64>> = c
        .prepare_cached("SELECT expires_at FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut s| {
            s.query_row(params![p.marker_key.pk, p.marker_key.sk], |r| r.get(0))
                .optional()
        })
        .map_err(sql_error("commit"))?;
    if let Some(expires_at) = marker
        && expires_at.is_none_or(|exp| exp > p.now)
    {
        return Ok(Some(CommitOutcome::Duplicate));
    }
    let current: Option<i64> = c
        .prepare_cached("SELECT version FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut s| {
            s.query_row(params![p.state_key.pk, p.state_key.sk], |r| r.get(0))
                .optional()
        })
        .map_err(sql_error("commit"))?
        .flatten();
    if current != p.expected {
        return Ok(Some(CommitOutcome::VersionConflict));
    }
    Ok(None)
}

/// The writes of a checked commit.
fn write_commit(c: &Connection, p: &PreparedCommit) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO items (pk, sk, data, version, gsi1pk, gsi1sk, gsi2pk, gsi2sk)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data, version = excluded.version,
           gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
           gsi2pk = excluded.gsi2pk, gsi2sk = excluded.gsi2sk",
    )?
    .execute(params![
        p.state_key.pk,
        p.state_key.sk,
        p.state_data,
        p.version as i64,
        p.gsi1pk,
        p.gsi1sk,
        p.gsi2pk,
        p.gsi2pk.as_ref().map(|_| &p.gsi1sk),
    ])?;
    let mut put = c.prepare_cached(
        "INSERT INTO items (pk, sk, data, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
    )?;
    put.execute(params![
        p.marker_key.pk,
        p.marker_key.sk,
        p.marker_data,
        p.marker_expires_at
    ])?;
    for (key, data, expires_at) in &p.items {
        put.execute(params![key.pk, key.sk, data, expires_at])?;
    }
    Ok(())
}

/// What a job did to the transaction.
enum Applied {
    /// Done (successfully or not) with nothing to undo.
    Clean,
    /// Failed after writing: undo its savepoint.
    Undo,
    /// Failed after writing, without a savepoint: the whole transaction must roll back.
    Abort,
}

/// A commit job: checks and writes without a savepoint (it writes only after every check
/// passed; a failed write aborts the whole group transaction, so nothing is half-written).
struct CommitJob {
    prepared: PreparedCommit,
    out: Option<Result<CommitOutcome>>,
    reply: tokio::sync::oneshot::Sender<Result<CommitOutcome>>,
}

impl Job for CommitJob {
    fn savepoint(&self) -> bool {
        false
    }

    fn apply(&mut self, c: &Connection) -> Applied {
        let p = &self.prepared;
        match check_commit(c, p) {
            Ok(Some(outcome)) => self.out = Some(Ok(outcome)),
            Err(e) => self.out = Some(Err(e)),
            Ok(None) => match write_commit(c, p) {
                Ok(()) => self.out = Some(Ok(CommitOutcome::Committed { version: p.version })),
                Err(_) => return Applied::Abort,
            },
        }
        Applied::Clean
    }

    fn finish(self: Box<Self>) {
        if let Some(out) = self.out {
            let _ = self.reply.send(out);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writer thread: waits for a job, takes every job queued behind it, applies them all in one
/// transaction. Stops when the store is dropped.
fn write_loop(
    mut conn: Connection,
    jobs: mpsc::Receiver<Box<dyn Job>>,
    checkpoint: mpsc::SyncSender<()>,
) {
    let mut since_checkpoint = 0;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        since_checkpoint += batch.len();
        group_commit(&mut conn, batch);
        if since_checkpoint >= CHECKPOINT_EVERY {
            since_checkpoint = 0;
            let _ = checkpoint.try_send(()); // full: one is already due
        }
    }
}

/// Copies the WAL back into the database file off the writer's path (a passive checkpoint never
/// blocks the writer or the readers). Stops with the writer.
fn checkpoint_loop(conn: Connection, wakes: mpsc::Receiver<()>) {
    while wakes.recv().is_ok() {
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
    }
}

/// Applies `batch` in one transaction, each job in its own savepoint so one job's failure undoes
/// only its own writes. Conditions see the earlier jobs of the batch, exactly as if they had run
/// one after the other. Results are handed out only after the transaction committed; if it
/// fails, the jobs are dropped and every caller sees a retryable error (nothing was written).
fn group_commit(conn: &mut Connection, mut batch: Vec<Box<dyn Job>>) {
    let run = |conn: &mut Connection, batch: &mut [Box<dyn Job>]| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in batch.iter_mut() {
            let savepoint = job.savepoint();
            if savepoint {
                tx.prepare_cached("SAVEPOINT one_job")?.execute([])?;
            }
            let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.apply(&tx)))
                .unwrap_or(Applied::Abort);
            match (applied, savepoint) {
                (Applied::Clean, _) => {}
                (Applied::Undo | Applied::Abort, true) => {
                    tx.prepare_cached("ROLLBACK TO one_job")?.execute([])?;
                }
                (Applied::Undo | Applied::Abort, false) => {
                    return Err(rusqlite::Error::InvalidQuery);
                }
            }
            if savepoint {
                tx.prepare_cached("RELEASE one_job")?.execute([])?;
            }
        }
        tx.commit()
    };
    if run(conn, &mut batch).is_ok() {
        for job in batch {
            job.finish();
        }
    }
}

fn put_outreach_sync(
    c: &Connection,
    number: &BusinessNumberId,
    contact: &ContactKey,
    o: &NewOutreach,
) -> Result<()> {
    let key = keys::outreach(number, contact, &o.record.id);
    let item = OutreachItem {
        record: o.record.clone(),
        expires_at: o.expires_at,
    };
    put_item(c, &key, &item, Some(o.expires_at.unix()))
}

fn load_sync(c: &Connection, pk: String, now: Timestamp) -> Result<LoadedContact> {
    let rows: Vec<(String, Row)> = c
        .prepare_cached(
            "SELECT sk, data, version, expires_at, profile FROM items
             WHERE pk = ?1 AND sk >= ?2 AND sk < ?3",
        )
        .and_then(|mut s| {
            s.query_map(
                params![pk, keys::LOAD_PREFIX, prefix_end(keys::LOAD_PREFIX)],
                |r| {
                    Ok((
                        r.get(0)?,
                        Row {
                            data: r.get(1)?,
                            version: r.get(2)?,
                            expires_at: r.get(3)?,
                            profile: None,
                        },
                    ))
                },
            )?
            .collect()
        })
        .map_err(sql_error("load_contact"))?;
    let mut loaded = LoadedContact::default();
    for (sk, row) in rows {
        if !row.live(Some(now)) {
            continue;
        }
        if sk == keys::STATE_SK {
            let Some(version) = row.version else { continue };
            let item: StateItem = decode(&pk, &sk, row.data.as_deref())?;
            let state = item
                .state
                .ok_or_else(|| StoreError::corrupt(&pk, &sk, "versioned item without state"))?;
            loaded.state = Some(Versioned {
                version: version as u64,
                value: state,
            });
            loaded.outbox = item.outbox;
        } else if sk.starts_with(keys::OUTREACH_PREFIX) {
            let item: OutreachItem = decode(&pk, &sk, row.data.as_deref())?;
            loaded.outreach.push(item.record);
        }
    }
    Ok(loaded)
}

impl ContactStore for SqliteStore {
    async fn load_contact(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        now: Timestamp,
    ) -> Result<LoadedContact> {
        let pk = keys::contact_pk(number, contact);
        self.read_with("load_contact", false, move |c| load_sync(c, pk, now))
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome> {
        let prepared = prepare_commit(commit)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(
            "commit",
            Box::new(CommitJob {
                prepared,
                out: None,
                reply,
            }),
        )?;
        answer.await.map_err(|_| StoreError::Retryable {
            operation: "commit",
            message: "the group transaction failed; nothing was written".into(),
        })?
    }

    async fn pending_effects(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<Option<Outbox>> {
        let key = keys::state(number, contact);
        self.read("pending_effects", move |c| match get_row(c, &key)? {
            Some(row) if row.data.is_some() => {
                let item: StateItem = decode(&key.pk, &key.sk, row.data.as_deref())?;
                Ok(item.outbox)
            }
            _ => Ok(None),
        })
        .await
    }

    async fn mark_effects_done(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        event_key: &EventKey,
    ) -> Result<bool> {
        let key = keys::state(number, contact);
        let event_key = event_key.clone();
        self.run("mark_effects_done", move |c| {
            let Some(row) = get_row(c, &key)? else {
                return Ok(false);
            };
            if row.data.is_none() {
                return Ok(false);
            }
            let mut item: StateItem = decode(&key.pk, &key.sk, row.data.as_deref())?;
            if item.outbox.as_ref().map(|o| &o.event_key) != Some(&event_key) {
                return Ok(false);
            }
            item.outbox = None;
            c.prepare_cached("UPDATE items SET data = ?3 WHERE pk = ?1 AND sk = ?2")
                .and_then(|mut s| s.execute(params![key.pk, key.sk, encode(&item).ok()]))
                .map_err(sql_error("mark_effects_done"))?;
            Ok(true)
        })
        .await
    }
}

impl OutboundStore for SqliteStore {
    async fn claim_send(
        &self,
        idempotency_key: &str,
        number: &BusinessNumberId,
        contact: &ContactKey,
        now: Timestamp,
        body: Option<&serde_json::Value>,
    ) -> Result<SendClaim> {
        let body = body.map(json_text);
        let item = OutboundKeyItem {
            idempotency_key: idempotency_key.to_owned(),
            number: number.clone(),
            contact: contact.clone(),
            claimed_at: now,
            wamid: None,
        };
        self.run("claim_send", move |c| {
            let key = keys::outbound_by_key(&item.idempotency_key);
            if let Some(existing) = get_item::<OutboundKeyItem>(c, &key)? {
                return Ok(SendClaim::AlreadyClaimed {
                    wamid: existing.wamid,
                });
            }
            put_item(c, &key, &item, None)?;
            // The contact's outbound log, in the same transaction.
            let pointer = keys::outbound_pointer(
                &item.number,
                &item.contact,
                item.claimed_at,
                &item.idempotency_key,
            );
            put_item(
                c,
                &pointer,
                &OutboundPointerItem {
                    idempotency_key: item.idempotency_key.clone(),
                    claimed_at: item.claimed_at,
                    body,
                },
                None,
            )?;
            Ok(SendClaim::Claimed)
        })
        .await
    }

    async fn record_sent(
        &self,
        idempotency_key: &str,
        wamid: &MessageId,
        at: Timestamp,
    ) -> Result<()> {
        let key = keys::outbound_by_key(idempotency_key);
        let wamid = wamid.clone();
        self.run("record_sent", move |c| {
            let mut claim = get_item::<OutboundKeyItem>(c, &key)?.ok_or_else(|| {
                StoreError::Invalid(format!("no claim for idempotency key {}", key.pk))
            })?;
            claim.wamid = Some(wamid.clone());
            put_item(c, &key, &claim, None)?;
            let wkey = keys::outbound_by_wamid(&wamid);
            let mut message = get_item::<OutboundMessage>(c, &wkey)?.unwrap_or_default();
            message.wamid = Some(wamid);
            message.idempotency_key = Some(claim.idempotency_key);
            message.number = Some(claim.number);
            message.contact = Some(claim.contact);
            message.sent_at.get_or_insert(at);
            put_item(c, &wkey, &message, None)
        })
        .await
    }

    async fn apply_status(&self, update: &StatusUpdate) -> Result<OutboundMessage> {
        let update = update.clone();
        self.run("apply_status", move |c| {
            let key = keys::outbound_by_wamid(&update.wamid);
            let mut message = get_item::<OutboundMessage>(c, &key)?.unwrap_or_default();
            message.apply(&update);
            put_item(c, &key, &message, None)?;
            Ok(message)
        })
        .await
    }

    async fn outbound_by_wamid(&self, wamid: &MessageId) -> Result<Option<OutboundMessage>> {
        let key = keys::outbound_by_wamid(wamid);
        self.read("outbound_by_wamid", move |c| get_item(c, &key))
            .await
    }

    async fn outbound_by_key(&self, idempotency_key: &str) -> Result<Option<Option<MessageId>>> {
        let key = keys::outbound_by_key(idempotency_key);
        self.read("outbound_by_key", move |c| {
            Ok(get_item::<OutboundKeyItem>(c, &key)?.map(|i| i.wamid))
        })
        .await
    }

    async fn put_outreach(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        outreach: &NewOutreach,
    ) -> Result<()> {
        let (number, contact, outreach) = (number.clone(), contact.clone(), outreach.clone());
        self.run("put_outreach", move |c| {
            put_outreach_sync(c, &number, &contact, &outreach)
        })
        .await
    }
}

impl SettingsStore for SqliteStore {
    async fn settings(&self, number: &BusinessNumberId) -> Result<Option<NumberSettings>> {
        let key = keys::settings(number);
        self.read("settings", move |c| {
            Ok(get_item::<SettingsItem>(c, &key)?.map(|i| i.settings))
        })
        .await
    }

    async fn put_settings(&self, settings: &NumberSettings) -> Result<()> {
        let item = SettingsItem {
            settings: settings.clone(),
        };
        self.run("put_settings", move |c| {
            put_item(c, &keys::settings(&item.settings.number), &item, None)?;
            let entry = NumberEntryItem {
                number: item.settings.number.clone(),
            };
            put_item(c, &keys::number_entry(&entry.number), &entry, None)
        })
        .await
    }

    async fn numbers(&self) -> Result<Vec<BusinessNumberId>> {
        self.read("numbers", |c| {
            Ok(query_range::<NumberEntryItem>(
                c,
                keys::NUMBERS_PK,
                "",
                "\u{10FFFF}",
                false,
                u32::MAX,
            )?
            .into_iter()
            .map(|(_, e)| e.number)
            .collect())
        })
        .await
    }
}

impl AgentStore for SqliteStore {
    async fn put_agent(&self, agent: &AgentId, capacity: u32, online: bool) -> Result<()> {
        let agent = agent.clone();
        self.run("put_agent", move |c| {
            let key = keys::agent(&agent);
            let mut load = get_item::<AgentLoad>(c, &key)?.unwrap_or(AgentLoad {
                agent,
                online,
                open: 0,
                capacity,
            });
            load.capacity = capacity;
            load.online = online;
            put_item(c, &key, &load, None)
        })
        .await
    }

    async fn agents(&self) -> Result<Vec<AgentLoad>> {
        self.read("agents", |c| {
            Ok(
                query_range::<AgentLoad>(c, keys::AGENTS_PK, "", "\u{10FFFF}", false, u32::MAX)?
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect(),
            )
        })
        .await
    }

    async fn take_capacity(
        &self,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> Result<Option<AgentId>> {
        let (agent, marker) = (agent.clone(), keys::capacity_op(op));
        self.run("take_capacity", move |c| {
            if let Some(done) = get_item::<CapacityOpItem>(c, &marker)? {
                return Ok(Some(done.agent));
            }
            if !take_one(c, &agent)? {
                return Ok(None);
            }
            put_op_marker(c, &marker, &agent, None, now)?;
            Ok(Some(agent))
        })
        .await
    }

    async fn take_capacity_by_hand(
        &self,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let (agent, marker) = (agent.clone(), keys::capacity_op(op));
        self.run("take_capacity_by_hand", move |c| {
            if get_item::<CapacityOpItem>(c, &marker)?.is_some() {
                return Ok(false);
            }
            let key = keys::agent(&agent);
            let Some(mut load) = get_item::<AgentLoad>(c, &key)? else {
                return Ok(false);
            };
            load.open += 1;
            put_item(c, &key, &load, None)?;
            put_op_marker(c, &marker, &agent, None, now)?;
            Ok(true)
        })
        .await
    }

    async fn capacity_taken_by(&self, op: &str) -> Result<Option<AgentId>> {
        let marker = keys::capacity_op(op);
        self.read("capacity_taken_by", move |c| {
            Ok(get_item::<CapacityOpItem>(c, &marker)?.map(|m| m.agent))
        })
        .await
    }

    async fn release_capacity(&self, agent: &AgentId, op: &str, now: Timestamp) -> Result<bool> {
        let (agent, marker) = (agent.clone(), keys::capacity_op(op));
        self.run("release_capacity", move |c| {
            if get_item::<CapacityOpItem>(c, &marker)?.is_some() {
                return Ok(false);
            }
            let key = keys::agent(&agent);
            let Some(mut load) = get_item::<AgentLoad>(c, &key)? else {
                return Ok(false);
            };
            if load.open == 0 {
                return Ok(false);
            }
            load.open -= 1;
            put_item(c, &key, &load, None)?;
            put_op_marker(c, &marker, &agent, None, now)?;
            Ok(true)
        })
        .await
    }
}

/// One unit of the agent's capacity, if free.
fn take_one(c: &Connection, agent: &AgentId) -> Result<bool> {
    let key = keys::agent(agent);
    let Some(mut load) = get_item::<AgentLoad>(c, &key)? else {
        return Ok(false);
    };
    if load.open >= load.capacity {
        return Ok(false);
    }
    load.open += 1;
    put_item(c, &key, &load, None)?;
    Ok(true)
}

fn put_op_marker(
    c: &Connection,
    marker: &Key,
    agent: &AgentId,
    entry: Option<QueueEntry>,
    now: Timestamp,
) -> Result<()> {
    let expires_at = now + DEDUP_TTL;
    let item = CapacityOpItem {
        agent: agent.clone(),
        entry,
        expires_at,
    };
    put_item(c, marker, &item, Some(expires_at.unix()))
}

fn queue_position_sync(c: &Connection, pk: &str, entry_sk: &str) -> Result<u32> {
    c.prepare_cached("SELECT COUNT(*) FROM items WHERE pk = ?1 AND sk >= ?2 AND sk <= ?3")
        .and_then(|mut s| {
            s.query_row(params![pk, keys::QUEUE_ENTRY_PREFIX, entry_sk], |r| {
                r.get::<_, u32>(0)
            })
        })
        .map_err(sql_error("queue_position"))
}

impl QueueStore for SqliteStore {
    async fn enqueue(&self, entry: &QueueEntry) -> Result<u32> {
        let entry = entry.clone();
        self.run("enqueue", move |c| {
            let pointer_key = keys::queue_pointer(&entry.number, &entry.conversation);
            let entry_sk = match get_item::<QueuePointerItem>(c, &pointer_key)? {
                Some(p) => p.entry_sk,
                None => {
                    let key =
                        keys::queue_entry(&entry.number, entry.enqueued_at, &entry.conversation);
                    put_item(c, &key, &entry, None)?;
                    put_item(
                        c,
                        &pointer_key,
                        &QueuePointerItem {
                            entry_sk: key.sk.clone(),
                        },
                        None,
                    )?;
                    key.sk
                }
            };
            queue_position_sync(c, &pointer_key.pk, &entry_sk)
        })
        .await
    }

    async fn queue_position(
        &self,
        number: &BusinessNumberId,
        conversation: &ConversationId,
    ) -> Result<Option<u32>> {
        let pointer_key = keys::queue_pointer(number, conversation);
        self.read("queue_position", move |c| {
            match get_item::<QueuePointerItem>(c, &pointer_key)? {
                Some(p) => queue_position_sync(c, &pointer_key.pk, &p.entry_sk).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn queue_head(&self, number: &BusinessNumberId, limit: u32) -> Result<Vec<QueueEntry>> {
        let pk = keys::queue_pk(number);
        self.read("queue_head", move |c| {
            let prefix = keys::QUEUE_ENTRY_PREFIX;
            Ok(
                query_range::<QueueEntry>(c, &pk, prefix, &prefix_end(prefix), false, limit)?
                    .into_iter()
                    .map(|(_, e)| e)
                    .collect(),
            )
        })
        .await
    }

    async fn claim_queue_head(
        &self,
        number: &BusinessNumberId,
        agent: &AgentId,
        op: &str,
        now: Timestamp,
    ) -> Result<Option<QueueEntry>> {
        let (pk, agent, marker) = (keys::queue_pk(number), agent.clone(), keys::capacity_op(op));
        self.run("claim_queue_head", move |c| {
            if let Some(done) = get_item::<CapacityOpItem>(c, &marker)? {
                return Ok(done.entry);
            }
            let prefix = keys::QUEUE_ENTRY_PREFIX;
            let Some((sk, entry)) =
                query_range::<QueueEntry>(c, &pk, prefix, &prefix_end(prefix), false, 1)?
                    .into_iter()
                    .next()
            else {
                return Ok(None);
            };
            if !take_one(c, &agent)? {
                return Ok(None);
            }
            delete_item(c, &Key { pk: pk.clone(), sk })?;
            delete_item(c, &keys::queue_pointer(&entry.number, &entry.conversation))?;
            put_op_marker(c, &marker, &agent, Some(entry.clone()), now)?;
            Ok(Some(entry))
        })
        .await
    }

    async fn leave_queue(
        &self,
        number: &BusinessNumberId,
        conversation: &ConversationId,
    ) -> Result<bool> {
        let pointer_key = keys::queue_pointer(number, conversation);
        self.run("leave_queue", move |c| {
            let Some(p) = get_item::<QueuePointerItem>(c, &pointer_key)? else {
                return Ok(false);
            };
            delete_item(
                c,
                &Key {
                    pk: pointer_key.pk.clone(),
                    sk: p.entry_sk,
                },
            )?;
            delete_item(c, &pointer_key)
        })
        .await
    }
}

impl TemplateStore for SqliteStore {
    async fn put_template(&self, number: &BusinessNumberId, template: &Template) -> Result<()> {
        let key = keys::template(number, &template.name, &template.language);
        let item = TemplateItem {
            template: template.clone(),
        };
        self.run("put_template", move |c| put_item(c, &key, &item, None))
            .await
    }

    async fn template(
        &self,
        number: &BusinessNumberId,
        name: &TemplateName,
        language: &str,
    ) -> Result<Option<Template>> {
        let key = keys::template(number, name, language);
        self.read("template", move |c| {
            Ok(get_item::<TemplateItem>(c, &key)?.map(|i| i.template))
        })
        .await
    }

    async fn templates(&self, number: &BusinessNumberId) -> Result<Vec<Template>> {
        let pk = keys::template_pk(number);
        self.read("templates", move |c| {
            Ok(
                query_range::<TemplateItem>(c, &pk, "", "\u{10FFFF}", false, u32::MAX)?
                    .into_iter()
                    .map(|(_, i)| i.template)
                    .collect(),
            )
        })
        .await
    }
}

fn campaign_record(pk: &str, sk: &str, item: CampaignItem) -> Result<CampaignRecord> {
    Ok(CampaignRecord {
        definition: parse_json_text(pk, sk, &item.definition)?,
        id: item.id,
        number: item.number,
        hopper: item.hopper,
    })
}

fn campaign_row(pk: &str, sk: &str, item: CampaignRowItem) -> Result<CampaignRow> {
    Ok(CampaignRow {
        data: parse_json_text(pk, sk, &item.data)?,
        contact: item.contact,
        stage: item.stage,
    })
}

fn bump(hopper: &mut std::collections::BTreeMap<String, i64>, stage: &str, by: i64) {
    *hopper.entry(stage.to_owned()).or_insert(0) += by;
}

/// Writes a campaign's definition as the next version, keeping the stored hopper counters.
/// `expected`: `Some(None)` the campaign must not exist, `Some(Some(v))` it must be at version
/// `v`, `None` no condition. `Ok(None)`: the condition failed.
fn put_campaign_sync(
    c: &Connection,
    campaign: CampaignRecord,
    expected: Option<Option<u64>>,
) -> Result<Option<u64>> {
    let key = keys::campaign(&campaign.id);
    let current = get_row(c, &key)?;
    let current_version = current.as_ref().map(|r| r.version.map_or(0, |v| v as u64));
    if let Some(expected) = expected
        && expected != current_version
    {
        return Ok(None);
    }
    let hopper = match current {
        Some(row) => decode::<CampaignItem>(&key.pk, &key.sk, row.data.as_deref())?.hopper,
        None => campaign.hopper.clone(),
    };
    let item = CampaignItem {
        id: campaign.id,
        number: campaign.number,
        definition: json_text(&campaign.definition),
        hopper,
    };
    let version = current_version.unwrap_or(0) + 1;
    let data = encode(&item)?;
    c.prepare_cached(
        "INSERT INTO items (pk, sk, data, version) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data, version = excluded.version",
    )
    .and_then(|mut s| s.execute(params![key.pk, key.sk, data, version as i64]))
    .map_err(sql_error("put"))?;
    Ok(Some(version))
}

impl CampaignStore for SqliteStore {
    async fn put_campaign(&self, campaign: &CampaignRecord) -> Result<()> {
        let campaign = campaign.clone();
        self.run("put_campaign", move |c| {
            put_campaign_sync(c, campaign, None).map(|_| ())
        })
        .await
    }

    async fn versioned_campaign(
        &self,
        id: &CampaignId,
    ) -> Result<Option<Versioned<CampaignRecord>>> {
        let key = keys::campaign(id);
        self.read("versioned_campaign", move |c| match get_row(c, &key)? {
            Some(row) => {
                let item: CampaignItem = decode(&key.pk, &key.sk, row.data.as_deref())?;
                Ok(Some(Versioned {
                    version: row.version.map_or(0, |v| v as u64),
                    value: campaign_record(&key.pk, &key.sk, item)?,
                }))
            }
            None => Ok(None),
        })
        .await
    }

    async fn put_campaign_if(
        &self,
        campaign: &CampaignRecord,
        expected: Option<u64>,
    ) -> Result<Option<u64>> {
        let campaign = campaign.clone();
        self.run("put_campaign_if", move |c| {
            put_campaign_sync(c, campaign, Some(expected))
        })
        .await
    }

    async fn campaign(&self, id: &CampaignId) -> Result<Option<CampaignRecord>> {
        let key = keys::campaign(id);
        self.read("campaign", move |c| {
            match get_item::<CampaignItem>(c, &key)? {
                Some(item) => campaign_record(&key.pk, &key.sk, item).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn add_campaign_row(&self, id: &CampaignId, row: &CampaignRow) -> Result<bool> {
        let (id, row) = (id.clone(), row.clone());
        self.run("add_campaign_row", move |c| {
            let key = keys::campaign(&id);
            let row_key = keys::campaign_row(&id, &row.contact);
            let Some(mut campaign) = get_item::<CampaignItem>(c, &key)? else {
                return Err(StoreError::Invalid(format!("no campaign {id}")));
            };
            if get_row(c, &row_key)?.is_some() {
                return Ok(false);
            }
            let item = CampaignRowItem {
                contact: row.contact,
                stage: row.stage,
                data: json_text(&row.data),
            };
            put_item(c, &row_key, &item, None)?;
            bump(&mut campaign.hopper, &item.stage, 1);
            put_item(c, &key, &campaign, None)?;
            Ok(true)
        })
        .await
    }

    async fn move_campaign_row(
        &self,
        id: &CampaignId,
        from: &str,
        row: &CampaignRow,
    ) -> Result<bool> {
        let (id, row, from) = (id.clone(), row.clone(), from.to_owned());
        self.run("move_campaign_row", move |c| {
            let key = keys::campaign(&id);
            let row_key = keys::campaign_row(&id, &row.contact);
            let Some(existing) = get_item::<CampaignRowItem>(c, &row_key)? else {
                return Ok(false);
            };
            if existing.stage != from {
                return Ok(false);
            }
            let Some(mut campaign) = get_item::<CampaignItem>(c, &key)? else {
                return Err(StoreError::Invalid(format!("no campaign {id}")));
            };
            let item = CampaignRowItem {
                contact: row.contact,
                stage: row.stage,
                data: json_text(&row.data),
            };
            put_item(c, &row_key, &item, None)?;
            if item.stage != from {
                bump(&mut campaign.hopper, &from, -1);
                bump(&mut campaign.hopper, &item.stage, 1);
                put_item(c, &key, &campaign, None)?;
            }
            Ok(true)
        })
        .await
    }

    async fn campaign_rows(
        &self,
        id: &CampaignId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<CampaignRow>> {
        let pk = keys::campaign_pk(id);
        let lo = match cursor {
            Some(c) => format!("{c}\u{1}"),
            None => keys::CAMPAIGN_ROW_PREFIX.to_owned(),
        };
        self.read("campaign_rows", move |c| {
            let hi = prefix_end(keys::CAMPAIGN_ROW_PREFIX);
            let rows =
                query_range::<CampaignRowItem>(c, &pk, &lo, &hi, false, limit.saturating_add(1))?;
            page(rows, limit, |sk, item| campaign_row(&pk, &sk, item))
        })
        .await
    }
}

/// Turns `limit + 1` fetched rows into a page whose cursor is the last returned sort key.
pub(crate) fn page<I, T>(
    rows: Vec<(String, I)>,
    limit: u32,
    mut map: impl FnMut(String, I) -> Result<T>,
) -> Result<Page<T>> {
    let more = rows.len() > limit as usize;
    let mut items = Vec::with_capacity(rows.len().min(limit as usize));
    let mut last = None;
    for (sk, item) in rows.into_iter().take(limit as usize) {
        last = Some(sk.clone());
        items.push(map(sk, item)?);
    }
    Ok(Page {
        items,
        next: if more { last } else { None },
    })
}

impl LedgerStore for SqliteStore {
    async fn add_to_ledger(
        &self,
        number: &BusinessNumberId,
        day: Date,
        category: &str,
        side: LedgerSide,
        count: i64,
        micros: i64,
    ) -> Result<()> {
        let key = keys::ledger(number, day, category, "");
        let fresh = LedgerLine {
            number: Some(number.clone()),
            day: day.to_string(),
            category: category.to_owned(),
            ..LedgerLine::default()
        };
        self.run("add_to_ledger", move |c| {
            let mut line = get_item::<LedgerLine>(c, &key)?.unwrap_or(fresh);
            match side {
                LedgerSide::Predicted => {
                    line.predicted_count += count;
                    line.predicted_micros += micros;
                }
                LedgerSide::Reported => {
                    line.reported_count += count;
                    line.reported_micros += micros;
                }
            }
            put_item(c, &key, &line, None)
        })
        .await
    }

    async fn ledger(
        &self,
        number: &BusinessNumberId,
        from: Date,
        to: Date,
    ) -> Result<Vec<LedgerLine>> {
        let pk = keys::ledger_pk(number);
        let (lo, hi) = (format!("{from}#"), format!("{to}$"));
        self.read("ledger", move |c| {
            Ok(
                query_range::<LedgerLine>(c, &pk, &lo, &hi, false, u32::MAX)?
                    .into_iter()
                    .map(|(_, l)| l)
                    .collect(),
            )
        })
        .await
    }

    async fn rates(&self) -> Result<Option<RateTable>> {
        self.read("rates", |c| {
            Ok(get_item::<RatesItem>(c, &keys::rates())?.map(|i| i.table))
        })
        .await
    }

    async fn put_rates(&self, table: &RateTable) -> Result<()> {
        let item = RatesItem {
            table: table.clone(),
        };
        self.run("put_rates", move |c| {
            put_item(c, &keys::rates(), &item, None)
        })
        .await
    }
}
impl ConsoleStore for SqliteStore {
    async fn put_profile(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        profile: &ContactProfile,
        now: Timestamp,
    ) -> Result<()> {
        let key = keys::state(number, contact);
        let fresh = StateItem {
            number: Some(number.clone()),
            contact: Some(contact.clone()),
            updated_at: Some(now),
            ..StateItem::default()
        };
        let gsi1pk = keys::inbox_all(number, InboxStatus::Closed);
        let gsi1sk = keys::inbox_sort(now, contact);
        let profile = profile.clone();
        self.run("put_profile", move |c| {
            let data = encode(&fresh)?;
            let profile = encode(&profile)?;
            c.prepare_cached(
                "INSERT INTO items (pk, sk, data, profile, gsi1pk, gsi1sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (pk, sk) DO UPDATE SET profile = excluded.profile",
            )
            .and_then(|mut s| s.execute(params![key.pk, key.sk, data, profile, gsi1pk, gsi1sk]))
            .map_err(sql_error("put_profile"))?;
            Ok(())
        })
        .await
    }

    async fn contact_summary(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<Option<ContactSummary>> {
        let key = keys::state(number, contact);
        self.read("contact_summary", move |c| match get_row(c, &key)? {
            Some(row) => state_summary(&key, &row).map(Some),
            None => Ok(None),
        })
        .await
    }

    async fn search_contacts(&self, search: &ContactSearch) -> Result<Page<ContactSummary>> {
        let (index_pk, sql) = match &search.scope {
            Scope::All => (
                keys::inbox_all(&search.number, search.status),
                "SELECT pk, sk, data, profile, gsi1sk FROM items
                 WHERE gsi1pk = ?1 AND (?2 IS NULL OR gsi1sk < ?2) ORDER BY gsi1sk DESC",
            ),
            Scope::Mine(agent) => (
                keys::inbox_mine(&search.number, agent, search.status),
                "SELECT pk, sk, data, profile, gsi2sk FROM items
                 WHERE gsi2pk = ?1 AND (?2 IS NULL OR gsi2sk < ?2) ORDER BY gsi2sk DESC",
            ),
        };
        let cursor = search.cursor.clone();
        let term = search.text.as_deref().and_then(SearchTerm::parse);
        let limit = search.limit as usize;
        self.read("search_contacts", move |c| {
            let mut stmt = c
                .prepare_cached(sql)
                .map_err(sql_error("search_contacts"))?;
            let mut rows = stmt
                .query(params![index_pk, cursor])
                .map_err(sql_error("search_contacts"))?;
            let mut found: Vec<(String, ContactSummary)> = Vec::new();
            while let Some(r) = rows.next().map_err(sql_error("search_contacts"))? {
                let read = |i| r.get::<_, Option<String>>(i);
                let (pk, sk, sort) = (
                    read(0)
                        .map_err(sql_error("search_contacts"))?
                        .unwrap_or_default(),
                    read(1)
                        .map_err(sql_error("search_contacts"))?
                        .unwrap_or_default(),
                    read(4)
                        .map_err(sql_error("search_contacts"))?
                        .unwrap_or_default(),
                );
                let row = Row {
                    data: read(2).map_err(sql_error("search_contacts"))?,
                    version: None,
                    expires_at: None,
                    profile: read(3).map_err(sql_error("search_contacts"))?,
                };
                let summary = state_summary(&Key { pk, sk }, &row)?;
                if let Some(term) = &term
                    && !term.matches(&search_fields(&summary.contact, Some(&summary.profile)))
                {
                    continue;
                }
                found.push((sort, summary));
                if found.len() > limit {
                    break;
                }
            }
            page(found, limit as u32, |_, s| Ok(s))
        })
        .await
    }

    async fn message_log(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<LoggedMessage>> {
        let pk = keys::contact_pk(number, contact);
        let hi = cursor.map_or_else(|| prefix_end(keys::LOG_PREFIX), str::to_owned);
        self.read("message_log", move |c| {
            let rows = query_range::<LogItem>(
                c,
                &pk,
                keys::LOG_PREFIX,
                &hi,
                true,
                limit.saturating_add(1),
            )?;
            page(rows, limit, |sk, item| logged(&pk, &sk, item))
        })
        .await
    }

    async fn outbound_log(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
        from: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboundEntry>> {
        let pk = keys::contact_pk(number, contact);
        self.read("outbound_log", move |c| {
            outbound_log_sync(c, &pk, from, until, limit)
        })
        .await
    }
}

/// The console's outbound log: pointers in `[from, until)`, newest first, joined to their claims
/// and messages.
fn outbound_log_sync(
    c: &Connection,
    pk: &str,
    from: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<OutboundEntry>> {
    let lo = format!("{}{}", keys::OUTBOUND_LOG_PREFIX, keys::time(from));
    let hi = format!("{}{}", keys::OUTBOUND_LOG_PREFIX, keys::time(until));
    let pointers = query_range::<OutboundPointerItem>(c, pk, &lo, &hi, true, limit)?;
    let mut out = Vec::with_capacity(pointers.len());
    for (sk, pointer) in pointers {
        let body = match &pointer.body {
            Some(text) => Some(parse_json_text(pk, &sk, text)?),
            None => None,
        };
        let claim =
            get_item::<OutboundKeyItem>(c, &keys::outbound_by_key(&pointer.idempotency_key))?;
        let message = match claim.and_then(|claim| claim.wamid) {
            Some(wamid) => get_item::<OutboundMessage>(c, &keys::outbound_by_wamid(&wamid))?,
            None => None,
        };
        // SEND-5: not accepted (yet): the send record says why.
        let unsent = match &message {
            Some(_) => None,
            None => crate::sqlite::sending::send_state(c, &pointer.idempotency_key)?,
        };
        out.push(OutboundEntry {
            idempotency_key: pointer.idempotency_key,
            claimed_at: pointer.claimed_at,
            body,
            message,
            unsent,
        });
    }
    Ok(out)
}

pub(crate) fn logged(pk: &str, sk: &str, item: LogItem) -> Result<LoggedMessage> {
    let body = match &item.body {
        Some(text) => Some(parse_json_text(pk, sk, text)?),
        None => None,
    };
    Ok(LoggedMessage {
        event_key: item.event_key,
        record: LogRecord {
            entry: item.entry,
            body,
        },
    })
}

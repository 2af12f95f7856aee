//! The console alone on a local address, over a temporary SQLite store, in-process queues and the
//! template-submission twin: for trying the API and for schemathesis (`scripts/schemathesis`)
//! until the local runner serves it. Tokens from `CONSOLE_TOKENS` (`agent:role:token,…`).
//!
//! `cargo run -p console --example serve -- 127.0.0.1:3001 [store.db]` (Ctrl-C stops it).

use console::{Console, StaticTokens, SubmitterTwin};
use queue::MemoryQueue;
use rules::outreach::OutreachKey;
use std::sync::Arc;
use store::SqliteStore;
use timers::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3001".to_owned());
    let tokens = StaticTokens::parse(&std::env::var("CONSOLE_TOKENS").map_err(
        |_| "set CONSOLE_TOKENS=agent:role:token (at least one admin for a full tour)",
    )?)?;
    let path = std::env::args().nth(2).map_or_else(
        || std::env::temp_dir().join(format!("console-serve-{}.db", std::process::id())),
        std::path::PathBuf::from,
    );
    let app = console::app(Console {
        store: SqliteStore::open(&path)?,
        queue: Arc::new(MemoryQueue::new()),
        submitter: Arc::new(SubmitterTwin::new()),
        identity: Arc::new(tokens),
        clock: Arc::new(SystemClock),
        outreach_key: OutreachKey::new(b"local-example-key".to_vec()),
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("console on http://{addr}/v1 (store {})", path.display());
    axum::serve(listener, app).await?;
    Ok(())
}

//! # ingest
//!
//! Meta's webhook behind API Gateway: verify the signature, parse, normalise into events, queue them,
//! and answer. It decides nothing and writes no state; it answers 200 only once every event is
//! queued (HOOK-5).
//!
//! - [`webhook`]: the core, free of Lambda: request parts in, response out, over any
//!   [`queue::EventQueue`] (the local runner reuses it);
//! - [`handler`]: the Lambda translation (API Gateway HTTP API v2 and REST v1 payloads);
//! - [`config`]: settings read once from the environment.

pub mod config;
pub mod handler;
pub mod webhook;

pub use config::Config;
pub use webhook::{
    Prepared, Rejection, Webhook, WebhookRequest, WebhookResponse, handle, handle_at, prepare,
};

//! # The timers function
//!
//! EventBridge Scheduler's target (TIME-1). Each invocation carries one wake-up payload
//! ([`timers::WakeUp`]); the function checks it and puts its `TimerFired` event onto the inbound
//! FIFO queue in the contact's message group, the lane of the contact's messages (TIME-3), with
//! the event's key as the deduplication id. It decides nothing: the router applies TIME-2 (a stale
//! token does nothing).
//!
//! - [`handler`]: payload → event → queue; a payload that is not a wake-up is logged and dropped
//!   (retrying cannot fix it), a queue failure is an error so that Scheduler retries, then
//!   dead-letters.
//! - [`config`]: `INBOUND_QUEUE_URL`, read once at cold start.

pub mod config;
pub mod handler;

pub use config::{Config, ConfigError};
pub use handler::{HandlerError, Outcome, deliver, handle};

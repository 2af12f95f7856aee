//! # Switchboard rules
//!
//! The whole product logic of Switchboard as a pure, synchronous, clock-free library: no I/O, no
//! async runtime, no environment, no clock. Every function takes `now` and state as arguments and
//! returns decisions as data; the shells in `functions/` execute them.
//!
//! Rule IDs from `SPEC.md` appear in the tests that prove them (`grep -r OUT-EXP-2`). Choices the
//! specification leaves open are written down in `DECISIONS.md` beside this crate's `Cargo.toml`.

pub mod agents;
pub mod billing;
pub mod campaign;
pub mod channel;
pub mod effect;
pub mod engine;
pub mod event;
pub mod events;
pub mod ids;
pub mod media;
pub mod outreach;
pub mod pacing;
pub mod recipe;
pub mod search;
pub mod send_error;
pub mod sending;
pub mod settings;
pub mod state;
pub mod templates;
pub mod time;
pub mod window;

pub use effect::{Decision, Effect, LogEntry, Notice, OutboundContent, SendPurpose, SendRequest};
pub use engine::{Context, decide};
pub use event::{AgentAction, BotAction, Event, Inbound, InboundContent};
pub use ids::*;
pub use settings::NumberSettings;
pub use state::{ContactState, Handler, TimerKind};
pub use time::{Date, Duration, Timestamp};
pub use window::{WindowKind, WindowStatus, window};

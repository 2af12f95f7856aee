//! # Switchboard rules
//!
//! The whole product logic of Switchboard as a pure, synchronous, clock-free library: no I/O, no
//! async runtime, no environment, no clock. Every function takes `now` and state as arguments and
//! returns decisions as data; the shells in `functions/` execute them.
//!
//! Rule IDs from `SPEC.md` appear in the tests that prove them (`grep -r OUT-EXP-2`). Choices the
//! specification leaves open are written down in `DECISIONS.md` beside this crate's `Cargo.toml`.

pub mod billing;
pub mod campaign;
pub mod ids;
pub mod pacing;
pub mod send_error;
pub mod templates;
pub mod time;

pub use ids::*;
pub use time::{Date, Duration, Timestamp};

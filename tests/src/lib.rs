//! Switchboard's cross-function and end-to-end tests.
//!
//! - [`fixture`]: the shared fixtures (`tests/fixtures`);
//! - [`Deployment`]: what a story needs from a running Switchboard; [`aws::AwsPath`] is the AWS
//!   path (the Lambda handlers over moto), [`local::LocalPath`] the local runner (`switchboard
//!   serve` on loopback);
//! - [`stories`]: one end-to-end story per seed, written once, run on every deployment;
//! - [`webhooks`]: Meta's webhook bodies for the stories;
//! - [`proxy`]: the counting proxy in front of moto (goal P3).

pub mod aws;
pub mod clock;
pub mod deployment;
pub mod iam;
pub mod local;
pub mod proxy;
pub mod stories;
pub mod template;
pub mod webhooks;

pub use deployment::{APP_SECRET, Deployment, Reply, START, TOKENS, VERIFY_TOKEN};

use std::path::PathBuf;

/// The folder holding the shared fixtures (`tests/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Reads a fixture file by its path under `tests/fixtures`, panicking with the path when missing
/// (a missing fixture is a broken test, not a condition to handle).
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = fixtures_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

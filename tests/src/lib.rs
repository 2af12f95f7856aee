//! Shared helpers for Switchboard's cross-function tests: fixture paths and loading.

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

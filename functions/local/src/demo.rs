//! `switchboard demo`.

use std::process::ExitCode;

pub async fn run() -> ExitCode {
    ExitCode::FAILURE
}

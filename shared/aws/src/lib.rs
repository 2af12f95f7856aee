//! # aws_wiring
//!
//! Configuration wiring shared by every function, used once at cold start by each `config.rs`:
//!
//! - [`required`] / [`optional`] / [`parsed`]: typed environment settings; a missing or bad one is
//!   a [`ConfigError`] that names the variable.
//! - [`secret`] / [`secrets`]: a secret is read from `<NAME>` when that is set (the local runner,
//!   `cargo lambda watch`), else from the Secrets Manager secret whose ARN is in `<NAME>_ARN` (how
//!   `infra/template.yaml` passes every secret: never a plain value in the template). One
//!   `GetSecretValue` per secret, all of a function's secrets fetched concurrently, and the
//!   Secrets Manager client is built only when some secret comes by ARN.
//! - [`rotating::RotatingSecret`]: a secret read again from Secrets Manager after a TTL, so a
//!   rotated access token or outreach key is used without a redeploy.
//! - [`Secret`]: the value, redacted in `Debug` and `Display` so it cannot reach a log by accident.
//! - [`sdk_config`]: the one `SdkConfig` of a function, as `aws_config::load_from_env()` loads it
//!   (region, credentials, `AWS_ENDPOINT_URL`…) but with [`https::client`], whose TLS trusts the
//!   webpki roots compiled into the binary instead of reading the system's certificate store at
//!   cold start (the largest part of a function's init; see `infra/README.md`, "cold start").
//!
//! - [`telemetry`]: the log subscriber (JSON, each line with its invocation's X-Ray trace id) and
//!   the EMF metrics recorder every function installs in `main`.
//!
//! Every function has the `*_from` twin taking an [`Env`], so tests pass a map instead of
//! mutating the process environment.
//!
//! ```
//! use aws_wiring::{ConfigError, Env, SecretSource};
//! let env = Env::from_lookup(|name: &str| match name {
//!     "INBOUND_QUEUE_URL" => Some("http://127.0.0.1:5005/1/inbound.fifo".to_owned()),
//!     "WHATSAPP_APP_SECRET_ARN" => Some("arn:aws:secretsmanager:us-east-1:1:secret:app".to_owned()),
//!     _ => None,
//! });
//! assert_eq!(env.required("INBOUND_QUEUE_URL").unwrap(), "http://127.0.0.1:5005/1/inbound.fifo");
//! assert_eq!(env.optional("WHATSAPP_GRAPH_VERSION", "v23.0"), "v23.0");
//! assert!(matches!(env.secret_source("WHATSAPP_APP_SECRET"), Ok(SecretSource::Arn(_))));
//! assert_eq!(
//!     env.secret_source("OUTREACH_KEY").unwrap_err(),
//!     ConfigError::MissingSecret("OUTREACH_KEY")
//! );
//! ```

mod env;
pub mod https;
pub mod rotating;
mod secret;
pub mod telemetry;

pub use env::{Env, ProcessEnv, optional, parsed, required};
pub use secret::{
    Secret, SecretSource, SecretsManager, secret, secret_from, secrets, secrets_from,
};

/// The SDK configuration a function loads once at cold start and shares between its clients:
/// `aws_config`'s default chains (environment, profile, container and instance credentials;
/// `AWS_ENDPOINT_URL` and the per-service endpoint variables) with [`https::client`] as the HTTP
/// client of every SDK client and of the credential providers. No request is made here.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https::client())
        .load()
        .await
}

/// Why a function cannot start. Every variant names the environment variable to fix; none carries
/// a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (or is empty)")]
    Missing(&'static str),
    #[error("environment variable {name}: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error("secret {0}: set {0} (the value, locally) or {0}_ARN (a Secrets Manager secret ARN)")]
    MissingSecret(&'static str),
    #[error(
        "secret {name}: {name}_ARN is not a Secrets Manager secret ARN (arn:…:secretsmanager:…)"
    )]
    NotAnArn { name: &'static str },
    #[error("secret {name}: reading {arn} (from {name}_ARN) failed: {problem}")]
    Fetch {
        name: &'static str,
        arn: String,
        problem: String,
    },
    #[error(
        "secret {name}: {arn} (from {name}_ARN) has no text value (SecretString), or it is empty"
    )]
    NotText { name: &'static str, arn: String },
}

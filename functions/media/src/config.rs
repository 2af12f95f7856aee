//! The media function's settings, read once at cold start; a missing or bad one stops the
//! function with its name. The access token is a secret: plain (`WHATSAPP_ACCESS_TOKEN`) locally
//! or by Secrets Manager ARN (`WHATSAPP_ACCESS_TOKEN_ARN`) in AWS.

use aws_wiring::{Env, Secret};

pub use aws_wiring::ConfigError;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

#[derive(Debug, Clone)]
pub struct Config {
    /// The media bucket (MEDIA-1: where fetched files are kept).
    pub bucket: String,
    /// The media queue: failed fetches go back on it with their delay.
    pub media_queue_url: String,
    /// A fetch given up is noted in the contact's log through its lane.
    pub inbound_queue_url: String,
    /// Redacted in `Debug` and `Display`.
    pub access_token: Secret,
    /// Without the version, without a trailing slash.
    pub graph_url: String,
    pub graph_version: String,
}

impl Config {
    /// From the process environment; `sdk` is used only for a secret given by ARN.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Config, ConfigError> {
        Config::load_from(&Env::process(), sdk).await
    }

    /// From `env` (the environment, or a map in tests). Every plain variable is checked before
    /// the secret is fetched.
    pub async fn load_from<F>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let bucket = env.required("MEDIA_BUCKET")?;
        let media_queue_url = env.required_url("MEDIA_QUEUE_URL")?;
        let inbound_queue_url = env.required_url("INBOUND_QUEUE_URL")?;
        let graph_url = env.optional_url("WHATSAPP_GRAPH_URL", DEFAULT_GRAPH_URL)?;
        let graph_version = env.graph_version("WHATSAPP_GRAPH_VERSION", DEFAULT_GRAPH_VERSION)?;
        let access_token = aws_wiring::secret_from(env, sdk, "WHATSAPP_ACCESS_TOKEN").await?;
        Ok(Config {
            bucket,
            media_queue_url,
            inbound_queue_url,
            access_token,
            graph_url,
            graph_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[tokio::test]
    async fn every_setting_is_required_and_the_token_is_never_printed() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let full: HashMap<&str, &str> = [
            ("MEDIA_BUCKET", "switchboard-media"),
            ("MEDIA_QUEUE_URL", "http://127.0.0.1:5005/1/media"),
            ("INBOUND_QUEUE_URL", "http://127.0.0.1:5005/1/inbound.fifo"),
            ("WHATSAPP_ACCESS_TOKEN", "very-secret-token"),
        ]
        .into();
        let env = Env::from_lookup(|k: &str| full.get(k).map(|v| v.to_string()));
        let config = Config::load_from(&env, &sdk).await.unwrap();
        assert_eq!(config.graph_url, DEFAULT_GRAPH_URL);
        assert!(!format!("{config:?}").contains("very-secret-token"));
        for name in full.keys() {
            let env = Env::from_lookup(|k: &str| {
                (k != *name)
                    .then(|| full.get(k).map(|v| v.to_string()))
                    .flatten()
            });
            let error = Config::load_from(&env, &sdk).await.unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}

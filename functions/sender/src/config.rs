//! The sender's settings, read once at cold start; a missing or bad one stops the function with
//! its name.
//!
//! Queue URLs and the table are plain variables; the access token and the outreach key are
//! secrets, plain (`WHATSAPP_ACCESS_TOKEN`, `OUTREACH_KEY`) locally or by Secrets Manager ARN
//! (`<NAME>_ARN`) in AWS — `aws_wiring` is the one place that knows where a secret comes from.

use aws_wiring::{Env, Secret};
use rules::outreach::OutreachKey;

pub use aws_wiring::ConfigError;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub outbound_queue_url: String,
    pub updates_queue_url: String,
    /// Where `OutreachSent` lane events go (the router opens campaign interactions in order).
    pub inbound_queue_url: String,
    /// Redacted in `Debug` and `Display`.
    pub access_token: Secret,
    pub outreach_key: OutreachKey,
    /// Without the version, without a trailing slash.
    pub graph_url: String,
    pub graph_version: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("outbound_queue_url", &self.outbound_queue_url)
            .field("updates_queue_url", &self.updates_queue_url)
            .field("inbound_queue_url", &self.inbound_queue_url)
            .field("access_token", &self.access_token)
            .field("outreach_key", &"<redacted>")
            .field("graph_url", &self.graph_url)
            .field("graph_version", &self.graph_version)
            .finish()
    }
}

impl Config {
    /// From the process environment; `sdk` is used only for a secret given by ARN.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Config, ConfigError> {
        Config::load_from(&Env::process(), sdk).await
    }

    /// From `env` (the environment, or a map in tests). Every plain variable is checked before
    /// any secret is fetched.
    pub async fn load_from<F>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let table_name = env.required("TABLE_NAME")?;
        let outbound_queue_url = env.required_url("OUTBOUND_QUEUE_URL")?;
        let updates_queue_url = env.required_url("UPDATES_QUEUE_URL")?;
        let inbound_queue_url = env.required_url("INBOUND_QUEUE_URL")?;
        let graph_url = env.optional_url("WHATSAPP_GRAPH_URL", DEFAULT_GRAPH_URL)?;
        let graph_version = env.graph_version("WHATSAPP_GRAPH_VERSION", DEFAULT_GRAPH_VERSION)?;
        let [access_token, outreach_key] =
            aws_wiring::secrets_from(env, sdk, ["WHATSAPP_ACCESS_TOKEN", "OUTREACH_KEY"]).await?;
        Ok(Config {
            table_name,
            outbound_queue_url,
            updates_queue_url,
            inbound_queue_url,
            access_token,
            outreach_key: OutreachKey::new(outreach_key.into_inner().into_bytes()),
            graph_url,
            graph_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    fn full() -> HashMap<&'static str, String> {
        HashMap::from([
            ("TABLE_NAME", "switchboard".to_owned()),
            (
                "OUTBOUND_QUEUE_URL",
                "http://127.0.0.1:5005/1/outbound".to_owned(),
            ),
            (
                "UPDATES_QUEUE_URL",
                "http://127.0.0.1:5005/1/updates".to_owned(),
            ),
            (
                "INBOUND_QUEUE_URL",
                "http://127.0.0.1:5005/1/inbound.fifo".to_owned(),
            ),
            ("WHATSAPP_ACCESS_TOKEN", "token-value".to_owned()),
            ("OUTREACH_KEY", "outreach-key".to_owned()),
        ])
    }

    async fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        let env = Env::from_lookup(|name: &str| vars.get(name).cloned());
        Config::load_from(&env, &sdk()).await
    }

    #[tokio::test]
    async fn every_setting_is_named_when_missing_and_secrets_are_never_printed() {
        let config = load(&full()).await.unwrap();
        assert_eq!(config.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(config.graph_version, DEFAULT_GRAPH_VERSION);
        assert_eq!(config.access_token.expose(), "token-value");
        let shown = format!("{config:?}");
        assert!(!shown.contains("token-value") && !shown.contains("outreach-key"));
        for name in full().keys() {
            let mut vars = full();
            vars.remove(name);
            let error = load(&vars).await.unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[tokio::test]
    async fn bad_urls_and_versions_are_refused_with_the_name() {
        let mut vars = full();
        vars.insert("WHATSAPP_GRAPH_URL", "graph.local".into());
        let error = load(&vars).await.unwrap_err();
        assert!(error.to_string().contains("WHATSAPP_GRAPH_URL"), "{error}");
        let mut vars = full();
        vars.insert("WHATSAPP_GRAPH_URL", "http://127.0.0.1:9/".into());
        vars.insert("WHATSAPP_GRAPH_VERSION", "23".into());
        let error = load(&vars).await.unwrap_err();
        assert!(
            error.to_string().contains("WHATSAPP_GRAPH_VERSION"),
            "{error}"
        );
        vars.insert("WHATSAPP_GRAPH_VERSION", "v24.0".into());
        assert_eq!(load(&vars).await.unwrap().graph_url, "http://127.0.0.1:9");
    }
}

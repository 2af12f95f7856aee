//! The sender's settings, read once at cold start; a missing one stops the function with its name.
//!
//! Secrets (`WHATSAPP_ACCESS_TOKEN`, `OUTREACH_KEY`) are plain variables here; in AWS they arrive
//! as `<NAME>_ARN` (a Secrets Manager ARN) and [`Config::from_lookup`] is given a lookup that
//! resolves them — the only place that knows where a secret comes from.

use rules::outreach::OutreachKey;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub outbound_queue_url: String,
    pub updates_queue_url: String,
    /// Where `OutreachSent` lane events go (the router opens campaign interactions in order).
    pub inbound_queue_url: String,
    pub access_token: String,
    pub outreach_key: OutreachKey,
    pub graph_url: String,
    pub graph_version: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("outbound_queue_url", &self.outbound_queue_url)
            .field("updates_queue_url", &self.updates_queue_url)
            .field("inbound_queue_url", &self.inbound_queue_url)
            .field("graph_url", &self.graph_url)
            .field("graph_version", &self.graph_version)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (or is empty)")]
    Missing(&'static str),
    #[error("{name} must be an http(s) URL, got {value:?}")]
    NotAUrl { name: &'static str, value: String },
    #[error("WHATSAPP_GRAPH_VERSION must look like v23.0, got {0:?}")]
    BadVersion(String),
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, a secret resolver, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let value = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let get = |name: &'static str| value(name).ok_or(ConfigError::Missing(name));
        let url = |name: &'static str, v: String| {
            if v.starts_with("https://") || v.starts_with("http://") {
                Ok(v.trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::NotAUrl { name, value: v })
            }
        };
        let graph_url = url(
            "WHATSAPP_GRAPH_URL",
            value("WHATSAPP_GRAPH_URL").unwrap_or_else(|| DEFAULT_GRAPH_URL.to_owned()),
        )?;
        let graph_version =
            value("WHATSAPP_GRAPH_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.to_owned());
        let well_formed = graph_version
            .strip_prefix('v')
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'));
        if !well_formed {
            return Err(ConfigError::BadVersion(graph_version));
        }
        Ok(Config {
            table_name: get("TABLE_NAME")?,
            outbound_queue_url: url("OUTBOUND_QUEUE_URL", get("OUTBOUND_QUEUE_URL")?)?,
            updates_queue_url: url("UPDATES_QUEUE_URL", get("UPDATES_QUEUE_URL")?)?,
            inbound_queue_url: url("INBOUND_QUEUE_URL", get("INBOUND_QUEUE_URL")?)?,
            access_token: get("WHATSAPP_ACCESS_TOKEN")?,
            outreach_key: OutreachKey::new(get("OUTREACH_KEY")?.into_bytes()),
            graph_url,
            graph_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> HashMap<&'static str, String> {
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

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_for_the_graph_api_and_every_required_variable_named() {
        let config = load(&env()).unwrap();
        assert_eq!(config.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(config.graph_version, DEFAULT_GRAPH_VERSION);
        assert!(!format!("{config:?}").contains("token-value"));
        for name in [
            "TABLE_NAME",
            "OUTBOUND_QUEUE_URL",
            "UPDATES_QUEUE_URL",
            "INBOUND_QUEUE_URL",
            "WHATSAPP_ACCESS_TOKEN",
            "OUTREACH_KEY",
        ] {
            let mut vars = env();
            vars.insert(name, "  ".into());
            assert_eq!(load(&vars).unwrap_err(), ConfigError::Missing(name));
        }
    }

    #[test]
    fn bad_urls_and_versions_are_refused_with_the_name() {
        let mut vars = env();
        vars.insert("WHATSAPP_GRAPH_URL", "graph.local".into());
        assert!(matches!(
            load(&vars),
            Err(ConfigError::NotAUrl {
                name: "WHATSAPP_GRAPH_URL",
                ..
            })
        ));
        let mut vars = env();
        vars.insert("WHATSAPP_GRAPH_URL", "http://127.0.0.1:9/".into());
        vars.insert("WHATSAPP_GRAPH_VERSION", "23".into());
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::BadVersion("23".into())
        );
        vars.insert("WHATSAPP_GRAPH_VERSION", "v24.0".into());
        assert_eq!(load(&vars).unwrap().graph_url, "http://127.0.0.1:9");
    }
}

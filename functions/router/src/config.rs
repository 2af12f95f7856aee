//! The function's settings, read once at cold start; a missing one stops the function with its name.

use rules::outreach::OutreachKey;

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub inbound_queue_url: String,
    pub outbound_queue_url: String,
    /// OUT-8's key. Never logged (`Debug` is redacted).
    pub outreach_key: OutreachKey,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("inbound_queue_url", &self.inbound_queue_url)
            .field("outbound_queue_url", &self.outbound_queue_url)
            .field("outreach_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (or is empty)")]
    Missing(&'static str),
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        Ok(Config {
            table_name: get("TABLE_NAME")?,
            inbound_queue_url: get("INBOUND_QUEUE_URL")?,
            outbound_queue_url: get("OUTBOUND_QUEUE_URL")?,
            outreach_key: OutreachKey::new(get("OUTREACH_KEY")?.into_bytes()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_setting_is_required_and_the_key_is_never_printed() {
        let full: HashMap<&str, &str> = [
            ("TABLE_NAME", "switchboard"),
            ("INBOUND_QUEUE_URL", "http://q/inbound.fifo"),
            ("OUTBOUND_QUEUE_URL", "http://q/outbound"),
            ("OUTREACH_KEY", "very-secret-key"),
        ]
        .into();
        let config = Config::from_lookup(|k| full.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.table_name, "switchboard");
        assert!(!format!("{config:?}").contains("very-secret-key"));
        for name in full.keys() {
            let missing = Config::from_lookup(|k| (k != *name).then(|| full[k].to_string()));
            assert_eq!(missing.unwrap_err(), ConfigError::Missing(name));
        }
    }
}

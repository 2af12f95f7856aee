//! The function's settings, read once at cold start; a missing one stops the function with its name.

use whatsapp::AppSecret;

#[derive(Debug, Clone)]
pub struct Config {
    pub app_secret: AppSecret,
    pub verify_token: String,
    pub inbound_queue_url: String,
    pub updates_queue_url: String,
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
            app_secret: AppSecret::new(get("WHATSAPP_APP_SECRET")?),
            verify_token: get("WHATSAPP_VERIFY_TOKEN")?,
            inbound_queue_url: get("INBOUND_QUEUE_URL")?,
            updates_queue_url: get("UPDATES_QUEUE_URL")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_setting_is_required() {
        let full: HashMap<&str, &str> = [
            ("WHATSAPP_APP_SECRET", "s"),
            ("WHATSAPP_VERIFY_TOKEN", "t"),
            ("INBOUND_QUEUE_URL", "http://q/inbound.fifo"),
            ("UPDATES_QUEUE_URL", "http://q/updates"),
        ]
        .into();
        let config = Config::from_lookup(|k| full.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.verify_token, "t");
        for name in full.keys() {
            let missing = Config::from_lookup(|k| (k != *name).then(|| full[k].to_string()));
            assert_eq!(missing.unwrap_err(), ConfigError::Missing(name));
            let empty = Config::from_lookup(|k| {
                Some(if k == *name {
                    " ".to_string()
                } else {
                    full[k].to_string()
                })
            });
            assert_eq!(empty.unwrap_err(), ConfigError::Missing(name));
        }
    }
}

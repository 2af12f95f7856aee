//! The function's settings, read once at cold start; a missing one stops the function with its
//! name. Secrets (`OUTREACH_KEY`, `WHATSAPP_ACCESS_TOKEN`) are never logged.

use crate::auth::{JwtClaims, StaticTokens, TokenSpecError};
use rules::outreach::OutreachKey;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub inbound_queue_url: String,
    pub outbound_queue_url: String,
    /// OUT-8: the key of outreach button payloads.
    pub outreach_key: OutreachKey,
    /// For template submission to Meta.
    pub access_token: String,
    pub graph_url: String,
    pub graph_version: String,
    /// Local only: `CONSOLE_TOKENS`. Without it, callers are identified by the JWT authorizer's
    /// claims (AWS).
    pub tokens: Option<StaticTokens>,
    /// The JWT claim holding the role (`CONSOLE_ROLE_CLAIM`, default `role`).
    pub role_claim: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("inbound_queue_url", &self.inbound_queue_url)
            .field("outbound_queue_url", &self.outbound_queue_url)
            .field("graph_url", &self.graph_url)
            .field("graph_version", &self.graph_version)
            .field("tokens", &self.tokens.is_some())
            .field("role_claim", &self.role_claim)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (or is empty)")]
    Missing(&'static str),
    #[error(transparent)]
    Tokens(#[from] TokenSpecError),
    #[error("CONSOLE_TOKENS declares no token")]
    NoTokens,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let optional = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let get = |name: &'static str| optional(name).ok_or(ConfigError::Missing(name));
        let tokens = match optional("CONSOLE_TOKENS") {
            Some(spec) => {
                let tokens = StaticTokens::parse(&spec)?;
                if tokens.is_empty() {
                    return Err(ConfigError::NoTokens);
                }
                Some(tokens)
            }
            None => None,
        };
        Ok(Config {
            table_name: get("TABLE_NAME")?,
            inbound_queue_url: get("INBOUND_QUEUE_URL")?,
            outbound_queue_url: get("OUTBOUND_QUEUE_URL")?,
            outreach_key: OutreachKey::new(get("OUTREACH_KEY")?.into_bytes()),
            access_token: get("WHATSAPP_ACCESS_TOKEN")?,
            graph_url: optional("WHATSAPP_GRAPH_URL").unwrap_or_else(|| DEFAULT_GRAPH_URL.into()),
            graph_version: optional("WHATSAPP_GRAPH_VERSION")
                .unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into()),
            tokens,
            role_claim: optional("CONSOLE_ROLE_CLAIM")
                .unwrap_or_else(|| JwtClaims::DEFAULT_ROLE_CLAIM.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> HashMap<&'static str, &'static str> {
        [
            ("TABLE_NAME", "switchboard"),
            ("INBOUND_QUEUE_URL", "http://q/inbound.fifo"),
            ("OUTBOUND_QUEUE_URL", "http://q/outbound"),
            ("OUTREACH_KEY", "k"),
            ("WHATSAPP_ACCESS_TOKEN", "t"),
        ]
        .into()
    }

    #[test]
    fn every_required_setting_is_named_when_missing_and_defaults_apply() {
        let map = full();
        let config = Config::from_lookup(|k| map.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(config.graph_version, DEFAULT_GRAPH_VERSION);
        assert_eq!(config.role_claim, "role");
        assert!(config.tokens.is_none());
        assert!(!format!("{config:?}").contains("\"t\""));
        for name in map.keys() {
            let missing =
                Config::from_lookup(|k| (k != *name).then(|| map.get(k).map(|v| v.to_string()))?);
            assert_eq!(missing.unwrap_err(), ConfigError::Missing(name));
        }
    }

    #[test]
    fn console_tokens_are_parsed_once() {
        let mut map = full();
        map.insert("CONSOLE_TOKENS", "ana:agent:0123456789abcdef");
        let config = Config::from_lookup(|k| map.get(k).map(|v| v.to_string())).unwrap();
        assert!(config.tokens.is_some());
        map.insert("CONSOLE_TOKENS", "ana:boss:0123456789abcdef");
        assert_eq!(
            Config::from_lookup(|k| map.get(k).map(|v| v.to_string())).unwrap_err(),
            ConfigError::Tokens(TokenSpecError::Role(1))
        );
    }
}

//! The function's settings, read once at cold start; a missing one stops the function with its name.

use aws_wiring::Env;

pub use aws_wiring::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The inbound FIFO queue (the one ingest writes customer events to).
    pub inbound_queue_url: String,
}

impl Config {
    pub const INBOUND_QUEUE_URL: &'static str = "INBOUND_QUEUE_URL";

    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env::from_lookup(lookup);
        Ok(Config {
            inbound_queue_url: env.required(Self::INBOUND_QUEUE_URL)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbound_queue_is_required() {
        let url = "http://127.0.0.1:5005/123456789012/inbound.fifo";
        assert_eq!(
            Config::from_lookup(|_| Some(url.to_owned())),
            Ok(Config {
                inbound_queue_url: url.to_owned()
            })
        );
        for missing in [None, Some(String::new()), Some("  ".to_owned())] {
            assert_eq!(
                Config::from_lookup(|_| missing.clone()),
                Err(ConfigError::Missing("INBOUND_QUEUE_URL"))
            );
        }
    }
}

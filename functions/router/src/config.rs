//! The function's settings, read once at cold start; a missing one stops the function with its name.
//!
//! The table and queue URLs are plain variables. The outreach key (OUT-8) is a secret: plain
//! (`OUTREACH_KEY`) locally, or a Secrets Manager ARN (`OUTREACH_KEY_ARN`) in AWS.

use aws_wiring::Env;
use rules::outreach::OutreachKey;

pub use aws_wiring::ConfigError;

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub inbound_queue_url: String,
    pub outbound_queue_url: String,
    /// MEDIA-1: where inbound media fetch jobs go (`MEDIA_QUEUE_URL`; without it, none are made).
    pub media_queue_url: Option<String>,
    /// OUT-8's key. Never logged (`Debug` is redacted).
    pub outreach_key: OutreachKey,
    /// OPS-3: the schedules' names, keyed by a key derived from the same secret (no secret of
    /// their own to deploy).
    pub schedule_names: timers::ScheduleNames,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("inbound_queue_url", &self.inbound_queue_url)
            .field("outbound_queue_url", &self.outbound_queue_url)
            .field("media_queue_url", &self.media_queue_url)
            .field("outreach_key", &"<redacted>")
            .finish()
    }
}

impl Config {
    /// From the process environment; `sdk` is used only for a secret given by ARN.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Config, ConfigError> {
        Config::load_from(&Env::process(), sdk).await
    }

    /// From `env` (the environment, or a map in tests). Every variable is checked before the
    /// secret is fetched.
    pub async fn load_from<F>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let table_name = env.required("TABLE_NAME")?;
        let inbound_queue_url = env.required("INBOUND_QUEUE_URL")?;
        let outbound_queue_url = env.required("OUTBOUND_QUEUE_URL")?;
        let media_queue_url = env.get("MEDIA_QUEUE_URL");
        let key = aws_wiring::secret_from(env, sdk, "OUTREACH_KEY").await?;
        Ok(Config {
            table_name,
            inbound_queue_url,
            outbound_queue_url,
            media_queue_url,
            schedule_names: timers::ScheduleNames::derived_from(key.expose().as_bytes()),
            outreach_key: OutreachKey::new(key.into_inner().into_bytes()),
        })
    }
}

/// OUT-8's key from the secret as read: the current value, and the value before the last
/// rotation for its grace period ([`rules::outreach::previous_key_until`]) when Secrets Manager
/// says when the rotation happened.
pub fn outreach_key_of(rotation: &aws_wiring::rotating::Rotation) -> OutreachKey {
    let key = OutreachKey::new(rotation.current.expose().as_bytes().to_vec());
    match (&rotation.previous, rotation.rotated_at) {
        (Some(previous), Some(at)) => key.with_previous(
            previous.expose().as_bytes().to_vec(),
            rules::outreach::previous_key_until(rules::Timestamp::from_unix(at)),
        ),
        _ => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[tokio::test]
    async fn every_setting_is_required_and_the_key_is_never_printed() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let full: HashMap<&str, &str> = [
            ("TABLE_NAME", "switchboard"),
            ("INBOUND_QUEUE_URL", "http://q/inbound.fifo"),
            ("OUTBOUND_QUEUE_URL", "http://q/outbound"),
            ("OUTREACH_KEY", "very-secret-key"),
        ]
        .into();
        let env = Env::from_lookup(|k: &str| full.get(k).map(|v| v.to_string()));
        let config = Config::load_from(&env, &sdk).await.unwrap();
        assert_eq!(config.table_name, "switchboard");
        assert!(!format!("{config:?}").contains("very-secret-key"));
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

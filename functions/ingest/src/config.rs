//! The function's settings, read once at cold start; a missing one stops the function with its name.
//!
//! The queue URLs are plain variables. The app secret and the verify token are secrets: plain
//! (`WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`) locally, or Secrets Manager ARNs
//! (`WHATSAPP_APP_SECRET_ARN`, `WHATSAPP_VERIFY_TOKEN_ARN`) in AWS, both fetched concurrently.

use crate::Webhook;
use aws_wiring::{Env, Secret};
use whatsapp::AppSecret;

pub use aws_wiring::ConfigError;

#[derive(Debug, Clone)]
pub struct Config {
    pub app_secret: AppSecret,
    pub verify_token: Secret,
    pub inbound_queue_url: String,
    pub updates_queue_url: String,
}

impl Config {
    pub const APP_SECRET: &'static str = "WHATSAPP_APP_SECRET";
    pub const VERIFY_TOKEN: &'static str = "WHATSAPP_VERIFY_TOKEN";
    pub const INBOUND_QUEUE_URL: &'static str = "INBOUND_QUEUE_URL";
    pub const UPDATES_QUEUE_URL: &'static str = "UPDATES_QUEUE_URL";

    /// From the process environment; `sdk` is used only for secrets given by ARN.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Config, ConfigError> {
        Config::load_from(&Env::process(), sdk).await
    }

    /// From `env` (the environment, or a map in tests). Every variable is checked before any
    /// secret is fetched.
    pub async fn load_from<F>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let inbound_queue_url = env.required(Self::INBOUND_QUEUE_URL)?;
        let updates_queue_url = env.required(Self::UPDATES_QUEUE_URL)?;
        let [app_secret, verify_token] =
            aws_wiring::secrets_from(env, sdk, [Self::APP_SECRET, Self::VERIFY_TOKEN]).await?;
        Ok(Config {
            app_secret: AppSecret::new(app_secret.into_inner()),
            verify_token,
            inbound_queue_url,
            updates_queue_url,
        })
    }

    /// The webhook core's settings.
    pub fn webhook(&self) -> Webhook {
        Webhook {
            secret: self.app_secret.clone(),
            verify_token: self.verify_token.expose().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> HashMap<&'static str, &'static str> {
        [
            ("WHATSAPP_APP_SECRET", "s"),
            ("WHATSAPP_VERIFY_TOKEN", "t"),
            ("INBOUND_QUEUE_URL", "http://q/inbound.fifo"),
            ("UPDATES_QUEUE_URL", "http://q/updates"),
        ]
        .into()
    }

    async fn load(map: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        // No region or credentials: any Secrets Manager call would fail, so plain values make none.
        let sdk = aws_config::SdkConfig::builder().build();
        Config::load_from(
            &Env::from_lookup(|k: &str| map.get(k).map(|v| v.to_string())),
            &sdk,
        )
        .await
    }

    #[tokio::test]
    async fn every_setting_is_required() {
        let map = full();
        let config = load(&map).await.unwrap();
        assert_eq!(config.verify_token.expose(), "t");
        assert_eq!(config.webhook().verify_token, "t");
        assert_eq!(config.updates_queue_url, "http://q/updates");
        for name in ["INBOUND_QUEUE_URL", "UPDATES_QUEUE_URL"] {
            for value in [None, Some(" ")] {
                let mut m = full();
                match value {
                    None => m.remove(name),
                    Some(v) => m.insert(name, v),
                };
                assert_eq!(load(&m).await.unwrap_err(), ConfigError::Missing(name));
            }
        }
        for name in ["WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"] {
            let mut m = full();
            m.remove(name);
            assert_eq!(
                load(&m).await.unwrap_err(),
                ConfigError::MissingSecret(name)
            );
        }
    }

    #[tokio::test]
    async fn a_secret_arn_must_be_an_arn_and_secrets_never_show_in_debug() {
        let mut m = full();
        m.remove("WHATSAPP_VERIFY_TOKEN");
        m.insert("WHATSAPP_VERIFY_TOKEN_ARN", "not-an-arn");
        assert_eq!(
            load(&m).await.unwrap_err(),
            ConfigError::NotAnArn {
                name: "WHATSAPP_VERIFY_TOKEN"
            }
        );
        let debug = format!("{:?}", load(&full()).await.unwrap());
        assert!(
            !debug.contains("\"t\"") && !debug.contains("\"s\""),
            "{debug}"
        );
    }
}

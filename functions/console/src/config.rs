//! The function's settings, read once at cold start; a missing or bad one stops the function with
//! its name.
//!
//! Plain variables: `TABLE_NAME`, `INBOUND_QUEUE_URL`, `OUTBOUND_QUEUE_URL`, `WHATSAPP_GRAPH_URL`
//! (default `https://graph.facebook.com`), `WHATSAPP_GRAPH_VERSION` (default `v23.0`),
//! `CONSOLE_ROLE_CLAIM` (default `role`), the dead-letter queues (OPS-4, each optional:
//! `INBOUND_DLQ_URL`, `OUTBOUND_DLQ_URL`, `UPDATES_DLQ_URL` with `UPDATES_QUEUE_URL` and
//! `MEDIA_DLQ_URL` with `MEDIA_QUEUE_URL`, where their letters go back to; `TIMER_DLQ_URL`, the
//! wake-ups Scheduler could not deliver, which go back to the inbound queue as `TimerFired`
//! events) and, locally only, `CONSOLE_TOKENS`. Secrets
//! (`WHATSAPP_ACCESS_TOKEN`, `OUTREACH_KEY`) come through `aws_wiring` like every function's:
//! `<NAME>` plain locally, or `<NAME>_ARN`, a Secrets Manager secret read once (how
//! `infra/template.yaml` passes them). Secrets are never logged.

use crate::auth::{JwtClaims, StaticTokens};
use aws_wiring::{Env, Secret};
use rules::outreach::OutreachKey;

pub use aws_wiring::ConfigError;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub inbound_queue_url: String,
    pub outbound_queue_url: String,
    /// OUT-8: the key of outreach button payloads.
    pub outreach_key: OutreachKey,
    /// For template submission to Meta. Redacted in `Debug`.
    pub access_token: Secret,
    /// Without the version, without a trailing slash.
    pub graph_url: String,
    pub graph_version: String,
    /// Local only: `CONSOLE_TOKENS`. Without it, callers are identified by the JWT authorizer's
    /// claims (AWS).
    pub tokens: Option<StaticTokens>,
    /// The JWT claim holding the role (`CONSOLE_ROLE_CLAIM`, default `role`).
    pub role_claim: String,
    /// OPS-4: the dead-letter queues admins list and redeliver, each with its source queue.
    pub dead_letter_queues: Vec<queue::DeadLetterQueue>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("inbound_queue_url", &self.inbound_queue_url)
            .field("outbound_queue_url", &self.outbound_queue_url)
            .field("outreach_key", &"<redacted>")
            .field("access_token", &self.access_token)
            .field("graph_url", &self.graph_url)
            .field("graph_version", &self.graph_version)
            .field("tokens", &self.tokens.is_some())
            .field("role_claim", &self.role_claim)
            .field("dead_letter_queues", &self.dead_letter_queues.len())
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
        let inbound_queue_url = env.required_url("INBOUND_QUEUE_URL")?;
        let outbound_queue_url = env.required_url("OUTBOUND_QUEUE_URL")?;
        let graph_url = env.optional_url("WHATSAPP_GRAPH_URL", DEFAULT_GRAPH_URL)?;
        let graph_version = env.graph_version("WHATSAPP_GRAPH_VERSION", DEFAULT_GRAPH_VERSION)?;
        let tokens = match env.get("CONSOLE_TOKENS").filter(|v| !v.trim().is_empty()) {
            Some(spec) => {
                // The error names the entry, never a token.
                let tokens = StaticTokens::parse(&spec).map_err(|e| ConfigError::Invalid {
                    name: "CONSOLE_TOKENS",
                    problem: e.to_string(),
                })?;
                if tokens.is_empty() {
                    return Err(ConfigError::Invalid {
                        name: "CONSOLE_TOKENS",
                        problem: "declares no token".into(),
                    });
                }
                Some(tokens)
            }
            None => None,
        };
        let role_claim = env.optional("CONSOLE_ROLE_CLAIM", JwtClaims::DEFAULT_ROLE_CLAIM);
        let dead_letter_queues = dead_letter_queues(env, &inbound_queue_url, &outbound_queue_url)?;
        let [access_token, outreach_key] =
            aws_wiring::secrets_from(env, sdk, ["WHATSAPP_ACCESS_TOKEN", "OUTREACH_KEY"]).await?;
        Ok(Config {
            table_name,
            inbound_queue_url,
            outbound_queue_url,
            outreach_key: OutreachKey::new(outreach_key.into_inner().into_bytes()),
            access_token,
            graph_url,
            graph_version,
            tokens,
            role_claim,
            dead_letter_queues,
        })
    }
}

/// The dead-letter queues named in `env`, each with the queue its letters go back to.
fn dead_letter_queues<F>(
    env: &Env<F>,
    inbound_queue_url: &str,
    outbound_queue_url: &str,
) -> Result<Vec<queue::DeadLetterQueue>, ConfigError>
where
    F: Fn(&str) -> Option<String>,
{
    use queue::Destination;
    let mut queues = Vec::new();
    for (queue, dlq, source) in [
        (Destination::Inbound, "INBOUND_DLQ_URL", None),
        (
            Destination::Updates,
            "UPDATES_DLQ_URL",
            Some("UPDATES_QUEUE_URL"),
        ),
        (Destination::Outbound, "OUTBOUND_DLQ_URL", None),
        (Destination::Media, "MEDIA_DLQ_URL", Some("MEDIA_QUEUE_URL")),
    ] {
        if env.get(dlq).is_none_or(|v| v.trim().is_empty()) {
            continue;
        }
        let source_url = match (queue, source) {
            (_, Some(name)) => env.required_url(name)?,
            (Destination::Inbound, None) => inbound_queue_url.to_owned(),
            _ => outbound_queue_url.to_owned(),
        };
        queues.push(queue::DeadLetterQueue {
            queue,
            dlq_url: env.required_url(dlq)?,
            source_url,
            translation: None,
        });
    }
    // The timers' wake-ups: not inbound messages themselves, rewritten by the timers crate.
    if env
        .get("TIMER_DLQ_URL")
        .is_some_and(|v| !v.trim().is_empty())
    {
        queues.push(timers::dead_letter_queue(
            env.required_url("TIMER_DLQ_URL")?,
            inbound_queue_url,
        ));
    }
    Ok(queues)
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
        [
            ("TABLE_NAME", "switchboard"),
            ("INBOUND_QUEUE_URL", "http://127.0.0.1:5005/1/inbound.fifo"),
            ("OUTBOUND_QUEUE_URL", "http://127.0.0.1:5005/1/outbound"),
            ("OUTREACH_KEY", "outreach-key-value"),
            ("WHATSAPP_ACCESS_TOKEN", "token-value"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect()
    }

    async fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        let env = Env::from_lookup(|name: &str| vars.get(name).cloned());
        Config::load_from(&env, &sdk()).await
    }

    #[tokio::test]
    async fn every_required_setting_is_named_when_missing_and_defaults_apply() {
        let config = load(&full()).await.unwrap();
        assert_eq!(config.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(config.graph_version, DEFAULT_GRAPH_VERSION);
        assert_eq!(config.role_claim, "role");
        assert_eq!(config.access_token.expose(), "token-value");
        assert!(config.tokens.is_none());
        let shown = format!("{config:?}");
        assert!(!shown.contains("token-value") && !shown.contains("outreach-key-value"));
        for name in full().keys() {
            let mut vars = full();
            vars.remove(name);
            let error = load(&vars).await.unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[tokio::test]
    async fn ops_4_dead_letter_queues_are_optional_each_with_its_source() {
        assert!(load(&full()).await.unwrap().dead_letter_queues.is_empty());
        let mut vars = full();
        vars.insert(
            "INBOUND_DLQ_URL",
            "http://127.0.0.1:5005/1/inbound-dlq.fifo".into(),
        );
        vars.insert(
            "UPDATES_DLQ_URL",
            "http://127.0.0.1:5005/1/updates-dlq".into(),
        );
        // The updates queue is where its letters go back to: named when missing.
        let error = load(&vars).await.unwrap_err().to_string();
        assert!(error.contains("UPDATES_QUEUE_URL"), "{error}");
        vars.insert(
            "UPDATES_QUEUE_URL",
            "http://127.0.0.1:5005/1/updates".into(),
        );
        let queues = load(&vars).await.unwrap().dead_letter_queues;
        let pairs: Vec<_> = queues
            .iter()
            .map(|q| (q.queue, q.dlq_url.as_str(), q.source_url.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                (
                    queue::Destination::Inbound,
                    "http://127.0.0.1:5005/1/inbound-dlq.fifo",
                    "http://127.0.0.1:5005/1/inbound.fifo"
                ),
                (
                    queue::Destination::Updates,
                    "http://127.0.0.1:5005/1/updates-dlq",
                    "http://127.0.0.1:5005/1/updates"
                ),
            ]
        );
        // The media queue's (MEDIA-1) goes back to the media queue, named when missing.
        vars.insert("MEDIA_DLQ_URL", "http://127.0.0.1:5005/1/media-dlq".into());
        let error = load(&vars).await.unwrap_err().to_string();
        assert!(error.contains("MEDIA_QUEUE_URL"), "{error}");
        vars.insert("MEDIA_QUEUE_URL", "http://127.0.0.1:5005/1/media".into());
        let media = load(&vars).await.unwrap().dead_letter_queues.pop().unwrap();
        assert_eq!(
            (media.queue, media.source_url.as_str()),
            (queue::Destination::Media, "http://127.0.0.1:5005/1/media")
        );
        // The timers' wake-ups go back to the inbound queue, named `timers` (OPS-4).
        vars.insert("TIMER_DLQ_URL", "http://127.0.0.1:5005/1/timers-dlq".into());
        let timers = load(&vars).await.unwrap().dead_letter_queues.pop().unwrap();
        assert_eq!(
            (timers.name(), timers.queue, timers.source_url.as_str()),
            (
                "timers",
                queue::Destination::Inbound,
                "http://127.0.0.1:5005/1/inbound.fifo"
            )
        );
        assert!(timers.translation.is_some());
        vars.insert("TIMER_DLQ_URL", "timers".into());
        let error = load(&vars).await.unwrap_err().to_string();
        assert!(error.contains("TIMER_DLQ_URL"), "{error}");
        vars.remove("TIMER_DLQ_URL");
        vars.insert("OUTBOUND_DLQ_URL", "not a url".into());
        let error = load(&vars).await.unwrap_err().to_string();
        assert!(error.contains("OUTBOUND_DLQ_URL"), "{error}");
    }

    #[tokio::test]
    async fn console_tokens_are_parsed_once_and_bad_values_are_named() {
        let mut vars = full();
        vars.insert("CONSOLE_TOKENS", "ana:agent:0123456789abcdef".into());
        assert!(load(&vars).await.unwrap().tokens.is_some());
        vars.insert("CONSOLE_TOKENS", "ana:boss:0123456789abcdef".into());
        let error = load(&vars).await.unwrap_err().to_string();
        assert!(
            error.contains("CONSOLE_TOKENS") && error.contains("entry 1"),
            "{error}"
        );
        assert!(!error.contains("0123456789abcdef"), "{error}");
        let mut vars = full();
        vars.insert("WHATSAPP_GRAPH_URL", "graph.local".into());
        assert!(
            load(&vars)
                .await
                .unwrap_err()
                .to_string()
                .contains("WHATSAPP_GRAPH_URL")
        );
        let mut vars = full();
        vars.insert("WHATSAPP_GRAPH_VERSION", "23".into());
        assert!(
            load(&vars)
                .await
                .unwrap_err()
                .to_string()
                .contains("WHATSAPP_GRAPH_VERSION")
        );
    }
}

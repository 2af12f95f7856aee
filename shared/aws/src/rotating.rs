//! Secrets that rotate: a rotated access token or outreach key is picked up without a redeploy.
//!
//! A [`RotatingSecret`] keeps the value it read and reads it again from Secrets Manager once it is
//! older than its time to live; a plain secret (local runs) never changes. When a refresh fails,
//! the value it has is kept and the next call tries again (Secrets Manager being briefly
//! unreachable must not stop sending); only a secret that was never read is an error.
//!
//! AWS's `aws_secretsmanager_caching` crate does the same with an LRU of many secrets, but it
//! brings `aws-config` and `aws-sdk-secretsmanager` with their default features, the SDK's second
//! (legacy) TLS stack this workspace keeps out (see the root Cargo.toml); one secret per cache
//! over the client the function already has is all the functions need.

use crate::{ConfigError, Env, Secret, SecretSource, SecretsManager};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a value read from Secrets Manager is used before it is read again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// The clock the cache ages its value by (a test moves it).
pub type Now = Arc<dyn Fn() -> Instant + Send + Sync>;

enum Source {
    Plain(Secret),
    Arn {
        manager: SecretsManager,
        arn: String,
    },
}

/// One secret, read again after its TTL (see the module doc).
pub struct RotatingSecret {
    name: &'static str,
    source: Source,
    ttl: Duration,
    now: Now,
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

impl std::fmt::Debug for RotatingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingSecret")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RotatingSecret {
    /// Secret `name` through `env` (`<NAME>` plain, else `<NAME>_ARN`), read at once so that a
    /// missing or unreadable secret stops the function at cold start, then every `ttl`.
    pub async fn load<F>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
        name: &'static str,
        ttl: Duration,
    ) -> Result<RotatingSecret, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let source = match env.secret_source(name)? {
            SecretSource::Plain(secret) => Source::Plain(secret),
            SecretSource::Arn(arn) => Source::Arn {
                manager: SecretsManager::new(sdk),
                arn,
            },
        };
        let secret = RotatingSecret {
            name,
            source,
            ttl,
            now: Arc::new(Instant::now),
            cached: tokio::sync::Mutex::new(None),
        };
        secret.get().await?;
        Ok(secret)
    }

    /// Ages the cached value by `now` instead of the system's monotonic clock.
    pub fn with_clock(mut self, now: Now) -> RotatingSecret {
        let read_at = (now)();
        self.cached = tokio::sync::Mutex::new(
            self.cached
                .into_inner()
                .map(|(secret, _)| (secret, read_at)),
        );
        self.now = now;
        self
    }

    /// The current value: the cached one while it is younger than the TTL, else read again (one
    /// `GetSecretValue`; concurrent callers wait for that one read).
    pub async fn get(&self) -> Result<Secret, ConfigError> {
        let (manager, arn) = match &self.source {
            Source::Plain(secret) => return Ok(secret.clone()),
            Source::Arn { manager, arn } => (manager, arn),
        };
        let mut cached = self.cached.lock().await;
        let now = (self.now)();
        if let Some((secret, read_at)) = cached.as_ref()
            && now.saturating_duration_since(*read_at) < self.ttl
        {
            return Ok(secret.clone());
        }
        match manager.fetch(self.name, arn).await {
            Ok(secret) => {
                *cached = Some((secret.clone(), now));
                Ok(secret)
            }
            Err(error) => match cached.as_ref() {
                Some((secret, _)) => {
                    tracing::warn!(secret = self.name, %error, "refreshing the secret failed; the value read before stays in use");
                    Ok(secret.clone())
                }
                None => Err(error),
            },
        }
    }
}

impl RotatingSecret {
    /// Reads the secret again every TTL, in the background, and hands each value read to `apply`
    /// (a client's token setter). On Lambda the task runs while the function is thawed: after a
    /// pause the first invocation's tick reads it. Nothing to do for a plain secret.
    pub fn keep_applying<A>(self, apply: A) -> Option<tokio::task::JoinHandle<()>>
    where
        A: Fn(&Secret) + Send + 'static,
    {
        if matches!(self.source, Source::Plain(_)) || self.ttl.is_zero() {
            return None;
        }
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.ttl);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                // A failed read keeps (and returns) the value read before: applying it again is
                // harmless.
                if let Ok(secret) = self.get().await {
                    apply(&secret);
                }
            }
        }))
    }
}

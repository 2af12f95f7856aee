//! Secrets that rotate: a rotated access token or outreach key is picked up without a redeploy.
//!
//! A [`RotatingSecret`] keeps the value it read and reads it again from Secrets Manager once it is
//! older than its time to live; a plain secret (local runs) never changes. When a refresh fails,
//! the value it has is kept and the next call tries again (Secrets Manager being briefly
//! unreachable must not stop sending); only a secret that was never read is an error.
//!
//! A secret loaded [`RotatingSecret::load_with_previous`] also reads the version before the current
//! one (Secrets Manager's `AWSPREVIOUS` label, which every rotation moves to the value it
//! replaces) and when the current one was made: the outreach key (OUT-8) verifies buttons signed
//! before a rotation during a grace period ([`Rotation`]). The previous version is read again only
//! when the current one changed.
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

/// A secret's value and, when asked for and the secret was rotated, the value before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub current: Secret,
    /// The `AWSPREVIOUS` version's value (none for a plain secret or before the first rotation).
    pub previous: Option<Secret>,
    /// When the current version was made (Unix seconds): the last rotation's time.
    pub rotated_at: Option<i64>,
}

impl Rotation {
    fn plain(current: Secret) -> Rotation {
        Rotation {
            current,
            previous: None,
            rotated_at: None,
        }
    }
}

/// One secret, read again after its TTL (see the module doc).
pub struct RotatingSecret {
    name: &'static str,
    source: Source,
    ttl: Duration,
    now: Now,
    with_previous: bool,
    cached: tokio::sync::Mutex<Option<(Rotation, Instant)>>,
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
        RotatingSecret::load_as(env, sdk, name, ttl, false).await
    }

    /// [`RotatingSecret::load`], also reading the value before the last rotation (see
    /// [`RotatingSecret::rotation`]).
    pub async fn load_with_previous<F>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
        name: &'static str,
        ttl: Duration,
    ) -> Result<RotatingSecret, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        RotatingSecret::load_as(env, sdk, name, ttl, true).await
    }

    async fn load_as<F>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
        name: &'static str,
        ttl: Duration,
        with_previous: bool,
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
            with_previous,
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
        self.rotation().await.map(|r| r.current)
    }

    /// The current value and, for a secret loaded with [`RotatingSecret::load_with_previous`],
    /// the one before the last rotation: cached like [`RotatingSecret::get`]; a refresh reads the
    /// previous version only when the current one changed (one more `GetSecretValue`).
    pub async fn rotation(&self) -> Result<Rotation, ConfigError> {
        let (manager, arn) = match &self.source {
            Source::Plain(secret) => return Ok(Rotation::plain(secret.clone())),
            Source::Arn { manager, arn } => (manager, arn),
        };
        let mut cached = self.cached.lock().await;
        let now = (self.now)();
        if let Some((rotation, read_at)) = cached.as_ref()
            && now.saturating_duration_since(*read_at) < self.ttl
        {
            return Ok(rotation.clone());
        }
        let read = async {
            let Some((current, rotated_at)) = manager.fetch_stage(self.name, arn, None).await?
            else {
                return manager.fetch(self.name, arn).await.map(Rotation::plain);
            };
            if !self.with_previous {
                return Ok(Rotation::plain(current));
            }
            let previous = match cached.as_ref() {
                Some((before, _)) if before.current == current => before.previous.clone(),
                _ => manager
                    .fetch_stage(self.name, arn, Some("AWSPREVIOUS"))
                    .await?
                    .map(|(previous, _)| previous),
            };
            Ok(Rotation {
                current,
                previous,
                rotated_at,
            })
        };
        let result = read.await;
        match result {
            Ok(rotation) => {
                *cached = Some((rotation.clone(), now));
                Ok(rotation)
            }
            Err(error) => match cached.as_ref() {
                Some((rotation, _)) => {
                    tracing::warn!(secret = self.name, %error, "refreshing the secret failed; the value read before stays in use");
                    Ok(rotation.clone())
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
        self.keep_applying_rotation(move |rotation| apply(&rotation.current))
    }

    /// [`RotatingSecret::keep_applying`] with the [`Rotation`] (current and previous values).
    pub fn keep_applying_rotation<A>(self, apply: A) -> Option<tokio::task::JoinHandle<()>>
    where
        A: Fn(&Rotation) + Send + 'static,
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
                if let Ok(rotation) = self.rotation().await {
                    apply(&rotation);
                }
            }
        }))
    }
}

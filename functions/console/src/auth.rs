//! Who is calling (a port, [`Identify`], with two adapters):
//!
//! - [`JwtClaims`] (AWS): API Gateway's JWT authorizer has already validated the token; the
//!   caller is its `sub` claim and the role is a claim (`role` by default) that says `admin` or
//!   `agent`. lambda_http puts the request context in the request's extensions.
//! - [`StaticTokens`] (local runner): bearer tokens declared in configuration, each mapped to an
//!   agent id and a role (`CONSOLE_TOKENS=ana:agent:token1,boss:admin:token2`).
//!
//! What a caller may do is decided by [`crate::access`].

use crate::error::ApiError;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rules::AgentId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a caller is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Configures numbers, agents, templates and campaigns; acts on every conversation.
    Admin,
    /// Works the inbox: sees `mine` and the queue, reads `all`, acts on their own or unassigned
    /// conversations.
    Agent,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
}

/// The authenticated caller: an agent id (admins are agents of the desk too) and a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub agent: AgentId,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// 403 unless the caller is an admin.
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("only an admin may {what}")))
        }
    }
}

/// EVT-5: the prefix of integration tokens (machine principals, [`store::IntegrationToken`]).
pub const INTEGRATION_TOKEN_PREFIX: &str = "sbi_";

/// EVT-5: an integrator's machine principal, authenticated by an integration token: it reads
/// contacts and acts as the number's external bot, on its numbers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: String,
    pub numbers: Vec<rules::BusinessNumberId>,
}

impl Integration {
    /// 403 unless the token is scoped to `number`.
    pub fn require_number(&self, number: &rules::BusinessNumberId) -> Result<(), ApiError> {
        if self.numbers.contains(number) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the integration token is not scoped to number {number}"
            )))
        }
    }
}

/// Who calls a route that takes both people and integrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Person(Caller),
    Integration(Integration),
}

impl Principal {
    /// Whether the caller may read `number`'s contacts: people may (agents see every number,
    /// as `/v1/me` says); integrations their numbers only.
    pub fn require_reader_of(&self, number: &rules::BusinessNumberId) -> Result<(), ApiError> {
        match self {
            Principal::Person(_) => Ok(()),
            Principal::Integration(i) => i.require_number(number),
        }
    }
}

/// Marks a request that came in through `/v1/integration/…`: on AWS that prefix is the one
/// route without the JWT authorizer, so only an integration token may authenticate it.
#[derive(Debug, Clone, Copy)]
pub struct IntegrationRoute;

/// The hex SHA-256 of an integration token (only this is stored).
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The bearer token of a request, if it has one.
pub fn bearer(request: &Parts) -> Option<&str> {
    request
        .headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The identity port.
pub trait Identify: Send + Sync {
    fn identify(&self, request: &Parts) -> Result<Caller, ApiError>;
}

/// AWS: the claims API Gateway's JWT authorizer validated.
#[derive(Debug, Clone)]
pub struct JwtClaims {
    role_claim: String,
}

impl JwtClaims {
    pub const DEFAULT_ROLE_CLAIM: &'static str = "role";

    pub fn new(role_claim: impl Into<String>) -> Self {
        JwtClaims {
            role_claim: role_claim.into(),
        }
    }
}

impl Default for JwtClaims {
    fn default() -> Self {
        JwtClaims::new(Self::DEFAULT_ROLE_CLAIM)
    }
}

impl Identify for JwtClaims {
    fn identify(&self, request: &Parts) -> Result<Caller, ApiError> {
        use lambda_http::request::RequestContext;
        let claims = match request.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::unauthorized("no validated JWT: the API's JWT authorizer must run first")
        })?;
        let subject = claims
            .get("sub")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::unauthorized("the token has no subject (sub)"))?;
        let agent = AgentId::new(subject.as_str())
            .map_err(|e| ApiError::unauthorized(format!("the token's subject: {e}")))?;
        let role = claims
            .get(&self.role_claim)
            .and_then(|r| Role::parse(r))
            .ok_or_else(|| {
                ApiError::forbidden(format!(
                    "the token's {} claim must be admin or agent",
                    self.role_claim
                ))
            })?;
        Ok(Caller { agent, role })
    }
}

/// Local: bearer tokens from configuration.
#[derive(Clone, Default)]
pub struct StaticTokens {
    tokens: Vec<(Vec<u8>, Caller)>,
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the tokens.
        f.debug_struct("StaticTokens")
            .field(
                "callers",
                &self.tokens.iter().map(|(_, c)| c).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenSpecError {
    #[error("CONSOLE_TOKENS entry {0}: expected agent:role:token")]
    Shape(usize),
    #[error("CONSOLE_TOKENS entry {0}: role must be admin or agent")]
    Role(usize),
    #[error("CONSOLE_TOKENS entry {0}: {1}")]
    Agent(usize, rules::IdError),
    #[error("CONSOLE_TOKENS entry {0}: the token is shorter than 16 characters")]
    ShortToken(usize),
    #[error("CONSOLE_TOKENS entry {0}: the same token is declared twice")]
    Duplicate(usize),
}

impl StaticTokens {
    pub fn new() -> Self {
        StaticTokens::default()
    }

    /// Adds a token for an agent (the local runner passes its configuration's tokens in).
    pub fn with(mut self, token: impl Into<String>, agent: AgentId, role: Role) -> Self {
        self.tokens
            .push((token.into().into_bytes(), Caller { agent, role }));
        self
    }

    /// Parses `agent:role:token[,agent:role:token…]` (entries counted from 1 in errors; the
    /// token is never echoed).
    pub fn parse(spec: &str) -> Result<Self, TokenSpecError> {
        let mut out = StaticTokens::new();
        for (i, entry) in spec
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let n = i + 1;
            let mut parts = entry.splitn(3, ':');
            let (Some(agent), Some(role), Some(token)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(TokenSpecError::Shape(n));
            };
            let agent = AgentId::new(agent.trim()).map_err(|e| TokenSpecError::Agent(n, e))?;
            let role = Role::parse(role).ok_or(TokenSpecError::Role(n))?;
            let token = token.trim();
            if token.len() < 16 {
                return Err(TokenSpecError::ShortToken(n));
            }
            if out.tokens.iter().any(|(t, _)| t == token.as_bytes()) {
                return Err(TokenSpecError::Duplicate(n));
            }
            out = out.with(token, agent, role);
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

impl Identify for StaticTokens {
    fn identify(&self, request: &Parts) -> Result<Caller, ApiError> {
        let header = request
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("Authorization must be Bearer <token>"))?;
        // Compare against every token in constant time, so timing tells nothing about them.
        let mut found = None;
        for (candidate, caller) in &self.tokens {
            if bool::from(subtle::ConstantTimeEq::ct_eq(
                candidate.as_slice(),
                token.as_bytes(),
            )) {
                found = Some(caller);
            }
        }
        found
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("unknown token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_specs_parse_and_refuse_with_the_entry_number() {
        let t =
            StaticTokens::parse("ana:agent:0123456789abcdef, boss:admin:fedcba9876543210").unwrap();
        assert_eq!(t.tokens.len(), 2);
        assert!(!format!("{t:?}").contains("0123456789abcdef"));
        assert_eq!(
            StaticTokens::parse("ana:agent").unwrap_err(),
            TokenSpecError::Shape(1)
        );
        assert_eq!(
            StaticTokens::parse("ana:agent:0123456789abcdef,bo:root:0123456789abcdeX").unwrap_err(),
            TokenSpecError::Role(2)
        );
        assert_eq!(
            StaticTokens::parse("ana:agent:short").unwrap_err(),
            TokenSpecError::ShortToken(1)
        );
        assert_eq!(
            StaticTokens::parse("ana:agent:0123456789abcdef,bo:agent:0123456789abcdef")
                .unwrap_err(),
            TokenSpecError::Duplicate(2)
        );
    }
}

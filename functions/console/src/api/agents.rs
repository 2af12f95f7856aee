//! Agents: create (admin), capacity — the reception limit of AUTO-4 — and online/offline.

use super::Errors;
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use axum::Json;
use axum::extract::State;
use rules::AgentId;
use rules::agents::AgentLoad;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::AgentStore;
use utoipa::ToSchema;

/// The largest reception limit the console accepts.
pub const MAX_CAPACITY: u32 = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentView {
    pub agent: String,
    pub online: bool,
    /// Open conversations assigned now.
    pub open: u32,
    /// AUTO-4: the reception limit.
    pub capacity: u32,
    /// Online with free capacity: the queue may assign to them.
    pub available: bool,
}

impl From<&AgentLoad> for AgentView {
    fn from(a: &AgentLoad) -> Self {
        AgentView {
            agent: a.agent.to_string(),
            online: a.online,
            open: a.open,
            capacity: a.capacity,
            available: a.has_capacity(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// AUTO-4: how many open conversations the agent takes at most (0 to 1000).
    pub capacity: u32,
    #[serde(default)]
    pub online: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    pub online: bool,
}

fn agent_id(text: &str) -> ApiResult<AgentId> {
    AgentId::new(text).map_err(|e| ApiError::invalid("agent", e))
}

async fn find<D: Deps>(d: &D, agent: &AgentId) -> ApiResult<Option<AgentLoad>> {
    Ok(d.store()
        .agents()
        .await?
        .into_iter()
        .find(|a| &a.agent == agent))
}

/// Every agent with their load.
#[utoipa::path(
    get, path = "/v1/agents", tag = "agents",
    responses((status = 200, description = "Agents", body = Vec<AgentView>), Errors)
)]
pub async fn list_agents<D: Deps>(
    State(d): State<Arc<D>>,
    _caller: Caller,
) -> ApiResult<Json<Vec<AgentView>>> {
    let agents = d.store().agents().await?;
    Ok(Json(agents.iter().map(AgentView::from).collect()))
}

/// Creates an agent or sets their capacity and presence (admin).
#[utoipa::path(
    put, path = "/v1/agents/{agent}", tag = "agents",
    params(("agent" = String, Path, description = "Agent id (the JWT subject)")),
    request_body = AgentSettings,
    responses((status = 200, description = "The agent", body = AgentView), Errors)
)]
pub async fn put_agent<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(agent): PathParams<String>,
    JsonBody(s): JsonBody<AgentSettings>,
) -> ApiResult<Json<AgentView>> {
    caller.require_admin("create agents or change their capacity")?;
    let agent = agent_id(&agent)?;
    if s.capacity > MAX_CAPACITY {
        return Err(ApiError::invalid(
            "capacity",
            format!("at most {MAX_CAPACITY}, got {}", s.capacity),
        ));
    }
    d.store().put_agent(&agent, s.capacity, s.online).await?;
    let view = find(d.as_ref(), &agent)
        .await?
        .map(|a| AgentView::from(&a))
        .ok_or_else(|| ApiError::internal("the agent was written but cannot be read back"))?;
    tracing::info!(agent = %agent, capacity = s.capacity, online = s.online, "agent set");
    Ok(Json(view))
}

/// Online or offline: an agent sets their own; an admin anyone's.
#[utoipa::path(
    put, path = "/v1/agents/{agent}/presence", tag = "agents",
    params(("agent" = String, Path, description = "Agent id")),
    request_body = Presence,
    responses((status = 200, description = "The agent", body = AgentView), Errors)
)]
pub async fn put_presence<D: Deps>(
    State(d): State<Arc<D>>,
    caller: Caller,
    PathParams(agent): PathParams<String>,
    JsonBody(p): JsonBody<Presence>,
) -> ApiResult<Json<AgentView>> {
    let agent = agent_id(&agent)?;
    if agent != caller.agent && !caller.is_admin() {
        return Err(ApiError::forbidden("agents set only their own presence"));
    }
    let current = find(d.as_ref(), &agent)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no agent {agent}")))?;
    d.store()
        .put_agent(&agent, current.capacity, p.online)
        .await?;
    let view = find(d.as_ref(), &agent)
        .await?
        .map(|a| AgentView::from(&a))
        .ok_or_else(|| ApiError::internal("the agent was written but cannot be read back"))?;
    Ok(Json(view))
}

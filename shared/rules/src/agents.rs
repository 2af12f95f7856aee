//! Agents, capacity and the queue (AUTO-4, AUTO-5): which agent takes a conversation that needs one.
//! The shell holds the counters (changed by conditional updates so capacity is never exceeded
//! under concurrency); the choice is made here.

use crate::ids::AgentId;
use serde::{Deserialize, Serialize};

/// An agent's load, as read before assigning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLoad {
    pub agent: AgentId,
    pub online: bool,
    /// Open conversations assigned to the agent now.
    pub open: u32,
    /// The agent's reception limit (AUTO-4).
    pub capacity: u32,
}

impl AgentLoad {
    pub fn has_capacity(&self) -> bool {
        self.online && self.open < self.capacity
    }
}

/// AUTO-4: the agent with free capacity and the fewest open conversations (ties: by id, so the
/// choice is deterministic). `preferred` (CHAN-3 `keep_assignee`) wins when it has capacity;
/// `exclude` (AUTO-12's silent agent) is never chosen. `None`: the conversation waits in the queue.
pub fn choose_agent<'a>(
    agents: &'a [AgentLoad],
    preferred: Option<&AgentId>,
    exclude: Option<&AgentId>,
) -> Option<&'a AgentId> {
    let eligible = |a: &&AgentLoad| a.has_capacity() && Some(&a.agent) != exclude;
    if let Some(p) = preferred
        && let Some(a) = agents.iter().filter(eligible).find(|a| &a.agent == p)
    {
        return Some(&a.agent);
    }
    agents
        .iter()
        .filter(eligible)
        .min_by(|a, b| a.open.cmp(&b.open).then_with(|| a.agent.cmp(&b.agent)))
        .map(|a| &a.agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(id: &str, open: u32, capacity: u32, online: bool) -> AgentLoad {
        AgentLoad {
            agent: AgentId::new(id).unwrap(),
            online,
            open,
            capacity,
        }
    }

    #[test]
    fn auto_4_fewest_open_first_with_free_capacity_else_queue() {
        let agents = [
            load("ana", 2, 3, true),
            load("bo", 1, 3, true),
            load("cy", 0, 3, false), // offline
            load("di", 3, 3, true),  // full
        ];
        assert_eq!(choose_agent(&agents, None, None).unwrap().as_str(), "bo");
        // Ties go by id.
        let tied = [load("zed", 1, 2, true), load("amy", 1, 2, true)];
        assert_eq!(choose_agent(&tied, None, None).unwrap().as_str(), "amy");
        // Nobody has capacity: the queue.
        let full = [load("ana", 3, 3, true), load("cy", 0, 3, false)];
        assert_eq!(choose_agent(&full, None, None), None);
    }

    #[test]
    fn chan_3_kept_assignee_preferred_and_auto_12_silent_agent_excluded() {
        let agents = [load("ana", 2, 3, true), load("bo", 0, 3, true)];
        let ana = AgentId::new("ana").unwrap();
        let bo = AgentId::new("bo").unwrap();
        assert_eq!(choose_agent(&agents, Some(&ana), None), Some(&ana));
        assert_eq!(choose_agent(&agents, None, Some(&bo)), Some(&ana));
        assert_eq!(choose_agent(&agents, Some(&bo), Some(&bo)), Some(&ana));
    }
}

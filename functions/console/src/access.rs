//! Who may act on a contact's conversation (issue 7, item 2): agents act on conversations assigned
//! to them or to nobody (unassigned, queued, with the bot, or closed: seed 001 lets any agent
//! reopen a closed conversation from the All inbox, CHAN-2); admins act on every conversation.
//!
//! Decision: an admin acting on a conversation another agent holds acts *for* that agent (the
//! action is attributed to the holder), so the conversation stays where it is and the rules'
//! check that only the holder acts (DECISIONS 17) holds. To take it, the admin transfers it.

use crate::auth::Caller;
use crate::error::ApiError;
use rules::{AgentId, ContactState};

/// The agent an action on the contact's current conversation is attributed to, or 403.
pub fn acting_agent(caller: &Caller, state: Option<&ContactState>) -> Result<AgentId, ApiError> {
    acting_for(caller, state.and_then(ContactState::agent))
}

/// [`acting_agent`] given the conversation's holder (the media routes know it from the
/// contact's detail).
pub fn acting_for(caller: &Caller, holder: Option<&AgentId>) -> Result<AgentId, ApiError> {
    match holder {
        Some(holder) if holder == &caller.agent => Ok(caller.agent.clone()),
        Some(holder) if caller.is_admin() => Ok(holder.clone()),
        Some(holder) => Err(ApiError::forbidden(format!(
            "the conversation is assigned to {holder}; agents act only on their own or unassigned conversations"
        ))),
        None => Ok(caller.agent.clone()),
    }
}

/// 409 when the client's `If-Match` version is not the contact's current one (optimistic
/// concurrency at the edge: a stale screen does not act).
pub fn check_version(if_match: Option<u64>, current: Option<u64>) -> Result<(), ApiError> {
    match if_match {
        Some(expected) if Some(expected) != current => Err(ApiError::conflict(
            "stale_version",
            format!(
                "the contact changed: version {} now, {expected} expected; reload it",
                current.map_or_else(|| "none".to_owned(), |v| v.to_string())
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use rules::state::{Conversation, ConversationStatus, Handler, Origin};
    use rules::{BusinessNumberId, ContactKey, ConversationId, Timestamp};

    fn caller(agent: &str, role: Role) -> Caller {
        Caller {
            agent: AgentId::new(agent).unwrap(),
            role,
        }
    }

    fn held_by(handler: Handler) -> ContactState {
        let mut s = ContactState::new(
            BusinessNumberId::new("n").unwrap(),
            ContactKey::new("c").unwrap(),
        );
        s.conversation = Some(Conversation {
            id: ConversationId::new("c#1").unwrap(),
            status: ConversationStatus::Open,
            handler,
            opened_at: Timestamp::from_unix(0),
            origin: Origin::Inbound,
            last_customer_at: None,
            last_agent_at: None,
            unanswered_since: None,
            unanswered_count: 0,
            reminded: false,
            agent_involved: false,
            nudged_for: None,
            referral: None,
        });
        s
    }

    #[test]
    fn agents_act_on_their_own_unassigned_or_closed_admins_for_the_holder() {
        let bo = held_by(Handler::Agent {
            agent: AgentId::new("bo").unwrap(),
        });
        let queued = held_by(Handler::Unassigned {
            position: Some(1),
            request: 1,
        });
        let ana = caller("ana", Role::Agent);
        assert_eq!(acting_agent(&ana, Some(&queued)).unwrap().as_str(), "ana");
        assert_eq!(acting_agent(&ana, None).unwrap().as_str(), "ana");
        assert_eq!(
            acting_agent(&ana, Some(&bo)).unwrap_err().status.as_u16(),
            403
        );
        let boss = caller("boss", Role::Admin);
        assert_eq!(acting_agent(&boss, Some(&bo)).unwrap().as_str(), "bo");
        assert_eq!(acting_agent(&boss, Some(&queued)).unwrap().as_str(), "boss");
    }

    #[test]
    fn stale_versions_conflict() {
        assert!(check_version(None, Some(3)).is_ok());
        assert!(check_version(Some(3), Some(3)).is_ok());
        assert_eq!(
            check_version(Some(2), Some(3)).unwrap_err().status.as_u16(),
            409
        );
        assert_eq!(
            check_version(Some(1), None).unwrap_err().status.as_u16(),
            409
        );
    }
}

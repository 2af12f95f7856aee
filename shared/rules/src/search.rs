//! Contact search (CHAN-4, seed 001): by first name, last name, email or phone, within `Mine` (the
//! caller's contacts) or `All`, filtered by `Open` / `Snoozed` / `Closed`. The stores use this
//! predicate (or an index that answers the same), so both adapters agree.

use crate::ids::{AgentId, PhoneNumber};
use crate::state::{ContactState, ConversationStatus};
use serde::{Deserialize, Serialize};

/// What the desk knows about a contact besides its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    /// WhatsApp's profile name, as Meta sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Contacts assigned to the caller.
    Mine,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    Open,
    Snoozed,
    /// No open or snoozed conversation (including contacts that never had one).
    Closed,
}

impl StatusFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Open => "open",
            StatusFilter::Snoozed => "snoozed",
            StatusFilter::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Free text; empty matches every contact in scope.
    pub text: String,
    pub scope: Scope,
    pub status: StatusFilter,
    pub caller: AgentId,
}

/// The filter a contact falls under.
pub fn status_of(state: &ContactState) -> StatusFilter {
    match state.conversation.as_ref().map(|c| c.status) {
        Some(ConversationStatus::Open) => StatusFilter::Open,
        Some(ConversationStatus::Snoozed { .. }) => StatusFilter::Snoozed,
        None => StatusFilter::Closed,
    }
}

/// The agent a contact belongs to for `Mine`: the current conversation's agent, else the kept
/// assignee (CHAN-3).
pub fn owner(state: &ContactState) -> Option<&AgentId> {
    state.agent().or(state.assignee.as_ref())
}

/// CHAN-4: does this contact match the query?
pub fn matches(query: &SearchQuery, profile: &ContactProfile, state: &ContactState) -> bool {
    if status_of(state) != query.status {
        return false;
    }
    if query.scope == Scope::Mine && owner(state) != Some(&query.caller) {
        return false;
    }
    text_matches(&query.text, profile)
}

/// Case-insensitive substring over names and email; digits-only substring over the phone, so
/// "+49 151", "49151" and "0151…" typed without the prefix all find the number.
pub fn text_matches(text: &str, profile: &ContactProfile) -> bool {
    let needle = text.trim().to_lowercase();
    if needle.is_empty() {
        return true;
    }
    let in_text = [&profile.first_name, &profile.last_name, &profile.email]
        .into_iter()
        .flatten()
        .any(|field| field.to_lowercase().contains(&needle));
    if in_text {
        return true;
    }
    let digits: String = needle.chars().filter(char::is_ascii_digit).collect();
    let phone_like = !digits.is_empty()
        && needle
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    phone_like
        && profile.phone.as_ref().is_some_and(|p| {
            let number = p.wa_digits();
            number.contains(&digits) || number.contains(digits.trim_start_matches('0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{BusinessNumberId, ContactKey, ConversationId};
    use crate::state::{Conversation, Handler, Origin};
    use crate::time::Timestamp;

    fn state(status: Option<ConversationStatus>, agent: Option<&str>) -> ContactState {
        let mut s = ContactState::new(
            BusinessNumberId::new("n1").unwrap(),
            ContactKey::new("4915123456789").unwrap(),
        );
        s.conversation = status.map(|status| Conversation {
            id: ConversationId::new("c#1").unwrap(),
            status,
            handler: match agent {
                Some(a) => Handler::Agent {
                    agent: AgentId::new(a).unwrap(),
                },
                None => Handler::Unassigned {
                    position: None,
                    request: 1,
                },
            },
            opened_at: Timestamp::from_unix(0),
            origin: Origin::Inbound,
            last_customer_at: None,
            last_agent_at: None,
            unanswered_since: None,
            unanswered_count: 0,
            reminded: false,
            agent_involved: agent.is_some(),
            nudged_for: None,
            referral: None,
        });
        s
    }

    fn profile() -> ContactProfile {
        ContactProfile {
            first_name: Some("Jana".into()),
            last_name: Some("Novák".into()),
            email: Some("jana.novak@example.com".into()),
            phone: Some(PhoneNumber::parse("+4915123456789").unwrap()),
            profile_name: Some("JN".into()),
        }
    }

    fn query(text: &str, scope: Scope, status: StatusFilter) -> SearchQuery {
        SearchQuery {
            text: text.into(),
            scope,
            status,
            caller: AgentId::new("ana").unwrap(),
        }
    }

    #[test]
    fn chan_4_search_by_first_last_email_phone() {
        let s = state(Some(ConversationStatus::Open), Some("ana"));
        for text in [
            "jana",
            "NOVÁK",
            "example.com",
            "+49 151 234",
            "15123456789",
            "0151234",
            "",
        ] {
            assert!(
                matches(&query(text, Scope::All, StatusFilter::Open), &profile(), &s),
                "{text}"
            );
        }
        for text in ["petr", "999", "gmail"] {
            assert!(
                !matches(&query(text, Scope::All, StatusFilter::Open), &profile(), &s),
                "{text}"
            );
        }
    }

    #[test]
    fn chan_4_mine_and_all_with_open_snoozed_closed() {
        let open_ana = state(Some(ConversationStatus::Open), Some("ana"));
        let open_bo = state(Some(ConversationStatus::Open), Some("bo"));
        let snoozed = state(
            Some(ConversationStatus::Snoozed {
                until: Timestamp::from_unix(10),
            }),
            Some("ana"),
        );
        let mut closed_kept = state(None, None);
        closed_kept.assignee = Some(AgentId::new("ana").unwrap());
        let p = profile();
        assert!(matches(
            &query("jana", Scope::Mine, StatusFilter::Open),
            &p,
            &open_ana
        ));
        assert!(!matches(
            &query("jana", Scope::Mine, StatusFilter::Open),
            &p,
            &open_bo
        ));
        assert!(matches(
            &query("jana", Scope::All, StatusFilter::Open),
            &p,
            &open_bo
        ));
        assert!(!matches(
            &query("jana", Scope::All, StatusFilter::Open),
            &p,
            &snoozed
        ));
        assert!(matches(
            &query("jana", Scope::Mine, StatusFilter::Snoozed),
            &p,
            &snoozed
        ));
        // Seed 001: a contact with a closed conversation, assigned to the caller, in Mine > Closed.
        assert!(matches(
            &query("jana", Scope::Mine, StatusFilter::Closed),
            &p,
            &closed_kept
        ));
        assert!(!matches(
            &query("jana", Scope::Mine, StatusFilter::Closed),
            &p,
            &state(None, None)
        ));
        assert!(matches(
            &query("jana", Scope::All, StatusFilter::Closed),
            &p,
            &state(None, None)
        ));
    }
}

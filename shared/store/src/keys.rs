//! Every item key, in one place. Both adapters use the same keys: the DynamoDB table's `pk`/`sk`
//! and the SQLite `items` table's primary key.
//!
//! | collection | pk | sk |
//! |---|---|---|
//! | contact state (+ outbox, profile, inbox fields) | `C#<number>#<contact>` | `A#STATE` |
//! | outreach record | `C#<number>#<contact>` | `A#O#<outreach>` |
//! | dedup marker | `C#<number>#<contact>` | `D#<event key>` |
//! | message log | `C#<number>#<contact>` | `L#<at, 11 digits>#<event key>#<index, 3 digits>` |
//! | number settings | `N#<number>` | `SETTINGS` |
//! | queue entry / queue pointer | `Q#<number>` | `E#<at>#<conversation>` / `P#<conversation>` |
//! | agent | `AGENTS` | `<agent>` |
//! | template | `T#<number>` | `<name>#<language>` |
//! | campaign / campaign row | `K#<campaign>` | `CAMPAIGN` / `R#<contact>` |
//! | ledger line | `B#<number>` | `<YYYY-MM-DD>#<category>` |
//! | outbound by idempotency key | `O#<key>` | `O` |
//! | outbound by wamid | `W#<wamid>` | `W` |
//! | outbound log pointer (the contact's sends, for the console) | `C#<number>#<contact>` | `S#<claimed at, 11 digits>#<idempotency key>` |
//!
//! `load_contact` reads the sort-key range `A#…` of the contact's partition: the state and the
//! outreach records, never the log or the markers. GSI `gsi1` (`gsi1pk` = `I#<number>#<status>`)
//! and `gsi2` (`gsi2pk` = `M#<number>#<agent>#<status>`) index state items for the inbox, sorted
//! by `gsi1sk`/`gsi2sk` = `<updated_at, 11 digits>#<contact>`.

use crate::model::InboxStatus;
use rules::{AgentId, BusinessNumberId, ContactKey, Timestamp};

pub const STATE_SK: &str = "A#STATE";
/// The sort-key range `load_contact` reads.
pub const LOAD_PREFIX: &str = "A#";
pub const OUTREACH_PREFIX: &str = "A#O#";
pub const LOG_PREFIX: &str = "L#";
pub const SETTINGS_SK: &str = "SETTINGS";
pub const AGENTS_PK: &str = "AGENTS";
/// The directory of business numbers (one item per number with settings).
pub const NUMBERS_PK: &str = "NUMBERS";
pub const RATES_PK: &str = "RATES";
pub const CAMPAIGN_SK: &str = "CAMPAIGN";
pub const CAMPAIGN_ROW_PREFIX: &str = "R#";
pub const QUEUE_ENTRY_PREFIX: &str = "E#";
pub const OUTBOUND_LOG_PREFIX: &str = "S#";

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Key { pk, sk: sk.into() }
    }
}

/// Fixed-width epoch seconds, so string order is time order.
pub fn time(at: Timestamp) -> String {
    format!("{:011}", at.unix().max(0))
}

pub fn contact_pk(number: &BusinessNumberId, contact: &ContactKey) -> String {
    format!("C#{number}#{contact}")
}

pub fn state(number: &BusinessNumberId, contact: &ContactKey) -> Key {
    Key::new(contact_pk(number, contact), STATE_SK)
}

pub fn outreach(number: &BusinessNumberId, contact: &ContactKey, id: &rules::OutreachId) -> Key {
    Key::new(
        contact_pk(number, contact),
        format!("{OUTREACH_PREFIX}{id}"),
    )
}

pub fn dedup(number: &BusinessNumberId, contact: &ContactKey, event: &rules::EventKey) -> Key {
    Key::new(contact_pk(number, contact), format!("D#{event}"))
}

pub fn log(
    number: &BusinessNumberId,
    contact: &ContactKey,
    at: Timestamp,
    event: &rules::EventKey,
    index: usize,
) -> Key {
    Key::new(
        contact_pk(number, contact),
        format!("{LOG_PREFIX}{}#{event}#{index:03}", time(at)),
    )
}

/// The contact's pointer to one of its outbound sends (written when the send is claimed).
pub fn outbound_pointer(
    number: &BusinessNumberId,
    contact: &ContactKey,
    claimed_at: Timestamp,
    idempotency_key: &str,
) -> Key {
    Key::new(
        contact_pk(number, contact),
        format!(
            "{OUTBOUND_LOG_PREFIX}{}#{idempotency_key}",
            time(claimed_at)
        ),
    )
}

pub fn settings(number: &BusinessNumberId) -> Key {
    Key::new(format!("N#{number}"), SETTINGS_SK)
}

pub fn queue_pk(number: &BusinessNumberId) -> String {
    format!("Q#{number}")
}

pub fn queue_entry(
    number: &BusinessNumberId,
    at: Timestamp,
    conversation: &rules::ConversationId,
) -> Key {
    Key::new(
        queue_pk(number),
        format!("{QUEUE_ENTRY_PREFIX}{}#{conversation}", time(at)),
    )
}

pub fn queue_pointer(number: &BusinessNumberId, conversation: &rules::ConversationId) -> Key {
    Key::new(queue_pk(number), format!("P#{conversation}"))
}

/// The marker of a keyed capacity operation (its own partition: operations are spread).
pub fn capacity_op(op: &str) -> Key {
    Key::new(format!("OP#{op}"), "op")
}

/// A number's entry in the directory of numbers (written with its settings).
pub fn number_entry(number: &BusinessNumberId) -> Key {
    Key::new(NUMBERS_PK.to_owned(), number.as_str())
}

pub fn agent(agent: &AgentId) -> Key {
    Key::new(AGENTS_PK.to_owned(), agent.as_str())
}

pub fn template_pk(number: &BusinessNumberId) -> String {
    format!("T#{number}")
}

pub fn template(number: &BusinessNumberId, name: &rules::TemplateName, language: &str) -> Key {
    Key::new(template_pk(number), format!("{name}#{language}"))
}

pub fn campaign_pk(campaign: &rules::CampaignId) -> String {
    format!("K#{campaign}")
}

pub fn campaign(campaign: &rules::CampaignId) -> Key {
    Key::new(campaign_pk(campaign), CAMPAIGN_SK)
}

pub fn campaign_row(campaign: &rules::CampaignId, contact: &ContactKey) -> Key {
    Key::new(
        campaign_pk(campaign),
        format!("{CAMPAIGN_ROW_PREFIX}{contact}"),
    )
}

pub fn ledger_pk(number: &BusinessNumberId) -> String {
    format!("B#{number}")
}

/// One ledger line: per number, day, category and (BILL-6) charge — `charged` or `free_<reason>`;
/// an empty charge is a line written before charges were kept.
pub fn ledger(number: &BusinessNumberId, day: rules::Date, category: &str, charge: &str) -> Key {
    if charge.is_empty() {
        Key::new(ledger_pk(number), format!("{day}#{category}"))
    } else {
        Key::new(ledger_pk(number), format!("{day}#{category}#{charge}"))
    }
}

/// BILL-6: the rate table (one per deployment).
pub fn rates() -> Key {
    Key::new(RATES_PK.to_owned(), RATES_PK)
}

pub fn outbound_by_key(idempotency_key: &str) -> Key {
    Key::new(format!("O#{idempotency_key}"), "O")
}

pub fn outbound_by_wamid(wamid: &rules::MessageId) -> Key {
    Key::new(format!("W#{wamid}"), "W")
}

/// Inbox index (All): partition per number and status.
pub fn inbox_all(number: &BusinessNumberId, status: InboxStatus) -> String {
    format!("I#{number}#{}", status.as_str())
}

/// Inbox index (Mine): partition per number, agent and status.
pub fn inbox_mine(number: &BusinessNumberId, agent: &AgentId, status: InboxStatus) -> String {
    format!("M#{number}#{agent}#{}", status.as_str())
}

/// Sort key of both inbox indexes: newest activity last in string order (queries go backwards).
pub fn inbox_sort(updated_at: Timestamp, contact: &ContactKey) -> String {
    format!("{}#{contact}", time(updated_at))
}

/// The contact in an inbox sort key (for rebuilding a DynamoDB start key from a cursor).
pub fn contact_of_inbox_sort(sort: &str) -> Option<&str> {
    sort.get(12..)
        .filter(|c| !c.is_empty() && sort.as_bytes().get(11) == Some(&b'#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_by_time_and_inbox_sort_round_trips() {
        let n = BusinessNumberId::new("106").unwrap();
        let c = ContactKey::new("4915").unwrap();
        let e = rules::EventKey::new("wamid.1").unwrap();
        let a = log(&n, &c, Timestamp::from_unix(99), &e, 0);
        let b = log(&n, &c, Timestamp::from_unix(100), &e, 0);
        assert!(a.sk < b.sk);
        assert!(a.sk.starts_with(LOG_PREFIX) && !a.sk.starts_with(LOAD_PREFIX));
        let s = inbox_sort(Timestamp::from_unix(1_750_000_000), &c);
        assert_eq!(contact_of_inbox_sort(&s), Some("4915"));
        assert_eq!(contact_of_inbox_sort("garbage"), None);
    }
}

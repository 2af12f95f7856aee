//! From the wire body to [`Event`]s: parse, check it is a WhatsApp payload, and split it into one
//! event per message, status and account/template change (see [`crate::event`] for the table).

use crate::bounds::PhoneNumberId;
use crate::event::{
    AccountError, BusinessNumber, CapabilityUpdate, ContactRef, Conversation, Event, EventBody,
    InboundMessage, MessageContent, MessagingLimit, OTHER_FIELD_MAX_BYTES, OtherField,
    PhoneNumberQuality, Pricing, StatusUpdate, TemplateQuality, TemplateStatus,
};
use crate::webhook::{
    CapabilityValue, Change, Entry, LimitValue, MessagesValue, Notification, PhoneQualityValue,
    TemplateQualityValue, TemplateStatusValue, WHATSAPP_OBJECT, WireContact, WireMessage,
    WireStatus,
};
use rules::{ContactKey, EventKey, MessageId};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Why a well-signed body was refused (HOOK-4: answered 400 with this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("not a WhatsApp Business Account webhook: {0}")]
    NotWhatsApp(String),
}

/// Parses a webhook body and normalises it into events, in body order.
pub fn parse_events(body: &[u8]) -> Result<Vec<Event>, PayloadError> {
    let notification: Notification<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            PayloadError::NotWhatsApp(e.to_string())
        } else {
            PayloadError::NotJson(e.to_string())
        }
    })?;
    normalise(&notification)
}

/// Normalises a parsed body into events, in body order.
pub fn normalise(notification: &Notification<'_>) -> Result<Vec<Event>, PayloadError> {
    if notification.object != WHATSAPP_OBJECT {
        let mut object = notification.object.clone();
        object.truncate(64);
        return Err(PayloadError::NotWhatsApp(format!(
            "object is {object:?}, expected {WHATSAPP_OBJECT:?}"
        )));
    }
    let mut events = Vec::new();
    for (e, entry) in notification.entry.iter().enumerate() {
        for (c, change) in entry.changes.iter().enumerate() {
            let first = events.len();
            normalise_change(entry, c, change, &mut events)
                .and_then(|()| keys_fit(&events[first..]))
                .map_err(|why| PayloadError::NotWhatsApp(format!("entry {e} change {c}: {why}")))?;
        }
    }
    Ok(events)
}

/// HOOK-6: every event key is one the router and the sender accept (an [`EventKey`]), checked
/// before anything is acknowledged.
fn keys_fit(events: &[Event]) -> Result<(), String> {
    for event in events {
        EventKey::new(event.key.as_str()).map_err(|e| format!("event key: {e}"))?;
    }
    Ok(())
}

fn value<T: DeserializeOwned>(change: &Change<'_>) -> Result<T, String> {
    serde_json::from_str(change.value.get()).map_err(|e| format!("{} value: {e}", change.field))
}

/// The "time" part of an account event's key: `entry[].time`, or, when Meta sends none, a digest
/// of the change's raw value (`h` + 16 hex digits), so that two different changes never share a
/// key and a redelivery of the same bytes keeps it.
fn time_part(time: Option<i64>, raw_value: &str) -> String {
    match time {
        Some(t) => t.to_string(),
        None => {
            let digest = Sha256::digest(raw_value.as_bytes());
            format!("h{}", hex::encode(&digest[..8]))
        }
    }
}

fn normalise_change(
    entry: &Entry<'_>,
    index: usize,
    change: &Change<'_>,
    out: &mut Vec<Event>,
) -> Result<(), String> {
    let field = change.field.as_str();
    let account_event = |key: String, body: EventBody| Event {
        key,
        waba_id: entry.id.clone(),
        business: None,
        body,
    };
    match field {
        "messages" => messages(entry, change, value(change)?, out)?,
        "message_template_status_update" => {
            let v: TemplateStatusValue = value(change)?;
            let key = format!(
                "{field}:{}:{}",
                v.message_template_id,
                time_part(entry.time, change.value.get())
            );
            out.push(account_event(
                key,
                EventBody::TemplateStatus(TemplateStatus {
                    template_id: v.message_template_id,
                    name: v.message_template_name,
                    language: v.message_template_language,
                    category: v.message_template_category,
                    event: v.event.into(),
                    reason: v.reason,
                    other_info: v.other_info,
                    time: entry.time,
                }),
            ));
        }
        "message_template_quality_update" => {
            let v: TemplateQualityValue = value(change)?;
            let key = format!(
                "{field}:{}:{}",
                v.message_template_id,
                time_part(entry.time, change.value.get())
            );
            out.push(account_event(
                key,
                EventBody::TemplateQuality(TemplateQuality {
                    template_id: v.message_template_id,
                    name: v.message_template_name,
                    language: v.message_template_language,
                    previous_quality_score: v.previous_quality_score,
                    new_quality_score: v.new_quality_score,
                    time: entry.time,
                }),
            ));
        }
        // Keyed by account, time and change index rather than by the display number, so that
        // keys (which are logged) carry no phone number.
        "phone_number_quality_update" => {
            let v: PhoneQualityValue = value(change)?;
            let key = format!(
                "{field}:{}:{}:{index}",
                entry.id,
                time_part(entry.time, change.value.get())
            );
            out.push(account_event(
                key,
                EventBody::PhoneNumberQuality(PhoneNumberQuality {
                    display_phone_number: v.display_phone_number,
                    event: v.event,
                    current_limit: v
                        .current_limit
                        .or(v.max_daily_conversations_per_business)
                        .map(limit),
                    old_limit: v.old_limit.map(limit),
                    time: entry.time,
                }),
            ));
        }
        "business_capability_update" => {
            let v: CapabilityValue = value(change)?;
            let key = format!(
                "{field}:{}:{}:{index}",
                entry.id,
                time_part(entry.time, change.value.get())
            );
            out.push(account_event(
                key,
                EventBody::Capability(CapabilityUpdate {
                    messaging_limit: v
                        .max_daily_conversations_per_business
                        .or(v.messaging_limit_tier)
                        .or(v.max_daily_conversation_per_phone)
                        .map(limit),
                    max_phone_numbers_per_business: v.max_phone_numbers_per_business,
                    time: entry.time,
                }),
            ));
        }
        _ => {
            let raw = change.value.get();
            let small = raw.len() <= OTHER_FIELD_MAX_BYTES;
            let key = format!(
                "{field}:{}:{}:{index}",
                entry.id,
                time_part(entry.time, change.value.get())
            );
            out.push(account_event(
                key,
                EventBody::OtherField(OtherField {
                    field: field.to_owned(),
                    time: entry.time,
                    value: if small {
                        serde_json::from_str(raw).ok()
                    } else {
                        None
                    },
                    truncated: !small,
                }),
            ));
        }
    }
    Ok(())
}

fn limit(v: LimitValue) -> MessagingLimit {
    match v {
        LimitValue::Count(n) => MessagingLimit::from_count(n),
        LimitValue::Tier(t) => match t.trim().parse::<u64>() {
            Ok(n) => MessagingLimit::from_count(n),
            Err(_) => MessagingLimit::from_tier(&t),
        },
    }
}

fn messages(
    entry: &Entry<'_>,
    change: &Change<'_>,
    value: MessagesValue,
    out: &mut Vec<Event>,
) -> Result<(), String> {
    // HOOK-6: the number names keys, queue groups and settings: digits only.
    let business = value
        .metadata
        .map(|m| {
            PhoneNumberId::parse(&m.phone_number_id)
                .map(|id| BusinessNumber {
                    phone_number_id: id.into_string(),
                    display_phone_number: m.display_phone_number,
                })
                .map_err(|e| format!("metadata.{e}"))
        })
        .transpose()?;
    if !value.messages.is_empty() && business.is_none() {
        return Err("messages without metadata.phone_number_id".to_owned());
    }
    out.reserve(value.messages.len() + value.statuses.len() + value.errors.len());
    let event = |key: String, body: EventBody| Event {
        key,
        waba_id: entry.id.clone(),
        business: business.clone(),
        body,
    };
    for (i, message) in value.messages.into_iter().enumerate() {
        // HOOK-6: ids the router will parse are parsed here, so that none is refused after the
        // webhook was acknowledged.
        MessageId::new(message.id.as_str()).map_err(|e| format!("messages[{i}].id: {e}"))?;
        if let Some(quoted) = message.context.as_ref().and_then(|c| c.id.as_deref())
            && !quoted.is_empty()
        {
            MessageId::new(quoted).map_err(|e| format!("messages[{i}].context.id: {e}"))?;
        }
        let contact = contact(&message, &value.contacts)?;
        ContactKey::new(contact.key.as_str()).map_err(|e| format!("messages[{i}].from: {e}"))?;
        let id = message.id.clone();
        out.push(event(id, EventBody::Message(inbound(message, contact))));
    }
    for (i, status) in value.statuses.into_iter().enumerate() {
        MessageId::new(status.id.as_str()).map_err(|e| format!("statuses[{i}].id: {e}"))?;
        let key = format!("{}:{}", status.id, status.status);
        out.push(event(key, EventBody::Status(status_update(status))));
    }
    let number = business
        .as_ref()
        .map_or("-", |b| b.phone_number_id.as_str());
    for (i, error) in value.errors.into_iter().enumerate() {
        let code = error.code.map_or_else(|| "-".to_owned(), |c| c.to_string());
        let key = format!(
            "errors:{number}:{}:{code}:{i}",
            time_part(entry.time, change.value.get())
        );
        out.push(event(
            key,
            EventBody::AccountError(AccountError {
                time: entry.time,
                error,
            }),
        ));
    }
    Ok(())
}

/// The sender, matched with `value.contacts[]` for the profile; keyed by phone, else by
/// business-scoped user id.
fn contact(message: &WireMessage, contacts: &[WireContact]) -> Result<ContactRef, String> {
    let wa_id = message.from.clone().filter(|s| !s.is_empty());
    let user_id = message.from_user_id.clone().filter(|s| !s.is_empty());
    let known = contacts.iter().find(|c| {
        (wa_id.is_some() && c.wa_id == wa_id) || (user_id.is_some() && c.user_id == user_id)
    });
    let wa_id = wa_id.or_else(|| known.and_then(|c| c.wa_id.clone()));
    let user_id = user_id.or_else(|| known.and_then(|c| c.user_id.clone()));
    let key = wa_id
        .clone()
        .or_else(|| user_id.clone())
        .ok_or_else(|| format!("message {} has neither from nor from_user_id", message.id))?;
    let profile = known.and_then(|c| c.profile.as_ref());
    Ok(ContactRef {
        key,
        wa_id,
        user_id,
        profile_name: profile.and_then(|p| p.name.clone()),
        username: profile.and_then(|p| p.username.clone()),
    })
}

fn inbound(m: WireMessage, contact: ContactRef) -> InboundMessage {
    let kind = m.kind.unwrap_or_default();
    let unsupported = |original_type: String, errors| MessageContent::Unsupported {
        original_type,
        errors,
    };
    let errors = m.errors;
    let content = match kind.as_str() {
        "text" => match m.text {
            Some(t) => MessageContent::Text { body: t.body },
            None => unsupported(kind.clone(), errors),
        },
        "image" => m
            .image
            .map_or_else(|| unsupported(kind.clone(), errors), MessageContent::Image),
        "video" => m
            .video
            .map_or_else(|| unsupported(kind.clone(), errors), MessageContent::Video),
        "audio" => m
            .audio
            .map_or_else(|| unsupported(kind.clone(), errors), MessageContent::Audio),
        "document" => m.document.map_or_else(
            || unsupported(kind.clone(), errors),
            MessageContent::Document,
        ),
        "sticker" => m.sticker.map_or_else(
            || unsupported(kind.clone(), errors),
            MessageContent::Sticker,
        ),
        "location" => match m.location {
            Some(l) if l.latitude.is_some() && l.longitude.is_some() => MessageContent::Location {
                latitude: l.latitude.unwrap_or_default(),
                longitude: l.longitude.unwrap_or_default(),
                name: l.name,
                address: l.address,
                url: l.url,
            },
            _ => unsupported(kind.clone(), errors),
        },
        "contacts" => match m.contacts {
            Some(contacts) => MessageContent::Contacts { contacts },
            None => unsupported(kind.clone(), errors),
        },
        "reaction" => match m.reaction {
            Some(r) if r.message_id.is_some() => MessageContent::Reaction {
                message_id: r.message_id.unwrap_or_default(),
                // Removing a reaction omits the emoji (or sends it empty).
                emoji: r.emoji.filter(|e| !e.is_empty()),
            },
            _ => unsupported(kind.clone(), errors),
        },
        "interactive" => match m.interactive {
            Some(i) => match (i.kind.as_deref(), i.button_reply, i.list_reply, i.nfm_reply) {
                (Some("button_reply"), Some(r), _, _) => MessageContent::ButtonReply(r),
                (Some("list_reply"), _, Some(r), _) => MessageContent::ListReply(r),
                (Some("nfm_reply"), _, _, Some(r)) => MessageContent::FlowReply(r),
                (sub, ..) => unsupported(format!("interactive.{}", sub.unwrap_or("")), errors),
            },
            None => unsupported(kind.clone(), errors),
        },
        "button" => match m.button {
            Some(b) if b.payload.is_some() || b.text.is_some() => MessageContent::Button {
                payload: b.payload.unwrap_or_default(),
                text: b.text.unwrap_or_default(),
            },
            _ => unsupported(kind.clone(), errors),
        },
        "order" => m
            .order
            .map_or_else(|| unsupported(kind.clone(), errors), MessageContent::Order),
        "request_welcome" => MessageContent::RequestWelcome,
        "system" => match m.system {
            Some(s) => MessageContent::System {
                system_type: s.kind.unwrap_or_default(),
                new_wa_id: s.new_wa_id.or(s.wa_id),
                new_user_id: s.new_user_id.or(s.user_id),
                body: s.body,
            },
            None => unsupported(kind.clone(), errors),
        },
        // `unsupported` and every type this model does not know (HOOK-4).
        _ => unsupported(kind.clone(), errors),
    };
    InboundMessage {
        id: m.id,
        timestamp: m.timestamp,
        replaced_timestamp: None,
        contact,
        context: m.context,
        referral: m.referral,
        content,
    }
}

fn status_update(s: WireStatus) -> StatusUpdate {
    StatusUpdate {
        message_id: s.id,
        status: s.status.into(),
        timestamp: s.timestamp,
        recipient_wa_id: s.recipient_id,
        recipient_user_id: s.recipient_user_id,
        conversation: s.conversation.map(|c| Conversation {
            id: c.id,
            expiration_timestamp: c.expiration_timestamp,
            origin_type: c.origin.and_then(|o| o.kind),
        }),
        pricing: s.pricing.map(|p| Pricing {
            billable: p.billable,
            pricing_model: p.pricing_model.map(Into::into),
            category: p.category,
            pricing_type: p.kind.map(Into::into),
        }),
        errors: s.errors,
        biz_opaque_callback_data: s.biz_opaque_callback_data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_event(subject: &str) -> String {
        // Meta's group webhooks carry no `entry[].time`.
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"group_lifecycle_update","value":{{"groups":[{{"subject":"{subject}"}}]}}}}]}}]}}"#
        )
    }

    #[test]
    fn keys_without_entry_time_are_stable_and_distinct() {
        let a = parse_events(group_event("a").as_bytes()).unwrap();
        let again = parse_events(group_event("a").as_bytes()).unwrap();
        let b = parse_events(group_event("b").as_bytes()).unwrap();
        assert_eq!(a[0].key, again[0].key, "a redelivery keeps its key");
        assert_ne!(a[0].key, b[0].key, "two changes never share a key");
        assert!(a[0].key.starts_with("group_lifecycle_update:1:h"));
        assert_eq!(a[0].key.len(), "group_lifecycle_update:1:h".len() + 16 + 2);
    }

    #[test]
    fn messaging_limits_as_tiers_or_counts() {
        let read = |v: LimitValue| limit(v).per_day;
        assert_eq!(read(LimitValue::Tier("TIER_250".into())), Some(250));
        assert_eq!(read(LimitValue::Tier("TIER_1K".into())), Some(1_000));
        assert_eq!(read(LimitValue::Tier("TIER_100K".into())), Some(100_000));
        assert_eq!(read(LimitValue::Tier("1000".into())), Some(1_000));
        assert_eq!(read(LimitValue::Count(2_000)), Some(2_000));
        let unlimited = limit(LimitValue::Tier("TIER_UNLIMITED".into()));
        assert!(unlimited.unlimited && unlimited.per_day.is_none());
        let odd = limit(LimitValue::Tier("TIER_SOMETHING".into()));
        assert_eq!(
            (odd.per_day, odd.tier.as_deref()),
            (None, Some("TIER_SOMETHING"))
        );
    }
}

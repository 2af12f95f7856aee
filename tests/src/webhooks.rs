//! Webhook bodies as Meta sends them (Cloud API v23, `whatsapp_business_account`), built for the
//! stories: a customer's text, a quick-reply press, an interactive button reply, a status and a
//! template status update. Signing is the deployment's ([`crate::Deployment::webhook`]).

use serde_json::{Value, json};

/// The business number every story uses, and its account.
pub const NUMBER: &str = "106540352242922";
pub const WABA: &str = "102290129340398";
pub const DISPLAY: &str = "15550100001";

fn envelope(value: Value, field: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": WABA, "changes": [{ "value": value, "field": field }] }]
    })
    .to_string()
}

fn metadata() -> Value {
    json!({ "display_phone_number": DISPLAY, "phone_number_id": NUMBER })
}

fn message(from: &str, name: &str, message: Value) -> String {
    envelope(
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(),
            "contacts": [{ "profile": { "name": name }, "wa_id": from }],
            "messages": [message]
        }),
        "messages",
    )
}

/// A customer's text; `context` is the wamid it replies to (a reply to an outreach).
pub fn text(from: &str, wamid: &str, at: i64, body: &str, context: Option<&str>) -> String {
    let mut m = json!({
        "from": from, "id": wamid, "timestamp": at.to_string(), "type": "text",
        "text": { "body": body }
    });
    if let Some(context) = context {
        m["context"] = json!({ "from": DISPLAY, "id": context });
    }
    message(from, "Customer", m)
}

/// A customer's media message (`image`, `audio`, `video`, `document`, `sticker`) carrying Meta's
/// media id, type and SHA-256 (MEDIA-1).
pub fn media(from: &str, wamid: &str, at: i64, kind: &str, media: (&str, &str, &str)) -> String {
    let (id, mime_type, sha256) = media;
    let mut m = json!({ "from": from, "id": wamid, "timestamp": at.to_string(), "type": kind });
    m[kind] = json!({ "id": id, "mime_type": mime_type, "sha256": sha256 });
    message(from, "Customer", m)
}

/// A customer's first text from a click-to-WhatsApp ad (`referral`, WIN-3).
pub fn text_from_ad(from: &str, wamid: &str, at: i64, body: &str) -> String {
    message(
        from,
        "Customer",
        json!({
            "from": from, "id": wamid, "timestamp": at.to_string(), "type": "text",
            "referral": {
                "source_url": "https://fb.me/e2e-ad", "source_id": "300000000000001",
                "source_type": "ad", "body": "Spring sale", "headline": "Chat with us",
                "media_type": "image", "image_url": "https://example.com/ad.jpg",
                "ctwa_clid": "E2E_CTWA_CLID_0001"
            },
            "text": { "body": body }
        }),
    )
}

/// A template's quick-reply button pressed (`type: button`), with the payload we sent on it.
pub fn button(
    from: &str,
    wamid: &str,
    at: i64,
    context: &str,
    payload: &str,
    title: &str,
) -> String {
    message(
        from,
        "Customer",
        json!({
            "from": from, "id": wamid, "timestamp": at.to_string(), "type": "button",
            "context": { "from": DISPLAY, "id": context },
            "button": { "payload": payload, "text": title }
        }),
    )
}

/// An interactive reply button pressed (a bot step's or the CSAT survey's buttons).
pub fn button_reply(
    from: &str,
    wamid: &str,
    at: i64,
    context: &str,
    id: &str,
    title: &str,
) -> String {
    message(
        from,
        "Customer",
        json!({
            "from": from, "id": wamid, "timestamp": at.to_string(), "type": "interactive",
            "context": { "from": DISPLAY, "id": context },
            "interactive": { "type": "button_reply", "button_reply": { "id": id, "title": title } }
        }),
    )
}

/// A status of one of our messages (`sent`, `delivered`, `read`), with conversation-based pricing.
pub fn status(wamid: &str, recipient: &str, status: &str, at: i64, category: &str) -> String {
    envelope(
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(),
            "statuses": [{
                "id": wamid, "status": status, "timestamp": at.to_string(),
                "recipient_id": recipient,
                "pricing": { "billable": category != "service", "pricing_model": "PMP",
                             "category": category, "type": "regular" }
            }]
        }),
        "messages",
    )
}

/// A status of one of our messages with per-message pricing as Meta reports it (BILL-6):
/// `billable`, `category` and `type` (`regular`, `free_customer_service`, `free_entry_point`).
pub fn status_priced(
    wamid: &str,
    recipient: &str,
    at: i64,
    (category, billable, kind): (&str, bool, &str),
) -> String {
    envelope(
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(),
            "statuses": [{
                "id": wamid, "status": "delivered", "timestamp": at.to_string(),
                "recipient_id": recipient,
                "pricing": { "billable": billable, "pricing_model": "PMP",
                             "category": category, "type": kind }
            }]
        }),
        "messages",
    )
}

/// Meta's review result for a template (`message_template_status_update`).
pub fn template_status(name: &str, language: &str, event: &str, at: i64) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": WABA, "time": at,
            "changes": [{
                "value": {
                    "event": event,
                    "message_template_id": 400000000000001_i64,
                    "message_template_name": name,
                    "message_template_language": language,
                    "reason": "NONE"
                },
                "field": "message_template_status_update"
            }]
        }]
    })
    .to_string()
}

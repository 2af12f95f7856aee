//! What Switchboard sends, as Cloud API request bodies: pure, no I/O, always compiled.
//!
//! [`Outgoing`] is one message of any kind Switchboard sends; [`message_body`] turns it into the
//! JSON of `POST /{phone_number_id}/messages`, and [`Outgoing::validate`] checks Meta's length and
//! count limits first, naming the offending field the way the body names it
//! (`interactive.action.buttons[1].reply.title`). [`checked_body`] does both;
//! `Outgoing::try_from(&rules::OutboundContent)` converts and validates what a decision asked for.
//!
//! Every body this module produces validates against the `Message` request schema of Meta's
//! OpenAPI specification (see `tests/request_schema.rs` for the test and the schema patches it
//! needs). Choices where the schema and Meta's docs leave room:
//!
//! - templates name their language with `"policy": "deterministic"`, which the schema requires and
//!   the API accepts (and assumes when it is missing);
//! - location coordinates are sent as exact decimal strings (`"37.4847"`), the schema's type;
//! - template button indexes are strings (`"0"`), the schema's type;
//! - a text message asks for a link preview when its body contains an `http://` or `https://`
//!   link (an agent who pastes a link expects the preview);
//! - a media `source` that starts with `http://` or `https://` is a link, anything else a media id.
//!
//! The quick-reply payloads Switchboard puts on outreach templates are OUT-8 HMAC payloads built
//! by `rules::outreach`; a template body carries them as given.

use rules::effect::{
    Latitude, ListRow, ListSection, Longitude, MediaKind, OutboundContent, TemplateHeader,
};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// Meta's limits, in characters (Unicode scalar values) or items.
pub mod limits {
    /// A text message's body.
    pub const TEXT_BODY: usize = 4096;
    /// A media caption (image, video, document).
    pub const CAPTION: usize = 1024;
    /// An interactive message's body.
    pub const INTERACTIVE_BODY: usize = 1024;
    /// An interactive message's text header and footer.
    pub const INTERACTIVE_HEADER: usize = 60;
    pub const INTERACTIVE_FOOTER: usize = 60;
    /// Reply buttons per message, and each one's title and id.
    pub const REPLY_BUTTONS: usize = 3;
    pub const REPLY_BUTTON_TITLE: usize = 20;
    pub const REPLY_BUTTON_ID: usize = 256;
    /// A list: its button's label, sections, rows (in all sections together), and per row.
    pub const LIST_BUTTON: usize = 20;
    pub const LIST_SECTIONS: usize = 10;
    pub const LIST_ROWS: usize = 10;
    pub const LIST_SECTION_TITLE: usize = 24;
    pub const LIST_ROW_ID: usize = 200;
    pub const LIST_ROW_TITLE: usize = 24;
    pub const LIST_ROW_DESCRIPTION: usize = 72;
    /// A template's name (lowercase letters, digits and `_`).
    pub const TEMPLATE_NAME: usize = 512;
    /// A language code such as `en` or `en_US`.
    pub const LANGUAGE_CODE: usize = 15;
    /// A template text parameter (the schema's `TextParameter.text`).
    pub const TEMPLATE_TEXT_PARAMETER: usize = 32768;
    /// A template header text (parameter included).
    pub const TEMPLATE_HEADER_TEXT: usize = 60;
    /// Template buttons are indexed 0 to 9.
    pub const TEMPLATE_BUTTON_INDEX: u8 = 9;
    /// Switchboard's guard: a reaction is one emoji, and the longest ones (families, flags with
    /// modifiers) are about ten code points.
    pub const REACTION_EMOJI: usize = 16;
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text {
        body: String,
        preview_url: bool,
    },
    /// Image, video, audio, document or sticker. Captions only on image, video and document; a
    /// file name only on a document.
    Media {
        media: MediaKind,
        source: MediaSource,
        caption: Option<String>,
        filename: Option<String>,
    },
    /// Reply buttons (1 to 3).
    Buttons {
        header: Option<String>,
        body: String,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    },
    /// A list: `button` opens the sections (1 to 10, 10 rows in all).
    List {
        header: Option<String>,
        body: String,
        footer: Option<String>,
        button: String,
        sections: Vec<ListSection>,
    },
    Location {
        latitude: Latitude,
        longitude: Longitude,
        name: Option<String>,
        address: Option<String>,
    },
    /// A reaction to `message_id`; `emoji: None` removes ours.
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    Template(Template),
}

/// Where a media file is: uploaded to Meta (an id) or at a public http(s) link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    Id(String),
    Link(String),
}

impl MediaSource {
    /// `http://…` and `https://…` are links, anything else a media id.
    pub fn parse(source: &str) -> MediaSource {
        if source.starts_with("https://") || source.starts_with("http://") {
            MediaSource::Link(source.to_string())
        } else {
            MediaSource::Id(source.to_string())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    /// Comes back in the customer's `button_reply.id`.
    pub id: String,
    pub title: String,
}

/// A template message: name, language and the parameters of its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    /// `en`, `en_US`, …
    pub language: String,
    pub header: Option<HeaderParameter>,
    /// Body parameters in order (`{{1}}`, `{{2}}`, …).
    pub body: Vec<String>,
    pub buttons: Vec<ButtonParameter>,
}

/// The parameter of a template's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderParameter {
    Text(String),
    Image(MediaSource),
    Video(MediaSource),
    Document {
        source: MediaSource,
        filename: Option<String>,
    },
}

/// The parameter of one of a template's buttons, by the button's index (0 to 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonParameter {
    /// Comes back in the customer's `button.payload` (OUT-8 payloads on outreach).
    QuickReply { index: u8, payload: String },
    /// The variable suffix of a URL button's URL.
    Url { index: u8, text: String },
}

/// A message that breaks one of Meta's limits; `field` names it as the request body does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutgoingError {
    #[error("{field} is empty")]
    Empty { field: String },
    #[error("{field} has {len} characters; Meta allows at most {max}")]
    TooLong {
        field: String,
        len: usize,
        max: usize,
    },
    #[error("{field} has {count} items; Meta allows {min} to {max}")]
    Count {
        field: String,
        count: usize,
        min: usize,
        max: usize,
    },
    #[error("{field}: {value:?} appears more than once; it must be unique")]
    Duplicate { field: String, value: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: &'static str },
}

impl OutgoingError {
    /// The offending field, as the request body names it.
    pub fn field(&self) -> &str {
        match self {
            OutgoingError::Empty { field }
            | OutgoingError::TooLong { field, .. }
            | OutgoingError::Count { field, .. }
            | OutgoingError::Duplicate { field, .. }
            | OutgoingError::Invalid { field, .. } => field,
        }
    }
}

/// The Cloud API body for `POST /{phone_number_id}/messages`: `to` is the recipient's WhatsApp id
/// (or phone number), `reply_to` a `wamid` to quote. Does not check Meta's limits: call
/// [`Outgoing::validate`] first, or use [`checked_body`].
pub fn message_body(to: &str, msg: &Outgoing, reply_to: Option<&str>) -> Value {
    let (kind, content) = match msg {
        Outgoing::Text { body, preview_url } => {
            ("text", json!({ "body": body, "preview_url": preview_url }))
        }
        Outgoing::Media {
            media,
            source,
            caption,
            filename,
        } => {
            let mut object = media_object(source);
            if let Some(caption) = caption {
                object.insert("caption".into(), json!(caption));
            }
            if let Some(filename) = filename {
                object.insert("filename".into(), json!(filename));
            }
            (media_type(*media), Value::Object(object))
        }
        Outgoing::Buttons {
            header,
            body,
            footer,
            buttons,
        } => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
                .collect();
            (
                "interactive",
                interactive(
                    "button",
                    header,
                    body,
                    footer,
                    json!({ "buttons": buttons }),
                ),
            )
        }
        Outgoing::List {
            header,
            body,
            footer,
            button,
            sections,
        } => {
            let sections: Vec<Value> = sections.iter().map(section).collect();
            (
                "interactive",
                interactive(
                    "list",
                    header,
                    body,
                    footer,
                    json!({ "button": button, "sections": sections }),
                ),
            )
        }
        Outgoing::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            let mut object = Map::new();
            object.insert("latitude".into(), json!(latitude.to_decimal()));
            object.insert("longitude".into(), json!(longitude.to_decimal()));
            if let Some(name) = name {
                object.insert("name".into(), json!(name));
            }
            if let Some(address) = address {
                object.insert("address".into(), json!(address));
            }
            ("location", Value::Object(object))
        }
        Outgoing::Reaction { message_id, emoji } => (
            "reaction",
            json!({ "message_id": message_id, "emoji": emoji.as_deref().unwrap_or("") }),
        ),
        Outgoing::Template(template) => ("template", template_object(template)),
    };
    let mut body = Map::new();
    body.insert("messaging_product".into(), json!("whatsapp"));
    body.insert("recipient_type".into(), json!("individual"));
    body.insert("to".into(), json!(to));
    body.insert("type".into(), json!(kind));
    if let Some(reply_to) = reply_to {
        body.insert("context".into(), json!({ "message_id": reply_to }));
    }
    body.insert(kind.into(), content);
    Value::Object(body)
}

/// [`Outgoing::validate`], then [`message_body`]; `to` must not be empty either.
pub fn checked_body(
    to: &str,
    msg: &Outgoing,
    reply_to: Option<&str>,
) -> Result<Value, OutgoingError> {
    non_empty("to", to)?;
    if let Some(reply_to) = reply_to {
        non_empty("context.message_id", reply_to)?;
    }
    msg.validate()?;
    Ok(message_body(to, msg, reply_to))
}

fn media_type(media: MediaKind) -> &'static str {
    match media {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
    }
}

fn media_object(source: &MediaSource) -> Map<String, Value> {
    let mut object = Map::new();
    match source {
        MediaSource::Id(id) => object.insert("id".into(), json!(id)),
        MediaSource::Link(link) => object.insert("link".into(), json!(link)),
    };
    object
}

fn interactive(
    kind: &str,
    header: &Option<String>,
    body: &str,
    footer: &Option<String>,
    action: Value,
) -> Value {
    let mut object = Map::new();
    object.insert("type".into(), json!(kind));
    if let Some(header) = header {
        object.insert("header".into(), json!({ "type": "text", "text": header }));
    }
    object.insert("body".into(), json!({ "text": body }));
    if let Some(footer) = footer {
        object.insert("footer".into(), json!({ "text": footer }));
    }
    object.insert("action".into(), action);
    Value::Object(object)
}

fn section(section: &ListSection) -> Value {
    let rows: Vec<Value> = section
        .rows
        .iter()
        .map(|row| {
            let mut object = Map::new();
            object.insert("id".into(), json!(row.id));
            object.insert("title".into(), json!(row.title));
            if let Some(description) = &row.description {
                object.insert("description".into(), json!(description));
            }
            Value::Object(object)
        })
        .collect();
    let mut object = Map::new();
    if let Some(title) = &section.title {
        object.insert("title".into(), json!(title));
    }
    object.insert("rows".into(), Value::Array(rows));
    Value::Object(object)
}

fn template_object(template: &Template) -> Value {
    let mut components = Vec::new();
    if let Some(header) = &template.header {
        let parameter = match header {
            HeaderParameter::Text(text) => json!({ "type": "text", "text": text }),
            HeaderParameter::Image(source) => {
                json!({ "type": "image", "image": media_object(source) })
            }
            HeaderParameter::Video(source) => {
                json!({ "type": "video", "video": media_object(source) })
            }
            HeaderParameter::Document { source, filename } => {
                let mut document = media_object(source);
                if let Some(filename) = filename {
                    document.insert("filename".into(), json!(filename));
                }
                json!({ "type": "document", "document": document })
            }
        };
        components.push(json!({ "type": "header", "parameters": [parameter] }));
    }
    if !template.body.is_empty() {
        let parameters: Vec<Value> = template
            .body
            .iter()
            .map(|text| json!({ "type": "text", "text": text }))
            .collect();
        components.push(json!({ "type": "body", "parameters": parameters }));
    }
    for button in &template.buttons {
        components.push(match button {
            ButtonParameter::QuickReply { index, payload } => json!({
                "type": "button",
                "sub_type": "quick_reply",
                "index": index.to_string(),
                "parameters": [{ "type": "payload", "payload": payload }],
            }),
            ButtonParameter::Url { index, text } => json!({
                "type": "button",
                "sub_type": "url",
                "index": index.to_string(),
                "parameters": [{ "type": "text", "text": text }],
            }),
        });
    }
    let mut object = Map::new();
    object.insert("name".into(), json!(template.name));
    object.insert(
        "language".into(),
        json!({ "policy": "deterministic", "code": template.language }),
    );
    if !components.is_empty() {
        object.insert("components".into(), Value::Array(components));
    }
    Value::Object(object)
}

// ---------------------------------------------------------------------------------------------
// Validation

fn chars(value: &str) -> usize {
    value.chars().count()
}

fn non_empty(field: &str, value: &str) -> Result<(), OutgoingError> {
    if value.trim().is_empty() {
        return Err(OutgoingError::Empty {
            field: field.to_string(),
        });
    }
    Ok(())
}

/// Not blank, at most `max` characters.
fn text(field: &str, value: &str, max: usize) -> Result<(), OutgoingError> {
    non_empty(field, value)?;
    let len = chars(value);
    if len > max {
        return Err(OutgoingError::TooLong {
            field: field.to_string(),
            len,
            max,
        });
    }
    Ok(())
}

fn optional_text(field: &str, value: &Option<String>, max: usize) -> Result<(), OutgoingError> {
    value.as_deref().map_or(Ok(()), |v| text(field, v, max))
}

fn count(field: &str, count: usize, min: usize, max: usize) -> Result<(), OutgoingError> {
    if count < min || count > max {
        return Err(OutgoingError::Count {
            field: field.to_string(),
            count,
            min,
            max,
        });
    }
    Ok(())
}

fn unique<'a>(
    seen: &mut HashSet<&'a str>,
    field: &str,
    value: &'a str,
) -> Result<(), OutgoingError> {
    if !seen.insert(value) {
        return Err(OutgoingError::Duplicate {
            field: field.to_string(),
            value: value.to_string(),
        });
    }
    Ok(())
}

fn invalid(field: &str, reason: &'static str) -> OutgoingError {
    OutgoingError::Invalid {
        field: field.to_string(),
        reason,
    }
}

fn media_source(field: &str, source: &MediaSource) -> Result<(), OutgoingError> {
    match source {
        MediaSource::Id(id) => {
            let field = format!("{field}.id");
            non_empty(&field, id)?;
            if id.chars().any(char::is_whitespace) {
                return Err(invalid(&field, "a media id has no spaces"));
            }
        }
        MediaSource::Link(link) => {
            let field = format!("{field}.link");
            let rest = link
                .strip_prefix("https://")
                .or_else(|| link.strip_prefix("http://"))
                .ok_or_else(|| invalid(&field, "a media link must be an http(s) URL"))?;
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if host.is_empty() || link.chars().any(char::is_whitespace) {
                return Err(invalid(&field, "a media link must be an http(s) URL"));
            }
        }
    }
    Ok(())
}

/// Meta refuses template text parameters with new lines, tabs or more than four consecutive
/// spaces (error 132018).
fn template_parameter(field: &str, value: &str, max: usize) -> Result<(), OutgoingError> {
    text(field, value, max)?;
    if value.contains(['\n', '\r', '\t']) {
        return Err(invalid(
            field,
            "a template parameter cannot contain new lines or tabs",
        ));
    }
    if value.contains("     ") {
        return Err(invalid(
            field,
            "a template parameter cannot contain more than 4 consecutive spaces",
        ));
    }
    Ok(())
}

impl Outgoing {
    /// Checks Meta's limits ([`limits`]); the error names the first offending field.
    pub fn validate(&self) -> Result<(), OutgoingError> {
        match self {
            Outgoing::Text { body, .. } => text("text.body", body, limits::TEXT_BODY),
            Outgoing::Media {
                media,
                source,
                caption,
                filename,
            } => {
                let kind = media_type(*media);
                media_source(kind, source)?;
                if caption.is_some() && matches!(media, MediaKind::Audio | MediaKind::Sticker) {
                    return Err(invalid(
                        &format!("{kind}.caption"),
                        "only images, videos and documents take a caption",
                    ));
                }
                optional_text(&format!("{kind}.caption"), caption, limits::CAPTION)?;
                if filename.is_some() && *media != MediaKind::Document {
                    return Err(invalid(
                        &format!("{kind}.filename"),
                        "only documents take a file name",
                    ));
                }
                optional_text(&format!("{kind}.filename"), filename, usize::MAX)
            }
            Outgoing::Buttons {
                header,
                body,
                footer,
                buttons,
            } => {
                interactive_texts(header, body, footer)?;
                count(
                    "interactive.action.buttons",
                    buttons.len(),
                    1,
                    limits::REPLY_BUTTONS,
                )?;
                let (mut ids, mut titles) = (HashSet::new(), HashSet::new());
                for (i, button) in buttons.iter().enumerate() {
                    let id_field = format!("interactive.action.buttons[{i}].reply.id");
                    text(&id_field, &button.id, limits::REPLY_BUTTON_ID)?;
                    if button.id.trim() != button.id {
                        return Err(invalid(&id_field, "no leading or trailing spaces"));
                    }
                    unique(&mut ids, &id_field, &button.id)?;
                    let title_field = format!("interactive.action.buttons[{i}].reply.title");
                    text(&title_field, &button.title, limits::REPLY_BUTTON_TITLE)?;
                    unique(&mut titles, &title_field, &button.title)?;
                }
                Ok(())
            }
            Outgoing::List {
                header,
                body,
                footer,
                button,
                sections,
            } => {
                interactive_texts(header, body, footer)?;
                text("interactive.action.button", button, limits::LIST_BUTTON)?;
                list_sections(sections)
            }
            Outgoing::Location { name, address, .. } => {
                optional_text("location.name", name, usize::MAX)?;
                optional_text("location.address", address, usize::MAX)
            }
            Outgoing::Reaction { message_id, emoji } => {
                non_empty("reaction.message_id", message_id)?;
                if let Some(emoji) = emoji {
                    text("reaction.emoji", emoji, limits::REACTION_EMOJI)?;
                    if emoji.chars().any(char::is_whitespace) {
                        return Err(invalid("reaction.emoji", "a reaction is one emoji"));
                    }
                }
                Ok(())
            }
            Outgoing::Template(template) => template.validate(),
        }
    }
}

fn interactive_texts(
    header: &Option<String>,
    body: &str,
    footer: &Option<String>,
) -> Result<(), OutgoingError> {
    optional_text(
        "interactive.header.text",
        header,
        limits::INTERACTIVE_HEADER,
    )?;
    text("interactive.body.text", body, limits::INTERACTIVE_BODY)?;
    optional_text(
        "interactive.footer.text",
        footer,
        limits::INTERACTIVE_FOOTER,
    )
}

fn list_sections(sections: &[ListSection]) -> Result<(), OutgoingError> {
    count(
        "interactive.action.sections",
        sections.len(),
        1,
        limits::LIST_SECTIONS,
    )?;
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    count(
        "interactive.action.sections[].rows",
        rows,
        1,
        limits::LIST_ROWS,
    )?;
    let mut ids = HashSet::new();
    for (s, section) in sections.iter().enumerate() {
        let prefix = format!("interactive.action.sections[{s}]");
        match &section.title {
            Some(title) => text(
                &format!("{prefix}.title"),
                title,
                limits::LIST_SECTION_TITLE,
            )?,
            None if sections.len() > 1 => {
                return Err(invalid(
                    &format!("{prefix}.title"),
                    "every section needs a title when a list has more than one",
                ));
            }
            None => {}
        }
        count(
            &format!("{prefix}.rows"),
            section.rows.len(),
            1,
            limits::LIST_ROWS,
        )?;
        for (
            r,
            ListRow {
                id,
                title,
                description,
            },
        ) in section.rows.iter().enumerate()
        {
            let row = format!("{prefix}.rows[{r}]");
            text(&format!("{row}.id"), id, limits::LIST_ROW_ID)?;
            unique(&mut ids, &format!("{row}.id"), id)?;
            text(&format!("{row}.title"), title, limits::LIST_ROW_TITLE)?;
            optional_text(
                &format!("{row}.description"),
                description,
                limits::LIST_ROW_DESCRIPTION,
            )?;
        }
    }
    Ok(())
}

impl Template {
    pub fn validate(&self) -> Result<(), OutgoingError> {
        text("template.name", &self.name, limits::TEMPLATE_NAME)?;
        if !self
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(invalid(
                "template.name",
                "a template name has only lowercase letters, digits and underscores",
            ));
        }
        text(
            "template.language.code",
            &self.language,
            limits::LANGUAGE_CODE,
        )?;
        if !self
            .language
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '-')
        {
            return Err(invalid(
                "template.language.code",
                "a language code looks like en or en_US",
            ));
        }
        let header = "template.components[header].parameters[0]";
        match &self.header {
            None => {}
            Some(HeaderParameter::Text(value)) => template_parameter(
                &format!("{header}.text"),
                value,
                limits::TEMPLATE_HEADER_TEXT,
            )?,
            Some(HeaderParameter::Image(source)) => {
                media_source(&format!("{header}.image"), source)?
            }
            Some(HeaderParameter::Video(source)) => {
                media_source(&format!("{header}.video"), source)?
            }
            Some(HeaderParameter::Document { source, filename }) => {
                media_source(&format!("{header}.document"), source)?;
                optional_text(&format!("{header}.document.filename"), filename, usize::MAX)?;
            }
        }
        for (i, value) in self.body.iter().enumerate() {
            template_parameter(
                &format!("template.components[body].parameters[{i}].text"),
                value,
                limits::TEMPLATE_TEXT_PARAMETER,
            )?;
        }
        count(
            "template.components[button]",
            self.buttons.len(),
            0,
            usize::from(limits::TEMPLATE_BUTTON_INDEX) + 1,
        )?;
        let mut indexes = HashSet::new();
        for button in &self.buttons {
            let (index, field, value) = match button {
                ButtonParameter::QuickReply { index, payload } => (*index, "payload", payload),
                ButtonParameter::Url { index, text } => (*index, "text", text),
            };
            let prefix = format!("template.components[button {index}]");
            if index > limits::TEMPLATE_BUTTON_INDEX {
                return Err(invalid(
                    &format!("{prefix}.index"),
                    "template buttons are indexed 0 to 9",
                ));
            }
            if !indexes.insert(index) {
                return Err(OutgoingError::Duplicate {
                    field: "template.components[button].index".into(),
                    value: index.to_string(),
                });
            }
            non_empty(&format!("{prefix}.parameters[0].{field}"), value)?;
        }
        Ok(())
    }
}

impl TryFrom<&OutboundContent> for Outgoing {
    type Error = OutgoingError;

    /// Converts what a decision asked for and checks Meta's limits.
    fn try_from(content: &OutboundContent) -> Result<Self, OutgoingError> {
        let outgoing = match content {
            OutboundContent::Text { body } => Outgoing::Text {
                body: body.clone(),
                preview_url: body.contains("https://") || body.contains("http://"),
            },
            OutboundContent::Media {
                media,
                source,
                caption,
            } => Outgoing::Media {
                media: *media,
                source: MediaSource::parse(source),
                caption: caption.clone(),
                filename: None,
            },
            OutboundContent::Buttons { body, buttons } => Outgoing::Buttons {
                header: None,
                body: body.clone(),
                footer: None,
                buttons: buttons
                    .iter()
                    .map(|(id, title)| ReplyButton {
                        id: id.clone(),
                        title: title.clone(),
                    })
                    .collect(),
            },
            OutboundContent::List {
                body,
                button,
                sections,
            } => Outgoing::List {
                header: None,
                body: body.clone(),
                footer: None,
                button: button.clone(),
                sections: sections.clone(),
            },
            OutboundContent::Location {
                latitude,
                longitude,
                name,
                address,
            } => Outgoing::Location {
                latitude: *latitude,
                longitude: *longitude,
                name: name.clone(),
                address: address.clone(),
            },
            OutboundContent::Reaction { message, emoji } => Outgoing::Reaction {
                message_id: message.as_str().to_string(),
                emoji: emoji.clone(),
            },
            OutboundContent::Template {
                name,
                language,
                header,
                parameters,
                button_payloads,
            } => {
                let header = match header {
                    None => None,
                    Some(TemplateHeader::Text { text }) => {
                        Some(HeaderParameter::Text(text.clone()))
                    }
                    Some(TemplateHeader::Media { media, source }) => {
                        let source = MediaSource::parse(source);
                        Some(match media {
                            MediaKind::Image => HeaderParameter::Image(source),
                            MediaKind::Video => HeaderParameter::Video(source),
                            MediaKind::Document => HeaderParameter::Document {
                                source,
                                filename: None,
                            },
                            MediaKind::Audio | MediaKind::Sticker => {
                                return Err(invalid(
                                    "template.components[header].parameters[0]",
                                    "a template header takes an image, a video or a document",
                                ));
                            }
                        })
                    }
                };
                let mut buttons = Vec::with_capacity(button_payloads.len());
                for (index, payload) in button_payloads.iter().enumerate() {
                    let index = u8::try_from(index)
                        .ok()
                        .filter(|i| *i <= limits::TEMPLATE_BUTTON_INDEX)
                        .ok_or(OutgoingError::Count {
                            field: "template.components[button]".into(),
                            count: button_payloads.len(),
                            min: 0,
                            max: usize::from(limits::TEMPLATE_BUTTON_INDEX) + 1,
                        })?;
                    buttons.push(ButtonParameter::QuickReply {
                        index,
                        payload: payload.clone(),
                    });
                }
                Outgoing::Template(Template {
                    name: name.as_str().to_string(),
                    language: language.clone(),
                    header,
                    body: parameters.clone(),
                    buttons,
                })
            }
        };
        outgoing.validate()?;
        Ok(outgoing)
    }
}

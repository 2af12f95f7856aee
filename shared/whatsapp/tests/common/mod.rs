//! One sample of every message kind Switchboard sends, shared by the schema test and the client's
//! round trips.

#![allow(dead_code)] // each test binary uses part of it

use rules::OutreachId;
use rules::effect::{Latitude, ListRow, ListSection, Longitude, MediaKind};
use rules::outreach::{ButtonPayload, OutreachKey};
use whatsapp::outbound::{
    ButtonParameter, HeaderParameter, MediaSource, Outgoing, ReplyButton, Template,
};

pub const TO: &str = "16505551234";

/// OUT-8: the quick-reply payload Switchboard puts on outreach, built by the rules.
pub fn outreach_payload(button: u8) -> String {
    ButtonPayload {
        outreach: OutreachId::new("out-42").unwrap(),
        sent_at: rules::Timestamp::from_unix(1_750_000_000),
        button,
    }
    .encode(&OutreachKey::new(b"test outreach key".to_vec()))
    .unwrap()
}

fn template(
    header: Option<HeaderParameter>,
    body: &[&str],
    buttons: Vec<ButtonParameter>,
) -> Outgoing {
    Outgoing::Template(Template {
        name: "order_update".into(),
        language: "en_US".into(),
        header,
        body: body.iter().map(|s| s.to_string()).collect(),
        buttons,
    })
}

fn media(
    media: MediaKind,
    source: MediaSource,
    caption: Option<&str>,
    filename: Option<&str>,
) -> Outgoing {
    Outgoing::Media {
        media,
        source,
        caption: caption.map(String::from),
        filename: filename.map(String::from),
    }
}

fn id(s: &str) -> MediaSource {
    MediaSource::Id(s.into())
}

fn link(s: &str) -> MediaSource {
    MediaSource::Link(s.into())
}

/// `(name, message, reply_to)`: every kind, every media source, every template component kind.
pub fn samples() -> Vec<(&'static str, Outgoing, Option<&'static str>)> {
    vec![
        (
            "text",
            Outgoing::Text {
                body: "Hello".into(),
                preview_url: false,
            },
            None,
        ),
        (
            "text with preview, as a reply",
            Outgoing::Text {
                body: "See https://example.com/order/1".into(),
                preview_url: true,
            },
            Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="),
        ),
        (
            "image by id with caption",
            media(
                MediaKind::Image,
                id("1479537139650973"),
                Some("Your receipt"),
                None,
            ),
            None,
        ),
        (
            "image by link",
            media(
                MediaKind::Image,
                link("https://example.com/a.jpg"),
                None,
                None,
            ),
            None,
        ),
        (
            "video by link with caption",
            media(
                MediaKind::Video,
                link("https://example.com/a.mp4"),
                Some("How to"),
                None,
            ),
            None,
        ),
        (
            "audio by id",
            media(MediaKind::Audio, id("1013859600285441"), None, None),
            None,
        ),
        (
            "document by link with file name",
            media(
                MediaKind::Document,
                link("https://example.com/invoice.pdf"),
                Some("Invoice"),
                Some("invoice.pdf"),
            ),
            None,
        ),
        (
            "sticker by id",
            media(MediaKind::Sticker, id("798882015472548"), None, None),
            None,
        ),
        (
            "sticker by link",
            media(
                MediaKind::Sticker,
                link("https://example.com/s.webp"),
                None,
                None,
            ),
            Some("wamid.A"),
        ),
        (
            "reply buttons",
            Outgoing::Buttons {
                header: Some("Survey".into()),
                body: "How did we do?".into(),
                footer: Some("Thanks".into()),
                buttons: [("good", "Good"), ("ok", "OK"), ("bad", "Bad")]
                    .into_iter()
                    .map(|(id, title)| ReplyButton {
                        id: id.into(),
                        title: title.into(),
                    })
                    .collect(),
            },
            None,
        ),
        (
            "list",
            Outgoing::List {
                header: Some("Menu".into()),
                body: "Pick a topic".into(),
                footer: None,
                button: "Topics".into(),
                sections: vec![
                    ListSection {
                        title: Some("Orders".into()),
                        rows: vec![
                            ListRow {
                                id: "where".into(),
                                title: "Where is it?".into(),
                                description: Some("Track an order".into()),
                            },
                            ListRow {
                                id: "return".into(),
                                title: "Return".into(),
                                description: None,
                            },
                        ],
                    },
                    ListSection {
                        title: Some("Account".into()),
                        rows: vec![ListRow {
                            id: "login".into(),
                            title: "Cannot log in".into(),
                            description: None,
                        }],
                    },
                ],
            },
            None,
        ),
        (
            "location",
            Outgoing::Location {
                latitude: Latitude::from_degrees(37.4847).unwrap(),
                longitude: Longitude::from_degrees(-122.1486).unwrap(),
                name: Some("Meta HQ".into()),
                address: Some("1 Hacker Way, Menlo Park, CA 94025".into()),
            },
            None,
        ),
        (
            "reaction",
            Outgoing::Reaction {
                message_id: "wamid.B".into(),
                emoji: Some("👍".into()),
            },
            None,
        ),
        (
            "reaction removal",
            Outgoing::Reaction {
                message_id: "wamid.B".into(),
                emoji: None,
            },
            None,
        ),
        (
            "template without parameters",
            template(None, &[], vec![]),
            None,
        ),
        (
            "template: text header, body, quick replies (OUT-8)",
            template(
                Some(HeaderParameter::Text("Ana".into())),
                &["Ana", "#1234"],
                vec![
                    ButtonParameter::QuickReply {
                        index: 0,
                        payload: outreach_payload(0),
                    },
                    ButtonParameter::QuickReply {
                        index: 1,
                        payload: outreach_payload(1),
                    },
                ],
            ),
            None,
        ),
        (
            "template: image header",
            template(
                Some(HeaderParameter::Image(link("https://example.com/h.jpg"))),
                &["x"],
                vec![],
            ),
            None,
        ),
        (
            "template: video header",
            template(
                Some(HeaderParameter::Video(id("2319181731810290"))),
                &[],
                vec![],
            ),
            None,
        ),
        (
            "template: document header",
            template(
                Some(HeaderParameter::Document {
                    source: link("https://example.com/t.pdf"),
                    filename: Some("terms.pdf".into()),
                }),
                &[],
                vec![],
            ),
            None,
        ),
        (
            "template: url button",
            template(
                None,
                &["Ana"],
                vec![ButtonParameter::Url {
                    index: 2,
                    text: "order/1234".into(),
                }],
            ),
            None,
        ),
    ]
}

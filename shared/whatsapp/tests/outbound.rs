//! Outbound bodies: their exact shape, Meta's limits (a typed error naming the field), and the
//! conversion from what a decision asks for (`rules::OutboundContent`).

mod common;

use rules::TemplateName;
use rules::effect::{
    Latitude, ListRow, ListSection, Longitude, MediaKind, OutboundContent, TemplateHeader,
};
use serde_json::json;
use whatsapp::outbound::{
    ButtonParameter, HeaderParameter, MediaSource, Outgoing, OutgoingError, ReplyButton, Template,
    checked_body, message_body,
};

fn field(err: OutgoingError) -> String {
    err.field().to_string()
}

fn buttons(titles: &[&str]) -> Outgoing {
    Outgoing::Buttons {
        header: None,
        body: "Pick one".into(),
        footer: None,
        buttons: titles
            .iter()
            .enumerate()
            .map(|(i, t)| ReplyButton {
                id: format!("b{i}"),
                title: t.to_string(),
            })
            .collect(),
    }
}

fn list(sections: Vec<ListSection>) -> Outgoing {
    Outgoing::List {
        header: None,
        body: "Pick".into(),
        footer: None,
        button: "Open".into(),
        sections,
    }
}

fn rows(n: usize, prefix: &str) -> Vec<ListRow> {
    (0..n)
        .map(|i| ListRow {
            id: format!("{prefix}{i}"),
            title: format!("Row {i}"),
            description: None,
        })
        .collect()
}

fn template(f: impl FnOnce(&mut Template)) -> Outgoing {
    let mut t = Template {
        name: "order_update".into(),
        language: "en_US".into(),
        header: None,
        body: vec!["Ana".into()],
        buttons: vec![],
    };
    f(&mut t);
    Outgoing::Template(t)
}

#[test]
fn a_text_body_has_metas_envelope_and_the_reply_context() {
    let body = message_body(
        "16505551234",
        &Outgoing::Text {
            body: "Hi".into(),
            preview_url: false,
        },
        Some("wamid.IN"),
    );
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "text",
            "context": { "message_id": "wamid.IN" },
            "text": { "body": "Hi", "preview_url": false },
        })
    );
}

#[test]
fn a_template_body_carries_header_body_and_button_parameters() {
    let msg = template(|t| {
        t.header = Some(HeaderParameter::Document {
            source: MediaSource::Id("55".into()),
            filename: Some("terms.pdf".into()),
        });
        t.buttons = vec![
            ButtonParameter::QuickReply {
                index: 0,
                payload: common::outreach_payload(0),
            },
            ButtonParameter::Url {
                index: 1,
                text: "o/1".into(),
            },
        ];
    });
    let body = message_body("1555", &msg, None);
    assert_eq!(
        body["template"],
        json!({
            "name": "order_update",
            "language": { "policy": "deterministic", "code": "en_US" },
            "components": [
                { "type": "header", "parameters": [
                    { "type": "document", "document": { "id": "55", "filename": "terms.pdf" } } ] },
                { "type": "body", "parameters": [ { "type": "text", "text": "Ana" } ] },
                { "type": "button", "sub_type": "quick_reply", "index": "0",
                  "parameters": [ { "type": "payload", "payload": common::outreach_payload(0) } ] },
                { "type": "button", "sub_type": "url", "index": "1",
                  "parameters": [ { "type": "text", "text": "o/1" } ] },
            ],
        })
    );
}

#[test]
fn locations_are_exact_decimals_and_reaction_removal_is_an_empty_emoji() {
    let body = message_body(
        "1555",
        &Outgoing::Location {
            latitude: Latitude::from_degrees(-33.8688).unwrap(),
            longitude: Longitude::from_degrees(151.2093).unwrap(),
            name: None,
            address: None,
        },
        None,
    );
    assert_eq!(
        body["location"],
        json!({ "latitude": "-33.8688", "longitude": "151.2093" })
    );
    let body = message_body(
        "1555",
        &Outgoing::Reaction {
            message_id: "wamid.X".into(),
            emoji: None,
        },
        None,
    );
    assert_eq!(
        body["reaction"],
        json!({ "message_id": "wamid.X", "emoji": "" })
    );
}

#[test]
fn metas_limits_are_refused_naming_the_field() {
    let cases: Vec<(Outgoing, &str)> = vec![
        (
            Outgoing::Text {
                body: " ".into(),
                preview_url: false,
            },
            "text.body",
        ),
        (
            Outgoing::Text {
                body: "x".repeat(4097),
                preview_url: false,
            },
            "text.body",
        ),
        (buttons(&[]), "interactive.action.buttons"),
        (buttons(&["a", "b", "c", "d"]), "interactive.action.buttons"),
        (
            buttons(&["a", "twenty-one characters"]),
            "interactive.action.buttons[1].reply.title",
        ),
        (
            buttons(&["Yes", "Yes"]),
            "interactive.action.buttons[1].reply.title",
        ),
        (list(vec![]), "interactive.action.sections"),
        (
            list(vec![ListSection {
                title: None,
                rows: rows(11, "r"),
            }]),
            "interactive.action.sections[].rows",
        ),
        (
            list(vec![
                ListSection {
                    title: Some("A".into()),
                    rows: rows(6, "a"),
                },
                ListSection {
                    title: Some("B".into()),
                    rows: rows(5, "b"),
                },
            ]),
            "interactive.action.sections[].rows",
        ),
        (
            list(vec![
                ListSection {
                    title: Some("A".into()),
                    rows: rows(1, "a"),
                },
                ListSection {
                    title: None,
                    rows: rows(1, "b"),
                },
            ]),
            "interactive.action.sections[1].title",
        ),
        (
            list(vec![
                ListSection {
                    title: Some("A".into()),
                    rows: rows(1, "same"),
                },
                ListSection {
                    title: Some("B".into()),
                    rows: rows(1, "same"),
                },
            ]),
            "interactive.action.sections[1].rows[0].id",
        ),
        (
            list(vec![ListSection {
                title: None,
                rows: vec![ListRow {
                    id: "a".into(),
                    title: "t".into(),
                    description: Some("d".repeat(73)),
                }],
            }]),
            "interactive.action.sections[0].rows[0].description",
        ),
        (
            Outgoing::Media {
                media: MediaKind::Sticker,
                source: MediaSource::Id("1".into()),
                caption: Some("no".into()),
                filename: None,
            },
            "sticker.caption",
        ),
        (
            Outgoing::Media {
                media: MediaKind::Image,
                source: MediaSource::Id("1".into()),
                caption: None,
                filename: Some("a.jpg".into()),
            },
            "image.filename",
        ),
        (
            Outgoing::Media {
                media: MediaKind::Image,
                source: MediaSource::Link("ftp://x/a.jpg".into()),
                caption: None,
                filename: None,
            },
            "image.link",
        ),
        (
            Outgoing::Media {
                media: MediaKind::Video,
                source: MediaSource::Id("1".into()),
                caption: Some("c".repeat(1025)),
                filename: None,
            },
            "video.caption",
        ),
        (
            Outgoing::Reaction {
                message_id: "".into(),
                emoji: None,
            },
            "reaction.message_id",
        ),
        (
            Outgoing::Reaction {
                message_id: "w".into(),
                emoji: Some("a b".into()),
            },
            "reaction.emoji",
        ),
        (
            template(|t| t.name = "Order Update".into()),
            "template.name",
        ),
        (
            template(|t| t.language = "".into()),
            "template.language.code",
        ),
        (
            template(|t| t.body = vec!["two\nlines".into()]),
            "template.components[body].parameters[0].text",
        ),
        (
            template(|t| t.body = vec!["a".into(), "".into()]),
            "template.components[body].parameters[1].text",
        ),
        (
            template(|t| t.body = vec!["a     b".into()]),
            "template.components[body].parameters[0].text",
        ),
        (
            template(|t| t.header = Some(HeaderParameter::Text("h".repeat(61)))),
            "template.components[header].parameters[0].text",
        ),
        (
            template(|t| {
                t.buttons = vec![ButtonParameter::QuickReply {
                    index: 10,
                    payload: "p".into(),
                }]
            }),
            "template.components[button 10].index",
        ),
        (
            template(|t| {
                t.buttons = vec![
                    ButtonParameter::QuickReply {
                        index: 0,
                        payload: "p".into(),
                    },
                    ButtonParameter::Url {
                        index: 0,
                        text: "u".into(),
                    },
                ]
            }),
            "template.components[button].index",
        ),
        (
            template(|t| {
                t.buttons = vec![ButtonParameter::QuickReply {
                    index: 0,
                    payload: "".into(),
                }]
            }),
            "template.components[button 0].parameters[0].payload",
        ),
    ];
    for (msg, expected) in cases {
        let err = msg.validate().expect_err(expected);
        assert_eq!(field(err.clone()), expected, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    // Within the limits: three buttons of 20 characters, ten rows over two sections.
    buttons(&["twenty characters!!!", "b", "c"])
        .validate()
        .unwrap();
    list(vec![
        ListSection {
            title: Some("A".into()),
            rows: rows(5, "a"),
        },
        ListSection {
            title: Some("B".into()),
            rows: rows(5, "b"),
        },
    ])
    .validate()
    .unwrap();
}

#[test]
fn checked_body_refuses_an_empty_recipient() {
    let msg = Outgoing::Text {
        body: "Hi".into(),
        preview_url: false,
    };
    assert_eq!(field(checked_body("", &msg, None).unwrap_err()), "to");
    assert_eq!(
        field(checked_body("1555", &msg, Some("")).unwrap_err()),
        "context.message_id"
    );
    assert_eq!(
        checked_body("1555", &msg, None).unwrap(),
        message_body("1555", &msg, None)
    );
}

#[test]
fn outbound_content_converts_and_is_checked() {
    let text = Outgoing::try_from(&OutboundContent::text("see https://example.com")).unwrap();
    assert_eq!(
        text,
        Outgoing::Text {
            body: "see https://example.com".into(),
            preview_url: true
        }
    );
    let media = OutboundContent::Media {
        media: MediaKind::Image,
        source: "https://example.com/a.jpg".into(),
        caption: Some("c".into()),
    };
    assert!(matches!(
        Outgoing::try_from(&media).unwrap(),
        Outgoing::Media {
            source: MediaSource::Link(_),
            ..
        }
    ));
    let by_id = OutboundContent::Media {
        media: MediaKind::Audio,
        source: "1013859600285441".into(),
        caption: None,
    };
    assert!(matches!(
        Outgoing::try_from(&by_id).unwrap(),
        Outgoing::Media {
            source: MediaSource::Id(_),
            ..
        }
    ));
    let buttons = OutboundContent::Buttons {
        body: "Rate us".into(),
        buttons: vec![("1".into(), "Bad".into()), ("5".into(), "Great".into())],
    };
    let Outgoing::Buttons {
        buttons: converted, ..
    } = Outgoing::try_from(&buttons).unwrap()
    else {
        panic!("buttons");
    };
    assert_eq!(
        converted[1],
        ReplyButton {
            id: "5".into(),
            title: "Great".into()
        }
    );
    let too_many = OutboundContent::Buttons {
        body: "Rate us".into(),
        buttons: (0..4).map(|i| (i.to_string(), i.to_string())).collect(),
    };
    assert_eq!(
        field(Outgoing::try_from(&too_many).unwrap_err()),
        "interactive.action.buttons"
    );
    let location = OutboundContent::Location {
        latitude: Latitude::from_degrees(1.5).unwrap(),
        longitude: Longitude::from_degrees(-2.25).unwrap(),
        name: None,
        address: None,
    };
    let body = message_body("1", &Outgoing::try_from(&location).unwrap(), None);
    assert_eq!(
        body["location"],
        json!({ "latitude": "1.5", "longitude": "-2.25" })
    );
    let reaction = OutboundContent::Reaction {
        message: rules::MessageId::new("wamid.X").unwrap(),
        emoji: Some("🙏".into()),
    };
    assert_eq!(
        Outgoing::try_from(&reaction).unwrap(),
        Outgoing::Reaction {
            message_id: "wamid.X".into(),
            emoji: Some("🙏".into())
        }
    );
    let list = OutboundContent::List {
        body: "Pick".into(),
        button: "Open".into(),
        sections: vec![ListSection {
            title: None,
            rows: rows(2, "r"),
        }],
    };
    assert!(matches!(
        Outgoing::try_from(&list).unwrap(),
        Outgoing::List { .. }
    ));
}

/// OUT-8: the template carries the rules' HMAC payloads as given, payload `i` on button `i`.
#[test]
fn out_8_template_payloads_are_carried_as_given() {
    let payloads = vec![common::outreach_payload(0), common::outreach_payload(1)];
    let content = OutboundContent::Template {
        name: TemplateName::new("offer").unwrap(),
        language: "pt_BR".into(),
        header: Some(TemplateHeader::Media {
            media: MediaKind::Video,
            source: "https://example.com/v.mp4".into(),
        }),
        parameters: vec!["Ana".into()],
        button_payloads: payloads.clone(),
    };
    let msg = Outgoing::try_from(&content).unwrap();
    let body = message_body("1555", &msg, None);
    let components = body["template"]["components"].as_array().unwrap();
    assert_eq!(
        components[0]["parameters"][0],
        json!({ "type": "video", "video": { "link": "https://example.com/v.mp4" } })
    );
    for (i, payload) in payloads.iter().enumerate() {
        let button = &components[2 + i];
        assert_eq!(button["index"], json!(i.to_string()));
        assert_eq!(button["parameters"][0]["payload"], json!(payload));
    }
    let audio_header = OutboundContent::Template {
        name: TemplateName::new("offer").unwrap(),
        language: "pt_BR".into(),
        header: Some(TemplateHeader::Media {
            media: MediaKind::Audio,
            source: "1".into(),
        }),
        parameters: vec![],
        button_payloads: vec![],
    };
    assert_eq!(
        field(Outgoing::try_from(&audio_header).unwrap_err()),
        "template.components[header].parameters[0]"
    );
    let eleven = OutboundContent::Template {
        name: TemplateName::new("offer").unwrap(),
        language: "pt_BR".into(),
        header: None,
        parameters: vec![],
        button_payloads: vec!["p".into(); 11],
    };
    assert!(matches!(
        Outgoing::try_from(&eleven).unwrap_err(),
        OutgoingError::Count {
            count: 11,
            max: 10,
            ..
        }
    ));
}

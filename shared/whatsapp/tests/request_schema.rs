//! Every body `whatsapp::outbound` produces validates against the request schema of
//! `POST /{Phone-Number-ID}/messages` (`components.schemas.Message`) in Meta's OpenAPI
//! specification, `../shared/reference/meta-openapi/business-messaging-api_v23.0.yaml` beside the
//! repository, read as it is and patched here where it is known to be wrong.
//!
//! Patches (each one first asserts that the bug is still there, so this list stays true):
//!
//! 1. `additionalProperties: false` inside the `allOf` branches of every message kind
//!    (`TextMessage`, `ImageMessage`, …) rejects every body, because the common properties
//!    (`messaging_product`, `to`, …) live in the other branch. Removed from the branches and
//!    replaced by `unevaluatedProperties: false` on the message schema itself, which keeps the
//!    intent: unknown top-level fields are still rejected.
//! 2. `discriminator` is OpenAPI, not JSON Schema, so a validator ignores it, and template
//!    components and parameters would go unchecked. Each discriminator of `TemplateComponent`,
//!    `ParameterObject` and `ButtonParameterObject` is turned into `if type == X then <mapped
//!    schema>` (the mapped schema's `allOf` reference back to the base is dropped to avoid a loop).
//! 3. The button `index` pattern `^[2-6, 11-14]$` (a character class that accepts neither `0` nor
//!    `9`) becomes `^[0-9]$`, Meta's documented 0–9 (in `TemplateComponent` and
//!    `ButtonComponent`).
//! 4. `LanguageObject` requires `policy`, which Meta's own examples omit and the API defaults to
//!    `deterministic`; no longer required. (Switchboard sends `"policy": "deterministic"`
//!    anyway, so its bodies pass the unpatched rule too.)
//!
//! 5. Location `latitude` and `longitude` are typed `string`, but Meta's own examples send
//!    numbers, which the API accepts; either is allowed. (Switchboard sends exact decimal strings,
//!    so its bodies pass the unpatched rule too.)
//! 6. `BaseMessageProperties` requires `recipient_type`, which Meta's own examples omit and the
//!    API defaults to `individual`; no longer required. (Switchboard sends it.)
//!
//! Not patched, because it does not affect Switchboard's bodies: `MediaObject` lists neither
//! `caption` nor `filename` (nested objects stay open, so they pass); `format: url` is not a JSON
//! Schema format and is ignored.

mod common;

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use whatsapp::outbound::{Outgoing, message_body};

const MESSAGE_KINDS: &[&str] = &[
    "TextMessage",
    "AudioMessage",
    "DocumentMessage",
    "ImageMessage",
    "LocationMessage",
    "VideoMessage",
    "StickerMessage",
    "ReactionMessage",
    "InteractiveMessage",
    "TemplateMessage",
    "ContactsMessage",
];

/// Meta's specification (MIT), vendored in `tests/fixtures/meta-openapi/` from
/// `../shared/reference/meta-openapi/`, so a fresh clone tests without the folder beside it.
fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/meta-openapi")
}

/// `components.schemas` of Meta's specification, as JSON.
fn meta_schemas() -> Map<String, Value> {
    let path = reference_dir().join("business-messaging-api_v23.0.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The schema test reads Meta's OpenAPI specification vendored in \
             tests/fixtures/meta-openapi.",
            path.display()
        )
    });
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("the spec is YAML");
    // Through serde_norway's own Value: YAML has integer keys (`200:`) that JSON maps need as text.
    let spec: Value = serde_json::to_value(&yaml).expect("the spec converts to JSON");
    match &spec["components"]["schemas"] {
        Value::Object(schemas) => schemas.clone(),
        other => panic!("components.schemas is not an object: {other}"),
    }
}

fn schema_mut<'a>(schemas: &'a mut Map<String, Value>, name: &str) -> &'a mut Value {
    schemas
        .get_mut(name)
        .unwrap_or_else(|| panic!("schema {name} is gone from the spec"))
}

/// Patch 1.
fn patch_closed_allof_branches(schemas: &mut Map<String, Value>) {
    for name in MESSAGE_KINDS {
        let schema = schema_mut(schemas, name);
        let branches = schema["allOf"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("{name} is no longer an allOf"));
        let mut closed = false;
        for branch in branches {
            if let Some(object) = branch.as_object_mut() {
                closed |= object.remove("additionalProperties") == Some(json!(false));
            }
        }
        // TemplateMessage's branch is the one left open.
        assert!(
            closed || *name == "TemplateMessage",
            "patch 1 no longer needed for {name}"
        );
        schema["unevaluatedProperties"] = json!(false);
    }
}

/// Patch 2.
fn patch_discriminators(schemas: &mut Map<String, Value>) {
    for base in [
        "TemplateComponent",
        "ParameterObject",
        "ButtonParameterObject",
    ] {
        let discriminator = schema_mut(schemas, base)
            .as_object_mut()
            .and_then(|o| o.remove("discriminator"))
            .unwrap_or_else(|| panic!("patch 2: {base} has no discriminator any more"));
        let property = discriminator["propertyName"]
            .as_str()
            .expect("propertyName");
        let mut cases = Vec::new();
        for (value, target) in discriminator["mapping"].as_object().expect("mapping") {
            let target = target
                .as_str()
                .and_then(|t| t.strip_prefix("#/components/schemas/"))
                .expect("a local mapping");
            let mut mapped = schemas[target].clone();
            let back = json!({ "$ref": format!("#/components/schemas/{base}") });
            if let Some(all_of) = mapped["allOf"].as_array_mut() {
                all_of.retain(|branch| *branch != back);
            }
            cases.push(json!({
                "if": { "properties": { property: { "const": value } }, "required": [property] },
                "then": mapped,
            }));
        }
        let schema = schema_mut(schemas, base);
        schema["allOf"] = Value::Array(cases);
    }
}

/// Patch 3.
fn patch_button_index(schemas: &mut Map<String, Value>) {
    for (name, pointer) in [
        ("TemplateComponent", "/properties/index/pattern"),
        ("ButtonComponent", "/allOf/1/properties/index/pattern"),
    ] {
        let pattern = schema_mut(schemas, name)
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("patch 3: {name}{pointer} is gone"));
        assert_eq!(
            *pattern,
            json!("^[2-6, 11-14]$"),
            "patch 3 no longer needed in {name}"
        );
        *pattern = json!("^[0-9]$");
    }
}

/// Patch 4.
fn patch_language_policy(schemas: &mut Map<String, Value>) {
    let required = schema_mut(schemas, "LanguageObject")["required"]
        .as_array_mut()
        .expect("LanguageObject.required");
    let before = required.len();
    required.retain(|r| r != "policy");
    assert_eq!(required.len(), before - 1, "patch 4 no longer needed");
}

/// Patch 6.
fn patch_recipient_type(schemas: &mut Map<String, Value>) {
    let required = schema_mut(schemas, "BaseMessageProperties")["required"]
        .as_array_mut()
        .expect("BaseMessageProperties.required");
    let before = required.len();
    required.retain(|r| r != "recipient_type");
    assert_eq!(required.len(), before - 1, "patch 6 no longer needed");
}

/// Patch 5.
fn patch_location_coordinates(schemas: &mut Map<String, Value>) {
    let location = schema_mut(schemas, "LocationMessage")
        .pointer_mut("/allOf/1/properties/location/properties")
        .expect("LocationMessage's location properties");
    for axis in ["latitude", "longitude"] {
        assert_eq!(
            location[axis]["type"],
            json!("string"),
            "patch 5 no longer needed"
        );
        location[axis]["type"] = json!(["string", "number"]);
    }
}

/// The schemas `Message` reaches, following `$ref`s.
fn closure(schemas: &Map<String, Value>, root: &str) -> Map<String, Value> {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for (key, value) in object {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => out.push(
                            target
                                .strip_prefix("#/components/schemas/")
                                .expect("local reference")
                                .to_string(),
                        ),
                        _ => refs(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut reached = Map::new();
    let mut todo = vec![root.to_string()];
    while let Some(name) = todo.pop() {
        if reached.contains_key(&name) {
            continue;
        }
        let schema = schemas[&name].clone();
        refs(&schema, &mut todo);
        reached.insert(name, schema);
    }
    reached
}

/// The patched schemas `Message` reaches.
fn patched() -> &'static Map<String, Value> {
    static PATCHED: OnceLock<Map<String, Value>> = OnceLock::new();
    PATCHED.get_or_init(|| {
        let mut schemas = meta_schemas();
        patch_closed_allof_branches(&mut schemas);
        // Before patch 2, which copies ButtonComponent.
        patch_button_index(&mut schemas);
        patch_discriminators(&mut schemas);
        patch_language_policy(&mut schemas);
        patch_location_coordinates(&mut schemas);
        patch_recipient_type(&mut schemas);
        closure(&schemas, "Message")
    })
}

/// A validator for one of the patched schemas.
fn validator_for(schema: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema}"),
        "components": { "schemas": patched() },
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .unwrap_or_else(|e| panic!("the patched {schema} schema compiles: {e}"))
}

fn message_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| validator_for("Message"))
}

/// Why `body` fails `Message`; `oneOf` only says "none matched", so the errors of the schema its
/// `type` names are added.
fn errors(body: &Value) -> Vec<String> {
    let mut errors: Vec<String> = message_validator()
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        let kind = body["type"].as_str().unwrap_or_default();
        let name = MESSAGE_KINDS
            .iter()
            .find(|k| k.to_lowercase() == format!("{kind}message"))
            .copied();
        if let Some(name) = name {
            errors.extend(
                validator_for(name)
                    .iter_errors(body)
                    .map(|e| format!("{name}: {e} at {}", e.instance_path())),
            );
        }
    }
    errors
}

#[test]
fn every_message_kind_validates_against_metas_request_schema() {
    let mut failures = Vec::new();
    for (name, msg, reply_to) in common::samples() {
        msg.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let body = message_body(common::TO, &msg, reply_to);
        let errors = errors(&body);
        if !errors.is_empty() {
            failures.push(format!("{name}: {body}\n  {}", errors.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_samples_cover_every_kind_and_template_component() {
    let mut kinds = BTreeSet::new();
    let mut components = BTreeSet::new();
    for (_, msg, _) in common::samples() {
        let body = message_body(common::TO, &msg, None);
        kinds.insert(body["type"].as_str().unwrap().to_string());
        if let Outgoing::Template(_) = msg {
            for c in body["template"]["components"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let detail = c["sub_type"]
                    .as_str()
                    .or(c["parameters"][0]["type"].as_str())
                    .unwrap();
                components.insert(format!("{}:{detail}", c["type"].as_str().unwrap()));
            }
        }
    }
    let expected_kinds = [
        "audio",
        "document",
        "image",
        "interactive",
        "location",
        "reaction",
        "sticker",
        "template",
        "text",
        "video",
    ];
    assert_eq!(
        kinds,
        expected_kinds.iter().map(|s| s.to_string()).collect()
    );
    let expected_components = [
        "body:text",
        "button:quick_reply",
        "button:url",
        "header:document",
        "header:image",
        "header:text",
        "header:video",
    ];
    assert_eq!(
        components,
        expected_components.iter().map(|s| s.to_string()).collect()
    );
}

/// The patched schema must still refuse what Meta refuses, or the test above proves nothing.
#[test]
fn wrong_bodies_are_rejected() {
    let text = message_body(
        common::TO,
        &Outgoing::Text {
            body: "Hi".into(),
            preview_url: false,
        },
        None,
    );
    let (_, template, _) = common::samples()
        .into_iter()
        .find(|(name, ..)| name.starts_with("template: text header"))
        .unwrap();
    let template = message_body(common::TO, &template, None);
    let (_, buttons, _) = common::samples()
        .into_iter()
        .find(|(name, ..)| *name == "reply buttons")
        .unwrap();
    let buttons = message_body(common::TO, &buttons, None);

    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut no_to = text.clone();
    no_to.as_object_mut().unwrap().remove("to");
    cases.push(("missing to", no_to));
    let mut unknown = text.clone();
    unknown["previewUrl"] = json!(true);
    cases.push((
        "unknown top-level field (patch 1 keeps this closed)",
        unknown,
    ));
    let mut mismatched = text.clone();
    mismatched["type"] = json!("image");
    cases.push(("type without its object", mismatched));
    let mut bad_text = text.clone();
    bad_text["text"]["colour"] = json!("red");
    cases.push(("unknown field in text", bad_text));
    let mut four = buttons.clone();
    let extra = four["interactive"]["action"]["buttons"][0].clone();
    four["interactive"]["action"]["buttons"]
        .as_array_mut()
        .unwrap()
        .push(extra);
    cases.push(("four reply buttons", four));
    let mut long_title = buttons.clone();
    long_title["interactive"]["action"]["buttons"][0]["reply"]["title"] = json!("x".repeat(21));
    cases.push(("button title over 20", long_title));
    let mut index = template.clone();
    index["template"]["components"][2]["index"] = json!("10");
    cases.push(("button index 10 (patch 3)", index));
    let mut no_payload = template.clone();
    no_payload["template"]["components"][2]["parameters"][0] = json!({ "type": "payload" });
    cases.push(("quick reply without payload (patch 2)", no_payload));
    let mut header = template.clone();
    header["template"]["components"][0]["parameters"][0] = json!({ "type": "image" });
    cases.push(("image header without image (patch 2)", header));
    let mut no_code = template.clone();
    no_code["template"]["language"] = json!({ "policy": "deterministic" });
    cases.push(("language without code", no_code));

    for (name, body) in cases {
        assert!(!errors(&body).is_empty(), "{name} was accepted: {body}");
    }
}

/// Meta's own request examples for the kinds Switchboard sends pass the patched schema: the
/// patches repair the schema's bugs and nothing more is needed.
#[test]
fn metas_examples_of_the_kinds_we_send_validate_after_the_patches() {
    let path = reference_dir().join("examples/spec_send_message_examples.json");
    let examples: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sent_kinds = [
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "reaction",
        "interactive",
        "template",
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, example) in examples["request_examples"].as_object().unwrap() {
        let body = example.get("value").unwrap_or(example);
        let kind = body["type"].as_str().unwrap_or_default();
        let interactive = body["interactive"]["type"].as_str().unwrap_or("button");
        let template_button = body["template"]["components"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["sub_type"] == "CATALOG" || c["sub_type"] == "flow");
        // Only what Switchboard sends: no catalogs, products, flows or order messages. One
        // example is wrong rather than the schema: its quick replies carry booleans as text
        // parameters (`"text": true`) where Meta wants a `payload`.
        if name == "Send Sample Issue Resolution Template" {
            assert!(!errors(body).is_empty(), "{name} became valid");
            continue;
        }
        if !sent_kinds.contains(&kind)
            || !matches!(interactive, "button" | "list")
            || template_button
        {
            continue;
        }
        checked += 1;
        let errors = errors(body);
        if !errors.is_empty() {
            failures.push(format!("{name}: {}", errors.join("; ")));
        }
    }
    assert!(checked >= 20, "only {checked} examples checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

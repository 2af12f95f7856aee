//! `infra/template.yaml` as data, for the tests that check it: the offline template test
//! (`tests/tests/infra_template.rs`) and the permission test on the AWS path
//! (`tests/tests/iam_permissions.rs`). CloudFormation's short-form tags are turned into their long
//! forms, and an intrinsic reference reads as one [`token`] (`Ref:X`, `GetAtt:X.Arn`, `Sub:…`).

pub use serde_norway::{Mapping, Value};
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The template, with CloudFormation's short-form tags (`!Ref X`, `!GetAtt A.B`, `!Sub s`, …)
/// turned into their long forms (`{Ref: X}`, `{Fn::GetAtt: [A, B]}`, `{Fn::Sub: s}`).
pub fn template() -> Value {
    let path = repo().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    long_form(serde_norway::from_str(&text).expect("infra/template.yaml is YAML"))
}

pub fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = long_form(tagged.value);
            let (key, inner) = match (name, inner) {
                ("Ref" | "Condition", v) => (name.to_owned(), v),
                ("GetAtt", Value::String(s)) => {
                    let (resource, attribute) = s.split_once('.').expect("!GetAtt Resource.Attr");
                    (
                        "Fn::GetAtt".to_owned(),
                        Value::Sequence(vec![resource.into(), attribute.into()]),
                    )
                }
                (other, v) => (format!("Fn::{other}"), v),
            };
            let mut map = Mapping::new();
            map.insert(key.into(), inner);
            Value::Mapping(map)
        }
        Value::Mapping(map) => {
            Value::Mapping(map.into_iter().map(|(k, v)| (k, long_form(v))).collect())
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(long_form).collect()),
        other => other,
    }
}

pub fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(single) => vec![single],
        None => vec![],
    }
}

/// An intrinsic reference as one token: `Ref:X`, `GetAtt:X.Attr`, `Sub:<string>`; a literal as
/// `Literal:<text>`.
pub fn token(value: &Value) -> String {
    if let Some(name) = text(value.get("Ref")) {
        return format!("Ref:{name}");
    }
    if let Some(parts) = value.get("Fn::GetAtt") {
        let parts: Vec<String> = list(Some(parts))
            .into_iter()
            .filter_map(|p| text(Some(p)))
            .collect();
        return format!("GetAtt:{}", parts.join("."));
    }
    if let Some(sub) = text(value.get("Fn::Sub")) {
        return format!("Sub:{sub}");
    }
    match text(Some(value)) {
        Some(literal) => format!("Literal:{literal}"),
        None => format!("Other:{value:?}"),
    }
}

pub fn resources(t: &Value) -> Vec<(String, &Value)> {
    match t.get("Resources") {
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(k, v)| (text(Some(k)).expect("resource ids are strings"), v))
            .collect(),
        _ => vec![],
    }
}

pub fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(t)
        .into_iter()
        .filter(|(_, r)| text(r.get("Type")).as_deref() == Some(kind))
        .collect()
}

pub fn resource<'a>(t: &'a Value, id: &str) -> Option<&'a Value> {
    at(t, &["Resources", id])
}

/// A function's property, or the template's `Globals.Function` default.
pub fn function_property<'a>(t: &'a Value, function: &'a Value, name: &str) -> Option<&'a Value> {
    at(function, &["Properties", name]).or_else(|| at(t, &["Globals", "Function", name]))
}

pub fn variables(vars: Option<&Value>) -> Vec<(String, String)> {
    match vars {
        Some(Value::Mapping(vars)) => vars
            .iter()
            .map(|(k, v)| (text(Some(k)).unwrap_or_default(), token(v)))
            .collect(),
        _ => vec![],
    }
}

pub fn environment(f: &Value) -> Vec<(String, String)> {
    variables(at(f, &["Properties", "Environment", "Variables"]))
}

/// The `Allow` statements of a role's inline policies.
pub fn allow_statements<'a>(t: &'a Value, role: &str) -> Vec<&'a Value> {
    let Some(r) = resource(t, role) else {
        return vec![];
    };
    list(at(r, &["Properties", "Policies"]))
        .into_iter()
        .flat_map(|policy| list(at(policy, &["PolicyDocument", "Statement"])))
        .filter(|statement| text(statement.get("Effect")).as_deref() == Some("Allow"))
        .collect()
}

/// Every (action, resource token) a role's inline policies allow.
pub fn role_permissions(t: &Value, role: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    for statement in allow_statements(t, role) {
        for action in list(statement.get("Action")) {
            for resource in list(statement.get("Resource")) {
                out.push((text(Some(action)).unwrap_or_default(), token(resource)));
            }
        }
    }
    out
}

/// A function's on-failure destination for asynchronous invocations, if it has one.
pub fn on_failure_destination(f: &Value) -> Option<&Value> {
    at(
        f,
        &[
            "Properties",
            "EventInvokeConfig",
            "DestinationConfig",
            "OnFailure",
            "Destination",
        ],
    )
}

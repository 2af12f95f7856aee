//! Message templates and the number's ice breakers (TPL-1..5, AUTO-2; seed 002 and seed 004).
//!
//! - TPL-1 [`Template`] carries what Meta approves (name, language, category, header, body of at
//!   most 1024 characters, footer, buttons) and what Meta tells us later (status, quality). Only an
//!   `APPROVED` template is sent ([`Template::check_sendable`]); [`campaign_effect`] says what a
//!   status change means for the campaigns using the template (pause, resume, stop).
//! - TPL-2 [`validate`] checks a template and returns **every** problem, each naming its field,
//!   so the console can show them all at once. [`ButtonRules::Strict`] is seed 002's stricter rule
//!   a number may opt into. [`TemplateCatalogue::add`] keeps the account at 250 names.
//! - TPL-3 [`VariableMapping`] maps each `{{n}}` of the header and the body to a contact field;
//!   [`check_mapping`] lists the unmapped ones; [`render_parameters`] fills them from a contact.
//! - TPL-4 [`TemplateCatalogue::apply`] applies `message_template_status_update` and
//!   `message_template_quality_update` events: idempotent, and an event older than the one already
//!   applied changes nothing (webhooks arrive out of order).
//! - TPL-5 the recontact flag, and [`TemplateCatalogue::recontact_template`] which refuses a
//!   recontact template that is not flagged or not approved.
//! - AUTO-2 [`IceBreakers::new`]: at most 4, each non-empty, at most 80 characters, no emoji
//!   ([`find_emoji`] names the Unicode block it found).
//!
//! Lengths are counted in characters (Unicode scalar values), which is how Meta's editor counts.
//! Header and body number their variables separately, each from `{{1}}`, as Meta's components do.

use crate::ids::TemplateName;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub const MAX_BODY_CHARS: usize = 1024;
pub const MAX_HEADER_TEXT_CHARS: usize = 60;
pub const MAX_FOOTER_CHARS: usize = 60;
/// Meta's limit for a button's label.
pub const MAX_BUTTON_TEXT_CHARS: usize = 25;
pub const MAX_BUTTONS: usize = 10;
pub const MAX_URL_BUTTONS: usize = 2;
pub const MAX_PHONE_BUTTONS: usize = 1;
pub const MAX_QUICK_REPLIES: usize = 10;
/// Meta's limit on template names: lowercase letters, digits and underscores, at most 512.
pub const MAX_NAME_CHARS: usize = 512;
/// TPL-2: template names per WhatsApp Business Account.
pub const MAX_TEMPLATES_PER_ACCOUNT: usize = 250;
pub const MAX_ICE_BREAKERS: usize = 4;
pub const MAX_ICE_BREAKER_CHARS: usize = 80;

/// The category Meta approves a template under; it decides the price (BILL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

/// TPL-1: where the template stands with Meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    Pending,
    Approved,
    Rejected,
    Paused,
    Disabled,
}

impl TemplateStatus {
    /// Parses the status text of Meta's webhooks and API (`"APPROVED"`).
    pub fn from_meta(text: &str) -> Result<Self, TemplateError> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PENDING" => Ok(TemplateStatus::Pending),
            "APPROVED" => Ok(TemplateStatus::Approved),
            "REJECTED" => Ok(TemplateStatus::Rejected),
            "PAUSED" => Ok(TemplateStatus::Paused),
            "DISABLED" => Ok(TemplateStatus::Disabled),
            _ => Err(TemplateError::UnknownStatus(
                text.chars().take(40).collect(),
            )),
        }
    }

    /// When two events carry the same time, the more restrictive status wins, so the result does
    /// not depend on the order in which they arrived (TPL-4).
    fn severity(self) -> u8 {
        match self {
            TemplateStatus::Approved => 0,
            TemplateStatus::Pending => 1,
            TemplateStatus::Rejected => 2,
            TemplateStatus::Paused => 3,
            TemplateStatus::Disabled => 4,
        }
    }
}

impl fmt::Display for TemplateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TemplateStatus::Pending => "PENDING",
            TemplateStatus::Approved => "APPROVED",
            TemplateStatus::Rejected => "REJECTED",
            TemplateStatus::Paused => "PAUSED",
            TemplateStatus::Disabled => "DISABLED",
        })
    }
}

/// Meta's quality rating of a template (`GREEN`, `YELLOW`, `RED`; `UNKNOWN` while too new).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Quality {
    Green,
    Yellow,
    Red,
    #[default]
    Unknown,
}

impl Quality {
    pub fn from_meta(text: &str) -> Result<Self, TemplateError> {
        match text.trim().to_ascii_uppercase().as_str() {
            "GREEN" | "HIGH" => Ok(Quality::Green),
            "YELLOW" | "MEDIUM" => Ok(Quality::Yellow),
            "RED" | "LOW" => Ok(Quality::Red),
            "UNKNOWN" => Ok(Quality::Unknown),
            _ => Err(TemplateError::UnknownQuality(
                text.chars().take(40).collect(),
            )),
        }
    }

    fn severity(self) -> u8 {
        match self {
            Quality::Unknown => 0,
            Quality::Green => 1,
            Quality::Yellow => 2,
            Quality::Red => 3,
        }
    }
}

/// The template's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Header {
    /// Text, at most 60 characters, at most one variable.
    Text(String),
    Image,
    Video,
    Document,
    Location,
}

/// A button of a template (TPL-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Button {
    QuickReply { text: String },
    Url { text: String, url: String },
    PhoneNumber { text: String, phone: String },
}

impl Button {
    pub fn text(&self) -> &str {
        match self {
            Button::QuickReply { text }
            | Button::Url { text, .. }
            | Button::PhoneNumber { text, .. } => text,
        }
    }

    pub fn is_quick_reply(&self) -> bool {
        matches!(self, Button::QuickReply { .. })
    }
}

/// Which button rules a number follows (TPL-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ButtonRules {
    /// Meta's current limits: ≤10 buttons, ≤2 URL, ≤1 phone, ≤10 quick replies, quick replies
    /// grouped apart from the calls to action.
    #[default]
    Meta,
    /// Seed 002: quick replies or calls to action, never both; at most one phone and one URL.
    Strict,
}

/// Which part of a template a variable belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    Header,
    Body,
}

/// A variable of a template: `{{index}}` of the header or of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Variable {
    pub component: Component,
    pub index: u32,
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = match self.component {
            Component::Header => "header",
            Component::Body => "body",
        };
        write!(f, "{part} {{{{{}}}}}", self.index)
    }
}

/// A contact field a variable can be filled from (TPL-3).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "field", content = "name", rename_all = "snake_case")]
pub enum ContactField {
    FirstName,
    LastName,
    Email,
    Phone,
    /// A custom field of the contact list, by its column name.
    Custom(String),
}

impl fmt::Display for ContactField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactField::FirstName => f.write_str("first name"),
            ContactField::LastName => f.write_str("last name"),
            ContactField::Email => f.write_str("email"),
            ContactField::Phone => f.write_str("phone"),
            ContactField::Custom(name) => write!(f, "custom field {name:?}"),
        }
    }
}

/// The fields of a contact that templates can use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// E.164, as text (`+4915123456789`).
    pub phone: Option<String>,
    pub custom: BTreeMap<String, String>,
}

impl ContactFields {
    /// The field's value, if the contact has a non-blank one.
    pub fn value(&self, field: &ContactField) -> Option<&str> {
        let v = match field {
            ContactField::FirstName => self.first_name.as_deref(),
            ContactField::LastName => self.last_name.as_deref(),
            ContactField::Email => self.email.as_deref(),
            ContactField::Phone => self.phone.as_deref(),
            ContactField::Custom(name) => self.custom.get(name).map(String::as_str),
        };
        v.filter(|s| !s.trim().is_empty())
    }
}

/// TPL-3: which contact field fills each variable (seed 002's "Mapping" tab). Keys are the
/// variable numbers of each component.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VariableMapping {
    pub header: BTreeMap<u32, ContactField>,
    pub body: BTreeMap<u32, ContactField>,
}

impl VariableMapping {
    pub fn get(&self, variable: Variable) -> Option<&ContactField> {
        match variable.component {
            Component::Header => self.header.get(&variable.index),
            Component::Body => self.body.get(&variable.index),
        }
    }

    pub fn set(&mut self, variable: Variable, field: ContactField) {
        match variable.component {
            Component::Header => self.header.insert(variable.index, field),
            Component::Body => self.body.insert(variable.index, field),
        };
    }
}

/// A template in the number's catalogue (TPL-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: TemplateName,
    /// Meta's language code, e.g. `en_US`, `it`.
    pub language: String,
    pub category: TemplateCategory,
    pub header: Option<Header>,
    pub body: String,
    pub footer: Option<String>,
    pub buttons: Vec<Button>,
    pub status: TemplateStatus,
    pub quality: Quality,
    /// TPL-5: may be chosen as the number's recontact template.
    pub recontact: bool,
    /// TPL-3: variable → contact field.
    pub mapping: VariableMapping,
    /// TPL-4: time of the status event last applied (`None` until Meta sent one).
    pub status_as_of: Option<Timestamp>,
    /// TPL-4: time of the quality event last applied.
    pub quality_as_of: Option<Timestamp>,
}

impl Template {
    /// A new template as submitted: `PENDING`, quality unknown, nothing mapped.
    pub fn new(
        name: TemplateName,
        language: impl Into<String>,
        category: TemplateCategory,
        body: impl Into<String>,
    ) -> Self {
        Template {
            name,
            language: language.into(),
            category,
            header: None,
            body: body.into(),
            footer: None,
            buttons: Vec::new(),
            status: TemplateStatus::Pending,
            quality: Quality::Unknown,
            recontact: false,
            mapping: VariableMapping::default(),
            status_as_of: None,
            quality_as_of: None,
        }
    }

    /// Every variable of the header and the body, in order, each once.
    pub fn variables(&self) -> Vec<Variable> {
        let mut out = Vec::new();
        if let Some(Header::Text(text)) = &self.header {
            out.extend(placeholder_indices(text).into_iter().map(|index| Variable {
                component: Component::Header,
                index,
            }));
        }
        out.extend(
            placeholder_indices(&self.body)
                .into_iter()
                .map(|index| Variable {
                    component: Component::Body,
                    index,
                }),
        );
        out
    }

    /// The labels of the quick-reply buttons: the answers a campaign counts (CAMP-7).
    pub fn quick_replies(&self) -> impl Iterator<Item = &str> {
        self.buttons
            .iter()
            .filter(|b| b.is_quick_reply())
            .map(Button::text)
    }

    /// TPL-1: only an `APPROVED` template is sent.
    pub fn check_sendable(&self) -> Result<(), TemplateError> {
        if self.status == TemplateStatus::Approved {
            Ok(())
        } else {
            Err(TemplateError::NotSendable {
                name: self.name.clone(),
                status: self.status,
            })
        }
    }
}

/// The `{{n}}` numbers of a text, in order of first appearance, each once. Placeholders that are
/// not `{{digits}}` are ignored here and reported by [`validate`].
pub fn placeholder_indices(text: &str) -> Vec<u32> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for token in placeholders(text) {
        if let Ok(n) = token.parse::<u32>()
            && seen.insert(n)
        {
            out.push(n);
        }
    }
    out
}

/// The raw contents of every `{{…}}` in a text.
fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    out
}

/// One problem with one field of a template (TPL-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// `name`, `language`, `body`, `header.text`, `footer`, `buttons`, `buttons[3]`.
    pub field: String,
    pub problem: TemplateProblem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// What can be wrong with a template's field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum TemplateProblem {
    #[error("must not be empty")]
    Empty,
    #[error("has {chars} characters; at most {max} are allowed")]
    TooLong { chars: usize, max: usize },
    #[error("may contain only lowercase letters, digits and underscores")]
    InvalidNameCharacters,
    #[error("{text:?} is not a language code such as en or en_US")]
    InvalidLanguage { text: String },
    #[error("placeholder {{{{{text}}}}} is not a variable number such as {{{{1}}}}")]
    MalformedVariable { text: String },
    #[error(
        "variables must be numbered {{{{1}}}}, {{{{2}}}}, … without gaps; {{{{{missing}}}}} is missing"
    )]
    VariableGap { missing: u32 },
    #[error("a header may have at most one variable, found {count}")]
    TooManyHeaderVariables { count: usize },
    #[error("{count} {kind}; at most {max} are allowed")]
    TooManyButtons {
        kind: String,
        count: usize,
        max: usize,
    },
    #[error("quick replies must be grouped together, apart from the call-to-action buttons")]
    QuickRepliesNotGrouped,
    #[error("quick replies and call-to-action buttons cannot be mixed on this number")]
    MixedButtonKinds,
    #[error("button {text:?} appears twice")]
    DuplicateButton { text: String },
    #[error("{reason}")]
    InvalidPhone { reason: String },
    #[error("{url:?} is not an http(s) address")]
    InvalidUrl { url: String },
}

/// All the problems of a template, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("template is not valid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct TemplateInvalid(pub Vec<FieldError>);

/// Errors of catalogue operations, sending and mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name} is {status}; only APPROVED templates can be sent")]
    NotSendable {
        name: TemplateName,
        status: TemplateStatus,
    },
    #[error("{0:?} is not a template status Switchboard knows")]
    UnknownStatus(String),
    #[error("{0:?} is not a template quality Switchboard knows")]
    UnknownQuality(String),
    #[error(
        "the account already has {MAX_TEMPLATES_PER_ACCOUNT} template names; delete one before adding {0}"
    )]
    CatalogueFull(TemplateName),
    #[error("template {name} in {language} already exists")]
    AlreadyExists {
        name: TemplateName,
        language: String,
    },
    #[error("no template {name} in {language}")]
    NotFound {
        name: TemplateName,
        language: String,
    },
    #[error("variables not mapped to a contact field: {}", list(.0))]
    UnmappedVariables(Vec<Variable>),
    #[error("mapping names variables the template does not have: {}", list(.0))]
    UnknownVariables(Vec<Variable>),
    #[error("the contact has no {field} for {variable}")]
    MissingContactValue {
        variable: Variable,
        field: ContactField,
    },
    #[error("no recontact template is chosen for this number")]
    NoRecontactTemplate,
    #[error("template {0} is not flagged as a recontact template")]
    NotRecontactTemplate(TemplateName),
    #[error(transparent)]
    Invalid(#[from] TemplateInvalid),
}

fn list(vars: &[Variable]) -> String {
    vars.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_length(errors: &mut Vec<FieldError>, field: &str, text: &str, max: usize) {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        errors.push(FieldError {
            field: field.to_owned(),
            problem: TemplateProblem::Empty,
        });
    } else if chars > max {
        errors.push(FieldError {
            field: field.to_owned(),
            problem: TemplateProblem::TooLong { chars, max },
        });
    }
}

fn check_variables(errors: &mut Vec<FieldError>, field: &str, text: &str) {
    for raw in placeholders(text) {
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) || raw.parse::<u32>().is_err()
        {
            errors.push(FieldError {
                field: field.to_owned(),
                problem: TemplateProblem::MalformedVariable {
                    text: raw.chars().take(40).collect(),
                },
            });
        }
    }
    let indices: BTreeSet<u32> = placeholder_indices(text).into_iter().collect();
    if let Some(max) = indices.last()
        && let Some(missing) = (1..=*max).find(|n| !indices.contains(n))
    {
        errors.push(FieldError {
            field: field.to_owned(),
            problem: TemplateProblem::VariableGap { missing },
        });
    }
}

fn is_language_code(text: &str) -> bool {
    let mut parts = text.split('_');
    let lang = parts.next().unwrap_or("");
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = match parts.next() {
        None => true,
        Some(r) => (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()),
    };
    lang_ok && region_ok && parts.next().is_none()
}

/// TPL-1/TPL-2: every problem of a template, each naming its field; `Ok` when there is none.
pub fn validate(template: &Template, rules: ButtonRules) -> Result<(), TemplateInvalid> {
    let mut errors = Vec::new();
    let name = template.name.as_str();
    if name.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError {
            field: "name".into(),
            problem: TemplateProblem::TooLong {
                chars: name.chars().count(),
                max: MAX_NAME_CHARS,
            },
        });
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        errors.push(FieldError {
            field: "name".into(),
            problem: TemplateProblem::InvalidNameCharacters,
        });
    }
    if !is_language_code(&template.language) {
        errors.push(FieldError {
            field: "language".into(),
            problem: TemplateProblem::InvalidLanguage {
                text: template.language.chars().take(20).collect(),
            },
        });
    }
    check_length(&mut errors, "body", &template.body, MAX_BODY_CHARS);
    check_variables(&mut errors, "body", &template.body);
    if let Some(Header::Text(text)) = &template.header {
        check_length(&mut errors, "header.text", text, MAX_HEADER_TEXT_CHARS);
        check_variables(&mut errors, "header.text", text);
        let count = placeholder_indices(text).len();
        if count > 1 {
            errors.push(FieldError {
                field: "header.text".into(),
                problem: TemplateProblem::TooManyHeaderVariables { count },
            });
        }
    }
    if let Some(footer) = &template.footer {
        check_length(&mut errors, "footer", footer, MAX_FOOTER_CHARS);
    }
    check_buttons(&mut errors, &template.buttons, rules);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(TemplateInvalid(errors))
    }
}

fn check_buttons(errors: &mut Vec<FieldError>, buttons: &[Button], rules: ButtonRules) {
    let too_many = |kind: &str, count: usize, max: usize| FieldError {
        field: "buttons".into(),
        problem: TemplateProblem::TooManyButtons {
            kind: kind.to_owned(),
            count,
            max,
        },
    };
    let quick = buttons.iter().filter(|b| b.is_quick_reply()).count();
    let urls = buttons
        .iter()
        .filter(|b| matches!(b, Button::Url { .. }))
        .count();
    let phones = buttons
        .iter()
        .filter(|b| matches!(b, Button::PhoneNumber { .. }))
        .count();
    let (max_urls, max_phones) = match rules {
        ButtonRules::Meta => (MAX_URL_BUTTONS, MAX_PHONE_BUTTONS),
        ButtonRules::Strict => (1, 1),
    };
    if buttons.len() > MAX_BUTTONS {
        errors.push(too_many("buttons in all", buttons.len(), MAX_BUTTONS));
    }
    if urls > max_urls {
        errors.push(too_many("URL buttons", urls, max_urls));
    }
    if phones > max_phones {
        errors.push(too_many("phone buttons", phones, max_phones));
    }
    if quick > MAX_QUICK_REPLIES {
        errors.push(too_many("quick replies", quick, MAX_QUICK_REPLIES));
    }
    let calls_to_action = buttons.len() - quick;
    if quick > 0 && calls_to_action > 0 {
        match rules {
            ButtonRules::Strict => errors.push(FieldError {
                field: "buttons".into(),
                problem: TemplateProblem::MixedButtonKinds,
            }),
            ButtonRules::Meta => {
                // Grouped: the kind changes at most once along the list.
                let changes = buttons
                    .windows(2)
                    .filter(|w| w[0].is_quick_reply() != w[1].is_quick_reply())
                    .count();
                if changes > 1 {
                    errors.push(FieldError {
                        field: "buttons".into(),
                        problem: TemplateProblem::QuickRepliesNotGrouped,
                    });
                }
            }
        }
    }
    let mut labels = BTreeSet::new();
    for (i, button) in buttons.iter().enumerate() {
        let field = format!("buttons[{i}]");
        check_length(errors, &field, button.text(), MAX_BUTTON_TEXT_CHARS);
        if !button.text().trim().is_empty() && !labels.insert(button.text().trim().to_lowercase()) {
            errors.push(FieldError {
                field: field.clone(),
                problem: TemplateProblem::DuplicateButton {
                    text: button.text().to_owned(),
                },
            });
        }
        if let Button::Url { url, .. } = button
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            errors.push(FieldError {
                field: format!("{field}.url"),
                problem: TemplateProblem::InvalidUrl { url: url.clone() },
            });
        }
        if let Button::PhoneNumber { phone, .. } = button
            && let Err(e) = crate::ids::PhoneNumber::parse(phone)
        {
            errors.push(FieldError {
                field: format!("{field}.phone"),
                problem: TemplateProblem::InvalidPhone {
                    reason: e.to_string(),
                },
            });
        }
    }
}

/// TPL-3: a campaign may use the template only when every variable is mapped.
pub fn check_mapping(template: &Template) -> Result<(), TemplateError> {
    let variables = template.variables();
    let unmapped: Vec<Variable> = variables
        .iter()
        .copied()
        .filter(|v| template.mapping.get(*v).is_none())
        .collect();
    if !unmapped.is_empty() {
        return Err(TemplateError::UnmappedVariables(unmapped));
    }
    let known: BTreeSet<Variable> = variables.into_iter().collect();
    let stray: Vec<Variable> = template
        .mapping
        .header
        .keys()
        .map(|&index| Variable {
            component: Component::Header,
            index,
        })
        .chain(template.mapping.body.keys().map(|&index| Variable {
            component: Component::Body,
            index,
        }))
        .filter(|v| !known.contains(v))
        .collect();
    if stray.is_empty() {
        Ok(())
    } else {
        Err(TemplateError::UnknownVariables(stray))
    }
}

/// The parameter values of one send, in Meta's order (`{{1}}` first).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RenderedParameters {
    pub header: Vec<String>,
    pub body: Vec<String>,
}

/// TPL-3: fills the template's variables from a contact's fields. A variable whose field the
/// contact lacks is an error (decision: Meta refuses empty parameters, and a message reading
/// "Hello ," is worse than not sending; the campaign closes that contact with the reason).
pub fn render_parameters(
    template: &Template,
    contact: &ContactFields,
) -> Result<RenderedParameters, TemplateError> {
    check_mapping(template)?;
    let mut out = RenderedParameters::default();
    let mut vars = template.variables();
    vars.sort();
    for variable in vars {
        let field = template
            .mapping
            .get(variable)
            .ok_or_else(|| TemplateError::UnmappedVariables(vec![variable]))?;
        let value = contact
            .value(field)
            .ok_or_else(|| TemplateError::MissingContactValue {
                variable,
                field: field.clone(),
            })?;
        match variable.component {
            Component::Header => out.header.push(value.to_owned()),
            Component::Body => out.body.push(value.to_owned()),
        }
    }
    Ok(out)
}

/// The body text with its parameters filled in: what the customer reads, for the agent's view of
/// the conversation.
pub fn render_body(template: &Template, parameters: &RenderedParameters) -> String {
    let mut text = template.body.clone();
    for (i, value) in parameters.body.iter().enumerate() {
        text = text.replace(&format!("{{{{{}}}}}", i + 1), value);
    }
    text
}

/// TPL-1: what a template's status change means for the campaigns that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignEffect {
    /// Nothing changes for campaigns.
    None,
    /// The template was paused: running campaigns stop and resume when it is approved again.
    Pause,
    /// The template is approved again: campaigns paused because of it resume.
    Resume,
    /// The template is disabled or rejected: campaigns using it stop for good.
    Stop,
}

/// TPL-1: the campaign effect of a status change from `old` to `new`.
pub fn campaign_effect(old: TemplateStatus, new: TemplateStatus) -> CampaignEffect {
    use TemplateStatus::*;
    match (old, new) {
        (o, n) if o == n => CampaignEffect::None,
        (_, Paused) => CampaignEffect::Pause,
        (_, Disabled) | (Approved | Paused, Rejected) => CampaignEffect::Stop,
        (Paused, Approved) => CampaignEffect::Resume,
        _ => CampaignEffect::None,
    }
}

/// A status or quality change from Meta's template webhooks (TPL-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateEvent {
    pub name: TemplateName,
    pub language: String,
    /// The webhook's time (the entry's `time`), not the arrival time.
    pub at: Timestamp,
    pub change: TemplateChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateChange {
    Status {
        status: TemplateStatus,
        /// Meta's reason (`"INCORRECT_CATEGORY"`, …), kept for the console.
        reason: Option<String>,
    },
    Quality {
        quality: Quality,
    },
}

/// What applying a template event did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TemplateUpdate {
    StatusChanged {
        old: TemplateStatus,
        new: TemplateStatus,
        campaigns: CampaignEffect,
    },
    QualityChanged {
        old: Quality,
        new: Quality,
    },
    /// Same value again (a redelivery): nothing changes.
    Unchanged,
    /// Older than the change already applied: ignored.
    Stale {
        applied_as_of: Timestamp,
    },
    /// The catalogue has no such template (created in Meta's manager); the shell should fetch it.
    UnknownTemplate,
}

/// The account's templates (TPL-2's 250 names, TPL-4 updates, TPL-5 recontact choice).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateCatalogue {
    pub templates: Vec<Template>,
}

impl TemplateCatalogue {
    pub fn get(&self, name: &TemplateName, language: &str) -> Option<&Template> {
        self.templates
            .iter()
            .find(|t| &t.name == name && t.language == language)
    }

    fn get_mut(&mut self, name: &TemplateName, language: &str) -> Option<&mut Template> {
        self.templates
            .iter_mut()
            .find(|t| &t.name == name && t.language == language)
    }

    /// Distinct template names (one name may exist in several languages).
    pub fn name_count(&self) -> usize {
        self.templates
            .iter()
            .map(|t| &t.name)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// TPL-2: adds a validated template; a 251st name is refused. A new language of an existing
    /// name does not count as a new name. For a number alone; [`TemplateCatalogue::add_in_account`]
    /// counts the whole account's names.
    pub fn add(&mut self, template: Template, rules: ButtonRules) -> Result<(), TemplateError> {
        self.add_in_account(template, rules, &BTreeSet::new())
    }

    /// TPL-2: adds a validated template to this number's catalogue, counting the 250 names over
    /// the number's WhatsApp Business Account: `others` are the names the account's other numbers
    /// use. A name already in the account (here or on another number) is no new name, so a
    /// second number of a full account may still add a language or a name the account has.
    pub fn add_in_account(
        &mut self,
        template: Template,
        rules: ButtonRules,
        others: &BTreeSet<TemplateName>,
    ) -> Result<(), TemplateError> {
        validate(&template, rules)?;
        if self.get(&template.name, &template.language).is_some() {
            return Err(TemplateError::AlreadyExists {
                name: template.name,
                language: template.language,
            });
        }
        let mut names: BTreeSet<&TemplateName> = self.templates.iter().map(|t| &t.name).collect();
        names.extend(others);
        if !names.contains(&template.name) && names.len() >= MAX_TEMPLATES_PER_ACCOUNT {
            return Err(TemplateError::CatalogueFull(template.name));
        }
        self.templates.push(template);
        Ok(())
    }

    /// TPL-4: applies a status or quality event. Idempotent; an event older than the one already
    /// applied changes nothing; at equal times the more restrictive value wins, so the outcome does
    /// not depend on arrival order.
    pub fn apply(&mut self, event: &TemplateEvent) -> TemplateUpdate {
        let Some(template) = self.get_mut(&event.name, &event.language) else {
            return TemplateUpdate::UnknownTemplate;
        };
        match &event.change {
            TemplateChange::Status { status, .. } => {
                if let Some(as_of) = template.status_as_of {
                    let older = event.at < as_of;
                    let tie_loses =
                        event.at == as_of && status.severity() < template.status.severity();
                    if older || tie_loses {
                        return TemplateUpdate::Stale {
                            applied_as_of: as_of,
                        };
                    }
                }
                template.status_as_of = Some(event.at);
                let old = template.status;
                if old == *status {
                    return TemplateUpdate::Unchanged;
                }
                template.status = *status;
                TemplateUpdate::StatusChanged {
                    old,
                    new: *status,
                    campaigns: campaign_effect(old, *status),
                }
            }
            TemplateChange::Quality { quality } => {
                if let Some(as_of) = template.quality_as_of {
                    let older = event.at < as_of;
                    let tie_loses =
                        event.at == as_of && quality.severity() < template.quality.severity();
                    if older || tie_loses {
                        return TemplateUpdate::Stale {
                            applied_as_of: as_of,
                        };
                    }
                }
                template.quality_as_of = Some(event.at);
                let old = template.quality;
                if old == *quality {
                    return TemplateUpdate::Unchanged;
                }
                template.quality = *quality;
                TemplateUpdate::QualityChanged { old, new: *quality }
            }
        }
    }

    /// TPL-5: the number's recontact template, checked at choice time and at send time: it must
    /// exist, be flagged as a recontact template, and be `APPROVED`.
    pub fn recontact_template(
        &self,
        chosen: Option<(&TemplateName, &str)>,
    ) -> Result<&Template, TemplateError> {
        let (name, language) = chosen.ok_or(TemplateError::NoRecontactTemplate)?;
        let template = self
            .get(name, language)
            .ok_or_else(|| TemplateError::NotFound {
                name: name.clone(),
                language: language.to_owned(),
            })?;
        if !template.recontact {
            return Err(TemplateError::NotRecontactTemplate(name.clone()));
        }
        template.check_sendable()?;
        Ok(template)
    }

    /// TPL-5: the templates an administrator may choose as recontact template.
    pub fn recontact_candidates(&self) -> impl Iterator<Item = &Template> {
        self.templates
            .iter()
            .filter(|t| t.recontact && t.status == TemplateStatus::Approved)
    }
}

/// A Unicode block counted as emoji by AUTO-2's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmojiRange {
    pub first: u32,
    pub last: u32,
    pub block: &'static str,
}

/// The code points treated as emoji (AUTO-2). Whole pictographic blocks, plus the joiners and
/// selectors that build emoji sequences, so that a flag, a keycap or a ZWJ family is caught even
/// when its visible parts would not be.
pub const EMOJI_RANGES: &[EmojiRange] = &[
    EmojiRange {
        first: 0x1F1E6,
        last: 0x1F1FF,
        block: "regional indicator (flag)",
    },
    EmojiRange {
        first: 0x1F000,
        last: 0x1F2FF,
        block: "mahjong, playing cards and enclosed symbols",
    },
    EmojiRange {
        first: 0x1F300,
        last: 0x1F5FF,
        block: "miscellaneous symbols and pictographs",
    },
    EmojiRange {
        first: 0x1F600,
        last: 0x1F64F,
        block: "emoticons",
    },
    EmojiRange {
        first: 0x1F680,
        last: 0x1F6FF,
        block: "transport and map symbols",
    },
    EmojiRange {
        first: 0x1F780,
        last: 0x1F7FF,
        block: "geometric shapes extended",
    },
    EmojiRange {
        first: 0x1F900,
        last: 0x1F9FF,
        block: "supplemental symbols and pictographs",
    },
    EmojiRange {
        first: 0x1FA70,
        last: 0x1FAFF,
        block: "symbols and pictographs extended-A",
    },
    EmojiRange {
        first: 0x2600,
        last: 0x26FF,
        block: "miscellaneous symbols",
    },
    EmojiRange {
        first: 0x2700,
        last: 0x27BF,
        block: "dingbats",
    },
    EmojiRange {
        first: 0x2B50,
        last: 0x2B55,
        block: "stars and circles",
    },
    EmojiRange {
        first: 0x231A,
        last: 0x231B,
        block: "watch and hourglass",
    },
    EmojiRange {
        first: 0x23E9,
        last: 0x23FA,
        block: "media control symbols",
    },
    EmojiRange {
        first: 0x20E3,
        last: 0x20E3,
        block: "keycap",
    },
    EmojiRange {
        first: 0xFE0F,
        last: 0xFE0F,
        block: "emoji presentation selector (VS16)",
    },
    EmojiRange {
        first: 0x200D,
        last: 0x200D,
        block: "zero-width joiner (emoji sequence)",
    },
    EmojiRange {
        first: 0xE0020,
        last: 0xE007F,
        block: "tag (subdivision flag)",
    },
];

/// AUTO-2: the first emoji of a text, with the block it belongs to.
pub fn find_emoji(text: &str) -> Option<(char, &'static str)> {
    text.chars().find_map(|c| {
        let cp = u32::from(c);
        EMOJI_RANGES
            .iter()
            .find(|r| (r.first..=r.last).contains(&cp))
            .map(|r| (c, r.block))
    })
}

/// Why an ice breaker is refused (AUTO-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum IceBreakerError {
    #[error("a number can have at most {MAX_ICE_BREAKERS} ice breakers, {count} were given")]
    TooMany { count: usize },
    #[error("ice breaker {position} is empty")]
    Empty { position: usize },
    #[error(
        "ice breaker {position} has {chars} characters; at most {MAX_ICE_BREAKER_CHARS} are allowed"
    )]
    TooLong { position: usize, chars: usize },
    #[error(
        "ice breaker {position} contains the emoji {emoji:?} ({block}); emoji are not supported"
    )]
    ContainsEmoji {
        position: usize,
        emoji: String,
        block: String,
    },
    #[error("ice breaker {position} repeats ice breaker {first}")]
    Duplicate { position: usize, first: usize },
}

/// AUTO-2: the number's ice breakers, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct IceBreakers(Vec<String>);

impl IceBreakers {
    /// Checks every ice breaker and returns all problems at once; positions count from 1, as the
    /// console shows them.
    pub fn new(questions: Vec<String>) -> Result<Self, Vec<IceBreakerError>> {
        let mut errors = Vec::new();
        if questions.len() > MAX_ICE_BREAKERS {
            errors.push(IceBreakerError::TooMany {
                count: questions.len(),
            });
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, q) in questions.iter().enumerate() {
            let position = i + 1;
            let chars = q.chars().count();
            if q.trim().is_empty() {
                errors.push(IceBreakerError::Empty { position });
                continue;
            }
            if chars > MAX_ICE_BREAKER_CHARS {
                errors.push(IceBreakerError::TooLong { position, chars });
            }
            if let Some((emoji, block)) = find_emoji(q) {
                errors.push(IceBreakerError::ContainsEmoji {
                    position,
                    emoji: emoji.to_string(),
                    block: block.to_owned(),
                });
            }
            // Decision: the same question twice is refused; a customer would see it twice.
            let key = q.trim().to_lowercase();
            if let Some(&first) = seen.get(&key) {
                errors.push(IceBreakerError::Duplicate { position, first });
            } else {
                seen.insert(key, position);
            }
        }
        if errors.is_empty() {
            Ok(IceBreakers(questions))
        } else {
            Err(errors)
        }
    }

    pub fn questions(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for IceBreakers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        IceBreakers::new(raw).map_err(|errors| {
            serde::de::Error::custom(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> TemplateName {
        TemplateName::new(s).unwrap()
    }

    fn qr(t: &str) -> Button {
        Button::QuickReply { text: t.into() }
    }

    fn url(t: &str) -> Button {
        Button::Url {
            text: t.into(),
            url: "https://example.com/x".into(),
        }
    }

    fn phone(t: &str) -> Button {
        Button::PhoneNumber {
            text: t.into(),
            phone: "+14155550100".into(),
        }
    }

    fn approved(n: &str) -> Template {
        let mut t = Template::new(
            name(n),
            "en_US",
            TemplateCategory::Marketing,
            "Hello {{1}}, your code is {{2}}",
        );
        t.status = TemplateStatus::Approved;
        t
    }

    fn problems(t: &Template, rules: ButtonRules) -> Vec<(String, TemplateProblem)> {
        match validate(t, rules) {
            Ok(()) => vec![],
            Err(TemplateInvalid(errors)) => {
                errors.into_iter().map(|e| (e.field, e.problem)).collect()
            }
        }
    }

    // TPL-1: the fields of a template and its variables, header and body numbered apart.
    #[test]
    fn tpl_1_variables_are_extracted_from_header_and_body() {
        let mut t = approved("order_update");
        t.header = Some(Header::Text("Order {{1}}".into()));
        t.body = "Hi {{1}}, {{2}} ships {{1}} {{3}}".into();
        assert_eq!(
            t.variables(),
            vec![
                Variable {
                    component: Component::Header,
                    index: 1
                },
                Variable {
                    component: Component::Body,
                    index: 1
                },
                Variable {
                    component: Component::Body,
                    index: 2
                },
                Variable {
                    component: Component::Body,
                    index: 3
                },
            ]
        );
        assert_eq!(
            placeholder_indices("no variables {{ here"),
            Vec::<u32>::new()
        );
        assert_eq!(t.variables()[0].to_string(), "header {{1}}");
    }

    // TPL-1: body at most 1024 characters, counted as characters, not bytes.
    #[test]
    fn tpl_1_body_length_counts_characters() {
        let mut t = approved("long_body");
        t.body = "é".repeat(1024);
        assert_eq!(problems(&t, ButtonRules::Meta), vec![]);
        t.body = "é".repeat(1025);
        assert_eq!(
            problems(&t, ButtonRules::Meta),
            vec![(
                "body".into(),
                TemplateProblem::TooLong {
                    chars: 1025,
                    max: 1024
                }
            )]
        );
        t.body = "   ".into();
        assert_eq!(
            problems(&t, ButtonRules::Meta),
            vec![("body".into(), TemplateProblem::Empty)]
        );
    }

    // TPL-1: only APPROVED is sendable.
    #[test]
    fn tpl_1_only_approved_templates_are_sent() {
        use TemplateStatus::*;
        for status in [Pending, Approved, Rejected, Paused, Disabled] {
            let mut t = approved("promo");
            t.status = status;
            assert_eq!(t.check_sendable().is_ok(), status == Approved, "{status}");
        }
        let mut t = approved("promo");
        t.status = Paused;
        assert_eq!(
            t.check_sendable().unwrap_err().to_string(),
            "template promo is PAUSED; only APPROVED templates can be sent"
        );
    }

    // TPL-1: PAUSED and DISABLED stop the campaigns using the template; approval resumes paused ones.
    #[test]
    fn tpl_1_status_changes_pause_resume_or_stop_campaigns() {
        use TemplateStatus::*;
        let cases = [
            (Approved, Paused, CampaignEffect::Pause),
            (Paused, Approved, CampaignEffect::Resume),
            (Approved, Disabled, CampaignEffect::Stop),
            (Paused, Disabled, CampaignEffect::Stop),
            (Approved, Rejected, CampaignEffect::Stop),
            (Pending, Approved, CampaignEffect::None),
            (Pending, Rejected, CampaignEffect::None),
            (Approved, Approved, CampaignEffect::None),
            (Disabled, Approved, CampaignEffect::None),
        ];
        for (old, new, effect) in cases {
            assert_eq!(campaign_effect(old, new), effect, "{old} → {new}");
        }
    }

    // TPL-2: Meta's button limits, every problem reported with its field.
    #[test]
    fn tpl_2_button_limits_meta() {
        let mut t = approved("buttons");
        t.buttons = vec![qr("Yes"), qr("No"), url("Site"), url("Shop"), phone("Call")];
        assert_eq!(
            problems(&t, ButtonRules::Meta),
            vec![],
            "grouped, within limits"
        );

        t.buttons = vec![url("A"), url("B"), url("C"), phone("P"), phone("Q")];
        let p = problems(&t, ButtonRules::Meta);
        assert!(p.contains(&(
            "buttons".into(),
            TemplateProblem::TooManyButtons {
                kind: "URL buttons".into(),
                count: 3,
                max: 2
            }
        )));
        assert!(p.contains(&(
            "buttons".into(),
            TemplateProblem::TooManyButtons {
                kind: "phone buttons".into(),
                count: 2,
                max: 1
            }
        )));

        t.buttons = (0..11).map(|i| qr(&format!("Option {i}"))).collect();
        let p = problems(&t, ButtonRules::Meta);
        assert!(p.contains(&(
            "buttons".into(),
            TemplateProblem::TooManyButtons {
                kind: "buttons in all".into(),
                count: 11,
                max: 10
            }
        )));
        assert!(p.contains(&(
            "buttons".into(),
            TemplateProblem::TooManyButtons {
                kind: "quick replies".into(),
                count: 11,
                max: 10
            }
        )));

        // Quick replies split by a call to action are not grouped.
        t.buttons = vec![qr("Yes"), url("Site"), qr("No")];
        assert_eq!(
            problems(&t, ButtonRules::Meta),
            vec![("buttons".into(), TemplateProblem::QuickRepliesNotGrouped)]
        );
        t.buttons = vec![url("Site"), qr("Yes"), qr("No")];
        assert_eq!(problems(&t, ButtonRules::Meta), vec![]);

        t.buttons = vec![qr("Yes"), qr("yes"), qr(&"x".repeat(26))];
        let p = problems(&t, ButtonRules::Meta);
        assert!(p.contains(&(
            "buttons[1]".into(),
            TemplateProblem::DuplicateButton { text: "yes".into() }
        )));
        assert!(p.contains(&(
            "buttons[2]".into(),
            TemplateProblem::TooLong { chars: 26, max: 25 }
        )));

        t.buttons = vec![
            Button::Url {
                text: "Site".into(),
                url: "example.com".into(),
            },
            Button::PhoneNumber {
                text: "Call".into(),
                phone: "0800 123".into(),
            },
        ];
        let fields: Vec<String> = problems(&t, ButtonRules::Meta)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(fields, vec!["buttons[0].url", "buttons[1].phone"]);
    }

    // TPL-2: seed 002's strict rule: never both kinds; at most one phone and one URL.
    #[test]
    fn tpl_2_button_limits_strict() {
        let mut t = approved("strict");
        t.buttons = vec![qr("Yes"), qr("No"), url("Site")];
        assert_eq!(problems(&t, ButtonRules::Meta), vec![]);
        assert_eq!(
            problems(&t, ButtonRules::Strict),
            vec![("buttons".into(), TemplateProblem::MixedButtonKinds)]
        );
        t.buttons = vec![url("Site"), url("Shop"), phone("Call")];
        assert_eq!(problems(&t, ButtonRules::Meta), vec![]);
        assert_eq!(
            problems(&t, ButtonRules::Strict),
            vec![(
                "buttons".into(),
                TemplateProblem::TooManyButtons {
                    kind: "URL buttons".into(),
                    count: 2,
                    max: 1
                }
            )]
        );
        t.buttons = vec![url("Site"), phone("Call")];
        assert_eq!(problems(&t, ButtonRules::Strict), vec![]);
    }

    // TPL-2: header and footer at most 60; name, language and variables checked; all errors at once.
    #[test]
    fn tpl_2_all_field_errors_are_returned_together() {
        let mut t = Template::new(
            name("Bad Name"),
            "english",
            TemplateCategory::Utility,
            "Hi {{1}} {{3}} {{x}}",
        );
        t.header = Some(Header::Text(format!(
            "{} {{{{1}}}} {{{{2}}}}",
            "h".repeat(60)
        )));
        t.footer = Some("f".repeat(61));
        let p = problems(&t, ButtonRules::Meta);
        let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "name",
                "language",
                "body",
                "body",
                "header.text",
                "header.text",
                "footer"
            ],
            "{p:?}"
        );
        assert!(p.contains(&("body".into(), TemplateProblem::VariableGap { missing: 2 })));
        assert!(p.contains(&(
            "body".into(),
            TemplateProblem::MalformedVariable { text: "x".into() }
        )));
        assert!(p.contains(&(
            "header.text".into(),
            TemplateProblem::TooManyHeaderVariables { count: 2 }
        )));
        assert!(p.contains(&(
            "footer".into(),
            TemplateProblem::TooLong { chars: 61, max: 60 }
        )));
        let message = validate(&t, ButtonRules::Meta).unwrap_err().to_string();
        assert!(
            message.starts_with("template is not valid: name: may contain only"),
            "{message}"
        );

        let mut ok = approved("ok");
        ok.header = Some(Header::Text("h".repeat(60)));
        ok.footer = Some("f".repeat(60));
        assert_eq!(problems(&ok, ButtonRules::Meta), vec![]);
    }

    // TPL-2: at most 250 template names per account; languages of one name count once.
    #[test]
    fn tpl_2_catalogue_holds_at_most_250_names() {
        let mut catalogue = TemplateCatalogue::default();
        for i in 0..250 {
            catalogue
                .add(approved(&format!("t_{i}")), ButtonRules::Meta)
                .unwrap();
        }
        assert_eq!(catalogue.name_count(), 250);
        let mut italian = approved("t_0");
        italian.language = "it".into();
        assert_eq!(catalogue.add(italian, ButtonRules::Meta), Ok(()));
        assert_eq!(
            catalogue.add(approved("t_250"), ButtonRules::Meta),
            Err(TemplateError::CatalogueFull(name("t_250")))
        );
        assert!(matches!(
            catalogue.add(approved("t_1"), ButtonRules::Meta),
            Err(TemplateError::AlreadyExists { .. })
        ));
        let mut invalid = approved("t_x");
        invalid.body.clear();
        assert!(matches!(
            catalogue.add(invalid, ButtonRules::Meta),
            Err(TemplateError::Invalid(_))
        ));
    }

    // TPL-2: the 250 names are the account's, not the number's: a second number of the same
    // account adds a 251st name only while the account has fewer than 250; a name the account
    // already has (on the other number) is no new name.
    #[test]
    fn tpl_2_the_250_names_are_counted_per_account_across_its_numbers() {
        let mut first = TemplateCatalogue::default();
        for i in 0..249 {
            first
                .add(approved(&format!("t_{i}")), ButtonRules::Meta)
                .unwrap();
        }
        let others: BTreeSet<TemplateName> =
            first.templates.iter().map(|t| t.name.clone()).collect();
        let mut second = TemplateCatalogue::default();
        // The account's 250th name: accepted on the second number.
        assert_eq!(
            second.add_in_account(approved("t_249"), ButtonRules::Meta, &others),
            Ok(())
        );
        // The 251st: refused, though the second number holds a single name.
        assert_eq!(
            second.add_in_account(approved("t_250"), ButtonRules::Meta, &others),
            Err(TemplateError::CatalogueFull(name("t_250")))
        );
        assert_eq!(second.name_count(), 1);
        // A name the account has on the first number, and a new language: no new name.
        assert_eq!(
            second.add_in_account(approved("t_7"), ButtonRules::Meta, &others),
            Ok(())
        );
        let mut italian = approved("t_249");
        italian.language = "it".into();
        assert_eq!(
            second.add_in_account(italian, ButtonRules::Meta, &others),
            Ok(())
        );
        // Alone, the second number would have had room: the account is what counts.
        assert_eq!(
            second.clone().add(approved("t_250"), ButtonRules::Meta),
            Ok(())
        );
    }

    // TPL-3: a campaign may use the template only when every variable is mapped.
    #[test]
    fn tpl_3_unmapped_variables_are_listed() {
        let mut t = approved("greeting");
        t.header = Some(Header::Text("For {{1}}".into()));
        let err = check_mapping(&t).unwrap_err();
        assert_eq!(
            err.to_string(),
            "variables not mapped to a contact field: header {{1}}, body {{1}}, body {{2}}"
        );
        t.mapping.set(
            Variable {
                component: Component::Body,
                index: 1,
            },
            ContactField::FirstName,
        );
        t.mapping.set(
            Variable {
                component: Component::Header,
                index: 1,
            },
            ContactField::LastName,
        );
        assert_eq!(
            check_mapping(&t),
            Err(TemplateError::UnmappedVariables(vec![Variable {
                component: Component::Body,
                index: 2
            }]))
        );
        t.mapping.set(
            Variable {
                component: Component::Body,
                index: 2,
            },
            ContactField::Custom("code".into()),
        );
        assert_eq!(check_mapping(&t), Ok(()));
        t.mapping.set(
            Variable {
                component: Component::Body,
                index: 7,
            },
            ContactField::Email,
        );
        assert!(
            matches!(check_mapping(&t), Err(TemplateError::UnknownVariables(v)) if v.len() == 1)
        );
    }

    // TPL-3: parameters are rendered from the contact's fields, in variable order.
    #[test]
    fn tpl_3_parameters_render_from_contact_fields() {
        let mut t = approved("greeting");
        t.header = Some(Header::Text("For {{1}}".into()));
        t.body = "Hi {{2}}, code {{1}}; mail {{3}}".into();
        t.mapping.set(
            Variable {
                component: Component::Header,
                index: 1,
            },
            ContactField::LastName,
        );
        t.mapping.set(
            Variable {
                component: Component::Body,
                index: 1,
            },
            ContactField::Custom("code".into()),
        );
        t.mapping.set(
            Variable {
                component: Component::Body,
                index: 2,
            },
            ContactField::FirstName,
        );
        t.mapping.set(
            Variable {
                component: Component::Body,
                index: 3,
            },
            ContactField::Email,
        );
        let mut contact = ContactFields {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email: Some("ada@example.com".into()),
            phone: Some("+441234567890".into()),
            custom: BTreeMap::from([("code".to_string(), "X42".to_string())]),
        };
        let params = render_parameters(&t, &contact).unwrap();
        assert_eq!(params.header, vec!["Lovelace"]);
        assert_eq!(params.body, vec!["X42", "Ada", "ada@example.com"]);
        assert_eq!(
            render_body(&t, &params),
            "Hi Ada, code X42; mail ada@example.com"
        );

        contact.email = Some("  ".into());
        assert_eq!(
            render_parameters(&t, &contact).unwrap_err().to_string(),
            "the contact has no email for body {{3}}"
        );
    }

    fn status_event(at: i64, status: TemplateStatus) -> TemplateEvent {
        TemplateEvent {
            name: name("promo"),
            language: "en_US".into(),
            at: Timestamp::from_unix(at),
            change: TemplateChange::Status {
                status,
                reason: None,
            },
        }
    }

    // TPL-4: status and quality events applied idempotently; older events never override newer.
    #[test]
    fn tpl_4_status_and_quality_updates_apply_in_event_time_order() {
        use TemplateStatus::*;
        let mut catalogue = TemplateCatalogue::default();
        let mut t = approved("promo");
        t.status = Pending;
        catalogue.add(t, ButtonRules::Meta).unwrap();

        assert_eq!(
            catalogue.apply(&status_event(100, Approved)),
            TemplateUpdate::StatusChanged {
                old: Pending,
                new: Approved,
                campaigns: CampaignEffect::None
            }
        );
        assert_eq!(
            catalogue.apply(&status_event(100, Approved)),
            TemplateUpdate::Unchanged
        );
        assert_eq!(
            catalogue.apply(&status_event(300, Paused)),
            TemplateUpdate::StatusChanged {
                old: Approved,
                new: Paused,
                campaigns: CampaignEffect::Pause
            }
        );
        // A late-delivered older approval does not un-pause the template.
        assert_eq!(
            catalogue.apply(&status_event(200, Approved)),
            TemplateUpdate::Stale {
                applied_as_of: Timestamp::from_unix(300)
            }
        );
        assert_eq!(
            catalogue.get(&name("promo"), "en_US").unwrap().status,
            Paused
        );
        // Equal times: the more restrictive status wins, whatever the arrival order.
        assert!(matches!(
            catalogue.apply(&status_event(300, Approved)),
            TemplateUpdate::Stale { .. }
        ));
        assert_eq!(
            catalogue.apply(&status_event(400, Approved)),
            TemplateUpdate::StatusChanged {
                old: Paused,
                new: Approved,
                campaigns: CampaignEffect::Resume
            }
        );

        let quality = |at: i64, quality: Quality| TemplateEvent {
            at: Timestamp::from_unix(at),
            change: TemplateChange::Quality { quality },
            ..status_event(0, Approved)
        };
        assert_eq!(
            catalogue.apply(&quality(50, Quality::Yellow)),
            TemplateUpdate::QualityChanged {
                old: Quality::Unknown,
                new: Quality::Yellow
            },
            "quality has its own clock, apart from status"
        );
        assert!(matches!(
            catalogue.apply(&quality(40, Quality::Green)),
            TemplateUpdate::Stale { .. }
        ));
        assert_eq!(
            catalogue.apply(&quality(50, Quality::Yellow)),
            TemplateUpdate::Unchanged
        );

        let unknown = TemplateEvent {
            name: name("other"),
            ..status_event(1, Approved)
        };
        assert_eq!(catalogue.apply(&unknown), TemplateUpdate::UnknownTemplate);
        assert_eq!(TemplateStatus::from_meta("paused"), Ok(Paused));
        assert!(TemplateStatus::from_meta("IN_APPEAL").is_err());
        assert_eq!(Quality::from_meta("RED"), Ok(Quality::Red));
    }

    // TPL-5: the recontact template must be flagged and APPROVED.
    #[test]
    fn tpl_5_recontact_template_must_be_flagged_and_approved() {
        let mut catalogue = TemplateCatalogue::default();
        let mut flagged = approved("come_back");
        flagged.recontact = true;
        catalogue.add(flagged, ButtonRules::Meta).unwrap();
        catalogue.add(approved("promo"), ButtonRules::Meta).unwrap();
        let come_back = name("come_back");

        assert_eq!(
            catalogue.recontact_template(None),
            Err(TemplateError::NoRecontactTemplate)
        );
        assert_eq!(
            catalogue
                .recontact_template(Some((&come_back, "en_US")))
                .unwrap()
                .name,
            come_back
        );
        assert_eq!(
            catalogue.recontact_template(Some((&name("promo"), "en_US"))),
            Err(TemplateError::NotRecontactTemplate(name("promo")))
        );
        assert!(matches!(
            catalogue.recontact_template(Some((&come_back, "it"))),
            Err(TemplateError::NotFound { .. })
        ));
        assert_eq!(catalogue.recontact_candidates().count(), 1);
        catalogue.apply(&TemplateEvent {
            name: come_back.clone(),
            ..status_event(10, TemplateStatus::Paused)
        });
        assert!(matches!(
            catalogue.recontact_template(Some((&come_back, "en_US"))),
            Err(TemplateError::NotSendable {
                status: TemplateStatus::Paused,
                ..
            })
        ));
        assert_eq!(catalogue.recontact_candidates().count(), 0);
    }

    // AUTO-2: up to 4 ice breakers, each non-empty, at most 80 characters, no emoji.
    #[test]
    fn auto_2_ice_breakers_are_checked() {
        let ok = IceBreakers::new(vec![
            "Where is my order?".into(),
            "Opening hours".into(),
            "Talk to a person".into(),
            "é".repeat(80),
        ])
        .unwrap();
        assert_eq!(ok.questions().len(), 4);

        let errors = IceBreakers::new(vec![
            "Track my parcel 📦".into(),
            " ".into(),
            "x".repeat(81),
            "Opening hours".into(),
            "opening hours".into(),
        ])
        .unwrap_err();
        assert_eq!(
            errors,
            vec![
                IceBreakerError::TooMany { count: 5 },
                IceBreakerError::ContainsEmoji {
                    position: 1,
                    emoji: "📦".into(),
                    block: "miscellaneous symbols and pictographs".into()
                },
                IceBreakerError::Empty { position: 2 },
                IceBreakerError::TooLong {
                    position: 3,
                    chars: 81
                },
                IceBreakerError::Duplicate {
                    position: 5,
                    first: 4
                },
            ]
        );
        assert_eq!(
            errors[3].to_string(),
            "ice breaker 3 has 81 characters; at most 80 are allowed"
        );
        let json: Result<IceBreakers, _> = serde_json::from_str("[\"Hi 😀\"]");
        assert!(json.unwrap_err().to_string().contains("emoji"));
    }

    // AUTO-2: emoji detection covers the pictographic blocks, flags, VS16 and ZWJ sequences.
    #[test]
    fn auto_2_emoji_detection_over_unicode_ranges() {
        let emoji = [
            ("😀", "emoticons"),
            ("🚀", "transport and map symbols"),
            ("🤖", "supplemental symbols and pictographs"),
            ("🫠", "symbols and pictographs extended-A"),
            ("☀", "miscellaneous symbols"),
            ("✅", "dingbats"),
            ("🇮🇹", "regional indicator (flag)"),
            ("❤\u{FE0F}", "dingbats"),
            ("#\u{FE0F}\u{20E3}", "emoji presentation selector (VS16)"),
            ("a\u{200D}b", "zero-width joiner (emoji sequence)"),
            ("⭐", "stars and circles"),
            ("🀄", "mahjong, playing cards and enclosed symbols"),
        ];
        for (text, block) in emoji {
            assert_eq!(find_emoji(text).map(|(_, b)| b), Some(block), "{text:?}");
        }
        for plain in [
            "Hello, world!",
            "Città – €5 · ½ ™ © «ok» 你好 ü",
            "(1) [2] {3} #4 *5",
        ] {
            assert_eq!(find_emoji(plain), None, "{plain:?}");
        }
    }
}

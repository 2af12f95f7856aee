//! What the console asks of Meta's Graph API: template submission (`POST /{waba_id}/
//! message_templates`) and a number's conversational automation (`POST /{phone_number_id}/
//! conversational_automation`: ice breakers and the welcome, AUTO-1/AUTO-2). A port owned by the
//! console, with a twin for tests. The Graph API adapter wraps the WhatsApp crate's Cloud API
//! client.

use rules::settings::ConversationalAutomation;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

/// What Meta answers to a template creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCreated {
    /// Meta's template id.
    pub id: String,
    /// `PENDING`, `APPROVED` or `REJECTED` (Meta may approve at once).
    pub status: String,
    /// The category Meta assigned (it may differ from the one asked for).
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Meta answered with an error (bad template, name taken, too many prompts, permissions …).
    #[error("Meta refused it (code {code}): {message}")]
    Refused { code: i64, message: String },
    /// No answer, a 5xx or a transport error: submitting again may work.
    #[error("the Graph API is unavailable: {0}")]
    Unavailable(String),
}

/// The port: submit one template body to a WhatsApp Business Account; set a number's
/// conversational automation.
pub trait TemplateSubmitter: Send + Sync {
    fn create_template(
        &self,
        waba_id: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<TemplateCreated, SubmitError>> + Send;

    /// AUTO-1/AUTO-2: the number's ice breakers and welcome, as Meta keeps them.
    fn set_conversational_automation(
        &self,
        number: &str,
        automation: &ConversationalAutomation,
    ) -> impl Future<Output = Result<(), SubmitError>> + Send;
}

/// The in-process twin: records each submission and answers `PENDING` with a fresh id, or the
/// answers queued with [`SubmitterTwin::answer_next`].
#[derive(Debug, Default)]
pub struct SubmitterTwin {
    state: Mutex<TwinState>,
}

#[derive(Debug, Default)]
struct TwinState {
    submitted: Vec<(String, serde_json::Value)>,
    answers: VecDeque<Result<TemplateCreated, SubmitError>>,
    automations: Vec<(String, ConversationalAutomation)>,
}

impl SubmitterTwin {
    pub fn new() -> Self {
        SubmitterTwin::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TwinState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues the answer to the next submission.
    pub fn answer_next(&self, answer: Result<TemplateCreated, SubmitError>) {
        self.state().answers.push_back(answer);
    }

    /// Every submission so far: (WABA id, body).
    pub fn submitted(&self) -> Vec<(String, serde_json::Value)> {
        self.state().submitted.clone()
    }

    /// Every conversational automation set so far: (number, automation).
    pub fn automations(&self) -> Vec<(String, ConversationalAutomation)> {
        self.state().automations.clone()
    }
}

impl TemplateSubmitter for SubmitterTwin {
    async fn create_template(
        &self,
        waba_id: &str,
        body: &serde_json::Value,
    ) -> Result<TemplateCreated, SubmitError> {
        let mut s = self.state();
        s.submitted.push((waba_id.to_owned(), body.clone()));
        let n = s.submitted.len();
        s.answers.pop_front().unwrap_or_else(|| {
            Ok(TemplateCreated {
                id: format!("{}", 900_000_000 + n),
                status: "PENDING".to_owned(),
                category: body
                    .get("category")
                    .and_then(|c| c.as_str())
                    .map(str::to_owned),
            })
        })
    }

    async fn set_conversational_automation(
        &self,
        number: &str,
        automation: &ConversationalAutomation,
    ) -> Result<(), SubmitError> {
        self.state()
            .automations
            .push((number.to_owned(), automation.clone()));
        Ok(())
    }
}

impl<T: TemplateSubmitter> TemplateSubmitter for std::sync::Arc<T> {
    fn create_template(
        &self,
        waba_id: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<TemplateCreated, SubmitError>> + Send {
        (**self).create_template(waba_id, body)
    }

    fn set_conversational_automation(
        &self,
        number: &str,
        automation: &ConversationalAutomation,
    ) -> impl Future<Output = Result<(), SubmitError>> + Send {
        (**self).set_conversational_automation(number, automation)
    }
}

/// Meta's refusal (a 4xx with its envelope: the admin's to fix) or an outage (anything else:
/// trying again may work).
fn submit_error(e: whatsapp::cloud::CloudError) -> SubmitError {
    use whatsapp::cloud::CloudError;
    match e {
        CloudError::Api {
            http_status,
            code,
            message,
            details,
            ..
        } if http_status < 500 => SubmitError::Refused {
            code,
            message: match details {
                Some(d) if d != message => format!("{message} ({d})"),
                _ => message,
            },
        },
        other => SubmitError::Unavailable(other.to_string()),
    }
}

/// The Graph API adapter: the WhatsApp crate's Cloud API client.
#[derive(Debug, Clone)]
pub struct GraphSubmitter {
    client: whatsapp::cloud::CloudClient,
}

impl GraphSubmitter {
    pub fn new(client: whatsapp::cloud::CloudClient) -> Self {
        GraphSubmitter { client }
    }
}

impl TemplateSubmitter for GraphSubmitter {
    async fn create_template(
        &self,
        waba_id: &str,
        body: &serde_json::Value,
    ) -> Result<TemplateCreated, SubmitError> {
        let created = self
            .client
            .create_template(waba_id, body)
            .await
            .map_err(submit_error)?;
        Ok(TemplateCreated {
            id: created.id,
            status: created.status,
            category: Some(created.category),
        })
    }

    async fn set_conversational_automation(
        &self,
        number: &str,
        automation: &ConversationalAutomation,
    ) -> Result<(), SubmitError> {
        let body = serde_json::to_value(automation)
            .map_err(|e| SubmitError::Unavailable(format!("automation body: {e}")))?;
        self.client
            .set_conversational_automation(number, &body)
            .await
            .map_err(submit_error)
    }
}

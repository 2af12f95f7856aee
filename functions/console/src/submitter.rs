//! Template submission to Meta (`POST /{waba_id}/message_templates`): a port owned by the
//! console, with a twin for tests. The Graph API adapter wraps the WhatsApp crate's Cloud API
//! client.

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
    /// Meta answered with an error (bad template, name taken, permissions …).
    #[error("Meta refused the template (code {code}): {message}")]
    Refused { code: i64, message: String },
    /// No answer, a 5xx or a transport error: submitting again may work.
    #[error("the Graph API is unavailable: {0}")]
    Unavailable(String),
}

/// The port: submit one template body to a WhatsApp Business Account.
pub trait TemplateSubmitter: Send + Sync {
    fn create_template(
        &self,
        waba_id: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<TemplateCreated, SubmitError>> + Send;
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
}

impl<T: TemplateSubmitter> TemplateSubmitter for std::sync::Arc<T> {
    fn create_template(
        &self,
        waba_id: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<TemplateCreated, SubmitError>> + Send {
        (**self).create_template(waba_id, body)
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
        use whatsapp::cloud::CloudError;
        match self.client.create_template(waba_id, body).await {
            Ok(created) => Ok(TemplateCreated {
                id: created.id,
                status: created.status,
                category: Some(created.category),
            }),
            // Meta refused what we sent (4xx with its envelope): the admin's to fix.
            Err(CloudError::Api {
                http_status,
                code,
                message,
                details,
                ..
            }) if http_status < 500 => Err(SubmitError::Refused {
                code,
                message: match details {
                    Some(d) if d != message => format!("{message} ({d})"),
                    _ => message,
                },
            }),
            Err(other) => Err(SubmitError::Unavailable(other.to_string())),
        }
    }
}

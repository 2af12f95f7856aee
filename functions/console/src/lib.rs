//! # Switchboard console
//!
//! The agents' and admins' HTTP API: a versioned JSON API under `/v1`, documented by an
//! OpenAPI 3.1 document generated from this code and served at `/v1/openapi.json`.
//! [`app`] builds one axum [`Router`](axum::Router) that the Lambda (behind API Gateway's HTTP
//! API with a JWT authorizer, through `lambda_http::run`) and the local runner serve alike.
//!
//! - Identity ([`auth`]): a port with two adapters (JWT claims in AWS, configured bearer tokens
//!   locally); what a caller may do is [`access`].
//! - Agent actions on a contact (send, claim, transfer, close, snooze) never write contact state:
//!   the console checks what it can synchronously (the contact exists, the caller may act, the
//!   window for a send) and puts a lane event on the inbound FIFO in the contact's group, so the
//!   router applies it in order with the customer's messages (issue 7, item 4). It answers 202
//!   with the action's key.
//! - Outreach and campaign starts go on the outbound queue for the sender.

pub mod access;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod lists;
pub mod media;
pub mod submitter;

pub use api::{ApiDoc, app, openapi};
pub use auth::{Caller, Identify, Integration, JwtClaims, Principal, Role, StaticTokens};
pub use config::Config;
pub use error::{ApiError, ErrorBody};
pub use submitter::{SubmitError, SubmitterTwin, TemplateCreated, TemplateSubmitter};

use queue::EventQueue;
use rules::Timestamp;
use rules::outreach::OutreachKey;
use std::sync::Arc;
use store::{SendingStore, Store};
use timers::Clock;

/// What the handlers use. One generic parameter for every handler instead of three.
pub trait Deps: Send + Sync + 'static {
    /// Every port, and the sender's (the number's pacing record: limits, stop and resume).
    type Store: Store
        + SendingStore
        + store::EventStore
        + store::WebhookStore
        + store::IntegrationStore;
    /// The queues, and their dead letters (OPS-4).
    type Queue: EventQueue + queue::DeadLetters + 'static;
    type Submitter: TemplateSubmitter + 'static;

    fn store(&self) -> &Self::Store;
    fn queue(&self) -> &Self::Queue;
    fn submitter(&self) -> &Self::Submitter;
    fn identity(&self) -> &dyn Identify;
    fn now(&self) -> Timestamp;
    fn outreach_key(&self) -> &OutreachKey;
}

/// The console's dependencies, built once at cold start (or by the local runner).
pub struct Console<S, Q, T> {
    pub store: S,
    pub queue: Q,
    pub submitter: T,
    pub identity: Arc<dyn Identify>,
    pub clock: Arc<dyn Clock>,
    /// OUT-8: the deployment's key for outreach button payloads.
    pub outreach_key: OutreachKey,
}

impl<S, Q, T> Deps for Console<S, Q, T>
where
    S: Store + SendingStore + store::EventStore + store::WebhookStore + store::IntegrationStore,
    Q: EventQueue + queue::DeadLetters + 'static,
    T: TemplateSubmitter + 'static,
{
    type Store = S;
    type Queue = Q;
    type Submitter = T;

    fn store(&self) -> &S {
        &self.store
    }
    fn queue(&self) -> &Q {
        &self.queue
    }
    fn submitter(&self) -> &T {
        &self.submitter
    }
    fn identity(&self) -> &dyn Identify {
        self.identity.as_ref()
    }
    fn now(&self) -> Timestamp {
        self.clock.now()
    }
    fn outreach_key(&self) -> &OutreachKey {
        &self.outreach_key
    }
}

//! What a message costs: prediction before the send, reconciliation with what Meta reports, and
//! the rate table (BILL-1..4; seed 003).
//!
//! - BILL-4 Pricing is **data keyed by effective date**: a [`PricingSchedule`] of
//!   [`PricingRule`]s, and each message is priced by the rule in force on the UTC date of its own
//!   send time — never by a global flag, so a replay of old messages prices them as Meta did then.
//!   [`PricingSchedule::meta_announced`] holds the three entries the specification names:
//!   conversation-based pricing (CBP) before 2025-07-01, per-message pricing (PMP) from then, and
//!   the change of 2026-10-01 (service messages and in-window utility templates charged, the first
//!   1,000 service messages per number per month free).
//! - BILL-1 Under CBP the price is per 24 h conversation, so the prediction needs the contact's
//!   open conversations: [`BillingHistory`], a small struct the caller stores with the contact and
//!   gets back updated from [`predict`].
//! - BILL-2 Under PMP each delivered template is charged by its category, except a utility
//!   template inside an open customer service window (CSW); free-form is free; everything inside a
//!   free entry point (FEP) window is free.
//! - BILL-3 [`predict`] answers before the send; [`reconcile`] compares the prediction with the
//!   status webhook's `pricing` object ([`ReportedPricing`]) and writes a [`LedgerLine`] keyed by
//!   number, category and UTC day; [`summarise`] adds lines up for the cost report.
//!   [`RateTable`] (configuration: Meta's API returns no prices) turns a charge into money, in
//!   integer micro-units of the table's currency.
//!
//! Decisions where the specification is silent:
//! - Under CBP, service conversations are free (Meta made them free from 2024-11-01, the CBP
//!   behaviour the schedule's first entry stands for); the rule keeps a flag so an earlier entry
//!   can charge them.
//! - Under CBP a message inside an open FEP window opens no conversation and is free
//!   (`referral_conversion`); the caller knows the FEP window, the history does not store it.
//! - Under the 2026 model, a free-form message inside an FEP window is free and does not use up
//!   the month's 1,000 free service messages.
//! - A free-form message while the CSW is closed cannot be sent at all (WIN-5), so [`predict`]
//!   refuses it with [`BillingError::FreeFormOutsideServiceWindow`] instead of guessing a price.
//! - A conversation opened at `t` is open while `now < t + 24 h`: at hour 24 it has expired.

use crate::ids::{BusinessNumberId, MessageId};
use crate::templates::TemplateCategory;
use crate::time::{Date, Duration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The categories Meta prices and reports (`pricing.category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingCategory {
    Marketing,
    MarketingLite,
    Utility,
    Authentication,
    AuthenticationInternational,
    Service,
    /// Messages inside a free entry point window (click-to-WhatsApp ad, page CTA).
    ReferralConversion,
}

impl PricingCategory {
    /// Parses Meta's `pricing.category` text.
    pub fn from_meta(text: &str) -> Result<Self, BillingError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "marketing" => PricingCategory::Marketing,
            "marketing_lite" => PricingCategory::MarketingLite,
            "utility" => PricingCategory::Utility,
            "authentication" => PricingCategory::Authentication,
            "authentication_international" | "authentication-international" => {
                PricingCategory::AuthenticationInternational
            }
            "service" => PricingCategory::Service,
            "referral_conversion" => PricingCategory::ReferralConversion,
            _ => {
                return Err(BillingError::UnknownCategory(
                    text.chars().take(40).collect(),
                ));
            }
        })
    }

    /// The category a variant is priced and matched as (`marketing_lite` is marketing).
    pub fn base(self) -> PricingCategory {
        match self {
            PricingCategory::MarketingLite => PricingCategory::Marketing,
            PricingCategory::AuthenticationInternational => PricingCategory::Authentication,
            other => other,
        }
    }
}

impl From<TemplateCategory> for PricingCategory {
    fn from(c: TemplateCategory) -> Self {
        match c {
            TemplateCategory::Marketing => PricingCategory::Marketing,
            TemplateCategory::Utility => PricingCategory::Utility,
            TemplateCategory::Authentication => PricingCategory::Authentication,
        }
    }
}

impl fmt::Display for PricingCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PricingCategory::Marketing => "marketing",
            PricingCategory::MarketingLite => "marketing_lite",
            PricingCategory::Utility => "utility",
            PricingCategory::Authentication => "authentication",
            PricingCategory::AuthenticationInternational => "authentication_international",
            PricingCategory::Service => "service",
            PricingCategory::ReferralConversion => "referral_conversion",
        })
    }
}

/// Meta's `pricing_model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ModelName {
    #[serde(rename = "CBP")]
    ConversationBased,
    #[serde(rename = "PMP")]
    PerMessage,
}

/// Meta's `pricing.type` (per-message pricing only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingType {
    Regular,
    FreeCustomerService,
    FreeEntryPoint,
}

/// How service (free-form) messages are priced under per-message pricing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceMessages {
    Free,
    /// The first `per_number_per_month` service messages of a number in a calendar month (UTC)
    /// are free, the rest charged (BILL-4, 2026).
    FreeUpTo {
        per_number_per_month: u32,
    },
}

/// The pricing model of one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum PricingModel {
    /// BILL-1: charged per conversation of `conversation_length`.
    ConversationBased {
        conversation_length: Duration,
        service_conversations_charged: bool,
    },
    /// BILL-2 (and BILL-4's 2026 change): charged per delivered message.
    PerMessage {
        utility_free_in_service_window: bool,
        service: ServiceMessages,
    },
}

/// One entry of the schedule: the model in force from `effective_from` (00:00 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingRule {
    pub effective_from: Date,
    pub model: PricingModel,
}

impl PricingRule {
    pub fn model_name(&self) -> ModelName {
        match self.model {
            PricingModel::ConversationBased { .. } => ModelName::ConversationBased,
            PricingModel::PerMessage { .. } => ModelName::PerMessage,
        }
    }
}

/// BILL-4: pricing rules keyed by effective date; never empty, sorted by date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<PricingRule>", into = "Vec<PricingRule>")]
pub struct PricingSchedule(Vec<PricingRule>);

impl PricingSchedule {
    pub const CBP_END: Date = Date::new(2025, 7, 1);
    pub const SERVICE_CHARGED_FROM: Date = Date::new(2026, 10, 1);

    /// Checks and sorts the rules: at least one, no two on the same date.
    pub fn new(mut rules: Vec<PricingRule>) -> Result<Self, BillingError> {
        if rules.is_empty() {
            return Err(BillingError::EmptySchedule);
        }
        rules.sort_by_key(|r| r.effective_from);
        if let Some(w) = rules
            .windows(2)
            .find(|w| w[0].effective_from == w[1].effective_from)
        {
            return Err(BillingError::DuplicateEffectiveDate(w[0].effective_from));
        }
        Ok(PricingSchedule(rules))
    }

    /// The three periods of BILL-4.
    pub fn meta_announced() -> Self {
        PricingSchedule(vec![
            PricingRule {
                effective_from: Date::new(1970, 1, 1),
                model: PricingModel::ConversationBased {
                    conversation_length: Duration::hours(24),
                    service_conversations_charged: false,
                },
            },
            PricingRule {
                effective_from: Self::CBP_END,
                model: PricingModel::PerMessage {
                    utility_free_in_service_window: true,
                    service: ServiceMessages::Free,
                },
            },
            PricingRule {
                effective_from: Self::SERVICE_CHARGED_FROM,
                model: PricingModel::PerMessage {
                    utility_free_in_service_window: false,
                    service: ServiceMessages::FreeUpTo {
                        per_number_per_month: 1_000,
                    },
                },
            },
        ])
    }

    /// The rule in force for a message sent at `at`: the latest whose date is not after the send
    /// date. A send before the first entry is priced by the first.
    pub fn rule_at(&self, at: Timestamp) -> &PricingRule {
        let date = at.date();
        self.0
            .iter()
            .rev()
            .find(|r| r.effective_from <= date)
            .unwrap_or(&self.0[0])
    }

    pub fn rules(&self) -> &[PricingRule] {
        &self.0
    }
}

impl TryFrom<Vec<PricingRule>> for PricingSchedule {
    type Error = BillingError;
    fn try_from(rules: Vec<PricingRule>) -> Result<Self, Self::Error> {
        PricingSchedule::new(rules)
    }
}

impl From<PricingSchedule> for Vec<PricingRule> {
    fn from(s: PricingSchedule) -> Self {
        s.0
    }
}

/// One CBP conversation of a contact (BILL-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BilledConversation {
    pub category: PricingCategory,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
}

impl BilledConversation {
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.opened_at <= now && now < self.expires_at
    }
}

/// BILL-1: a contact's CBP conversations that may still be open. The caller stores it with the
/// contact; [`predict`] returns it updated and without the expired ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BillingHistory {
    pub conversations: Vec<BilledConversation>,
}

impl BillingHistory {
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
    }

    /// Open conversations at `now`, oldest first.
    pub fn open_at(&self, now: Timestamp) -> impl Iterator<Item = &BilledConversation> {
        self.conversations.iter().filter(move |c| c.is_open(now))
    }

    fn open_of(&self, category: PricingCategory, now: Timestamp) -> Option<&BilledConversation> {
        self.open_at(now).find(|c| c.category == category)
    }

    /// BILL-5: the history without the conversations expired at `now`, oldest first (what the
    /// sender writes back, so it stays small).
    pub fn current(&self, now: Timestamp) -> BillingHistory {
        self.pruned(now)
    }

    fn pruned(&self, now: Timestamp) -> BillingHistory {
        let mut conversations: Vec<BilledConversation> = self
            .conversations
            .iter()
            .copied()
            .filter(|c| now < c.expires_at)
            .collect();
        conversations.sort_by_key(|c| c.opened_at);
        BillingHistory { conversations }
    }
}

/// What is being sent, for pricing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "category", rename_all = "snake_case")]
pub enum MessageKind {
    /// Any non-template message: text, media, interactive.
    FreeForm,
    Template(TemplateCategory),
}

/// The facts of one send that decide its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendForBilling {
    pub sent_at: Timestamp,
    pub kind: MessageKind,
    pub service_window_open: bool,
    pub free_entry_point_open: bool,
    /// Service messages the number already sent this calendar month (UTC), for the 2026 model.
    pub service_messages_this_month: u32,
}

/// Which CBP conversation a message opens or falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConversationUse {
    /// A new 24 h conversation of this category starts with this message.
    Opened {
        category: PricingCategory,
        expires_at: Timestamp,
    },
    /// The message falls into a conversation already open.
    Continued {
        category: PricingCategory,
        opened_at: Timestamp,
        expires_at: Timestamp,
    },
    /// Inside a free entry point window: no conversation is opened.
    FreeEntryPoint,
}

/// BILL-3: the prediction for one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargePrediction {
    pub sent_at: Timestamp,
    pub model: ModelName,
    /// The schedule entry used (BILL-4).
    pub rule_from: Date,
    pub category: PricingCategory,
    /// This message adds a charge (a new paid conversation, or a paid message).
    pub charged: bool,
    /// Meta's `billable`: under CBP, whether the conversation the message falls in is billable;
    /// under PMP, the same as `charged`.
    pub billable: bool,
    /// Meta's `pricing.type` (PMP only).
    pub pricing_type: Option<PricingType>,
    /// CBP only.
    pub conversation: Option<ConversationUse>,
    /// 2026 model: the message uses one of the month's free service messages or is charged past
    /// them; the caller increments the number's monthly counter when it is sent.
    pub counts_toward_service_allowance: bool,
    /// BILL-6: why the message adds no charge (`None` when it is charged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_reason: Option<FreeReason>,
}

impl ChargePrediction {
    /// BILL-6: charged, or free and why.
    pub fn charge(&self) -> Charge {
        match (self.charged, self.free_reason) {
            (true, _) => Charge::Charged,
            (false, Some(reason)) => Charge::Free(reason),
            // A prediction stored before reasons were kept.
            (false, None) => Charge::Free(FreeReason::Unstated),
        }
    }

    /// BILL-5: the conversation this send opens under conversation-based pricing, which the
    /// contact's history gains once Meta accepted the send.
    pub fn opened_conversation(&self) -> Option<BilledConversation> {
        match self.conversation {
            Some(ConversationUse::Opened {
                category,
                expires_at,
            }) => Some(BilledConversation {
                category,
                opened_at: self.sent_at,
                expires_at,
            }),
            _ => None,
        }
    }
}

/// BILL-6: why a message adds no charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeReason {
    /// A service (free-form) message inside the customer service window.
    ServiceWindow,
    /// A utility template inside the customer service window (per-message pricing before
    /// 2026-10-01).
    UtilityInServiceWindow,
    /// Inside a free entry point window (`referral_conversion`).
    FreeEntryPoint,
    /// Conversation-based pricing: the message falls into a conversation already open.
    ConversationOpen,
    /// One of the number's free service messages of the month (from 2026-10-01).
    MonthlyServiceTier,
    /// Not billable, and no reason known (Meta's report without a type; an old prediction).
    Unstated,
}

/// BILL-6: what a message costs, in words a cost report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Charge {
    Charged,
    Free(FreeReason),
}

impl Charge {
    /// `charged`, or `free_` and the reason (`free_service_window`, …): the cost report's column.
    pub fn label(self) -> &'static str {
        match self {
            Charge::Charged => "charged",
            Charge::Free(FreeReason::ServiceWindow) => "free_service_window",
            Charge::Free(FreeReason::UtilityInServiceWindow) => "free_utility_in_service_window",
            Charge::Free(FreeReason::FreeEntryPoint) => "free_entry_point",
            Charge::Free(FreeReason::ConversationOpen) => "free_conversation_open",
            Charge::Free(FreeReason::MonthlyServiceTier) => "free_service_tier",
            Charge::Free(FreeReason::Unstated) => "free",
        }
    }

    /// Every label, in the report's order.
    pub const LABELS: [&'static str; 7] = [
        "charged",
        "free_service_window",
        "free_utility_in_service_window",
        "free_entry_point",
        "free_conversation_open",
        "free_service_tier",
        "free",
    ];
}

/// [`predict`]'s answer: the prediction and the contact's updated history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Predicted {
    pub prediction: ChargePrediction,
    pub history: BillingHistory,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum BillingError {
    #[error(
        "a free-form message cannot be sent while the customer service window is closed; send a template"
    )]
    FreeFormOutsideServiceWindow,
    #[error("the pricing schedule has no rules")]
    EmptySchedule,
    #[error("two pricing rules take effect on {0}")]
    DuplicateEffectiveDate(Date),
    #[error("{0:?} is not a pricing category Switchboard knows")]
    UnknownCategory(String),
    #[error("{0:?} is not a pricing model (CBP or PMP)")]
    UnknownModel(String),
    #[error("{0:?} is not a pricing type (regular, free_customer_service, free_entry_point)")]
    UnknownType(String),
    #[error(
        "the rate table has no {category} rate for country code +{country_code} and no default"
    )]
    NoRate {
        category: PricingCategory,
        country_code: String,
    },
}

/// BILL-1/2/4: predicts the charge of one send and returns the contact's updated history.
pub fn predict(
    schedule: &PricingSchedule,
    send: &SendForBilling,
    history: &BillingHistory,
) -> Result<Predicted, BillingError> {
    if send.kind == MessageKind::FreeForm && !send.service_window_open {
        return Err(BillingError::FreeFormOutsideServiceWindow);
    }
    let rule = schedule.rule_at(send.sent_at);
    let now = send.sent_at;
    let mut history = history.pruned(now);
    let own_category = match send.kind {
        MessageKind::FreeForm => PricingCategory::Service,
        MessageKind::Template(c) => c.into(),
    };
    let base = ChargePrediction {
        sent_at: now,
        model: rule.model_name(),
        rule_from: rule.effective_from,
        category: own_category,
        charged: false,
        billable: false,
        pricing_type: None,
        conversation: None,
        counts_toward_service_allowance: false,
        free_reason: None,
    };
    let prediction = match rule.model {
        PricingModel::ConversationBased {
            conversation_length,
            service_conversations_charged,
        } => {
            if send.free_entry_point_open {
                ChargePrediction {
                    category: PricingCategory::ReferralConversion,
                    conversation: Some(ConversationUse::FreeEntryPoint),
                    free_reason: Some(FreeReason::FreeEntryPoint),
                    ..base
                }
            } else {
                // BILL-1: templates look for a conversation of their own category; free-form
                // falls into any open conversation.
                let open = match send.kind {
                    MessageKind::Template(_) => history.open_of(own_category, now),
                    MessageKind::FreeForm => history.open_at(now).next(),
                }
                .copied();
                match open {
                    Some(c) => ChargePrediction {
                        category: c.category,
                        billable: c.category != PricingCategory::Service
                            || service_conversations_charged,
                        conversation: Some(ConversationUse::Continued {
                            category: c.category,
                            opened_at: c.opened_at,
                            expires_at: c.expires_at,
                        }),
                        free_reason: Some(FreeReason::ConversationOpen),
                        ..base
                    },
                    None => {
                        let expires_at = now + conversation_length;
                        history.conversations.push(BilledConversation {
                            category: own_category,
                            opened_at: now,
                            expires_at,
                        });
                        let charged = own_category != PricingCategory::Service
                            || service_conversations_charged;
                        ChargePrediction {
                            charged,
                            billable: charged,
                            conversation: Some(ConversationUse::Opened {
                                category: own_category,
                                expires_at,
                            }),
                            free_reason: (!charged).then_some(FreeReason::ServiceWindow),
                            ..base
                        }
                    }
                }
            }
        }
        PricingModel::PerMessage {
            utility_free_in_service_window,
            service,
        } => {
            use FreeReason::*;
            let (pricing_type, counts, free) = if send.free_entry_point_open {
                (PricingType::FreeEntryPoint, false, Some(FreeEntryPoint))
            } else {
                match send.kind {
                    MessageKind::FreeForm => match service {
                        ServiceMessages::Free => {
                            (PricingType::FreeCustomerService, false, Some(ServiceWindow))
                        }
                        ServiceMessages::FreeUpTo {
                            per_number_per_month,
                        } => {
                            if send.service_messages_this_month < per_number_per_month {
                                (
                                    PricingType::FreeCustomerService,
                                    true,
                                    Some(MonthlyServiceTier),
                                )
                            } else {
                                (PricingType::Regular, true, None)
                            }
                        }
                    },
                    MessageKind::Template(TemplateCategory::Utility)
                        if send.service_window_open && utility_free_in_service_window =>
                    {
                        (
                            PricingType::FreeCustomerService,
                            false,
                            Some(UtilityInServiceWindow),
                        )
                    }
                    MessageKind::Template(_) => (PricingType::Regular, false, None),
                }
            };
            let charged = free.is_none();
            ChargePrediction {
                // BILL-6: inside a free entry point window Meta reports `referral_conversion`.
                category: if send.free_entry_point_open {
                    PricingCategory::ReferralConversion
                } else {
                    base.category
                },
                charged,
                billable: charged,
                pricing_type: Some(pricing_type),
                counts_toward_service_allowance: counts,
                free_reason: free,
                ..base
            }
        }
    };
    Ok(Predicted {
        prediction,
        history,
    })
}

/// The status webhook's `pricing` object, as the webhook crate's shell converts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedPricing {
    pub billable: bool,
    pub pricing_model: ModelName,
    pub category: PricingCategory,
    /// `type`, present under PMP.
    pub pricing_type: Option<PricingType>,
}

impl ReportedPricing {
    /// Builds it from Meta's texts (`"PMP"`, `"utility"`, `"free_customer_service"`).
    pub fn from_meta(
        billable: bool,
        pricing_model: &str,
        category: &str,
        pricing_type: Option<&str>,
    ) -> Result<Self, BillingError> {
        let pricing_model = match pricing_model.trim().to_ascii_uppercase().as_str() {
            "CBP" => ModelName::ConversationBased,
            "PMP" => ModelName::PerMessage,
            _ => {
                return Err(BillingError::UnknownModel(
                    pricing_model.chars().take(20).collect(),
                ));
            }
        };
        let pricing_type = pricing_type
            .map(|t| match t.trim().to_ascii_lowercase().as_str() {
                "regular" => Ok(PricingType::Regular),
                "free_customer_service" => Ok(PricingType::FreeCustomerService),
                "free_entry_point" => Ok(PricingType::FreeEntryPoint),
                _ => Err(BillingError::UnknownType(t.chars().take(40).collect())),
            })
            .transpose()?;
        Ok(ReportedPricing {
            billable,
            pricing_model,
            category: PricingCategory::from_meta(category)?,
            pricing_type,
        })
    }
}

impl ReportedPricing {
    /// BILL-6: charged, or free and why, as Meta reported it. Under conversation-based pricing
    /// `billable` describes the conversation, so a message that the prediction placed in a
    /// conversation of the same category already open is no new charge; without a prediction
    /// every billable message counts as one.
    pub fn charge(&self, predicted: Option<&ChargePrediction>) -> Charge {
        use FreeReason::*;
        if self.category == PricingCategory::ReferralConversion
            || self.pricing_type == Some(PricingType::FreeEntryPoint)
        {
            return Charge::Free(FreeEntryPoint);
        }
        let predicted_reason = predicted.and_then(|p| p.free_reason);
        match self.pricing_model {
            ModelName::PerMessage if self.billable => Charge::Charged,
            ModelName::PerMessage => Charge::Free(match self.pricing_type {
                Some(PricingType::FreeCustomerService)
                    if self.category.base() == PricingCategory::Utility =>
                {
                    UtilityInServiceWindow
                }
                Some(PricingType::FreeCustomerService)
                    if predicted_reason == Some(MonthlyServiceTier) =>
                {
                    MonthlyServiceTier
                }
                Some(PricingType::FreeCustomerService) => ServiceWindow,
                _ => Unstated,
            }),
            ModelName::ConversationBased => {
                let continued = predicted.is_some_and(|p| {
                    matches!(p.conversation, Some(ConversationUse::Continued { category, .. })
                        if category.base() == self.category.base())
                });
                match (self.billable, continued) {
                    (_, true) => Charge::Free(ConversationOpen),
                    (true, false) => Charge::Charged,
                    (false, false) if self.category == PricingCategory::Service => {
                        Charge::Free(ServiceWindow)
                    }
                    (false, false) => Charge::Free(Unstated),
                }
            }
        }
    }
}

/// A field where prediction and report disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingField {
    Billable,
    Model,
    Category,
    Type,
}

/// How a ledger line's prediction compares with Meta's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "fields", rename_all = "snake_case")]
pub enum Verdict {
    Match,
    Mismatch(Vec<PricingField>),
    /// Nothing was predicted (a message sent outside Switchboard, or a lost prediction).
    Unpredicted,
}

/// BILL-3: one line of the cost ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub number: BusinessNumberId,
    pub message: MessageId,
    /// UTC date of the send.
    pub date: Date,
    /// Meta's category: the ledger counts what Meta bills.
    pub category: PricingCategory,
    pub predicted: Option<ChargePrediction>,
    pub reported: ReportedPricing,
    pub verdict: Verdict,
}

/// Meta reports messages inside an FEP window as `referral_conversion` or with their own category
/// and `free_entry_point` type; both agree with a free-entry-point prediction.
fn categories_agree(predicted: &ChargePrediction, reported: &ReportedPricing) -> bool {
    let in_fep = predicted.pricing_type == Some(PricingType::FreeEntryPoint)
        || predicted.conversation == Some(ConversationUse::FreeEntryPoint);
    predicted.category.base() == reported.category.base()
        || (in_fep
            && (reported.category == PricingCategory::ReferralConversion
                || reported.pricing_type == Some(PricingType::FreeEntryPoint)))
}

/// BILL-3: compares a prediction with what Meta reported and writes the ledger line.
pub fn reconcile(
    number: &BusinessNumberId,
    message: &MessageId,
    sent_at: Timestamp,
    predicted: Option<&ChargePrediction>,
    reported: &ReportedPricing,
) -> LedgerLine {
    let verdict = match predicted {
        None => Verdict::Unpredicted,
        Some(p) => {
            let mut fields = Vec::new();
            if p.billable != reported.billable {
                fields.push(PricingField::Billable);
            }
            if p.model != reported.pricing_model {
                fields.push(PricingField::Model);
            }
            if !categories_agree(p, reported) {
                fields.push(PricingField::Category);
            }
            if let (Some(a), Some(b)) = (p.pricing_type, reported.pricing_type)
                && a != b
            {
                fields.push(PricingField::Type);
            }
            if fields.is_empty() {
                Verdict::Match
            } else {
                Verdict::Mismatch(fields)
            }
        }
    };
    LedgerLine {
        number: number.clone(),
        message: message.clone(),
        date: sent_at.date(),
        category: reported.category,
        predicted: predicted.copied(),
        reported: *reported,
        verdict,
    }
}

/// A cell of the cost report: per number, per day, per category.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LedgerKey {
    pub number: BusinessNumberId,
    pub date: Date,
    pub category: PricingCategory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LedgerTotals {
    pub messages: u32,
    pub predicted_charged: u32,
    pub reported_billable: u32,
    pub mismatches: u32,
    pub unpredicted: u32,
}

/// BILL-3: predicted against reported, per number, per day, per category.
pub fn summarise(lines: &[LedgerLine]) -> BTreeMap<LedgerKey, LedgerTotals> {
    let mut out: BTreeMap<LedgerKey, LedgerTotals> = BTreeMap::new();
    for line in lines {
        let totals = out
            .entry(LedgerKey {
                number: line.number.clone(),
                date: line.date,
                category: line.category,
            })
            .or_default();
        totals.messages += 1;
        totals.predicted_charged += u32::from(line.predicted.is_some_and(|p| p.charged));
        totals.reported_billable += u32::from(line.reported.billable);
        totals.mismatches += u32::from(matches!(line.verdict, Verdict::Mismatch(_)));
        totals.unpredicted += u32::from(line.verdict == Verdict::Unpredicted);
    }
    out
}

/// An amount of money in millionths of the currency's unit (`1_000_000` micros = 1 EUR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    pub micros: i64,
}

/// BILL-6: one price: what a charged message (or an opened conversation, under conversation-based
/// pricing) of `category` to a recipient in `market` costs from `effective_from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub category: PricingCategory,
    /// The recipient's market: a country calling code (`"39"`, `"1"`, `"44"`; the longest that
    /// starts the recipient's number wins), or `"*"` for every market without its own price.
    pub market: String,
    /// From this UTC date (`YYYY-MM-DD`) on, until a later entry of the same category and market.
    #[serde(with = "date_text")]
    pub effective_from: Date,
    /// Millionths of the table's currency (`0.0691` EUR is `69100`).
    pub micros: i64,
}

/// The market that matches every recipient.
pub const ANY_MARKET: &str = "*";

/// The longest rate table a desk file or the console accepts.
pub const MAX_RATES: usize = 2_000;

/// BILL-4 / BILL-6: prices per category and recipient market, each with its effective date —
/// configuration (the desk file, the console's `PUT /v1/rates`), since Meta's API returns none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateTable {
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    /// Where the prices come from and as of when (shown, never used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default)]
    pub rates: Vec<Rate>,
}

impl RateTable {
    /// Checks a table before it is stored; the error names the entry and the field.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.currency;
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "currency: {c:?} is not an ISO 4217 code (three capitals)"
            ));
        }
        if self.source.as_ref().is_some_and(|s| s.len() > 500) {
            return Err("source: at most 500 characters".into());
        }
        if self.rates.len() > MAX_RATES {
            return Err(format!("rates: at most {MAX_RATES} entries"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in self.rates.iter().enumerate() {
            let m = r.market.as_str();
            let calling_code = (1..=4).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit());
            if m != ANY_MARKET && !calling_code {
                return Err(format!(
                    "rates[{i}].market: {m:?} is not a country calling code (1 to 4 digits) or \"*\""
                ));
            }
            if !(0..=1_000_000_000).contains(&r.micros) {
                return Err(format!(
                    "rates[{i}].micros: {} is not a price from 0 to 1,000,000,000 millionths",
                    r.micros
                ));
            }
            if !seen.insert((r.category, m, r.effective_from)) {
                return Err(format!(
                    "rates[{i}]: a second {} rate for market {m} from {}",
                    r.category, r.effective_from
                ));
            }
        }
        Ok(())
    }

    /// The price of one charged message (or opened conversation) of `category` sent on `date` to
    /// the recipient whose number's digits (E.164 without `+`) are given: among the entries in
    /// force on that date, the longest market that starts the number (then `"*"`), and of those
    /// the latest. `marketing_lite` and `authentication_international` fall back to their base
    /// category's prices when they have none of their own.
    pub fn rate(
        &self,
        category: PricingCategory,
        recipient_digits: &str,
        date: Date,
    ) -> Result<i64, BillingError> {
        let lookup = |c: PricingCategory| {
            self.rates
                .iter()
                .filter(|r| r.category == c && r.effective_from <= date)
                .filter_map(|r| {
                    let length = match r.market.as_str() {
                        ANY_MARKET => 0,
                        m if recipient_digits.starts_with(m) => m.len(),
                        _ => return None,
                    };
                    Some(((length, r.effective_from), r.micros))
                })
                .max_by_key(|(rank, _)| *rank)
                .map(|(_, micros)| micros)
        };
        lookup(category)
            .or_else(|| lookup(category.base()))
            .ok_or_else(|| BillingError::NoRate {
                category,
                country_code: recipient_digits.chars().take(3).collect(),
            })
    }

    /// What a predicted send costs: nothing when it is not charged.
    pub fn cost(
        &self,
        prediction: &ChargePrediction,
        recipient_digits: &str,
    ) -> Result<Money, BillingError> {
        let micros = if prediction.charged {
            self.rate(
                prediction.category,
                recipient_digits,
                prediction.sent_at.date(),
            )?
        } else {
            0
        };
        Ok(Money {
            currency: self.currency.clone(),
            micros,
        })
    }
}

/// Dates as `YYYY-MM-DD` in configuration.
mod date_text {
    use crate::time::Date;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(date)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a date YYYY-MM-DD")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationUse::*;
    use PricingCategory as Cat;
    use TemplateCategory::*;

    /// Hour 0 of the seed 003 examples: 2025-03-10 09:00 UTC, inside the CBP period.
    const H0: i64 = 1_741_597_200;

    fn hour(h: i64) -> Timestamp {
        Timestamp::from_unix(H0 + h * 3600)
    }

    fn send(at: Timestamp, kind: MessageKind, csw: bool) -> SendForBilling {
        SendForBilling {
            sent_at: at,
            kind,
            service_window_open: csw,
            free_entry_point_open: false,
            service_messages_this_month: 0,
        }
    }

    /// (hour, message, CSW open, expected conversation use, charged)
    type Step = (i64, MessageKind, bool, ConversationUse, bool);

    fn run(steps: &[Step]) {
        let schedule = PricingSchedule::meta_announced();
        let mut history = BillingHistory::default();
        for (h, kind, csw, expected, charged) in steps {
            let got = predict(&schedule, &send(hour(*h), *kind, *csw), &history).unwrap();
            assert_eq!(
                got.prediction.model,
                ModelName::ConversationBased,
                "hour {h}"
            );
            assert_eq!(got.prediction.conversation, Some(*expected), "hour {h}");
            assert_eq!(got.prediction.charged, *charged, "hour {h}");
            history = got.history;
        }
    }

    // BILL-1, seed 003 example 1: marketing at hour 0, utility at 4 opens its own conversation,
    // utility at 10 falls into it.
    #[test]
    fn bill_1_seed_003_example_1_templates_hour_by_hour() {
        run(&[
            (
                0,
                MessageKind::Template(Marketing),
                false,
                Opened {
                    category: Cat::Marketing,
                    expires_at: hour(24),
                },
                true,
            ),
            (
                4,
                MessageKind::Template(Utility),
                false,
                Opened {
                    category: Cat::Utility,
                    expires_at: hour(28),
                },
                true,
            ),
            (
                10,
                MessageKind::Template(Utility),
                false,
                Continued {
                    category: Cat::Utility,
                    opened_at: hour(4),
                    expires_at: hour(28),
                },
                false,
            ),
        ]);
    }

    // BILL-1, seed 003 example 2: marketing at 0, customer replies at 4 (CSW opens), free-form at 5
    // falls into the marketing conversation, which expires at 24; free-form at 25 opens a service
    // conversation, and the one at 26 falls into it.
    #[test]
    fn bill_1_seed_003_example_2_service_conversation_hour_by_hour() {
        let schedule = PricingSchedule::meta_announced();
        let marketing = Continued {
            category: Cat::Marketing,
            opened_at: hour(0),
            expires_at: hour(24),
        };
        run(&[
            (
                0,
                MessageKind::Template(Marketing),
                false,
                Opened {
                    category: Cat::Marketing,
                    expires_at: hour(24),
                },
                true,
            ),
            // hour 4: the customer replies; the CSW is open from then until hour 28.
            (5, MessageKind::FreeForm, true, marketing, false),
            (23, MessageKind::FreeForm, true, marketing, false),
            (
                25,
                MessageKind::FreeForm,
                true,
                Opened {
                    category: Cat::Service,
                    expires_at: hour(49),
                },
                false,
            ),
            (
                26,
                MessageKind::FreeForm,
                true,
                Continued {
                    category: Cat::Service,
                    opened_at: hour(25),
                    expires_at: hour(49),
                },
                false,
            ),
        ]);
        // Hour 24: the marketing conversation has expired; the history forgets it.
        let h = predict(
            &schedule,
            &send(hour(0), MessageKind::Template(Marketing), false),
            &BillingHistory::default(),
        )
        .unwrap()
        .history;
        assert_eq!(h.open_at(hour(24)).count(), 0);
        assert_eq!(h.open_at(hour(23)).count(), 1);
        // Hour 5 without a CSW: free-form cannot be sent at all.
        assert_eq!(
            predict(&schedule, &send(hour(5), MessageKind::FreeForm, false), &h),
            Err(BillingError::FreeFormOutsideServiceWindow)
        );
    }

    // BILL-1: a template of another category opens its own conversation even inside a service one;
    // FEP makes everything free and opens nothing.
    #[test]
    fn bill_1_categories_are_independent_and_fep_is_free() {
        let schedule = PricingSchedule::meta_announced();
        let service = predict(
            &schedule,
            &send(hour(0), MessageKind::FreeForm, true),
            &BillingHistory::default(),
        )
        .unwrap();
        assert_eq!(
            service.prediction.conversation,
            Some(Opened {
                category: Cat::Service,
                expires_at: hour(24)
            })
        );
        let auth = predict(
            &schedule,
            &send(hour(1), MessageKind::Template(Authentication), true),
            &service.history,
        )
        .unwrap();
        assert_eq!(
            auth.prediction.conversation,
            Some(Opened {
                category: Cat::Authentication,
                expires_at: hour(25)
            })
        );
        assert!(auth.prediction.charged);
        assert_eq!(auth.history.conversations.len(), 2);

        let mut fep = send(hour(2), MessageKind::Template(Marketing), true);
        fep.free_entry_point_open = true;
        let got = predict(&schedule, &fep, &auth.history).unwrap();
        assert_eq!(got.prediction.conversation, Some(FreeEntryPoint));
        assert_eq!(got.prediction.category, Cat::ReferralConversion);
        assert!(!got.prediction.charged);
        assert_eq!(got.history, auth.history);
    }

    fn pmp_at(date: Date) -> Timestamp {
        date.start() + Duration::hours(12)
    }

    // BILL-2: per-message pricing.
    #[test]
    fn bill_2_per_message_pricing_table() {
        let schedule = PricingSchedule::meta_announced();
        let at = pmp_at(Date::new(2025, 9, 15));
        // (kind, CSW, FEP, charged, category, type)
        let cases = [
            (
                MessageKind::Template(Marketing),
                false,
                false,
                true,
                Cat::Marketing,
                PricingType::Regular,
            ),
            (
                MessageKind::Template(Marketing),
                true,
                false,
                true,
                Cat::Marketing,
                PricingType::Regular,
            ),
            (
                MessageKind::Template(Utility),
                false,
                false,
                true,
                Cat::Utility,
                PricingType::Regular,
            ),
            (
                MessageKind::Template(Utility),
                true,
                false,
                false,
                Cat::Utility,
                PricingType::FreeCustomerService,
            ),
            (
                MessageKind::Template(Authentication),
                true,
                false,
                true,
                Cat::Authentication,
                PricingType::Regular,
            ),
            (
                MessageKind::FreeForm,
                true,
                false,
                false,
                Cat::Service,
                PricingType::FreeCustomerService,
            ),
            (
                MessageKind::Template(Marketing),
                false,
                true,
                false,
                Cat::ReferralConversion,
                PricingType::FreeEntryPoint,
            ),
            (
                MessageKind::Template(Authentication),
                true,
                true,
                false,
                Cat::ReferralConversion,
                PricingType::FreeEntryPoint,
            ),
            (
                MessageKind::FreeForm,
                true,
                true,
                false,
                Cat::ReferralConversion,
                PricingType::FreeEntryPoint,
            ),
        ];
        for (kind, csw, fep, charged, category, pricing_type) in cases {
            let mut s = send(at, kind, csw);
            s.free_entry_point_open = fep;
            let p = predict(&schedule, &s, &BillingHistory::default())
                .unwrap()
                .prediction;
            let label = format!("{kind:?} csw={csw} fep={fep}");
            assert_eq!(p.model, ModelName::PerMessage, "{label}");
            assert_eq!(p.charged, charged, "{label}");
            assert_eq!(p.billable, charged, "{label}");
            assert_eq!(p.category, category, "{label}");
            assert_eq!(p.pricing_type, Some(pricing_type), "{label}");
            assert_eq!(p.conversation, None, "{label}");
        }
        // Per message: two marketing templates a minute apart are both charged.
        let mut history = BillingHistory::default();
        for m in 0..2 {
            let got = predict(
                &schedule,
                &send(
                    at + Duration::minutes(m),
                    MessageKind::Template(Marketing),
                    false,
                ),
                &history,
            )
            .unwrap();
            assert!(got.prediction.charged);
            history = got.history;
        }
    }

    // BILL-4: the rule is chosen by each message's send time, at UTC date boundaries.
    #[test]
    fn bill_4_rules_switch_at_their_effective_dates() {
        let schedule = PricingSchedule::meta_announced();
        let utility_in_window = |at: Timestamp| {
            predict(
                &schedule,
                &send(at, MessageKind::Template(Utility), true),
                &BillingHistory::default(),
            )
            .unwrap()
            .prediction
        };
        let second = Duration::seconds(1);
        let last_cbp = utility_in_window(Date::new(2025, 7, 1).start() - second);
        assert_eq!(last_cbp.model, ModelName::ConversationBased);
        assert_eq!(last_cbp.rule_from, Date::new(1970, 1, 1));
        assert!(
            last_cbp.charged,
            "CBP: a utility template opens a paid utility conversation"
        );

        let first_pmp = utility_in_window(Date::new(2025, 7, 1).start());
        assert_eq!(first_pmp.model, ModelName::PerMessage);
        assert_eq!(first_pmp.rule_from, Date::new(2025, 7, 1));
        assert!(!first_pmp.charged, "PMP 2025: utility in the CSW is free");

        let last_2025 = utility_in_window(Date::new(2026, 10, 1).start() - second);
        assert!(!last_2025.charged);
        let first_2026 = utility_in_window(Date::new(2026, 10, 1).start());
        assert_eq!(first_2026.rule_from, Date::new(2026, 10, 1));
        assert!(
            first_2026.charged,
            "2026: in-window utility templates are charged"
        );
        assert_eq!(first_2026.pricing_type, Some(PricingType::Regular));

        // A schedule is data: it refuses nonsense.
        assert_eq!(
            PricingSchedule::new(vec![]),
            Err(BillingError::EmptySchedule)
        );
        let r = schedule.rules()[1];
        assert_eq!(
            PricingSchedule::new(vec![r, r]),
            Err(BillingError::DuplicateEffectiveDate(r.effective_from))
        );
        let json = serde_json::to_string(&schedule).unwrap();
        assert_eq!(
            serde_json::from_str::<PricingSchedule>(&json).unwrap(),
            schedule
        );
    }

    // BILL-4: from 2026-10-01 the first 1,000 service messages per number per month are free.
    #[test]
    fn bill_4_first_thousand_service_messages_a_month_are_free() {
        let schedule = PricingSchedule::meta_announced();
        let at = pmp_at(Date::new(2026, 11, 3));
        let service = |count: u32, fep: bool| {
            let mut s = send(at, MessageKind::FreeForm, true);
            s.service_messages_this_month = count;
            s.free_entry_point_open = fep;
            predict(&schedule, &s, &BillingHistory::default())
                .unwrap()
                .prediction
        };
        for (count, charged) in [
            (0, false),
            (998, false),
            (999, false),
            (1_000, true),
            (5_000, true),
        ] {
            let p = service(count, false);
            assert_eq!(p.charged, charged, "after {count} service messages");
            assert!(p.counts_toward_service_allowance);
            assert_eq!(p.category, Cat::Service);
        }
        let in_fep = service(5_000, true);
        assert!(!in_fep.charged && !in_fep.counts_toward_service_allowance);
        // Before 2026-10-01 service messages neither cost nor count.
        let mut before = send(pmp_at(Date::new(2026, 9, 30)), MessageKind::FreeForm, true);
        before.service_messages_this_month = 5_000;
        let p = predict(&schedule, &before, &BillingHistory::default())
            .unwrap()
            .prediction;
        assert!(!p.charged && !p.counts_toward_service_allowance);
        // Templates never use the service allowance.
        let t = predict(
            &schedule,
            &send(at, MessageKind::Template(Marketing), false),
            &BillingHistory::default(),
        )
        .unwrap()
        .prediction;
        assert!(!t.counts_toward_service_allowance);
    }

    fn ids() -> (BusinessNumberId, MessageId) {
        (
            BusinessNumberId::new("1065551234").unwrap(),
            MessageId::new("wamid.A").unwrap(),
        )
    }

    // BILL-3: prediction against Meta's report, one ledger line per message.
    #[test]
    fn bill_3_reconciliation_writes_ledger_lines() {
        let schedule = PricingSchedule::meta_announced();
        let (number, message) = ids();
        let at = pmp_at(Date::new(2025, 9, 15));
        let p = predict(
            &schedule,
            &send(at, MessageKind::Template(Utility), true),
            &BillingHistory::default(),
        )
        .unwrap()
        .prediction;

        let reported =
            ReportedPricing::from_meta(false, "PMP", "utility", Some("free_customer_service"))
                .unwrap();
        let line = reconcile(&number, &message, at, Some(&p), &reported);
        assert_eq!(line.verdict, Verdict::Match);
        assert_eq!(line.date, Date::new(2025, 9, 15));
        assert_eq!(line.category, Cat::Utility);

        let wrong = ReportedPricing::from_meta(true, "PMP", "marketing", Some("regular")).unwrap();
        let line = reconcile(&number, &message, at, Some(&p), &wrong);
        assert_eq!(
            line.verdict,
            Verdict::Mismatch(vec![
                PricingField::Billable,
                PricingField::Category,
                PricingField::Type
            ])
        );
        assert_eq!(
            line.category,
            Cat::Marketing,
            "the ledger counts what Meta bills"
        );

        let unpredicted = reconcile(&number, &message, at, None, &reported);
        assert_eq!(unpredicted.verdict, Verdict::Unpredicted);

        // FEP: Meta's referral_conversion agrees with a free-entry-point prediction.
        let mut fep = send(at, MessageKind::Template(Marketing), false);
        fep.free_entry_point_open = true;
        let p = predict(&schedule, &fep, &BillingHistory::default())
            .unwrap()
            .prediction;
        let reported = ReportedPricing::from_meta(
            false,
            "PMP",
            "referral_conversion",
            Some("free_entry_point"),
        )
        .unwrap();
        assert_eq!(
            reconcile(&number, &message, at, Some(&p), &reported).verdict,
            Verdict::Match
        );

        // CBP: a message continuing a paid conversation is reported billable, and predicted so.
        let cbp_at = hour(0);
        let first = predict(
            &schedule,
            &send(cbp_at, MessageKind::Template(Marketing), false),
            &BillingHistory::default(),
        )
        .unwrap();
        let second = predict(
            &schedule,
            &send(hour(1), MessageKind::FreeForm, true),
            &first.history,
        )
        .unwrap()
        .prediction;
        assert!(!second.charged && second.billable);
        let reported = ReportedPricing::from_meta(true, "CBP", "marketing", None).unwrap();
        assert_eq!(
            reconcile(&number, &message, hour(1), Some(&second), &reported).verdict,
            Verdict::Match
        );
        let pmp_report =
            ReportedPricing::from_meta(true, "PMP", "marketing", Some("regular")).unwrap();
        assert_eq!(
            reconcile(&number, &message, hour(1), Some(&second), &pmp_report).verdict,
            Verdict::Mismatch(vec![PricingField::Model])
        );

        assert!(matches!(
            ReportedPricing::from_meta(true, "XYZ", "utility", None),
            Err(BillingError::UnknownModel(_))
        ));
        assert!(matches!(
            ReportedPricing::from_meta(true, "PMP", "promo", None),
            Err(BillingError::UnknownCategory(_))
        ));
        assert!(matches!(
            ReportedPricing::from_meta(true, "PMP", "utility", Some("gift")),
            Err(BillingError::UnknownType(_))
        ));
        assert_eq!(
            PricingCategory::from_meta("marketing_lite").unwrap().base(),
            Cat::Marketing
        );
    }

    // BILL-3: the cost report adds lines up per number, day and category.
    #[test]
    fn bill_3_summary_per_number_day_and_category() {
        let schedule = PricingSchedule::meta_announced();
        let (number, message) = ids();
        let at = pmp_at(Date::new(2025, 9, 15));
        let p = predict(
            &schedule,
            &send(at, MessageKind::Template(Marketing), false),
            &BillingHistory::default(),
        )
        .unwrap()
        .prediction;
        let billed = ReportedPricing::from_meta(true, "PMP", "marketing", Some("regular")).unwrap();
        let free = ReportedPricing::from_meta(false, "PMP", "marketing", Some("regular")).unwrap();
        let lines = vec![
            reconcile(&number, &message, at, Some(&p), &billed),
            reconcile(&number, &message, at, Some(&p), &free),
            reconcile(&number, &message, at + Duration::days(1), None, &billed),
        ];
        let summary = summarise(&lines);
        assert_eq!(summary.len(), 2);
        let day1 = summary[&LedgerKey {
            number: number.clone(),
            date: Date::new(2025, 9, 15),
            category: Cat::Marketing,
        }];
        assert_eq!(
            day1,
            LedgerTotals {
                messages: 2,
                predicted_charged: 2,
                reported_billable: 1,
                mismatches: 1,
                unpredicted: 0
            }
        );
        let day2 = summary[&LedgerKey {
            number,
            date: Date::new(2025, 9, 16),
            category: Cat::Marketing,
        }];
        assert_eq!(day2.unpredicted, 1);
    }

    fn rate(category: Cat, market: &str, from: Date, micros: i64) -> Rate {
        Rate {
            category,
            market: market.into(),
            effective_from: from,
            micros,
        }
    }

    // BILL-4 / BILL-6: the rate table is configuration, per category, market and effective date.
    #[test]
    fn bill_6_rate_table_lookup_by_market_and_effective_date() {
        let d2025 = Date::new(2025, 7, 1);
        let d2026 = Date::new(2026, 1, 1);
        let table = RateTable {
            currency: "EUR".into(),
            source: Some("test".into()),
            rates: vec![
                rate(Cat::Marketing, "39", d2025, 60_000),
                rate(Cat::Marketing, "39", d2026, 65_000),
                rate(Cat::Marketing, "1", d2025, 25_000),
                rate(Cat::Marketing, "1242", d2025, 70_000),
                rate(Cat::Authentication, "39", d2025, 30_000),
                rate(Cat::Marketing, ANY_MARKET, d2025, 50_000),
                rate(Cat::Utility, ANY_MARKET, d2025, 10_000),
            ],
        };
        assert_eq!(table.validate(), Ok(()));
        let sep = Date::new(2025, 9, 15);
        // (category, recipient, date, expected)
        let cases: &[(Cat, &str, Date, Result<i64, BillingError>)] = &[
            (Cat::Marketing, "393331234567", sep, Ok(60_000)),
            (Cat::Marketing, "393331234567", d2026, Ok(65_000)),
            (
                Cat::Marketing,
                "393331234567",
                Date::new(2025, 6, 30),
                Err(BillingError::NoRate {
                    category: Cat::Marketing,
                    country_code: "393".into(),
                }),
            ),
            (Cat::Marketing, "14155550100", sep, Ok(25_000)),
            (Cat::Marketing, "12425550100", sep, Ok(70_000)),
            (Cat::Marketing, "4915123456789", sep, Ok(50_000)),
            (Cat::MarketingLite, "393331234567", sep, Ok(60_000)),
            (
                Cat::AuthenticationInternational,
                "393331234567",
                sep,
                Ok(30_000),
            ),
            (
                Cat::Authentication,
                "4915123456789",
                sep,
                Err(BillingError::NoRate {
                    category: Cat::Authentication,
                    country_code: "491".into(),
                }),
            ),
        ];
        for (category, digits, date, expected) in cases {
            assert_eq!(
                &table.rate(*category, digits, *date),
                expected,
                "{category} {digits} {date}"
            );
        }

        let schedule = PricingSchedule::meta_announced();
        let at = pmp_at(sep);
        let charged = predict(
            &schedule,
            &send(at, MessageKind::Template(Marketing), false),
            &BillingHistory::default(),
        )
        .unwrap()
        .prediction;
        assert_eq!(
            table.cost(&charged, "393331234567"),
            Ok(Money {
                currency: "EUR".into(),
                micros: 60_000
            })
        );
        let free = predict(
            &schedule,
            &send(at, MessageKind::FreeForm, true),
            &BillingHistory::default(),
        )
        .unwrap()
        .prediction;
        assert_eq!(table.cost(&free, "393331234567").unwrap().micros, 0);

        // The JSON a desk file or the console gives, dates as text.
        let json = serde_json::json!({
            "currency": "EUR",
            "rates": [{"category": "marketing", "market": "39", "effective_from": "2025-07-01", "micros": 60000}]
        });
        let parsed: RateTable = serde_json::from_value(json).unwrap();
        assert_eq!(parsed.rates[0], rate(Cat::Marketing, "39", d2025, 60_000));
        assert_eq!(
            serde_json::to_value(&parsed).unwrap()["rates"][0]["effective_from"],
            "2025-07-01"
        );
        // Refusals name the field.
        let bad = |edit: &dyn Fn(&mut RateTable)| {
            let mut t = table.clone();
            edit(&mut t);
            t.validate().unwrap_err()
        };
        assert!(bad(&|t| t.currency = "euro".into()).starts_with("currency"));
        assert!(bad(&|t| t.rates[0].market = "+39".into()).starts_with("rates[0].market"));
        assert!(bad(&|t| t.rates[1].micros = -1).starts_with("rates[1].micros"));
        assert!(bad(&|t| t.rates[1].effective_from = d2025).contains("a second marketing rate"));
        assert!(
            serde_json::from_value::<RateTable>(serde_json::json!({
                "currency": "EUR",
                "rates": [{"category": "marketing", "market": "39", "effective_from": "2025-02-30", "micros": 1}]
            }))
            .is_err()
        );
    }

    // BILL-6: every predicted line says charged or free and why; inside an FEP window the
    // category is `referral_conversion`.
    #[test]
    fn bill_6_every_prediction_says_charged_or_free_and_why() {
        use FreeReason::*;
        let schedule = PricingSchedule::meta_announced();
        let pmp = pmp_at(Date::new(2025, 9, 15));
        let pmp_2026 = pmp_at(Date::new(2026, 11, 3));
        let open_marketing = predict(
            &schedule,
            &send(hour(0), MessageKind::Template(Marketing), false),
            &BillingHistory::default(),
        )
        .unwrap()
        .history;
        // (at, kind, CSW, FEP, service messages this month, history, charge, category)
        type Case = (
            Timestamp,
            MessageKind,
            bool,
            bool,
            u32,
            BillingHistory,
            Charge,
            Cat,
        );
        let cases: Vec<Case> = vec![
            (
                pmp,
                MessageKind::Template(Marketing),
                false,
                false,
                0,
                BillingHistory::default(),
                Charge::Charged,
                Cat::Marketing,
            ),
            (
                pmp,
                MessageKind::FreeForm,
                true,
                false,
                0,
                BillingHistory::default(),
                Charge::Free(ServiceWindow),
                Cat::Service,
            ),
            (
                pmp,
                MessageKind::Template(Utility),
                true,
                false,
                0,
                BillingHistory::default(),
                Charge::Free(UtilityInServiceWindow),
                Cat::Utility,
            ),
            (
                pmp_2026,
                MessageKind::Template(Utility),
                true,
                false,
                0,
                BillingHistory::default(),
                Charge::Charged,
                Cat::Utility,
            ),
            (
                pmp,
                MessageKind::Template(Marketing),
                false,
                true,
                0,
                BillingHistory::default(),
                Charge::Free(FreeEntryPoint),
                Cat::ReferralConversion,
            ),
            (
                pmp,
                MessageKind::FreeForm,
                true,
                true,
                0,
                BillingHistory::default(),
                Charge::Free(FreeEntryPoint),
                Cat::ReferralConversion,
            ),
            (
                pmp_2026,
                MessageKind::FreeForm,
                true,
                false,
                10,
                BillingHistory::default(),
                Charge::Free(MonthlyServiceTier),
                Cat::Service,
            ),
            (
                pmp_2026,
                MessageKind::FreeForm,
                true,
                false,
                1_000,
                BillingHistory::default(),
                Charge::Charged,
                Cat::Service,
            ),
            (
                hour(5),
                MessageKind::FreeForm,
                true,
                false,
                0,
                open_marketing.clone(),
                Charge::Free(ConversationOpen),
                Cat::Marketing,
            ),
            (
                hour(5),
                MessageKind::FreeForm,
                true,
                false,
                0,
                BillingHistory::default(),
                Charge::Free(ServiceWindow),
                Cat::Service,
            ),
            (
                hour(5),
                MessageKind::Template(Utility),
                true,
                true,
                0,
                open_marketing,
                Charge::Free(FreeEntryPoint),
                Cat::ReferralConversion,
            ),
        ];
        for (i, (at, kind, csw, fep, month, history, charge, category)) in
            cases.into_iter().enumerate()
        {
            let mut s = send(at, kind, csw);
            s.free_entry_point_open = fep;
            s.service_messages_this_month = month;
            let p = predict(&schedule, &s, &history).unwrap().prediction;
            assert_eq!(p.charge(), charge, "case {i}");
            assert_eq!(p.category, category, "case {i}");
            assert_eq!(p.charged, charge == Charge::Charged, "case {i}");
        }
        assert_eq!(
            Charge::Free(ConversationOpen).label(),
            "free_conversation_open"
        );
        assert!(Charge::LABELS.contains(&Charge::Charged.label()));
    }

    // BILL-6: what Meta reported, charged or free and why; CBP's `billable` is the conversation's.
    #[test]
    fn bill_6_reported_charge_and_reason() {
        use FreeReason::*;
        let r = |billable, model, category, t: Option<&str>| {
            ReportedPricing::from_meta(billable, model, category, t).unwrap()
        };
        let schedule = PricingSchedule::meta_announced();
        let first = predict(
            &schedule,
            &send(hour(0), MessageKind::Template(Marketing), false),
            &BillingHistory::default(),
        )
        .unwrap();
        let continued = predict(
            &schedule,
            &send(hour(5), MessageKind::FreeForm, true),
            &first.history,
        )
        .unwrap()
        .prediction;
        let cases = [
            (
                r(true, "PMP", "marketing", Some("regular")),
                None,
                Charge::Charged,
            ),
            (
                r(false, "PMP", "utility", Some("free_customer_service")),
                None,
                Charge::Free(UtilityInServiceWindow),
            ),
            (
                r(false, "PMP", "service", Some("free_customer_service")),
                None,
                Charge::Free(ServiceWindow),
            ),
            (
                r(
                    false,
                    "PMP",
                    "referral_conversion",
                    Some("free_entry_point"),
                ),
                None,
                Charge::Free(FreeEntryPoint),
            ),
            (
                r(true, "CBP", "marketing", None),
                Some(&first.prediction),
                Charge::Charged,
            ),
            (
                r(true, "CBP", "marketing", None),
                Some(&continued),
                Charge::Free(ConversationOpen),
            ),
            (r(true, "CBP", "marketing", None), None, Charge::Charged),
            (
                r(false, "CBP", "service", None),
                None,
                Charge::Free(ServiceWindow),
            ),
        ];
        for (i, (reported, predicted, charge)) in cases.into_iter().enumerate() {
            assert_eq!(reported.charge(predicted), charge, "case {i}");
        }
    }

    // BILL-5: the history the sender keeps (the conversations its accepted sends opened) makes
    // seed 003's second example, before 2025-07-01, predict what Meta reports: marketing 2 /
    // service 2; a utility template at hour 10 inside the open utility conversation is no new
    // charge.
    #[test]
    fn bill_5_history_from_accepted_sends_predicts_as_meta_reports() {
        let schedule = PricingSchedule::meta_announced();
        // What the store keeps: each accepted send appends the conversation it opened.
        let replay = |steps: &[(i64, MessageKind, bool)]| {
            let mut stored = BillingHistory::default();
            let mut out = Vec::new();
            for (h, kind, csw) in steps {
                let at = hour(*h);
                let p = predict(&schedule, &send(at, *kind, *csw), &stored.current(at))
                    .unwrap()
                    .prediction;
                stored = stored.current(at);
                stored.conversations.extend(p.opened_conversation());
                out.push(p);
            }
            out
        };
        let example_2 = replay(&[
            (0, MessageKind::Template(Marketing), false),
            (5, MessageKind::FreeForm, true),
            (25, MessageKind::FreeForm, true),
            (26, MessageKind::FreeForm, true),
        ]);
        let count = |c: Cat| example_2.iter().filter(|p| p.category == c).count();
        assert_eq!((count(Cat::Marketing), count(Cat::Service)), (2, 2));
        assert_eq!(
            example_2.iter().map(|p| p.charged).collect::<Vec<_>>(),
            [true, false, false, false]
        );
        let example_1 = replay(&[
            (0, MessageKind::Template(Marketing), false),
            (4, MessageKind::Template(Utility), false),
            (10, MessageKind::Template(Utility), false),
        ]);
        assert_eq!(
            example_1[2].conversation,
            Some(Continued {
                category: Cat::Utility,
                opened_at: hour(4),
                expires_at: hour(28)
            })
        );
        assert!(!example_1[2].charged);
        assert_eq!(
            example_1[2].charge(),
            Charge::Free(FreeReason::ConversationOpen)
        );
        // Only a send that opens a conversation changes the history.
        assert_eq!(example_1[2].opened_conversation(), None);
        assert_eq!(
            example_1[1].opened_conversation(),
            Some(BilledConversation {
                category: Cat::Utility,
                opened_at: hour(4),
                expires_at: hour(28)
            })
        );
        // Expired conversations are dropped from what is written back.
        let mut h = BillingHistory::default();
        h.conversations.extend(example_1[0].opened_conversation());
        assert_eq!(h.current(hour(24)).conversations, vec![]);
        assert_eq!(h.current(hour(23)).conversations.len(), 1);
    }
}

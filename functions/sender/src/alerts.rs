//! SEND-2 "stop sending on that number; alert": an error-level log line and a metric. The metric is
//! counted through the `metrics` facade; on Lambda the function's recorder writes it as CloudWatch
//! embedded-metric-format (EMF) lines, which Lambda's log delivery turns into the
//! `Switchboard/SendingStopped` metric that `SendingStoppedAlarm` watches (tested in
//! `tests/metrics.rs`). Ids only, never bodies or phone numbers of customers.

use rules::BusinessNumberId;
use std::sync::Mutex;

/// Why sending stopped on a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub number: BusinessNumberId,
    /// Meta's error code, when Meta gave one.
    pub code: Option<u32>,
    pub reason: String,
}

pub trait AlertSink: Send + Sync {
    fn raise(&self, alert: &Alert);
}

/// The metric's namespace and names: [`METRIC`] without a dimension (one series for every
/// number, the one `SendingStoppedAlarm` in infra/template.yaml watches) and [`METRIC_BY_NUMBER`]
/// with the business number's id (Meta's phone number id, not a phone number).
pub const NAMESPACE: &str = aws_wiring::telemetry::NAMESPACE;
pub const METRIC: &str = "SendingStopped";
pub const METRIC_BY_NUMBER: &str = "SendingStoppedByNumber";

/// Production: the error log line, and the metrics (CloudWatch EMF through the function's
/// recorder, written after the invocation: `aws_wiring::telemetry`).
#[derive(Debug, Default)]
pub struct EmfAlerts;

impl AlertSink for EmfAlerts {
    fn raise(&self, alert: &Alert) {
        tracing::error!(
            number = %alert.number,
            code = alert.code,
            reason = %alert.reason,
            "sending stopped on the number: a person must fix the account, then resume it"
        );
        metrics::counter!(METRIC).increment(1);
        metrics::counter!(METRIC_BY_NUMBER, "number" => alert.number.as_str().to_owned())
            .increment(1);
    }
}

/// The twin: keeps the alerts for tests (and logs them like production).
#[derive(Debug, Default)]
pub struct RecordedAlerts(Mutex<Vec<Alert>>);

impl RecordedAlerts {
    pub fn alerts(&self) -> Vec<Alert> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl AlertSink for RecordedAlerts {
    fn raise(&self, alert: &Alert) {
        tracing::error!(number = %alert.number, code = alert.code, reason = %alert.reason, "sending stopped");
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(alert.clone());
    }
}

//! SEND-2 "stop sending on that number; alert": an error-level log line and a metric. The metric is
//! a CloudWatch embedded-metric-format (EMF) line on stdout, which Lambda's log delivery turns
//! into the `Switchboard/SendingStopped` metric that an alarm watches. Ids only, never bodies or
//! phone numbers of customers.

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

/// The metric's namespace and name.
pub const NAMESPACE: &str = "Switchboard";
pub const METRIC: &str = "SendingStopped";

/// The EMF document of an alert (one line of JSON).
pub fn emf_line(alert: &Alert, at_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["number"]],
                "Metrics": [{"Name": METRIC, "Unit": "Count"}],
            }],
        },
        "number": alert.number.as_str(),
        "code": alert.code,
        "reason": alert.reason,
        METRIC: 1,
    })
    .to_string()
}

/// Production: the error log line, and the EMF line on stdout.
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
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        println!("{}", emf_line(alert, at));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emf_line_declares_the_metric() {
        let alert = Alert {
            number: BusinessNumberId::new("200000000000001").unwrap(),
            code: Some(190),
            reason: "190: access token expired".into(),
        };
        let line: serde_json::Value = serde_json::from_str(&emf_line(&alert, 1_000)).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            METRIC
        );
        assert_eq!(line[METRIC], 1);
        assert_eq!(line["number"], "200000000000001");
        assert_eq!(line["code"], 190);
    }
}

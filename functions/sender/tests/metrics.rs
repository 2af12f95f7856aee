//! OPS-2: the sender's business metrics as CloudWatch EMF, through the recorder every function
//! installs: sends by outcome and, for a failed send, SEND-2's error class; SEND-2's alert as
//! `SendingStopped` without a dimension (what `SendingStoppedAlarm` in infra/template.yaml
//! watches) and per number; window refusals by reason and campaign progress (sends issued per
//! tick) by campaign id. One test in this binary: the recorder is process-wide.

use rules::{BusinessNumberId, MessageId};
use sender::alerts::{METRIC, METRIC_BY_NUMBER, NAMESPACE};
use sender::handler::{CAMPAIGN_ISSUED, SENDS, Source, UPDATES, WINDOW_REFUSALS, count};
use sender::{Alert, AlertSink, EmfAlerts, Outcome, SenderError};
use std::collections::BTreeMap;

#[test]
fn ops_2_sends_by_outcome_and_error_class_sending_stopped_window_refusals_and_campaign_progress_are_emf_metrics()
 {
    let collector = aws_wiring::telemetry::init_metrics().expect("the recorder");
    let wamid = || MessageId::new("wamid.M1").unwrap();
    count(Source::Outbound, &Ok(Outcome::Sent { wamid: wamid() }));
    count(Source::Outbound, &Ok(Outcome::Sent { wamid: wamid() }));
    count(
        Source::Outbound,
        &Ok(Outcome::Failed {
            code: Some(131047),
            reason: "re-engagement".into(),
        }),
    );
    count(
        Source::Outbound,
        &Err(SenderError::Invalid("not a job".into())),
    );
    count(Source::Updates, &Ok(Outcome::Applied { what: "status" }));
    let window_closed = rules::channel::RefusalReason::WindowClosedTemplatesOnly.describe();
    for reason in [window_closed, window_closed, "campaign c1 is stopped"] {
        count(
            Source::Outbound,
            &Ok(Outcome::Refused {
                reason: reason.to_owned(),
            }),
        );
    }
    for issued in [200, 37, 0] {
        count(
            Source::Outbound,
            &Ok(Outcome::Ticked {
                campaign: rules::CampaignId::new("spring-sale").unwrap(),
                issued,
                next: None,
            }),
        );
    }
    EmfAlerts.raise(&Alert {
        number: BusinessNumberId::new("200000000000001").unwrap(),
        code: Some(131031),
        reason: "account locked".into(),
    });

    let mut emf = Vec::new();
    collector.flush(&mut emf).expect("flushed");
    let key = |metric: &str, dims: &[&str]| {
        (
            metric.to_owned(),
            dims.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>(),
        )
    };
    let expected: BTreeMap<(String, Vec<String>), f64> = [
        (key(SENDS, &["outcome=sent"]), 2),
        (
            key(
                SENDS,
                &["outcome=failed", "error_class=outside_service_window"],
            ),
            1,
        ),
        (key(SENDS, &["outcome=error_permanent"]), 1),
        (key(UPDATES, &["outcome=applied"]), 1),
        (key(SENDS, &["outcome=refused"]), 3),
        (
            key(WINDOW_REFUSALS, &["reason=window_closed_templates_only"]),
            2,
        ),
        (key(SENDS, &["outcome=campaign_tick"]), 3),
        (key(CAMPAIGN_ISSUED, &["campaign=spring-sale"]), 237),
        (key(METRIC, &[]), 1),
        (key(METRIC_BY_NUMBER, &["number=200000000000001"]), 1),
    ]
    .into_iter()
    .map(|(k, v): (_, u32)| (k, f64::from(v)))
    .collect();
    assert_eq!(testkit::emf_metrics(&emf, NAMESPACE), expected);
}

//! Logs and metrics, set up once by every function's `main` (OPS-2).
//!
//! - [`init_logs`]: JSON lines on stdout, filtered by `RUST_LOG` (default `info`), without a
//!   timestamp (Lambda adds one). Every line carries the spans it was written in: the Lambda
//!   runtime runs each invocation inside a span holding its `requestId` and `xrayTraceId` (the
//!   invocation's trace header, the value it also sets as `_X_AMZN_TRACE_ID`), so every line of an
//!   invocation names its X-Ray trace and request. Spans and events carry ids, never a phone number
//!   or a message's text (OPS-3).
//! - [`init_metrics`] / [`flush_metrics`]: business metrics through the `metrics` facade
//!   (`metrics::counter!`) recorded by `metrics_cloudwatch_embedded`, written after each invocation
//!   as CloudWatch Embedded Metric Format lines on stdout, which Lambda's log delivery turns into
//!   metrics of the [`NAMESPACE`] namespace, one dimension per label. Without a recorder (tests,
//!   the local runner) the counters are no-ops.

use metrics_cloudwatch_embedded::Collector;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The CloudWatch namespace of every Switchboard metric.
pub const NAMESPACE: &str = "Switchboard";

/// The subscriber [`init_logs`] installs, writing to `writer` (a test passes a buffer).
pub fn log_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .with_writer(writer)
        .finish()
}

/// Installs the function's log subscriber on stdout (see the module doc). Call once, first thing.
pub fn init_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Only fails when a subscriber is already installed: the first one stays.
    let _ = tracing::subscriber::set_global_default(log_subscriber(filter, std::io::stdout));
}

/// Installs the process's EMF recorder for [`NAMESPACE`]; the collector to flush after each
/// invocation. Fails if a recorder is already installed.
pub fn init_metrics() -> Result<&'static Collector, String> {
    metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .init()
        .map_err(|e| format!("the metrics recorder: {e}"))
}

/// Writes what was counted since the last flush as EMF lines on stdout (one per label set).
pub fn flush_metrics(collector: &Collector) {
    if let Err(e) = collector.flush(std::io::stdout().lock()) {
        tracing::warn!(error = %e, "metrics could not be written");
    }
}

/// A log writer that keeps what is written, for a test to read (`log_subscriber(filter,
/// buffer.clone())`, then [`LogBuffer::text`]).
#[derive(Clone, Default)]
pub struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'w self) -> LogBuffer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_2_every_log_line_of_an_invocation_carries_its_trace_and_request_ids() {
        let buffer = LogBuffer::default();
        let subscriber = log_subscriber(EnvFilter::new("info"), buffer.clone());
        let mut context = lambda_runtime::Context::default();
        context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
        context.xray_trace_id = Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
        );
        tracing::subscriber::with_default(subscriber, || {
            // The span lambda_runtime runs every invocation in.
            let invocation = lambda_runtime::layers::trace::request_span(&context);
            let _entered = invocation.enter();
            tracing::info!(message_id = "m1", "record handled");
            let inner = tracing::info_span!("batch", size = 3);
            let _inner = inner.enter();
            tracing::warn!("record failed");
        });
        let text = buffer.text();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &lines {
            let spans = line["spans"].as_array().expect("the spans");
            assert_eq!(
                spans[0]["xrayTraceId"],
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                "{line}"
            );
            assert_eq!(
                spans[0]["requestId"],
                "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
            );
        }
        assert_eq!(lines[1]["spans"][1]["size"], 3);
    }
}

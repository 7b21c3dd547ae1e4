//! The one-line JSON result every scenario ends with.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) scenario: &'static str,
    /// Per second, in `unit`.
    pub(crate) figure: f64,
    pub(crate) unit: &'static str,
    /// What the same work cannot exceed on this machine, per second, measured in the same run.
    pub(crate) ceiling: f64,
    /// `figure / ceiling`.
    pub(crate) ratio: f64,
    /// Milliseconds; `null` where the scenario has no latency.
    pub(crate) p50: Option<f64>,
    pub(crate) p99: Option<f64>,
    /// Scenario-specific figures (other latencies, the parts of a ceiling, sizes).
    #[serde(flatten)]
    pub(crate) extra: serde_json::Map<String, serde_json::Value>,
}

impl Report {
    pub(crate) fn new(
        scenario: &'static str,
        figure: f64,
        unit: &'static str,
        ceiling: f64,
    ) -> Self {
        Self {
            scenario,
            figure: round(figure),
            unit,
            ceiling: round(ceiling),
            ratio: if ceiling > 0.0 {
                (figure / ceiling * 1e4).round() / 1e4
            } else {
                0.0
            },
            p50: None,
            p99: None,
            extra: serde_json::Map::new(),
        }
    }

    pub(crate) fn latency(mut self, p50_ms: f64, p99_ms: f64) -> Self {
        self.p50 = Some(round_ms(p50_ms));
        self.p99 = Some(round_ms(p99_ms));
        self
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub(crate) fn with_ms(self, key: &str, ms: f64) -> Self {
        self.with(key, round_ms(ms))
    }

    pub(crate) fn print(&self) {
        println!(
            "{}",
            serde_json::to_string(self).expect("a report serializes")
        );
    }
}

fn round(value: f64) -> f64 {
    value.round()
}

fn round_ms(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
}

/// Milliseconds at quantile `q` of a histogram of microseconds.
pub(crate) fn quantile_ms(histogram: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1e3
}

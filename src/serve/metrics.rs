//! What `GET /metrics` reports, in the Prometheus text format.

use crate::Engine;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Revision {
    revision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WarmState {
    state: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    decisions: Family<Outcome, Counter>,
    latency: Histogram,
    updates: Family<Outcome, Counter>,
    reloads: Family<Outcome, Counter>,
    revision: Family<Revision, Gauge>,
    warm: Family<WarmState, Gauge>,
}

/// How a decision came out, for the `result` label.
#[derive(Clone, Copy, Debug)]
pub enum Decided {
    /// Allowed.
    Allow,
    /// Denied by the policy.
    Deny,
    /// Denied because the request could not be decided (an unknown name, a
    /// missing part, a context of the wrong type).
    Error,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<Outcome, Counter>::default();
        registry.register(
            "grantlog_decisions",
            "Decisions made, by result (allow, deny, error: a deny for a request that names something unknown or is incomplete)",
            decisions.clone(),
        );
        // 1 µs to about 4 s.
        let latency = Histogram::new(exponential_buckets(1e-6, 4.0, 12));
        registry.register(
            "grantlog_decision_duration_seconds",
            "Time to decide one evaluation, from its request to its answer",
            latency.clone(),
        );
        let updates = Family::<Outcome, Counter>::default();
        registry.register(
            "grantlog_updates",
            "Fact batches posted to /v1/facts, by result (applied, rejected, unlogged)",
            updates.clone(),
        );
        let reloads = Family::<Outcome, Counter>::default();
        registry.register(
            "grantlog_reloads",
            "Reloads of the policy files, by result (applied, failed)",
            reloads.clone(),
        );
        let revision = Family::<Revision, Gauge>::default();
        registry.register(
            "grantlog_snapshot",
            "The revision serving now (1 on its label)",
            revision.clone(),
        );
        let warm = Family::<WarmState, Gauge>::default();
        registry.register(
            "grantlog_warm_tables",
            "Decision tables of the serving snapshot: evaluated (done) and in all (total)",
            warm.clone(),
        );
        Metrics {
            registry,
            decisions,
            latency,
            updates,
            reloads,
            revision,
            warm,
        }
    }
}

fn label(result: &str) -> Outcome {
    Outcome {
        result: result.to_string(),
    }
}

impl Metrics {
    /// Counts one decision and how long it took.
    pub fn decided(&self, how: Decided, took: Duration) {
        let result = match how {
            Decided::Allow => "allow",
            Decided::Deny => "deny",
            Decided::Error => "error",
        };
        self.decisions.get_or_create(&label(result)).inc();
        self.latency.observe(took.as_secs_f64());
    }

    /// Counts one fact batch.
    pub fn update(&self, result: &str) {
        self.updates.get_or_create(&label(result)).inc();
    }

    /// Counts one reload.
    pub fn reload(&self, result: &str) {
        self.reloads.get_or_create(&label(result)).inc();
    }

    /// The text exposition, with the engine's state as it is now.
    pub fn render(&self, engine: &Engine) -> String {
        self.revision.clear();
        self.revision
            .get_or_create(&Revision {
                revision: engine.revision(),
            })
            .set(1);
        let progress = engine.warm_progress();
        for (state, n) in [("done", progress.done), ("total", progress.total)] {
            self.warm
                .get_or_create(&WarmState {
                    state: state.to_string(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out = "# the metrics could not be encoded\n".to_string();
        }
        out
    }
}

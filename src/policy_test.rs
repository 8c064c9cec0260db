//! Policy tests: `test "name" { expect allow alice app.use app:chat }` blocks
//! in policy files, run against the snapshot they are loaded into.
//!
//! `expect ... by X` also requires the decision to come from `X`: a role name,
//! or one of `creator`, `default`, `grant`, `deny`, `nothing` (denied because
//! nothing allows it, with no deny rule).

use crate::decision::Effect;
use crate::eval::snapshot::Snapshot;
use crate::explain::{Explanation, Via};
use crate::source::Location;
use serde::Serialize;
use std::fmt::Write;

/// The result of one expectation.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The test's name.
    pub test: String,
    /// Where the expectation is written (its text is the expectation).
    pub at: Location,
    /// Whether it held.
    pub passed: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The explanation of the decision, when it did not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// The results of every test in a policy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// One per expectation, in source order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Expectations that held.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed).count()
    }

    /// Expectations that did not.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }

    /// Failures with their explanations, then the `N passed, N failed` line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for o in self.outcomes.iter().filter(|o| !o.passed) {
            let _ = writeln!(out, "FAIL {} ({}): {}", o.at, o.test, o.at.text);
            if let Some(f) = &o.failure {
                let _ = writeln!(out, "  {f}");
            }
            if let Some(e) = &o.explanation {
                for line in e.to_string().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            out.push('\n');
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

impl Snapshot {
    /// Runs every `test` block of the policy.
    pub fn run_tests(&self) -> Report {
        let m = self.model();
        let mut outcomes = Vec::new();
        for test in &m.tests {
            for e in &test.expectations {
                let mut request = crate::Request::new(&e.principal, &e.action, &e.resource);
                request.context = e.context.clone();
                let why = self.explain_request(&request);
                let expected = if e.allow { Effect::Allow } else { Effect::Deny };
                let mut failure = None;
                if why.decision != expected {
                    failure = Some(format!("expected {expected}, got {}", why.decision));
                } else if let Some(by) = &e.by {
                    if !decided_by(&why, by) {
                        failure = Some(format!("{} as expected, but not by `{by}`", why.decision));
                    }
                }
                let passed = failure.is_none();
                outcomes.push(Outcome {
                    test: test.name.clone(),
                    at: m.sources.locate(e.span),
                    passed,
                    failure,
                    explanation: (!passed).then_some(why),
                });
            }
        }
        Report { outcomes }
    }
}

/// Whether the explanation's deciding reasons include `by`.
fn decided_by(why: &Explanation, by: &str) -> bool {
    let via = |v: Via| match v {
        Via::Assignment => "assignment",
        Via::Creator => "creator",
        Via::Default => "default",
        Via::Grant => "grant",
        Via::Deny => "deny",
    };
    match why.decision {
        Effect::Allow => why
            .allowed_by
            .iter()
            .any(|r| via(r.via) == by || r.role.as_deref() == Some(by)),
        Effect::Deny => match by {
            "nothing" => why.denied_by.is_empty() && why.error.is_none(),
            _ => why.denied_by.iter().any(|r| via(r.via) == by),
        },
    }
}

//! The shipped policies: each passes its own `test` blocks (at least 30
//! expectations, tracing to its document), explains an allow and a deny the
//! way the README shows, and survives formatting unchanged in meaning.

use crate::common::assert_same_decisions;
use grantlog::Snapshot;
use insta::assert_snapshot;

const POLICIES: &[&str] = &[
    "policies/agent-platform.policy",
    "policies/ai-hub.policy",
    "policies/dagster-plus.policy",
    "policies/dify.policy",
];

fn load(path: &str) -> Snapshot {
    Snapshot::from_paths(&[path]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_policy_passes_its_tests_and_has_at_least_30() {
    for path in POLICIES {
        let report = load(path).run_tests();
        assert_eq!(report.failed(), 0, "{path}:\n{}", report.render());
        assert!(
            report.passed() >= 30,
            "{path} has only {} tests",
            report.passed()
        );
    }
}

#[test]
fn a_failing_expectation_is_reported_with_its_explanation() {
    let s = Snapshot::from_text(
        "t.policy",
        "type org\naction read\nrole reader on org { read }\norg o\nuser a\nuser b\nassign reader on org:o to a\n\
         test \"reads\" {\n  expect allow b read org:o\n  expect allow a read org:o by creator\n  expect deny a read org:o\n}\n",
    )
    .unwrap();
    let report = s.run_tests();
    assert_eq!((report.passed(), report.failed()), (0, 3));
    assert_snapshot!(report.render());
}

fn explain(path: &str, p: &str, a: &str, r: &str) -> String {
    load(path).explain(p, a, r).to_string()
}

#[test]
fn dify_explanations() {
    assert_snapshot!(explain(
        "policies/dify.policy",
        "bob",
        "web_app.open",
        "web_app:support-bot"
    ));
    assert_snapshot!(explain(
        "policies/dify.policy",
        "erin",
        "app.edit",
        "app:chatbot"
    ));
}

#[test]
fn agent_platform_explanations() {
    let p = "policies/agent-platform.policy";
    assert_snapshot!(explain(
        p,
        "wendy",
        "data.edit",
        "application:support agent"
    ));
    assert_snapshot!(explain(
        p,
        "dan",
        "app.publish",
        "application:support agent"
    ));
    assert_snapshot!(explain(p, "alice", "data.view", "application:pricing bot"));
}

#[test]
fn ai_hub_explanations() {
    let p = "policies/ai-hub.policy";
    assert_snapshot!(explain(
        p,
        "pia",
        "workspace.members.add",
        "workspace:marketing"
    ));
    assert_snapshot!(explain(p, "mia", "drive.edit", "drive:campaign assets"));
    assert_snapshot!(explain(
        p,
        "sam",
        "billing.manage",
        "organization:northwind"
    ));
}

#[test]
fn dagster_plus_explanations() {
    let p = "policies/dagster-plus.policy";
    assert_snapshot!(explain(
        p,
        "gavin",
        "code_locations.edit",
        "code_location:etl"
    ));
    assert_snapshot!(explain(
        p,
        "gilfoyle",
        "agent_tokens.manage",
        "code_location:etl"
    ));
    assert_snapshot!(explain(p, "ci-bot", "ui.login", "organization:hooli"));
}

/// Formatting changes layout only: every decision of the formatted policy is
/// the decision of the original, and formatting twice changes nothing.
#[test]
fn formatting_preserves_every_decision() {
    for path in POLICIES {
        let text = std::fs::read_to_string(path).unwrap();
        let once = grantlog::syntax::format(&text).unwrap();
        assert_eq!(
            grantlog::syntax::format(&once).unwrap(),
            once,
            "{path}: not idempotent"
        );
        let a = load(path);
        let b = Snapshot::from_text(path, &once).unwrap();
        assert_same_decisions(&a, &b, &format!("{path}: "));
    }
}

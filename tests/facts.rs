//! Facts as JSON: export, load with a model, same decisions; bad JSON and bad
//! facts are reported with the file and the JSON path.

use crate::common::assert_same_decisions;
use grantlog::facts::Facts;
use grantlog::source::Sources;
use grantlog::syntax::ast::{Statement, Subject};
use grantlog::Snapshot;
use insta::assert_snapshot;

/// The rules of a policy file (everything but its facts), as text.
fn model_only(text: &str) -> String {
    let file = grantlog::syntax::parse(0, text).unwrap();
    let mut out = String::new();
    for item in &file.items {
        let is_fact = match &item.statement {
            Statement::Principal { .. }
            | Statement::Group { .. }
            | Statement::Add { .. }
            | Statement::Node { .. } => true,
            Statement::Assign { to, .. } | Statement::Grant { to, .. } => {
                !to.iter().any(|s| matches!(s, Subject::Selector { .. }))
            }
            _ => false,
        };
        if !is_fact {
            out.push_str(&text[item.span.start as usize..item.span.end as usize]);
            out.push('\n');
        }
    }
    out
}

#[test]
fn exported_facts_load_back_to_the_same_decisions() {
    for path in [
        "policies/dify.policy",
        "policies/agent-platform.policy",
        "policies/ai-hub.policy",
        "policies/dagster-plus.policy",
    ] {
        let text = std::fs::read_to_string(path).unwrap();
        let original = Snapshot::from_text(path, &text).unwrap();
        let facts = Facts::from_model(original.model());
        let json = serde_json::to_string_pretty(&facts).unwrap();
        let reread = Facts::from_json("facts.json", &json).unwrap();
        assert_eq!(reread, facts, "{path}: JSON round trip");
        let mut sources = Sources::default();
        sources.add("model.policy", model_only(&text));
        reread.add_to("facts.json", &mut sources);
        let split = Snapshot::from_sources(sources)
            .unwrap_or_else(|e| panic!("{path}:\n{}", e.render(false)));
        let compared = assert_same_decisions(&original, &split, &format!("{path}: "));
        assert!(compared > 500, "{path}: {compared}");
        assert_eq!(split.run_tests().failed(), 0, "{path}");
    }
}

#[test]
fn malformed_json_names_the_path() {
    let err =
        Facts::from_json("facts.json", r#"{"users": [{"name": "a"}, {"name": 7}]}"#).unwrap_err();
    assert_eq!(err.to_string(), "facts.json: at `users[1].name`: invalid type: integer `7`, expected a string at line 1 column 36");
    let err = Facts::from_json(
        "facts.json",
        r#"{"users": [{"name": "a", "statuz": "banned"}]}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("facts.json: at `users[0].statuz`: unknown field `statuz`"),
        "{err}"
    );
    let err = Facts::from_json("facts.json", r#"{"users": ["#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("facts.json: at `users`: EOF while parsing"),
        "{err}"
    );
}

#[test]
fn a_bad_fact_is_reported_with_its_json_path_and_nothing_loads() {
    let model = std::fs::read_to_string("policies/dify.policy").unwrap();
    let facts = Facts::from_json(
        "facts.json",
        r#"{"users": [{"name": "zoe", "in": ["team:acme"]}],
            "assignments": [{"role": "editr", "on": "workspace:marketing", "to": "zoe"},
                            {"role": "owner", "on": "workspace:research", "to": "group:nobody"}]}"#,
    )
    .unwrap();
    let mut sources = Sources::default();
    sources.add("dify.policy", model);
    facts.add_to("facts.json", &mut sources);
    let err = Snapshot::from_sources(sources).unwrap_err();
    assert_snapshot!(err.render(false));
}

#[test]
fn facts_that_break_a_constraint_are_rejected_with_its_line() {
    let model = std::fs::read_to_string("policies/dify.policy").unwrap();
    let facts = Facts::from_json(
        "facts.json",
        r#"{"assignments": [{"role": "owner", "on": "workspace:marketing", "to": "erin"}]}"#,
    )
    .unwrap();
    let mut sources = Sources::default();
    sources.add("dify.policy", model);
    facts.add_to("facts.json", &mut sources);
    let err = Snapshot::from_sources(sources).unwrap_err().render(false);
    assert!(err.contains("constraint broken: `constraint exactly one owner per workspace` on `workspace:marketing`"), "{err}");
    assert!(err.contains("facts.json#/assignments/0"), "{err}");
}

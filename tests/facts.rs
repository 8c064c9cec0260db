//! Facts as JSON: export, load with a model, same decisions; bad JSON and bad
//! facts are reported with the file and the JSON path.

use crate::common::assert_same_decisions;
use grantlog::facts::{Facts, SubjectFact};
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
        reread.add_to("facts.json", &mut sources).unwrap();
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
            "assignments": [{"role": "editr", "on": "workspace:marketing", "to": {"user": "zoe"}},
                            {"role": "owner", "on": "workspace:research", "to": {"group": "nobody"}}]}"#,
    )
    .unwrap();
    let mut sources = Sources::default();
    sources.add("dify.policy", model);
    facts.add_to("facts.json", &mut sources).unwrap();
    let err = Snapshot::from_sources(sources).unwrap_err();
    assert_snapshot!(err.render(false));
}

#[test]
fn facts_that_break_a_constraint_are_rejected_with_its_line() {
    let model = std::fs::read_to_string("policies/dify.policy").unwrap();
    let facts = Facts::from_json(
        "facts.json",
        r#"{"assignments": [{"role": "owner", "on": "workspace:marketing", "to": {"user": "erin"}}]}"#,
    )
    .unwrap();
    let mut sources = Sources::default();
    sources.add("dify.policy", model);
    facts.add_to("facts.json", &mut sources).unwrap();
    let err = Snapshot::from_sources(sources).unwrap_err().render(false);
    assert!(err.contains("constraint broken: `constraint exactly one owner per workspace` on `workspace:marketing`"), "{err}");
    assert!(err.contains("facts.json#/assignments/0"), "{err}");
}

/// One membership, added or removed on its own: what an identity provider's
/// group-member events carry. It reads as `add MEMBER to group GROUP`.
#[test]
fn single_memberships_apply_as_the_policy_statement_would() {
    let engine =
        |policy: &str| grantlog::Engine::new(Snapshot::from_text("dify.policy", policy).unwrap());
    let text = std::fs::read_to_string("policies/dify.policy").unwrap();
    let facts = |json: &str| Facts::from_json("events.json", json).unwrap();
    let events = engine(&text);
    events
        .apply(
            grantlog::Batch::new()
                .remove_facts(&facts(
                    r#"{"memberships": [{"member": {"user": "bob"}, "group": "support"}]}"#,
                ))
                .add_facts(&facts(
                    r#"{"memberships": [{"member": {"user": "frank"}, "group": "support"},
                                        {"member": {"group": "support"}, "group": "content"}]}"#,
                )),
        )
        .unwrap();
    let statements = engine(&text);
    statements
        .apply(
            grantlog::Batch::new()
                .remove("add bob to group support")
                .add("add frank to group support")
                .add("add group support to group content"),
        )
        .unwrap();
    let compared = assert_same_decisions(&events.snapshot(), &statements.snapshot(), "");
    assert!(compared > 500, "{compared}");
    let exported = Facts::from_model(events.snapshot().model());
    let support = exported
        .groups
        .iter()
        .find(|g| g.name == "support")
        .unwrap();
    assert_eq!(
        support.members,
        [
            SubjectFact::User("carol".into()),
            SubjectFact::User("frank".into())
        ]
    );
    // Removing a membership that does not hold is an error, as in text.
    let err = events
        .apply(grantlog::Batch::new().remove_facts(&facts(
            r#"{"memberships": [{"member": {"user": "bob"}, "group": "support"}]}"#,
        )))
        .unwrap_err();
    assert!(
        err.render(false).contains("add bob to group support"),
        "{}",
        err.render(false)
    );
    // Loaded with a policy, a membership's errors name its JSON path.
    let mut sources = Sources::default();
    sources.add("dify.policy", text.clone());
    facts(r#"{"memberships": [{"member": {"user": "bob"}, "group": "nobody"}]}"#)
        .add_to("facts.json", &mut sources)
        .unwrap();
    let err = Snapshot::from_sources(sources).unwrap_err().render(false);
    assert!(err.contains("facts.json#/memberships/0"), "{err}");
}

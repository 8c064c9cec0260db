//! Helpers shared by the test modules.

use grantlog::{Effect, Snapshot};

/// Loads an inline policy, panicking with the rendered errors if it fails.
pub fn load(text: &str) -> Snapshot {
    match Snapshot::from_text("test.policy", text) {
        Ok(s) => s,
        Err(e) => panic!("policy failed to load:\n{}", e.render(false)),
    }
}

/// The rendered errors of a policy that must fail to load.
pub fn load_err(text: &str) -> String {
    match Snapshot::from_text("test.policy", text) {
        Ok(_) => panic!("policy loaded, but errors were expected"),
        Err(e) => e.render(false),
    }
}

/// Asserts `check` and `explain` agree and equal `expected`; returns the
/// rendered explanation.
pub fn decide(
    s: &Snapshot,
    principal: &str,
    action: &str,
    resource: &str,
    expected: Effect,
) -> String {
    let fast = s.check(principal, action, resource).decision;
    let why = s.explain(principal, action, resource);
    assert_eq!(
        (fast, why.decision),
        (expected, expected),
        "{principal} {action} {resource}\n{why}"
    );
    why.to_string()
}

pub fn allow(s: &Snapshot, principal: &str, action: &str, resource: &str) -> String {
    decide(s, principal, action, resource, Effect::Allow)
}

pub fn deny(s: &Snapshot, principal: &str, action: &str, resource: &str) -> String {
    decide(s, principal, action, resource, Effect::Deny)
}

/// Asserts that `a` and `b` give the same decision, request error included,
/// on every principal, action and node either of them declares (a name
/// only one knows must be unknown to the other too); returns how many
/// requests were compared. `context` prefixes each failure.
pub fn assert_same_decisions(a: &Snapshot, b: &Snapshot, context: &str) -> usize {
    use std::collections::BTreeSet;
    let (ma, mb) = (a.model(), b.model());
    let principals: BTreeSet<&str> = ma
        .principals
        .iter()
        .chain(mb.principals.iter())
        .map(|p| p.name.as_str())
        .collect();
    let actions: BTreeSet<&str> = ma
        .actions
        .iter()
        .chain(&mb.actions)
        .map(String::as_str)
        .collect();
    let nodes: BTreeSet<String> = [ma, mb]
        .into_iter()
        .flat_map(|m| {
            (0..m.nodes.len() as u32).map(|n| m.node_name(grantlog::compile::ids::NodeId(n)))
        })
        .collect();
    let mut compared = 0;
    for p in &principals {
        for act in &actions {
            for node in &nodes {
                assert_eq!(
                    a.check(p, act, node),
                    b.check(p, act, node),
                    "{context}{p} {act} {node}"
                );
                compared += 1;
            }
        }
    }
    compared
}

/// The README's fenced blocks, each as (language, text).
pub fn readme_blocks(readme: &str) -> Vec<(&str, &str)> {
    readme
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.split_once('\n').unwrap_or((b, "")))
        .collect()
}

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

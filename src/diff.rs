//! What a policy change does to access: for two snapshots over the same
//! facts, every (principal, action, node) whose decision differs.

use crate::decision::Effect;
use crate::eval::snapshot::Snapshot;
use crate::explain::{Explanation, Reason};
use serde::Serialize;

/// One decision that changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `allow` if the principal gains the action, `deny` if it loses it.
    pub now: Effect,
    /// Principal.
    pub principal: String,
    /// Action.
    pub action: String,
    /// Node, `type:name`.
    pub node: String,
    /// Why: the explanation's summary and first reason, in the version where
    /// the action is allowed (for a gain, the new policy; for a loss, the old).
    pub because: String,
}

/// Every decision that differs between `old` and `new`, over the principals,
/// actions and nodes named in either, sorted by principal, node, action.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let names = |f: fn(&Snapshot) -> Vec<String>| {
        let mut all = f(old);
        all.extend(f(new));
        all.sort();
        all.dedup();
        all
    };
    let principals = names(|s| {
        s.model()
            .principals
            .iter()
            .map(|p| p.name.clone())
            .collect()
    });
    let actions = names(|s| s.model().actions.clone());
    let nodes = names(|s| {
        let m = s.model();
        (0..m.nodes.len() as u32)
            .map(|n| m.node_name(crate::compile::ids::NodeId(n)))
            .collect()
    });
    let mut out = Vec::new();
    for p in &principals {
        for n in &nodes {
            for a in &actions {
                let before = old.check(p, a, n).is_allowed();
                let after = new.check(p, a, n).is_allowed();
                if before == after {
                    continue;
                }
                let (now, because) = if after {
                    (Effect::Allow, first_allow(&new.explain(p, a, n)))
                } else {
                    let why = new.explain(p, a, n);
                    let because = match why.denied_by.first() {
                        Some(d) => format!("{}: {}", d.title, last_step(d)),
                        None => format!("no longer: {}", first_allow(&old.explain(p, a, n))),
                    };
                    (Effect::Deny, because)
                };
                out.push(Change {
                    now,
                    principal: p.clone(),
                    action: a.clone(),
                    node: n.clone(),
                    because,
                });
            }
        }
    }
    out
}

fn first_allow(why: &Explanation) -> String {
    why.allowed_by
        .first()
        .map(|r| format!("{}: {}", r.title, last_step(r)))
        .unwrap_or_default()
}

/// The deciding step of a reason, with its location.
fn last_step(r: &Reason) -> String {
    r.steps
        .last()
        .map(|s| match &s.at {
            Some(at) => format!("{} ({at})", s.text),
            None => s.text.clone(),
        })
        .unwrap_or_default()
}

//! Compaction of the write-ahead log: the batches logged so far replaced by
//! one batch with the same effect.
//!
//! The batch is the difference between the facts of the policy files alone
//! and the facts served now: users, groups and nodes that are gone are
//! removed (with every fact about them, as a removal does), the ones that
//! are new or changed are stated (a user stated again is restated), and
//! memberships, assignments and grants are added and removed one by one.
//! Before it replaces anything, the batch is replayed on the policy files
//! and must give exactly the facts served now; if it does not (a change the
//! difference cannot state, such as a node moved), the log is left whole.

use super::wal::FactBatch;
use crate::eval::snapshot::Snapshot;
use crate::facts::{Facts, GroupFact, MembershipFact, NodeFact, SubjectFact, UserFact};
use crate::syntax::names;
use std::collections::{BTreeMap, BTreeSet};

/// The one batch that takes `base` (the policy files) to `current`'s facts,
/// checked by replaying it on `base`; `None` if no such batch was found.
pub fn squash(base: &Snapshot, current: &Snapshot) -> Option<FactBatch> {
    let before = Facts::from_model(base.model());
    let after = Facts::from_model(current.model());
    let batch = difference(&before, &after);
    let (replayed, _) = base.apply(&batch.to_batch()).ok()?;
    (canonical(&Facts::from_model(replayed.model())) == canonical(&after)).then_some(batch)
}

/// Each kind of fact as a sorted set of its JSON, so that order does not
/// count.
fn canonical(f: &Facts) -> Vec<BTreeSet<String>> {
    fn set<T: serde::Serialize>(items: &[T]) -> BTreeSet<String> {
        items
            .iter()
            .map(|i| serde_json::to_string(i).unwrap_or_default())
            .collect()
    }
    let groups: Vec<GroupFact> = f
        .groups
        .iter()
        .map(|g| {
            let mut g = g.clone();
            g.members
                .sort_by_key(|m| serde_json::to_string(m).unwrap_or_default());
            g
        })
        .collect();
    vec![
        set(&f.nodes),
        set(&f.users),
        set(&groups),
        set(&f.memberships),
        set(&f.assignments),
        set(&f.grants),
    ]
}

fn node_key(n: &NodeFact) -> String {
    format!("{}:{}", n.ty, names::as_written(&n.name))
}

fn difference(before: &Facts, after: &Facts) -> FactBatch {
    let mut add = Facts::default();
    let mut remove = Facts::default();

    let users_now: BTreeMap<&str, &UserFact> =
        after.users.iter().map(|u| (u.name.as_str(), u)).collect();
    let users_then: BTreeMap<&str, &UserFact> =
        before.users.iter().map(|u| (u.name.as_str(), u)).collect();
    for name in users_then.keys().filter(|n| !users_now.contains_key(*n)) {
        remove.users.push(UserFact {
            name: name.to_string(),
            kind: None,
            status: None,
            homes: Vec::new(),
            attributes: BTreeMap::new(),
        });
    }
    for (name, u) in &users_now {
        if users_then.get(name) != Some(u) {
            add.users.push((*u).clone());
        }
    }

    let nodes_now: BTreeMap<String, &NodeFact> =
        after.nodes.iter().map(|n| (node_key(n), n)).collect();
    let nodes_then: BTreeMap<String, &NodeFact> =
        before.nodes.iter().map(|n| (node_key(n), n)).collect();
    for (key, n) in &nodes_then {
        if !nodes_now.contains_key(key) {
            remove.nodes.push(NodeFact {
                ty: n.ty.clone(),
                name: n.name.clone(),
                parent: None,
                created_by: None,
                attributes: BTreeMap::new(),
            });
        }
    }
    for (key, n) in &nodes_now {
        if nodes_then.get(key) != Some(n) {
            add.nodes.push((*n).clone());
        }
    }

    let groups_now: BTreeMap<&str, &GroupFact> =
        after.groups.iter().map(|g| (g.name.as_str(), g)).collect();
    let groups_then: BTreeMap<&str, &GroupFact> =
        before.groups.iter().map(|g| (g.name.as_str(), g)).collect();
    // A subject removed with its declaration takes its facts with it.
    let gone = |s: &SubjectFact| match s {
        SubjectFact::User(u) => !users_now.contains_key(u.as_str()),
        SubjectFact::Group(g) => !groups_now.contains_key(g.as_str()),
    };
    for name in groups_then.keys().filter(|n| !groups_now.contains_key(*n)) {
        remove.groups.push(GroupFact {
            name: name.to_string(),
            homes: Vec::new(),
            members: Vec::new(),
        });
    }
    for (name, g) in &groups_now {
        match groups_then.get(name) {
            None => add.groups.push((*g).clone()),
            Some(then) => {
                if then.homes != g.homes {
                    add.groups.push(GroupFact {
                        members: Vec::new(),
                        ..(*g).clone()
                    });
                }
                for m in g.members.iter().filter(|m| !then.members.contains(m)) {
                    add.memberships.push(MembershipFact {
                        member: m.clone(),
                        group: name.to_string(),
                    });
                }
                for m in then
                    .members
                    .iter()
                    .filter(|m| !g.members.contains(m) && !gone(m))
                {
                    remove.memberships.push(MembershipFact {
                        member: m.clone(),
                        group: name.to_string(),
                    });
                }
            }
        }
    }

    let kept = |to: &SubjectFact, on: &str| !gone(to) && nodes_now.contains_key(on);
    let (added, removed) = changes(&before.assignments, &after.assignments);
    add.assignments.extend(added);
    remove
        .assignments
        .extend(removed.into_iter().filter(|a| kept(&a.to, &a.on)));
    let (added, removed) = changes(&before.grants, &after.grants);
    add.grants.extend(added);
    remove
        .grants
        .extend(removed.into_iter().filter(|g| kept(&g.to, &g.on)));
    FactBatch { add, remove }
}

/// What is in `after` and not in `before`, and the other way round.
fn changes<T: Clone + serde::Serialize>(before: &[T], after: &[T]) -> (Vec<T>, Vec<T>) {
    let keyed = |items: &[T]| -> BTreeMap<String, T> {
        items
            .iter()
            .map(|i| (serde_json::to_string(i).unwrap_or_default(), i.clone()))
            .collect()
    };
    let (then, now) = (keyed(before), keyed(after));
    let added = now
        .iter()
        .filter(|(k, _)| !then.contains_key(*k))
        .map(|(_, v)| v.clone())
        .collect();
    let removed = then
        .iter()
        .filter(|(k, _)| !now.contains_key(*k))
        .map(|(_, v)| v.clone())
        .collect();
    (added, removed)
}

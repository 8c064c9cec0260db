//! Live updates: the next snapshot from the current one and a batch of
//! statements to add and to remove.
//!
//! A batch of facts (users, groups, memberships, assignments, grants,
//! denies, nodes) costs what it touches, not what the organisation holds:
//!
//! 1. the model and its indexes are copied by sharing (see
//!    [`crate::shared`]): only the chunks and shards the batch writes to are
//!    copied;
//! 2. removals put the records they name out of force; additions are
//!    checked against the current model by the same checker that loads
//!    policies ([`crate::compile::extend`]) and indexed record by record;
//! 3. structure (group cycles, nesting depth) is checked on the new records,
//!    and the constraint program runs on the nodes whose holders the batch
//!    can change;
//! 4. the new snapshot shares the decision tables of every principal the
//!    batch cannot reach; those it reaches are evaluated again on their next
//!    check.
//!
//! A batch with rules (types, roles, creator and default rules, constraints,
//! `users where ...` selectors, tests) can change anyone's decisions: it is
//! checked, constrained and indexed whole, and every table starts afresh.

use super::constraints;
use super::index::{AtNode, Index, Record};
use super::reach::{holder_nodes, Reach};
use super::snapshot::Snapshot;
use crate::compile::ids::*;
use crate::compile::limits::{too_deep, Limits};
use crate::compile::model::Model;
use crate::error::{Code, Diagnostic};
use crate::shared::{ShardMap, READ_MOSTLY};
use crate::source::Sources;
use crate::syntax::ast::{self, Actions, PolicyFile, Statement};
use rustc_hash::FxHashSet;

/// What an update changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// Principals whose decisions the batch can change (their decision
    /// tables are evaluated again), or `None` when it can change anyone's.
    pub principals_affected: Option<usize>,
}

/// The snapshot after adding `add` to `current`'s policy and removing
/// `remove` from it (removals first), or every error found; `sources` are
/// `current`'s with the batch's texts added.
pub(crate) fn apply(
    current: &Snapshot,
    sources: Sources,
    add: &PolicyFile,
    remove: &PolicyFile,
    limits: &Limits,
) -> Result<(Snapshot, Update), Vec<Diagnostic>> {
    let mut m: Model = current.model().clone();
    m.sources = sources;
    let mut ix: Index = (*current.index).clone();
    let mut reach = Reach {
        principals: Some(FxHashSet::default()),
        ..Reach::default()
    };
    let errors = retract(&mut m, &mut ix, remove, &mut reach);
    if !errors.is_empty() {
        return Err(errors);
    }
    let before = Counts::of(&m);
    let m = crate::compile::extend(m, add)?;
    let revision = current.next_revision(&m.sources);
    if add
        .items
        .iter()
        .any(|i| super::reach::is_rule(&i.statement))
    {
        let mut errors = crate::compile::structure::check(&m);
        errors.extend(too_deep(
            &m,
            (0..m.nodes.len() as u32).map(NodeId),
            limits.depth(),
        ));
        if errors.is_empty() {
            errors = constraints::check(&m);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let ix = Index::new(&m).map_err(|d| vec![d])?;
        let next = Snapshot::with_revision(m, ix, revision);
        return Ok((
            next,
            Update {
                principals_affected: None,
            },
        ));
    }
    index_additions(&m, &mut ix, &before, add, &mut reach);
    check_additions(&m, &ix, &before, limits)?;
    let violations = constraints::check_touched(&m, &ix, &reach.nodes, &reach.members);
    if !violations.is_empty() {
        return Err(violations);
    }
    let update = Update {
        principals_affected: reach.principals.as_ref().map(|s| s.len()),
    };
    let next = current.next(m, ix, reach.principals.as_ref(), revision);
    Ok((next, update))
}

/// Lengths of the model's record lists before a batch's additions.
struct Counts {
    principals: usize,
    nodes: usize,
    memberships: usize,
    assignments: usize,
    grants: usize,
    denies: usize,
}

impl Counts {
    fn of(m: &Model) -> Counts {
        Counts {
            principals: m.principals.len(),
            nodes: m.nodes.len(),
            memberships: m.memberships.len(),
            assignments: m.assignments.len(),
            grants: m.grants.len(),
            denies: m.denies.len(),
        }
    }
}

/// Indexes the records the batch added and records whom they reach: the
/// principals at or below each new fact's subject, each new node's creator,
/// and each user the batch declares or restates.
fn index_additions(
    m: &Model,
    ix: &mut Index,
    before: &Counts,
    add: &PolicyFile,
    reach: &mut Reach,
) {
    let range = |from: usize, to: usize| (from as u32)..(to as u32);
    for i in range(before.principals, m.principals.len()) {
        ix.insert(m, Record::Principal(i));
    }
    for i in range(before.nodes, m.nodes.len()) {
        ix.insert(m, Record::Node(i));
        reach.nodes.push(NodeId(i));
        if let Some((p, _)) = m.nodes[i as usize].creator {
            reach.principal(p);
        }
    }
    // Reach is taken once every membership is indexed, so that a new group
    // with new members reaches them.
    for i in range(before.memberships, m.memberships.len()) {
        ix.insert(m, Record::Membership(i));
    }
    for i in range(before.memberships, m.memberships.len()) {
        let ms = m.memberships[i as usize];
        reach.below(ix, [ms.member]);
        reach
            .nodes
            .extend(holder_nodes(m, ix, SubjectId::group(ms.group)));
        if let SubjectKind::Principal(p) = ms.member.kind() {
            reach.members.push(p);
        }
    }
    for i in range(before.assignments, m.assignments.len()) {
        ix.insert(m, Record::Assignment(i));
        let a = m.assignments[i as usize];
        reach.below(ix, [a.subject]);
        reach.nodes.push(a.node);
    }
    for i in range(before.grants, m.grants.len()) {
        ix.insert(m, Record::Grant(i));
        reach.below(ix, [m.grants[i as usize].subject]);
    }
    for i in range(before.denies, m.denies.len()) {
        ix.insert(m, Record::Deny(i));
        reach.below(ix, [m.denies[i as usize].subject]);
    }
    // A restated user has no new record: its statement says whom it reaches.
    for item in &add.items {
        if let Statement::Principal { name, .. } = &item.statement {
            if let Some(&p) = m.names.principals.get(name.text.as_str()) {
                reach.principal(p);
                reach.members.push(p);
            }
        }
    }
}

/// Group cycles and nesting depth, on the records a batch added.
fn check_additions(
    m: &Model,
    ix: &Index,
    before: &Counts,
    limits: &Limits,
) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    for ms in m.memberships.iter().skip(before.memberships) {
        let SubjectKind::Group(inner) = ms.member.kind() else {
            continue;
        };
        if ix.above(m, SubjectId::group(ms.group)).contains(&ms.member) {
            let (inner, outer) = (
                &m.groups[inner.index()].name,
                &m.groups[ms.group.index()].name,
            );
            errors.push(
                Diagnostic::new(Code::Cycle,
                    format!("group cycle: `{inner}` would be inside itself"),
                    m.facts[ms.fact.index()],
                )
                .label("this membership closes the cycle")
                .help(format!(
                    "`{outer}` is already inside `{inner}`, directly or through other groups; a group cannot contain itself"
                )),
            );
        }
    }
    let added = (before.nodes as u32..m.nodes.len() as u32).map(NodeId);
    errors.extend(too_deep(m, added, limits.depth()));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A named subject of the model, if it exists.
fn subject(m: &Model, s: &ast::Subject) -> Option<SubjectId> {
    match s {
        ast::Subject::Principal(n) => m
            .names
            .principals
            .get(&*n.text)
            .map(|&p| SubjectId::principal(p)),
        ast::Subject::Group(n) => m.names.groups.get(&*n.text).map(|&g| SubjectId::group(g)),
        ast::Subject::Selector { .. } => None,
    }
}

/// Puts out of force the facts `batch` states, and removes the users,
/// groups and nodes it declares. Every statement must name something that
/// is there.
fn retract(
    m: &mut Model,
    ix: &mut Index,
    batch: &PolicyFile,
    reach: &mut Reach,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for item in &batch.items {
        if let Err(d) = retract_one(m, ix, &item.statement, item.span, reach) {
            errors.push(d);
        }
    }
    errors
}

fn unknown(what: &str, name: &ast::Name) -> Diagnostic {
    crate::error::unknown(what, &name.text, name.span)
        .help("only what the policy holds now can be removed")
}

/// The id `name` has in one of the model's name maps.
fn named<V: Copy>(
    map: &ShardMap<crate::compile::model::Name, V, READ_MOSTLY>,
    name: &ast::Name,
    what: &str,
) -> Result<V, Diagnostic> {
    map.get(name.text.as_str())
        .copied()
        .ok_or_else(|| unknown(what, name))
}

fn node_of(m: &Model, r: &ast::NodeRef) -> Result<NodeId, Diagnostic> {
    let key = format!("{}:{}", r.ty.text, r.name.text);
    m.names.nodes.get(&*key).copied().ok_or_else(|| {
        let span = crate::source::Span {
            start: r.ty.span.start,
            ..r.name.span
        };
        crate::error::unknown("node", &key, span)
            .help("only what the policy holds now can be removed")
    })
}

fn subject_of(m: &Model, s: &ast::Subject) -> Result<SubjectId, Diagnostic> {
    match s {
        ast::Subject::Principal(n) => subject(m, s).ok_or_else(|| unknown("user", n)),
        ast::Subject::Group(n) => subject(m, s).ok_or_else(|| unknown("group", n)),
        ast::Subject::Selector { span, .. } => Err(Diagnostic::new(
            Code::Update,
            "a rule for `users where ...` cannot be removed by an update",
            *span,
        )
        .label("a selector")
        .help("change the rule in the policy files and load them again")),
    }
}

fn retract_one(
    m: &mut Model,
    ix: &mut Index,
    statement: &Statement,
    span: crate::source::Span,
    reach: &mut Reach,
) -> Result<(), Diagnostic> {
    let missing = |what: String| {
        Diagnostic::new(Code::Update, format!("nothing to remove: {what}"), span)
            .label("not in the policy")
            .help("a removal names a fact as the policy states it now")
    };
    match statement {
        Statement::Add { members, group } => {
            let g = named(&m.names.groups, group, "group")?;
            for s in members {
                let member = subject_of(m, s)?;
                let found: Vec<u32> = ix
                    .member_of
                    .get(&member)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&i| m.memberships[i as usize].group == g)
                    .collect();
                let found = one_statement(&found, |i| (m.memberships[i].fact, None), None);
                if found.is_empty() {
                    return Err(missing(format!(
                        "{} is not in group `{}`",
                        m.subject_name(member),
                        group.text
                    )));
                }
                reach.below(ix, [member]);
                reach.nodes.extend(holder_nodes(m, ix, SubjectId::group(g)));
                for i in found {
                    retire(m, ix, Record::Membership(i));
                }
            }
        }
        Statement::Assign {
            role,
            on,
            to,
            guard,
        } => {
            let r = m
                .names
                .roles
                .get(&role.text)
                .copied()
                .ok_or_else(|| unknown("role", role))?;
            let n = node_of(m, on)?;
            for s in to {
                let s = subject_of(m, s)?;
                let found = find(ix.assignments.get(&s), |i| {
                    let a = &m.assignments[i];
                    a.role == r && a.node == n && same_guard(m, a.cond, guard)
                });
                let found = one_statement(&found, |i| (m.assignments[i].fact, None), None);
                if found.is_empty() {
                    return Err(missing(format!(
                        "{} is not assigned `{}` on `{}`",
                        m.subject_name(s),
                        role.text,
                        m.node_name(n)
                    )));
                }
                reach.below(ix, [s]);
                reach.nodes.push(n);
                for i in found {
                    retire(m, ix, Record::Assignment(i));
                }
            }
        }
        Statement::Grant {
            actions,
            on,
            to,
            guard,
        } => {
            let n = node_of(m, on)?;
            let acts = action_ids(m, actions, Some(n))?;
            for s in to {
                let s = subject_of(m, s)?;
                let found = find(ix.grants.get(&s), |i| {
                    m.grants[i].node == n && same_guard(m, m.grants[i].cond, guard)
                });
                let found = one_statement(
                    &found,
                    |i| (m.grants[i].fact, Some(m.grants[i].action)),
                    Some(&acts),
                );
                if found.is_empty() {
                    return Err(missing(format!(
                        "no such grant to {} on `{}`",
                        m.subject_name(s),
                        m.node_name(n)
                    )));
                }
                reach.below(ix, [s]);
                for i in found {
                    retire(m, ix, Record::Grant(i));
                }
            }
        }
        Statement::Deny {
            actions,
            on,
            to,
            guard,
        } => {
            let n = on.as_ref().map(|n| node_of(m, n)).transpose()?;
            let acts = action_ids(m, actions, n)?;
            let s = subject_of(m, to)?;
            let found = find(ix.denies.get(&s), |i| {
                m.denies[i].node == n && same_guard(m, m.denies[i].cond, guard)
            });
            let found = one_statement(
                &found,
                |i| (m.denies[i].fact, Some(m.denies[i].action)),
                Some(&acts),
            );
            if found.is_empty() {
                return Err(missing(format!("no such deny to {}", m.subject_name(s))));
            }
            reach.below(ix, [s]);
            for i in found {
                retire(m, ix, Record::Deny(i));
            }
        }
        Statement::Principal { name, .. } => {
            let p = named(&m.names.principals, name, "user")?;
            let s = SubjectId::principal(p);
            reach.principal(p);
            reach.nodes.extend(holder_nodes(m, ix, s));
            retire_subject(m, ix, s);
            m.names.principals.remove(&*name.text);
            forget_lookalike(m, s, &name.text);
        }
        Statement::Group { name, .. } => {
            let g = named(&m.names.groups, name, "group")?;
            let s = SubjectId::group(g);
            reach.below(ix, [s]);
            reach.nodes.extend(holder_nodes(m, ix, s));
            let inside: Vec<SubjectId> = ix.members.get(&g).cloned().unwrap_or_default();
            for member in inside {
                let found = find(ix.member_of.get(&member), |i| m.memberships[i].group == g);
                for i in found {
                    retire(m, ix, Record::Membership(i));
                }
            }
            retire_subject(m, ix, s);
            m.names.groups.remove(&*name.text);
            forget_lookalike(m, s, &name.text);
        }
        Statement::Node { ty, name, .. } => {
            let r = ast::NodeRef {
                ty: ty.clone(),
                name: name.clone(),
            };
            let n = node_of(m, &r)?;
            if let Some(&child) = ix.children[n.index()].first() {
                return Err(Diagnostic::new(Code::Update,
                    format!("`{}` still contains `{}`", m.node_name(n), m.node_name(child)),
                    span,
                )
                .label("a node with children")
                .help("remove the nodes inside it first, in the same batch or an earlier one"));
            }
            let at: Vec<(SubjectId, AtNode)> = ix.at_node.get(&n).cloned().unwrap_or_default();
            for (s, a) in at {
                let record = match a {
                    AtNode::Assignment(i) => Record::Assignment(i),
                    AtNode::Grant(i) => Record::Grant(i),
                    AtNode::Deny(i) => Record::Deny(i),
                };
                reach.below(ix, [s]);
                retire(m, ix, record);
            }
            if let Some((p, _)) = m.nodes[n.index()].creator {
                reach.principal(p);
            }
            ix.remove(m, Record::Node(n.0));
            m.names.nodes.remove(&*m.node_key(n));
        }
        _ => {
            return Err(Diagnostic::new(Code::Update, "only facts can be removed by an update", span)
                .label("a rule")
                .help("an update removes users, groups, memberships, assignments, grants, denies and nodes; change rules in the policy files and load them again"))
        }
    }
    Ok(())
}

/// A removed user's or group's name no longer stands in a new one's way.
fn forget_lookalike(m: &mut Model, s: SubjectId, name: &str) {
    let key = crate::compile::model::Names::lookalike_slot(s, name);
    m.names.lookalikes.remove(key.as_str());
}

/// The records of exactly one statement among `found`: the latest
/// statement whose records (for one subject) name exactly `actions` (when
/// given). A removal retires what one statement stated and nothing more:
/// `deny * on X to bob` leaves a separate `deny app.edit on X to bob`, and
/// removing one of two identical statements leaves the other in force.
fn one_statement(
    found: &[u32],
    fact_of: impl Fn(usize) -> (FactId, Option<ActionId>),
    actions: Option<&[ActionId]>,
) -> Vec<u32> {
    let mut by_fact: Vec<(FactId, Vec<u32>, Vec<ActionId>)> = Vec::new();
    for &i in found {
        let (fact, action) = fact_of(i as usize);
        let at = match by_fact.iter().position(|(f, _, _)| *f == fact) {
            Some(at) => at,
            None => {
                by_fact.push((fact, Vec::new(), Vec::new()));
                by_fact.len() - 1
            }
        };
        by_fact[at].1.push(i);
        by_fact[at].2.extend(action);
    }
    let wanted: Option<FxHashSet<ActionId>> = actions.map(|a| a.iter().copied().collect());
    by_fact
        .into_iter()
        .filter(|(_, _, acts)| {
            wanted
                .as_ref()
                .is_none_or(|w| acts.iter().copied().collect::<FxHashSet<_>>() == *w)
        })
        .max_by_key(|(f, _, _)| f.0)
        .map(|(_, records, _)| records)
        .unwrap_or_default()
}

/// The records of `list` that `keep` accepts.
fn find(list: Option<&Vec<u32>>, keep: impl Fn(usize) -> bool) -> Vec<u32> {
    list.into_iter()
        .flatten()
        .copied()
        .filter(|&i| keep(i as usize))
        .collect()
}

/// The actions a removal names; `*` on a node means those that apply there,
/// as it did when the statement was added.
fn action_ids(
    m: &Model,
    actions: &Actions,
    node: Option<NodeId>,
) -> Result<Vec<ActionId>, Diagnostic> {
    match actions {
        Actions::All(_) => Ok((0..m.actions.len() as u32)
            .map(ActionId)
            .filter(|&a| node.is_none_or(|n| m.action_reaches(a, m.nodes[n.index()].ty)))
            .collect()),
        Actions::List(names) => names
            .iter()
            .map(|n| {
                m.names
                    .actions
                    .get(&n.text)
                    .copied()
                    .ok_or_else(|| unknown("action", n))
            })
            .collect(),
    }
}

/// Puts a fact record out of force.
fn retire(m: &mut Model, ix: &mut Index, record: Record) {
    ix.remove(m, record);
    match record {
        Record::Membership(i) => m.memberships[i as usize].live = false,
        Record::Assignment(i) => m.assignments[i as usize].live = false,
        Record::Grant(i) => m.grants[i as usize].live = false,
        Record::Deny(i) => m.denies[i as usize].live = false,
        Record::Node(_) | Record::Principal(_) => {}
    }
}

/// Puts out of force every fact about a subject being removed.
fn retire_subject(m: &mut Model, ix: &mut Index, s: SubjectId) {
    let lists = [
        (
            ix.member_of.get(&s).cloned(),
            Record::Membership as fn(u32) -> Record,
        ),
        (ix.assignments.get(&s).cloned(), Record::Assignment),
        (ix.grants.get(&s).cloned(), Record::Grant),
        (ix.denies.get(&s).cloned(), Record::Deny),
    ];
    for (list, record) in lists {
        for i in list.into_iter().flatten() {
            retire(m, ix, record(i));
        }
    }
}

/// Whether a record's condition is the one a removal names (none for none).
fn same_guard(
    m: &Model,
    cond: Option<crate::compile::model::CondId>,
    guard: &Option<crate::syntax::ast::Guard>,
) -> bool {
    let written = guard.as_ref().map(|g| {
        format!(
            "{} {}",
            if g.unless { "unless" } else { "when" },
            crate::syntax::condition_text(&g.expr)
        )
    });
    let held = cond.map(|c| m.conditions[c as usize].text.clone());
    written == held
}

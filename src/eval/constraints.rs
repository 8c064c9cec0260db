//! The load-time constraint checker, a second small Datalog program.
//!
//! Constraints are about the whole organisation at once ("exactly one Owner
//! per workspace"), unlike access decisions, which are per principal. A load
//! whose facts break a constraint is rejected with the constraint's line and
//! the facts that break it.

#![allow(missing_docs)]

use super::index::{AtNode, Index};
use crate::compile::ids::*;
use crate::compile::model::{Constraint, Model, PrincipalKind};
use crate::error::{Code, Diagnostic};
use crepe::crepe;
use rustc_hash::FxBuildHasher;

crepe! {
    @input struct IsPrincipal(PrincipalId, SubjectId);
    @input struct MemberEdge(SubjectId, SubjectId, FactId);
    @input struct Assign(SubjectId, RoleId, NodeId, FactId);
    @input struct Node(NodeId, TypeId);
    @input struct AtMostOne(FactId, RoleId, TypeId);
    @input struct AtLeastOne(FactId, RoleId, TypeId);
    @input struct OfKind(PrincipalId, bool);
    @input struct NoGroupsFor(FactId, bool);

    // Principals matching a subject through groups (selectors are not counted:
    // a constraint counts named holders).
    struct Matches(PrincipalId, SubjectId);
    Matches(p, s) <- IsPrincipal(p, s);
    Matches(p, g) <- Matches(p, s), MemberEdge(s, g, _);
    // Holder(n, r, p, f): p holds r on n through assignment f.
    struct Holder(NodeId, RoleId, PrincipalId, FactId);
    Holder(n, r, p, f) <- Assign(s, r, n, f), Matches(p, s);
    struct HasHolder(NodeId, RoleId);
    HasHolder(n, r) <- Holder(n, r, _, _);
    // at most one: two different holders on one node.
    @output struct TooMany(FactId, NodeId, PrincipalId, FactId, PrincipalId, FactId);
    TooMany(c, n, p1, f1, p2, f2) <- AtMostOne(c, r, t), Node(n, t), Holder(n, r, p1, f1), Holder(n, r, p2, f2), (p1 < p2);
    // at least one: a node of the type without a holder.
    @output struct Missing(FactId, NodeId);
    Missing(c, n) <- AtLeastOne(c, r, t), Node(n, t), !HasHolder(n, r);
    // kind cannot join groups: a direct membership of such a principal.
    @output struct Grouped(FactId, PrincipalId, SubjectId, FactId);
    Grouped(c, p, g, f) <- NoGroupsFor(c, k), OfKind(p, k), IsPrincipal(p, s), MemberEdge(s, g, f);
}

/// Every constraint violation of the model.
/// Checks every constraint over the whole model.
pub fn check(m: &Model) -> Vec<Diagnostic> {
    if m.constraints.is_empty() {
        return Vec::new();
    }
    let mut rt = Crepe::new();
    for (i, p) in m.principals.iter().enumerate() {
        let id = PrincipalId(i as u32);
        if m.is_live_principal(id) {
            rt.extend([IsPrincipal(id, SubjectId::principal(id))]);
            rt.extend([OfKind(id, p.kind == PrincipalKind::Service)]);
        }
    }
    rt.extend(
        m.memberships()
            .map(|ms| MemberEdge(ms.member, SubjectId::group(ms.group), ms.fact)),
    );
    rt.extend(
        m.assignments()
            .map(|a| Assign(a.subject, a.role, a.node, a.fact)),
    );
    rt.extend(
        (0..m.nodes.len() as u32)
            .map(NodeId)
            .filter(|&n| m.is_live_node(n))
            .map(|n| Node(n, m.nodes[n.index()].ty)),
    );
    report(m, rt)
}

/// Checks the constraints where a live update can have broken them: the
/// holders of roles on `nodes`, and the memberships of `principals`. The
/// program is the same; its input is the part of the model those reach.
pub fn check_touched(
    m: &Model,
    ix: &Index,
    nodes: &[NodeId],
    principals: &[PrincipalId],
) -> Vec<Diagnostic> {
    if m.constraints.is_empty() {
        return Vec::new();
    }
    let mut rt = Crepe::new();
    let mut subjects: Vec<SubjectId> = principals
        .iter()
        .map(|&p| SubjectId::principal(p))
        .collect();
    let mut seen_nodes = rustc_hash::FxHashSet::default();
    for &n in nodes {
        if !m.is_live_node(n) || !seen_nodes.insert(n) {
            continue;
        }
        rt.extend([Node(n, m.nodes[n.index()].ty)]);
        for &(_, at) in ix.at_node.get(&n).into_iter().flatten() {
            if let AtNode::Assignment(i) = at {
                let a = &m.assignments[i as usize];
                rt.extend([Assign(a.subject, a.role, a.node, a.fact)]);
                subjects.push(a.subject);
            }
        }
    }
    // Everyone below those subjects, with the memberships that put them there.
    let mut seen = rustc_hash::FxHashSet::default();
    while let Some(s) = subjects.pop() {
        if !seen.insert(s) {
            continue;
        }
        for &e in ix.member_of.get(&s).into_iter().flatten() {
            let ms = &m.memberships[e as usize];
            rt.extend([MemberEdge(ms.member, SubjectId::group(ms.group), ms.fact)]);
        }
        match s.kind() {
            SubjectKind::Principal(p) => {
                rt.extend([IsPrincipal(p, s)]);
                rt.extend([OfKind(
                    p,
                    m.principals[p.index()].kind == PrincipalKind::Service,
                )]);
            }
            SubjectKind::Group(g) => subjects.extend(ix.members.get(&g).into_iter().flatten()),
            SubjectKind::Selector(_) => {}
        }
    }
    report(m, rt)
}

/// Runs the program with the model's constraints and words what it finds.
fn report(m: &Model, mut rt: Crepe) -> Vec<Diagnostic> {
    for c in &m.constraints {
        match *c {
            Constraint::Holders {
                min,
                max,
                role,
                per,
                fact,
            } => {
                if max == Some(1) {
                    rt.extend([AtMostOne(fact, role, per)]);
                }
                if min == Some(1) {
                    rt.extend([AtLeastOne(fact, role, per)]);
                }
            }
            Constraint::NoGroups { kind, fact } => {
                rt.extend([NoGroupsFor(fact, kind == PrincipalKind::Service)]);
            }
        }
    }
    let (too_many, missing, grouped) = rt.run_with_hasher::<FxBuildHasher>();
    let mut out = Vec::new();
    let constraint_text = |f: FactId| m.locate(f).text;

    let mut too_many: Vec<_> = too_many.into_iter().collect();
    too_many.sort_by_key(|t| (t.1, t.2, t.4));
    let mut seen_nodes = Vec::new();
    for TooMany(c, n, p1, f1, p2, f2) in too_many {
        if seen_nodes.contains(&(c, n)) {
            continue;
        }
        seen_nodes.push((c, n));
        let (p1, p2) = (
            &m.principals[p1.index()].name,
            &m.principals[p2.index()].name,
        );
        let through = if f1 == f2 {
            format!("both through {} (a group assignment)", m.locate(f1))
        } else {
            format!(
                "`{p1}` through {}, `{p2}` through {}",
                m.locate(f1),
                m.locate(f2)
            )
        };
        out.push(
            Diagnostic::new(
                Code::Constraint,
                format!(
                    "constraint broken: `{}` on `{}`: `{p1}` and `{p2}` both hold the role",
                    constraint_text(c),
                    m.node_name(n),
                ),
                m.facts[f2.index()],
            )
            .label("a second holder")
            .help(format!(
                "the constraint is at {}; {through}; leave one holder",
                m.locate(c)
            )),
        );
    }
    let mut missing: Vec<_> = missing.into_iter().collect();
    missing.sort_by_key(|x| x.1);
    for Missing(c, n) in missing {
        out.push(
            Diagnostic::new(
                Code::Constraint,
                format!(
                    "constraint broken: `{}`: `{}` has no holder",
                    constraint_text(c),
                    m.node_name(n)
                ),
                m.facts[m.nodes[n.index()].fact.index()],
            )
            .label("no one holds the role here")
            .help(format!(
                "the constraint is at {}; assign the role on this node",
                m.locate(c)
            )),
        );
    }
    let mut grouped: Vec<_> = grouped.into_iter().collect();
    grouped.sort_by_key(|g| (g.1, g.3));
    for Grouped(c, p, g, f) in grouped {
        out.push(
            Diagnostic::new(
                Code::Constraint,
                format!(
                    "constraint broken: `{}`: `{}` is a {} user in {}",
                    constraint_text(c),
                    m.principals[p.index()].name,
                    if m.principals[p.index()].kind == PrincipalKind::Service {
                        "service"
                    } else {
                        "human"
                    },
                    m.subject_name(g)
                ),
                m.facts[f.index()],
            )
            .label("this membership")
            .help(format!(
                "the constraint is at {}; remove the membership",
                m.locate(c)
            )),
        );
    }
    out
}

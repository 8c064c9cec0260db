//! One evaluation of the Datalog program: the facts about one principal,
//! over the nodes that matter to it.
//!
//! A principal's decisions depend only on its own attributes, the groups it
//! reaches, the rules given to those subjects (and to selectors), the nodes
//! those rules name, and the model. So each evaluation sees:
//!
//! - *anchor* nodes: nodes named by the principal's assignments, grants and
//!   denies, nodes it created, its home nodes, and every ancestor of those;
//! - in [`Scope::Table`] mode, for every anchor `u` and every path of types
//!   below `u`'s type, one *virtual* node standing for "a node reached from
//!   `u` through nodes of these types that carry no facts about the
//!   principal". Such nodes are indistinguishable to the program from the real
//!   ones they stand for, so the table answers every node of the tree;
//! - in [`Scope::Path`] mode, the real ancestry of one resource, for
//!   explanations.

use super::index::Index;
use super::program::*;
use crate::compile::ids::*;
use crate::compile::model::Model;
use rustc_hash::{FxBuildHasher, FxHashSet};
use std::collections::HashSet;

/// What nodes an evaluation covers besides the anchors.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// Virtual descendants of every anchor: the principal's decision table.
    Table,
    /// The ancestry of one node: for explaining a request on it.
    Path(NodeId),
}

type Set<T> = HashSet<T, FxBuildHasher>;

/// The derived relations of one evaluation.
#[allow(missing_docs)]
pub struct Derived {
    pub matches: Set<Matches>,
    pub held: Set<Held>,
    pub created: Set<Created>,
    pub defaulted: Set<Defaulted>,
    pub applies: Set<Applies>,
    pub overridden: Set<Overridden>,
    pub outranked: Set<Outranked>,
    pub effective: Set<Effective>,
    pub role_reach: Set<RoleReach>,
    pub role_allows: Set<RoleAllows>,
    pub from_role: Set<FromRole>,
    pub granted: Set<Granted>,
    pub can: Set<Can>,
    pub deny_at: Set<DenyAt>,
    pub allow: Set<Allow>,
}

/// Nodes of one evaluation: real ones keep their ids, virtual ones are
/// numbered from the model's node count up.
pub struct Universe {
    /// For each virtual node (by `id - model.nodes.len()`): its anchor and the
    /// index of its type path below the anchor.
    pub virtuals: Vec<(NodeId, u16)>,
    /// Real nodes included (anchors and their ancestors, plus any path).
    pub real: Vec<NodeId>,
}

/// Runs the program for principal `p`.
pub fn evaluate(m: &Model, ix: &Index, p: PrincipalId, scope: Scope) -> (Universe, Derived) {
    let mut rt = Crepe::new();
    let subjects = ix.candidate_subjects(m, p);
    let mut anchors: Vec<NodeId> = Vec::new();

    // The principal.
    let def = &m.principals[p.index()];
    rt.extend([IsPrincipal(p, SubjectId::principal(p))]);
    rt.extend(def.attrs.iter().map(|&(k, v)| Has(p, k, v)));
    rt.extend(def.homes.iter().map(|&n| Home(p, n)));
    anchors.extend(&def.homes);
    for &n in &ix.created[p.index()] {
        if let Some((_, f)) = m.nodes[n.index()].creator {
            rt.extend([CreatedBy(n, p, f)]);
            anchors.push(n);
        }
    }

    // Subjects it may match, and what is given to them.
    for &s in &subjects {
        for &e in ix.member_of.get(&s).into_iter().flatten() {
            let ms = &m.memberships[e as usize];
            rt.extend([MemberEdge(s, SubjectId::group(ms.group), ms.fact)]);
        }
        for &i in ix.assignments.get(&s).into_iter().flatten() {
            let a = &m.assignments[i as usize];
            rt.extend([Assign(s, a.role, a.node, a.fact)]);
            anchors.push(a.node);
        }
        for &i in ix.grants.get(&s).into_iter().flatten() {
            let g = &m.grants[i as usize];
            rt.extend([GrantIn(s, g.action, g.node, g.fact)]);
            anchors.push(g.node);
        }
        for &i in ix.denies.get(&s).into_iter().flatten() {
            let d = &m.denies[i as usize];
            match d.node {
                Some(n) => {
                    rt.extend([DenyIn(s, d.action, n, d.fact)]);
                    anchors.push(n);
                }
                None => rt.extend([DenyEverywhere(s, d.action, d.fact)]),
            }
        }
    }
    for &s in &ix.selectors {
        rt.extend([Selector(s)]);
        if let SubjectKind::Selector(id) = s.kind() {
            let sel = &m.selectors[id.index()];
            rt.extend(
                sel.conditions
                    .iter()
                    .map(|&(k, eq, v)| SelCond(s, k, v, eq)),
            );
        }
    }

    // The model: roles, types, rules.
    for (i, r) in m.roles.iter().enumerate() {
        let id = RoleId(i as u32);
        rt.extend([Role(id, r.rank)]);
        rt.extend(r.includes.iter().map(|&(inc, f)| RoleIncludes(id, inc, f)));
        rt.extend(r.actions.iter().map(|&a| RolePerm(id, a, r.actions_fact)));
        if r.sticky {
            rt.extend([Sticky(id)]);
        }
    }
    for (i, t) in m.types.iter().enumerate() {
        let id = TypeId(i as u32);
        if t.overrides {
            rt.extend([TypeOverrides(id)]);
        }
        if t.highest {
            rt.extend([TypeHighest(id)]);
        }
    }
    rt.extend(
        m.creator_rules
            .iter()
            .map(|c| CreatorRole(c.ty, c.role, c.fact)),
    );
    rt.extend(
        m.defaults
            .iter()
            .map(|d| DefaultRole(d.ty, d.role, d.subject, d.fact)),
    );

    // Nodes: anchors, their ancestors, and the scope's extra nodes.
    if let Scope::Path(target) = scope {
        anchors.push(target);
    }
    let mut real: FxHashSet<NodeId> = FxHashSet::default();
    for a in anchors {
        for n in m.ancestry(a) {
            if !real.insert(n) {
                break;
            }
        }
    }
    let mut real: Vec<NodeId> = real.into_iter().collect();
    real.sort_unstable();
    for &n in &real {
        let node = &m.nodes[n.index()];
        rt.extend([Node(n, node.ty)]);
        if let Some(parent) = node.parent {
            rt.extend([Parent(n, parent)]);
        }
    }
    let mut virtuals = Vec::new();
    if let Scope::Table = scope {
        let base = m.nodes.len() as u32;
        for &u in &real {
            let paths = &ix.type_paths[m.nodes[u.index()].ty.index()];
            // paths[i] is bottom-up; its parent path drops the first element.
            let first = base + virtuals.len() as u32;
            for (i, path) in paths.paths.iter().enumerate().skip(1) {
                let id = NodeId(first + i as u32 - 1);
                rt.extend([Node(id, path[0])]);
                let parent = if path.len() == 1 {
                    u
                } else {
                    let up = paths.lookup[&path[1..]];
                    NodeId(first + up as u32 - 1)
                };
                rt.extend([Parent(id, parent)]);
            }
            virtuals.extend((1..paths.paths.len()).map(|i| (u, i as u16)));
        }
    }

    let (
        matches,
        held,
        created,
        defaulted,
        applies,
        overridden,
        outranked,
        effective,
        role_reach,
        role_allows,
        from_role,
        granted,
        can,
        deny_at,
        allow,
    ) = rt.run_with_hasher::<FxBuildHasher>();
    (
        Universe { virtuals, real },
        Derived {
            matches,
            held,
            created,
            defaulted,
            applies,
            overridden,
            outranked,
            effective,
            role_reach,
            role_allows,
            from_role,
            granted,
            can,
            deny_at,
            allow,
        },
    )
}

//! Relevance: which facts can affect which principal, in one place.
//!
//! The Datalog program (`eval/program.rs`) decides; this module decides only
//! what one evaluation must be given so that leaving everything else out
//! changes no decision. Each rule of the program reads facts anchored at
//! some nodes; an evaluation sees those nodes and their ancestors (the tree
//! the rules walk up and down), and nothing else:
//!
//! | rule of the program | facts it reads | anchored at |
//! | --- | --- | --- |
//! | `Matches` (groups, selectors) | memberships of the principal's groups, selector conditions, `HomeUnder` | nothing (inputs about the principal) |
//! | `Held` | assignments to subjects the principal may match | each assignment's node |
//! | `Created`, `AssignedAbove` | `CreatedBy` and `CreatedUnder` (the ancestry of its nodes) for the principal, creator rules, held roles above | each node it created |
//! | `Defaulted` | default rules, `Within` its homes | its homes, when the policy has a default rule; a node's own default at that node, when a home is at or above it |
//! | `Applies`, `Overridden`, `Outranked`, `Effective` | `Parent`, `Node` | ancestors of every anchor |
//! | `Granted` | grants to subjects it may match | each grant's node |
//! | `DenyAt` | denies to subjects it may match | for a table, a deny's node where some rule reaching the principal that could allow the deny's action (whatever its conditions) is anchored at, above or below it (elsewhere the deny removes nothing), except a deny to everyone ([`super::index::Folded`]): no anchor, given on the nodes of the evaluation it sits on and carried by the virtual nodes below them; for a check, the resource's ancestry; a deny without `on` everywhere |
//! | `Role`, `RoleAllowsAnywhere`, `RoleAllowsOn` (rows of the role stratum, [`super::roles`]) | the roles its assignments, and the creator and default rules, can give it | nothing |
//! | `ExplainAt`, `FromRole` | the resource being explained | the resource's ancestry only ([`Scope::Explain`]) |
//!
//! The groups a principal is in come from the index's group closure, which
//! is computed once per snapshot and shared by every evaluation
//! ([`Index::above`]); the program's `Matches` rule derives the same closure
//! for the decision, and the explainer presents one membership chain of it.
//!
//! A check or an explanation on one resource ([`Scope::Check`],
//! [`Scope::Explain`]) sees only the facts at the resource and above it,
//! found through the index by node: nothing below or beside the resource
//! can change the decision there. A check also sees only the groups and
//! selectors on a way from the principal to a subject those facts name
//! (with the attributes and homes only when such a selector tests them):
//! matching any other subject gives the principal nothing there. And when
//! neither a role it can hold there nor a grant there allows the action,
//! it sees nothing: every rule deriving `Allow` needs one of the two.
//!
//! A node that carries no fact about the principal answers as the nearest
//! anchor above it with the types walked past and the actions denied to
//! everyone on them (the snapshot's tables), and a resource with no anchor
//! on its ancestry is a deny.
//!
//! The same reasoning, read the other way round, gives who may be allowed
//! anything at a node ([`candidates`]) and what a live update reaches
//! ([`Reach`]: the principals at or below each changed fact's subject, the
//! creators of new nodes, the holders whose constraints can break; and
//! [`is_rule`] for a statement that can reach anyone).

use super::index::{AtNode, Index};
use super::roles::RoleClosure;
use super::universe::Scope;
use crate::compile::ids::*;
use crate::compile::model::{CondId, Model};
use crate::syntax::ast::{Statement, Subject};
use rustc_hash::{FxHashMap, FxHashSet};

/// What one evaluation of a principal must see.
#[derive(Default)]
pub struct Relevant {
    /// Subjects the principal may match: itself, the groups it is in
    /// (directly or through others) and every selector; for a check, only
    /// those that lead to a subject its facts name.
    pub subjects: Vec<SubjectId>,
    /// Nodes it created, with the fact that says so.
    pub created: Vec<(NodeId, FactId)>,
    /// Assignments to those subjects (indexes into the model's).
    pub assignments: Vec<u32>,
    /// Grants to those subjects.
    pub grants: Vec<u32>,
    /// Denies to those subjects on a node that can change one of its
    /// decisions.
    pub denies: Vec<u32>,
    /// Denies to those subjects without a node (everywhere).
    pub denies_everywhere: Vec<u32>,
    /// The roles those facts and the model's creator and default rules can
    /// give it: the rows of the role stratum the evaluation needs.
    pub roles: Vec<RoleId>,
    /// Its homes and their ancestors, when a selector tests where homes sit
    /// (`users in NODE`).
    pub home_under: Vec<NodeId>,
    /// Anchors and their ancestors, sorted: the real nodes of the evaluation.
    pub nodes: Vec<NodeId>,
}

/// What an evaluation of `p` in `scope` must see (see the module's table).
pub fn relevant(
    m: &Model,
    ix: &Index,
    closure: &RoleClosure,
    p: PrincipalId,
    scope: Scope,
) -> Relevant {
    let def = &m.principals[p.index()];
    let subjects = ix.candidate_subjects(m, p);
    let mut created: Vec<(NodeId, FactId)> = ix.created[p.index()]
        .iter()
        .filter_map(|&n| m.nodes[n.index()].creator.map(|(_, f)| (n, f)))
        .collect();
    let mut r = Relevant {
        denies_everywhere: subjects
            .iter()
            .flat_map(|s| ix.everywhere.get(s).into_iter().flatten())
            .copied()
            .collect(),
        home_under: Vec::new(),
        subjects,
        created: Vec::new(),
        assignments: Vec::new(),
        grants: Vec::new(),
        denies: Vec::new(),
        roles: Vec::new(),
        nodes: Vec::new(),
    };
    match scope {
        Scope::Table => {
            for s in &r.subjects {
                r.assignments
                    .extend(ix.assignments.get(s).into_iter().flatten());
                r.grants.extend(ix.grants.get(s).into_iter().flatten());
            }
            r.roles = roles(
                m,
                &r.assignments,
                !created.is_empty(),
                !def.homes.is_empty(),
            );
            table_nodes(m, ix, closure, def, &created, &mut r);
            r.created = created;
        }
        Scope::Check(_, target) | Scope::Explain(target) => {
            // A decision at the target depends only on facts at the target
            // and above it: what flows down reaches it from there, and what
            // is tested upwards (creator rules `while assigned`) starts there.
            let path: Vec<NodeId> = m.ancestry(target).collect();
            let subjects = &r.subjects;
            let found = path.iter().flat_map(|&x| {
                subjects
                    .iter()
                    .filter_map(move |&s| ix.given_at.get(&(x, s)))
                    .flatten()
            });
            for &at in found {
                match at {
                    AtNode::Assignment(i) => r.assignments.push(i),
                    AtNode::Grant(i) => r.grants.push(i),
                    AtNode::Deny(i) => r.denies.push(i),
                }
            }
            created.retain(|(n, _)| path.contains(n));
            r.roles = match scope {
                // An explanation also names the roles that would allow what
                // was denied: the whole stratum.
                Scope::Explain(_) => (0..m.roles.len() as u32).map(RoleId).collect(),
                _ => roles(
                    m,
                    &r.assignments,
                    !created.is_empty(),
                    !def.homes.is_empty(),
                ),
            };
            r.created = created;
            r.nodes = path;
            r.nodes.sort_unstable();
            if let Scope::Check(a, _) = scope {
                for_action(m, ix, closure, p, a, def, &mut r);
            }
        }
    }
    r.home_under = home_under(m, def, &r.subjects);
    r
}

/// Narrows what a check of action `a` sees: grants and denies of other
/// actions change nothing; when neither a role the principal can hold here
/// nor a grant here allows `a`, no rule can derive `Allow` and nothing is
/// seen at all; otherwise a group or selector that leads to no subject
/// named by the remaining facts changes nothing.
fn for_action(
    m: &Model,
    ix: &Index,
    closure: &RoleClosure,
    p: PrincipalId,
    a: ActionId,
    def: &crate::compile::model::PrincipalDef,
    r: &mut Relevant,
) {
    let me = SubjectId::principal(p);
    r.grants.retain(|&i| m.grants[i as usize].action == a);
    if r.grants.is_empty() && !r.roles.iter().any(|&role| closure.allows(role, a)) {
        *r = Relevant {
            subjects: vec![me],
            ..Relevant::default()
        };
        return;
    }
    r.denies.retain(|&i| m.denies[i as usize].action == a);
    r.denies_everywhere
        .retain(|&i| m.denies[i as usize].action == a);
    let named = named_subjects(m, r, !def.homes.is_empty());
    r.subjects.retain(|&s| s == me || ix.leads_to(m, s, &named));
}

/// The subjects named by the facts selected for `r`, and by the default
/// rules when they apply (`homed`), sorted.
fn named_subjects(m: &Model, r: &Relevant, homed: bool) -> Vec<SubjectId> {
    let mut named: Vec<SubjectId> = r
        .assignments
        .iter()
        .map(|&i| m.assignments[i as usize].subject)
        .chain(r.grants.iter().map(|&i| m.grants[i as usize].subject))
        .chain(
            r.denies
                .iter()
                .chain(&r.denies_everywhere)
                .map(|&i| m.denies[i as usize].subject),
        )
        .collect();
    if homed {
        named.extend(m.defaults.iter().map(|d| d.subject));
    }
    named.sort_unstable();
    named.dedup();
    named
}

/// The anchors of `p`'s table and their ancestors, and the denies that can
/// change one of its decisions.
fn table_nodes(
    m: &Model,
    ix: &Index,
    closure: &RoleClosure,
    def: &crate::compile::model::PrincipalDef,
    created: &[(NodeId, FactId)],
    r: &mut Relevant,
) {
    let mut default_anchors: Vec<NodeId> = Vec::new();
    if !m.defaults.is_empty() {
        default_anchors.extend(&def.homes);
    }
    // A node's own default is anchored at the node, for the principals at
    // home at or above it.
    for n in m.defaults.iter().filter_map(|d| d.node) {
        if m.ancestry(n).any(|a| def.homes.contains(&a)) {
            default_anchors.push(n);
        }
    }
    let mut anchors = default_anchors.clone();
    anchors.extend(created.iter().map(|&(n, _)| n));
    anchors.extend(
        r.assignments
            .iter()
            .map(|&i| m.assignments[i as usize].node),
    );
    anchors.extend(r.grants.iter().map(|&i| m.grants[i as usize].node));
    // The denies on a node that may be anchors: a subject's, or for a
    // selector given folded denies (to everyone), those not folded.
    let candidates: Vec<u32> = r
        .subjects
        .iter()
        .flat_map(|s| match ix.folded.rest.get(s) {
            Some(rest) => &rest[..],
            None => ix.denies.get(s).map_or(&[][..], |d| &d[..]),
        })
        .copied()
        .filter(|&i| m.denies[i as usize].live && m.denies[i as usize].node.is_some())
        .collect();
    if !candidates.is_empty() {
        anchor_denies(
            m,
            closure,
            &default_anchors,
            created,
            &candidates,
            r,
            &mut anchors,
        );
    }
    r.nodes = ancestors(m, &anchors);
    // A folded deny (to everyone) is no anchor: below the anchors, the
    // virtual nodes carry it; on a node of the evaluation, it is given there.
    for &n in &r.nodes {
        if ix.tree[n.index()].denied == 0 {
            continue;
        }
        let at_n = ix.at_node.get(&n).into_iter().flatten();
        r.denies.extend(at_n.filter_map(|&(_, fact)| match fact {
            AtNode::Deny(i) if ix.folded.denies.contains(&i) => Some(i),
            _ => None,
        }));
    }
}

/// Adds to `r.denies` and `anchors` those of `candidates` that can change
/// one of the principal's decisions. A deny flows down from its node and
/// removes only its action: it matters where a rule that reaches the
/// principal could allow that action (whatever the rule's conditions) at,
/// above or below the deny's node, and nowhere else.
fn anchor_denies(
    m: &Model,
    closure: &RoleClosure,
    default_anchors: &[NodeId],
    created: &[(NodeId, FactId)],
    candidates: &[u32],
    r: &mut Relevant,
    anchors: &mut Vec<NodeId>,
) {
    let words = m.actions.len().div_ceil(64).max(1);
    let mut at: FxHashMap<NodeId, Vec<u64>> = FxHashMap::default();
    let mut mark = |n: NodeId, actions: &[ActionId]| {
        let bits = at.entry(n).or_insert_with(|| vec![0; words]);
        for a in actions {
            bits[a.index() / 64] |= 1 << (a.index() % 64);
        }
    };
    let actions_of = |roles: &mut dyn Iterator<Item = RoleId>| -> Vec<ActionId> {
        roles.flat_map(|r| closure.actions(r)).copied().collect()
    };
    let defaulted = actions_of(&mut m.defaults.iter().map(|d| d.role));
    let creator = actions_of(&mut m.creator_rules.iter().map(|c| c.role));
    for &n in default_anchors {
        mark(n, &defaulted);
    }
    for &(n, _) in created {
        mark(n, &creator);
    }
    for &i in &r.assignments {
        let x = &m.assignments[i as usize];
        mark(x.node, closure.actions(x.role));
    }
    for &i in &r.grants {
        let g = &m.grants[i as usize];
        mark(g.node, std::slice::from_ref(&g.action));
    }
    // For every node at or above an anchor: the actions allowable there or
    // below it.
    let mut under: FxHashMap<NodeId, Vec<u64>> = FxHashMap::default();
    for (&x, bits) in &at {
        for y in m.ancestry(x) {
            let acc = under.entry(y).or_insert_with(|| vec![0; words]);
            acc.iter_mut().zip(bits).for_each(|(a, b)| *a |= b);
        }
    }
    let has = |map: &FxHashMap<NodeId, Vec<u64>>, n: NodeId, a: ActionId| {
        map.get(&n)
            .is_some_and(|bits| bits[a.index() / 64] & (1 << (a.index() % 64)) != 0)
    };
    for &i in candidates {
        let d = &m.denies[i as usize];
        let Some(n) = d.node else { continue };
        if has(&under, n, d.action) || m.ancestry(n).any(|y| has(&at, y, d.action)) {
            r.denies.push(i);
            anchors.push(n);
        }
    }
}

/// The roles assignments and the model's creator and default rules can
/// give a principal (`creates`: it created a node; `homed`: it has a home).
fn roles(m: &Model, assignments: &[u32], creates: bool, homed: bool) -> Vec<RoleId> {
    let mut roles: Vec<RoleId> = assignments
        .iter()
        .map(|&i| m.assignments[i as usize].role)
        .collect();
    if creates {
        roles.extend(m.creator_rules.iter().map(|c| c.role));
    }
    if homed {
        roles.extend(m.defaults.iter().map(|d| d.role));
    }
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// A principal's homes and their ancestors, when one of its `subjects` is
/// a selector that tests where homes sit (`users in NODE`).
fn home_under(
    m: &Model,
    def: &crate::compile::model::PrincipalDef,
    subjects: &[SubjectId],
) -> Vec<NodeId> {
    let within = |&s: &SubjectId| match s.kind() {
        SubjectKind::Selector(id) => m.selectors[id.index()].within.is_some(),
        _ => false,
    };
    if !subjects.iter().any(within) {
        return Vec::new();
    }
    let homes: Vec<NodeId> = def
        .homes
        .iter()
        .copied()
        .filter(|&h| m.is_live_node(h))
        .collect();
    ancestors(m, &homes)
}

/// `nodes` and every node above them, sorted.
fn ancestors(m: &Model, nodes: &[NodeId]) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = nodes.iter().flat_map(|&a| m.ancestry(a)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The principals that could be allowed anything at `n`: those reached by
/// an assignment or grant on `n` or above it, and the creators of those
/// nodes. Anyone else has no fact that could allow them there. Selectors
/// and default roles can reach anyone: then every principal is a
/// candidate. Principals removed by a live update never are.
pub fn candidates(m: &Model, ix: &Index, n: NodeId) -> Vec<PrincipalId> {
    let everyone = || {
        (0..m.principals.len() as u32)
            .map(PrincipalId)
            .filter(|&p| m.is_live_principal(p))
            .collect()
    };
    if !m.defaults.is_empty() {
        return everyone();
    }
    let path: Vec<NodeId> = m.ancestry(n).collect();
    let subjects = m
        .assignments()
        .filter(|x| path.contains(&x.node))
        .map(|x| x.subject)
        .chain(
            m.grants()
                .filter(|g| path.contains(&g.node))
                .map(|g| g.subject),
        );
    let mut out: Vec<PrincipalId> = path
        .iter()
        .filter_map(|x| m.nodes[x.index()].creator.map(|(p, _)| p))
        .collect();
    if ix.principals_below(subjects, &mut out).is_none() {
        return everyone();
    }
    out.sort_unstable();
    out.dedup();
    out.retain(|&p| m.is_live_principal(p));
    out
}

/// A statement that changes the rules rather than states facts: a live
/// update with one can change anyone's decisions (types, roles, creator and
/// default rules, constraints, anything given to or denied `users where
/// ...`). Every other statement reaches only the principals at or below its
/// subjects.
pub fn is_rule(s: &Statement) -> bool {
    let selector = |list: &[Subject]| list.iter().any(|s| matches!(s, Subject::Selector { .. }));
    match s {
        Statement::Principal { .. } | Statement::Node { .. } => false,
        Statement::Group { members, .. } | Statement::Add { members, .. } => selector(members),
        Statement::Assign { to, .. } | Statement::Grant { to, .. } => selector(to),
        Statement::Deny { to, .. } => selector(std::slice::from_ref(to)),
        _ => true,
    }
}

/// What a live update reaches: the principals a batch reaches and the nodes and principals whose
/// constraints it can break.
#[derive(Default)]
pub struct Reach {
    /// `None`: everyone.
    pub principals: Option<FxHashSet<PrincipalId>>,
    /// Nodes whose holders it can change.
    pub nodes: Vec<NodeId>,
    /// Principals whose group memberships it changes.
    pub members: Vec<PrincipalId>,
}

impl Reach {
    /// One principal.
    pub fn principal(&mut self, p: PrincipalId) {
        if let Some(set) = &mut self.principals {
            set.insert(p);
        }
    }

    /// The principals at or below `subjects` in the group tree.
    pub fn below(&mut self, ix: &Index, subjects: impl IntoIterator<Item = SubjectId>) {
        let Some(set) = &mut self.principals else {
            return;
        };
        let mut out = Vec::new();
        match ix.principals_below(subjects, &mut out) {
            Some(()) => set.extend(out),
            None => self.principals = None,
        }
    }
}

/// Nodes where `s`, or a group above it, is assigned a role: where a change
/// to the members below `s` changes who holds what.
pub fn holder_nodes(m: &Model, ix: &Index, s: SubjectId) -> Vec<NodeId> {
    ix.above(m, s)
        .into_iter()
        .flat_map(|s| ix.assignments.get(&s).into_iter().flatten())
        .map(|&i| m.assignments[i as usize].node)
        .collect()
}

/// The open conditions (on the resource or the context) of the rules that
/// can reach `p`, sorted: a check decides these for its request (see
/// [`super::condition::Truth`]).
pub fn open_conditions(m: &Model, ix: &Index, p: PrincipalId) -> Vec<CondId> {
    if m.conditions.iter().all(|c| !c.open) {
        return Vec::new();
    }
    let mut out: Vec<CondId> = Vec::new();
    for s in ix.candidate_subjects(m, p) {
        let assignments = ix.assignments.get(&s).into_iter().flatten();
        out.extend(assignments.filter_map(|&i| m.assignments[i as usize].cond));
        let grants = ix.grants.get(&s).into_iter().flatten();
        out.extend(grants.filter_map(|&i| m.grants[i as usize].cond));
        let denies = ix.denies.get(&s).into_iter().flatten();
        out.extend(denies.filter_map(|&i| m.denies[i as usize].cond));
    }
    out.extend(m.creator_rules.iter().filter_map(|c| c.cond));
    out.extend(m.defaults.iter().filter_map(|d| d.cond));
    out.retain(|&c| m.conditions[c as usize].open);
    out.sort_unstable();
    out.dedup();
    out
}

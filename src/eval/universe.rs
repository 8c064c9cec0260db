//! One evaluation of the Datalog program: the facts about one principal,
//! over the nodes that matter to it.
//!
//! A principal's decisions depend only on its own attributes, the groups it
//! reaches, the rules given to those subjects (and to selectors), the nodes
//! those rules name, and the model. So each evaluation sees:
//!
//! - *anchor* nodes, as [`super::reach`] selects them (the nodes of the facts
//!   that can change one of its decisions), and every ancestor of those;
//! - in [`Scope::Table`] mode, for every anchor `u`, every path of types
//!   below `u`'s type and every set of actions denied to everyone
//!   ([`super::index::Folded`]), one *virtual* node standing for "a node
//!   reached from `u` through nodes of these types that carry no facts about
//!   the principal, below denies of these actions to everyone". Such nodes
//!   are indistinguishable to the program from the real ones they stand for,
//!   so the table answers every node of the tree. The node of a path below
//!   a set of denies is given as a `Variant` of the path's node below none:
//!   it has the same parent and type, so the program decides it from that
//!   node's decisions and the denies on it alone. Only the virtual nodes
//!   below a node inside one of the principal's homes, where a default rule
//!   can apply, are made in the principal's own evaluation; those below any
//!   other node receive nothing but what flows into it, and are evaluated
//!   once per snapshot for every table with the same inflow, as are the
//!   decisions at that node itself ([`super::subtree`], [`evaluate_below`]).
//!   When no virtual node is made, the evaluation is given no rows of what
//!   roles and grants allow: it derives the inflows and no `Allow`;
//! - in [`Scope::Check`] and [`Scope::Explain`] mode, the real ancestry of
//!   one resource, for a first check or an explanation.
//!
//! Of the role stratum, evaluated once per snapshot ([`RoleClosure`]), each
//! evaluation is given the rows of the roles it can hold; an explanation is
//! given every row, for the roles that would allow what was denied.

use super::condition::Truth;
use super::index::Index;
use super::program::*;
use super::reach;
use super::roles::RoleClosure;
use crate::compile::ids::*;
use crate::compile::model::{CondId, Model};
use rustc_hash::FxBuildHasher;
use std::collections::HashSet;

/// What nodes an evaluation covers besides the anchors.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// Virtual descendants of every anchor: the principal's decision table.
    Table,
    /// The ancestry of one node, and one action: for deciding a request
    /// (only the facts about its action are given, as nothing about
    /// another action can change its decision).
    Check(ActionId, NodeId),
    /// The ancestry of one node, with the provenance an explanation of a
    /// request on it reads (`FromRole`) and the whole role stratum.
    Explain(NodeId),
}

impl Scope {
    /// Whether an evaluation in this scope is given facts about action `a`
    /// (a check, only about its own).
    pub fn reads(self, a: ActionId) -> bool {
        match self {
            Scope::Check(asked, _) => asked == a,
            Scope::Table | Scope::Explain(_) => true,
        }
    }

    /// The resource a check or an explanation is about.
    pub fn target(self) -> Option<NodeId> {
        match self {
            Scope::Table => None,
            Scope::Check(_, n) | Scope::Explain(n) => Some(n),
        }
    }
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
    pub from_role: Set<FromRole>,
    pub granted: Set<Granted>,
    pub deny_at: Set<DenyAt>,
    pub allow: Set<Allow>,
}

/// Nodes of one evaluation: real ones keep their ids, virtual ones are
/// numbered from the model's node count up.
pub struct Universe {
    /// For each virtual node (by `id - model.nodes.len()`): its anchor and
    /// its slot below the anchor (the index of its type path times the
    /// number of sets of folded denies, plus the index of its set).
    pub virtuals: Vec<(NodeId, u16)>,
    /// Real nodes included: the principal's anchors and their ancestors
    /// (with the scope's target). Its decision table is keyed by these.
    pub real: Vec<NodeId>,
    /// For a table, the real nodes whose decisions, and those of their
    /// virtual nodes, the evaluation left out, sorted: no default rule can
    /// apply below them, so they are decided by what flows into them alone
    /// ([`Inflow`], [`evaluate_below`]).
    pub shared: Vec<NodeId>,
}

impl Universe {
    /// Where node `n` of the evaluation sits in a table: the real node it
    /// is or hangs from, and its slot there (0 for a real node).
    pub fn slot(&self, m: &Model, n: NodeId) -> (NodeId, u16) {
        match n.0.checked_sub(m.nodes.len() as u32) {
            None => (n, 0),
            Some(v) => self.virtuals[v as usize],
        }
    }
}

/// Runs the program for one principal, with the conditional rules that
/// `truth` says hold.
pub fn evaluate(
    m: &Model,
    ix: &Index,
    roles: &RoleClosure,
    p: PrincipalId,
    scope: Scope,
    truth: Truth<'_>,
) -> (Universe, Derived) {
    let mut rt = Crepe::new();
    let holds = |cond| truth.holds(m, p, cond);
    let r = reach::relevant(m, ix, roles, p, scope);
    add_principal(m, ix, p, &r, &holds, &mut rt);
    let real = r.nodes;
    if let Scope::Explain(_) = scope {
        rt.extend(real.iter().map(|&n| ExplainAt(n)));
    }
    for &n in &real {
        let node = &m.nodes[n.index()];
        let how = combine(m, node.ty);
        rt.extend([Node(n, node.ty, how)]);
        if let Some(parent) = node.parent {
            rt.extend([Parent(n, parent, node.ty, how)]);
        }
    }
    let mut virtuals = Vec::new();
    let mut shared = Vec::new();
    let mut decides = true;
    if let Scope::Table = scope {
        // Below a node inside one of its homes, a default rule can give the
        // principal a role on a virtual node, which is made here; below any
        // other, a virtual node gets only what flows into the real one, and
        // its decisions are shared between tables ([`super::subtree`]).
        let homes = &m.principals[p.index()].homes;
        let defaults = !homes.is_empty() && m.defaults.iter().any(|d| d.node.is_none());
        let mut own = Vec::new();
        for &u in &real {
            if ix.type_paths[m.nodes[u.index()].ty.index()].paths.len() < 2 {
                continue;
            }
            if defaults && m.ancestry(u).any(|a| homes.contains(&a)) {
                add_virtuals(m, ix, u, ix.folded.given, &mut virtuals, &mut rt);
                own.push(u);
            }
        }
        // So are the decisions at a real node itself: they too follow from
        // its type and inflow. With no virtual node of its own to decide,
        // the evaluation derives only the inflows (not given what roles
        // and grants allow, it derives no `Allow`).
        decides = !own.is_empty();
        shared = real.iter().copied().filter(|u| !own.contains(u)).collect();
    }
    add_roles(m, roles, &r.roles, scope, decides, &mut rt);
    if decides && !r.grants.is_empty() {
        add_actions(m, scope, &mut rt);
    }
    let universe = Universe {
        virtuals,
        real,
        shared,
    };
    (universe, run(rt))
}

/// What flows into a real node from above and from the node itself, which
/// is all it and its virtual nodes receive when no default rule applies
/// below it: the roles that apply at it, the actions granted and denied at
/// it. Packed in one key with what else decides its table slots: the
/// node's type, whether a folded deny lies below it (1 or 0), then the
/// roles, the actions granted and the actions denied, each list sorted and
/// after its length.
#[derive(Clone, Copy, Debug)]
pub struct Inflow<'a>(pub &'a [u32]);

impl<'a> Inflow<'a> {
    pub const ROLES: u32 = 0;
    pub const GRANTS: u32 = 1;
    pub const DENIES: u32 = 2;

    fn list(self, which: u32) -> &'a [u32] {
        let mut at = 2;
        for _ in 0..which {
            at += 1 + self.0[at] as usize;
        }
        &self.0[at + 1..][..self.0[at] as usize]
    }

    pub fn roles(self) -> impl Iterator<Item = RoleId> + 'a {
        self.list(Inflow::ROLES).iter().map(|&r| RoleId(r))
    }

    pub fn grants(self) -> impl Iterator<Item = ActionId> + 'a {
        self.list(Inflow::GRANTS).iter().map(|&a| ActionId(a))
    }

    pub fn denies(self) -> impl Iterator<Item = ActionId> + 'a {
        self.list(Inflow::DENIES).iter().map(|&a| ActionId(a))
    }
}

/// Runs the program over `roots` and the virtual nodes below them alone,
/// each root given its inflow as facts of its own (roles held on it,
/// grants and denies on it) to a principal that has nothing else: what the
/// program derives at and below a real node of a table whose inflow is
/// the same ([`super::subtree`]).
pub fn evaluate_below(
    m: &Model,
    ix: &Index,
    closure: &RoleClosure,
    roots: &[(NodeId, Inflow)],
) -> (Universe, Derived) {
    let mut rt = Crepe::new();
    let p = PrincipalId(0);
    let s = SubjectId::principal(p);
    // Tables keep no provenance: every given fact names the first one.
    let f = FactId(0);
    rt.extend([IsPrincipal(p, s)]);
    let mut roles: Vec<RoleId> = Vec::new();
    let mut virtuals = Vec::new();
    for &(u, inflow) in roots {
        let ty = m.nodes[u.index()].ty;
        rt.extend([Node(u, ty, combine(m, ty))]);
        rt.extend(inflow.roles().map(|r| Assign(s, r, u, f)));
        rt.extend(inflow.grants().map(|a| GrantIn(s, a, u, f)));
        rt.extend(inflow.denies().map(|a| DenyIn(s, a, u, f)));
        roles.extend(inflow.roles());
        // The folded denies on the variants are given to the principal
        // itself: it has no subject but its own.
        let folded = ix.folded.given.map(|_| (s, f));
        add_virtuals(m, ix, u, folded, &mut virtuals, &mut rt);
    }
    roles.sort_unstable();
    roles.dedup();
    add_roles(m, closure, &roles, Scope::Table, true, &mut rt);
    if roots
        .iter()
        .any(|(_, inflow)| inflow.grants().next().is_some())
    {
        add_actions(m, Scope::Table, &mut rt);
    }
    let universe = Universe {
        virtuals,
        real: roots.iter().map(|&(u, _)| u).collect(),
        shared: Vec::new(),
    };
    (universe, run(rt))
}

/// Adds the virtual nodes below `u`: one per path of types below `u` and
/// set of folded denies the path can gather (none, where no folded deny
/// lies below `u`), at slot `path * sets + set`, numbered on from those in
/// `virtuals`; the folded denies on them are given as `folded` says (the
/// subject and fact they name).
fn add_virtuals(
    m: &Model,
    ix: &Index,
    u: NodeId,
    folded_to: Option<(SubjectId, FactId)>,
    virtuals: &mut Vec<(NodeId, u16)>,
    rt: &mut Crepe,
) {
    let base = m.nodes.len() as u32;
    let folded = &*ix.folded;
    let sets = folded.count();
    let paths = &ix.type_paths[m.nodes[u.index()].ty.index()];
    // paths[i] is bottom-up; its parent path drops the first element, and
    // its parent node is that path's with no folded deny (a folded deny
    // flows down to the resource, so the set gathered on the way sits on
    // the last node).
    let first = base + virtuals.len() as u32;
    let id = |slot: usize| NodeId(first + (slot - sets) as u32);
    let below = ix.tree[u.index()].denied_below;
    for (i, path) in paths.paths.iter().enumerate().skip(1) {
        let parent = if path.len() == 1 {
            u
        } else {
            id(paths.lookup[&path[1..]] as usize * sets)
        };
        let gathered = if below { folded.sets_on(path) } else { 1 };
        let plain = id(i * sets);
        let how = combine(m, path[0]);
        rt.extend([Node(plain, path[0], how)]);
        rt.extend([Parent(plain, parent, path[0], how)]);
        // The path's node below each set of folded denies differs from the
        // one below none only by those denies on it.
        for set in 1..gathered {
            let node = id(i * sets + set);
            rt.extend([Variant(node, plain)]);
            if let Some((s, f)) = folded_to {
                rt.extend(folded.actions(set).map(|a| DenyIn(s, a, node, f)));
            }
        }
    }
    // Slots a path cannot gather stay unused (their bits clear).
    virtuals.extend((sets..paths.paths.len() * sets).map(|slot| (u, slot as u16)));
}

/// Adds what is known about one principal (its selectors' conditions with
/// it) and what is given to the subjects it may match, as
/// [`reach::relevant`] selected them.
fn add_principal(
    m: &Model,
    ix: &Index,
    p: PrincipalId,
    r: &reach::Relevant,
    holds: &dyn Fn(Option<CondId>) -> bool,
    rt: &mut Crepe,
) {
    let def = &m.principals[p.index()];
    rt.extend([IsPrincipal(p, SubjectId::principal(p))]);
    // Attributes are read only by selectors' conditions.
    let selectors = r.subjects.iter().filter_map(|s| match s.kind() {
        SubjectKind::Selector(id) => Some((*s, &m.selectors[id.index()])),
        _ => None,
    });
    let mut tested = false;
    for (s, sel) in selectors {
        rt.extend([Selector(s)]);
        rt.extend(
            sel.conditions
                .iter()
                .map(|&(k, eq, v)| SelCond(s, k, v, eq)),
        );
        rt.extend(sel.within.map(|n| SelWithin(s, n)));
        tested |= !sel.conditions.is_empty();
    }
    if tested {
        rt.extend(def.attrs.iter().map(|&(k, v)| Has(p, k, v)));
    }
    // Homes are read only by default rules (`Within`).
    if !m.defaults.is_empty() {
        rt.extend(def.homes.iter().map(|&n| Home(p, n)));
    }
    rt.extend(r.home_under.iter().map(|&n| HomeUnder(p, n)));
    rt.extend(r.created.iter().map(|&(n, f)| CreatedBy(n, p, f)));
    if m.creator_rules.iter().any(|c| c.while_assigned) {
        for &(n, _) in &r.created {
            rt.extend(m.ancestry(n).map(|a| CreatedUnder(n, a)));
        }
    }
    for &s in &r.subjects {
        for &e in ix.member_of.get(&s).into_iter().flatten() {
            let ms = &m.memberships[e as usize];
            let g = SubjectId::group(ms.group);
            if r.subjects.contains(&g) {
                rt.extend([MemberEdge(s, g, ms.fact)]);
            }
        }
    }
    for &i in &r.assignments {
        let a = &m.assignments[i as usize];
        if holds(a.cond) {
            rt.extend([Assign(a.subject, a.role, a.node, a.fact)]);
        }
    }
    for &i in &r.grants {
        let g = &m.grants[i as usize];
        if holds(g.cond) {
            rt.extend([GrantIn(g.subject, g.action, g.node, g.fact)]);
        }
    }
    for &i in &r.denies {
        let d = &m.denies[i as usize];
        if let (Some(n), true) = (d.node, holds(d.cond)) {
            rt.extend([DenyIn(d.subject, d.action, n, d.fact)]);
        }
    }
    // Creator rules reach only a creator, default rules only a principal
    // with a home.
    let creator_rules = m.creator_rules.iter().filter(|_| !r.created.is_empty());
    for c in creator_rules.filter(|c| holds(c.cond)) {
        if c.while_assigned {
            rt.extend([CreatorRoleWhileAssigned(c.ty, c.role, c.fact)]);
        } else {
            rt.extend([CreatorRole(c.ty, c.role, c.fact)]);
        }
    }
    let defaults = m.defaults.iter().filter(|_| !def.homes.is_empty());
    for d in defaults.filter(|d| holds(d.cond)) {
        match d.node {
            Some(n) => rt.extend([DefaultAt(n, d.role, d.subject, d.fact)]),
            None => rt.extend([DefaultRole(d.ty, d.role, d.subject, d.fact)]),
        }
    }
    for &i in &r.denies_everywhere {
        let d = &m.denies[i as usize];
        if holds(d.cond) {
            rt.extend([DenyEverywhere(d.subject, d.action, d.fact)]);
        }
    }
}

/// Adds the roles an evaluation can meet: their stickiness, and when it
/// `decides`, their ranks and their rows of the role stratum (with each
/// reached role's own actions, for an explanation's provenance).
fn add_roles(
    m: &Model,
    closure: &RoleClosure,
    roles: &[RoleId],
    scope: Scope,
    decides: bool,
    rt: &mut Crepe,
) {
    for &id in roles {
        let r = &m.roles[id.index()];
        if r.sticky {
            rt.extend([Sticky(id)]);
        }
        if !decides {
            continue;
        }
        rt.extend([Role(id, r.rank, r.ladder)]);
        let anywhere = closure.actions_anywhere(id).iter();
        rt.extend(
            anywhere
                .filter(|&&a| scope.reads(a))
                .map(|&a| RoleAllowsAnywhere(id, a)),
        );
        let on = closure.actions_on(id).iter();
        rt.extend(
            on.filter(|&&(_, a)| scope.reads(a))
                .map(|&(t, a)| RoleAllowsOn(id, t, a)),
        );
        if let Scope::Explain(_) = scope {
            rt.extend(closure.reach(id).iter().map(|&r2| RoleReach(id, r2)));
            rt.extend(r.actions.iter().map(|&a| RolePerm(id, a, r.actions_fact)));
        }
    }
}

/// Adds where the model's actions apply (only the one asked, for a
/// check), which grants read.
fn add_actions(m: &Model, scope: Scope, rt: &mut Crepe) {
    for (a, types) in m.action_types.iter().enumerate() {
        let a = ActionId(a as u32);
        if !scope.reads(a) {
            continue;
        }
        if types.is_empty() {
            rt.extend([ActionAnywhere(a)]);
        } else {
            rt.extend(types.iter().map(|&t| ActionOn(a, t)));
        }
    }
}

/// How roles combine at nodes of type `t`.
fn combine(m: &Model, t: TypeId) -> Combine {
    let ty = &m.types[t.index()];
    Combine {
        overrides: ty.overrides,
        highest: ty.highest,
    }
}

fn run(rt: Crepe) -> Derived {
    let (
        matches,
        held,
        created,
        defaulted,
        applies,
        overridden,
        outranked,
        effective,
        from_role,
        granted,
        deny_at,
        allow,
    ) = rt.run_with_hasher::<FxBuildHasher>();
    Derived {
        matches,
        held,
        created,
        defaulted,
        applies,
        overridden,
        outranked,
        effective,
        from_role,
        granted,
        deny_at,
        allow,
    }
}

//! Indexes over a checked model: by subject, by principal, by type path.
//!
//! These only *select* which facts one evaluation needs; every decision about
//! what those facts mean is made by the Datalog program.

use crate::compile::ids::*;
use crate::compile::model::Model;
use crate::error::{Code, Diagnostic};
use crate::shared::{ChunkVec, ShardMap};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::{Arc, OnceLock};

/// Most distinct type paths below one type (the bound keeps per-principal
/// tables small when types have several parents).
pub const MAX_TYPE_PATHS: usize = 256;

/// The descendant type paths below one node type.
///
/// A path is written bottom-up: `[app, workspace]` below `team` is "an app in a
/// workspace in the team". Index 0 is the empty path (the node itself).
#[derive(Clone, Debug, Default)]
pub struct TypePaths {
    /// Bottom-up type sequences; `paths[0]` is empty.
    pub paths: Vec<Box<[TypeId]>>,
    /// Path → index.
    pub lookup: FxHashMap<Box<[TypeId]>, u16>,
}

/// A fact record that sits at a node, by its position in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtNode {
    /// `model.assignments[i]`.
    Assignment(u32),
    /// `model.grants[i]`.
    Grant(u32),
    /// `model.denies[i]`.
    Deny(u32),
}

/// Model indexes used to assemble one principal's evaluation.
///
/// Built whole at load; a live update keeps them current record by record
/// ([`Index::insert`], [`Index::remove`]), sharing every untouched shard and
/// chunk with the snapshot before it.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Memberships in force by member subject: indices into `model.memberships`.
    pub member_of: ShardMap<SubjectId, Vec<u32>>,
    /// Direct members of each group.
    pub members: ShardMap<GroupId, Vec<SubjectId>>,
    /// Assignments by subject.
    pub assignments: ShardMap<SubjectId, Vec<u32>>,
    /// Grants by subject.
    pub grants: ShardMap<SubjectId, Vec<u32>>,
    /// Denies by subject.
    pub denies: ShardMap<SubjectId, Vec<u32>>,
    /// Denies without a node (everywhere) by subject.
    pub everywhere: ShardMap<SubjectId, Vec<u32>>,
    /// Assignments, grants and denies by the node they name, each with its
    /// subject.
    pub at_node: ShardMap<NodeId, Vec<(SubjectId, AtNode)>>,
    /// The same by node and subject: a check finds what is given to each of
    /// a principal's subjects at each node above the resource with one probe
    /// per pair (the probes independent of each other), without reading the
    /// records or a node's whole list.
    pub given_at: ShardMap<(NodeId, SubjectId), Vec<AtNode>>,
    /// Nodes each principal created.
    pub created: ChunkVec<Vec<NodeId>>,
    /// Child nodes of each node.
    pub children: ChunkVec<Vec<NodeId>>,
    /// Each node's parent, type and folded denies, packed: the ancestry
    /// walk of a check touches 12 bytes per node instead of a whole node
    /// record.
    pub tree: ChunkVec<Link>,
    /// The denies to everyone folded into the tables' virtual nodes.
    pub folded: Arc<Folded>,
    /// Type paths below each type.
    pub type_paths: Arc<Vec<TypePaths>>,
    /// Every selector subject (they may match any principal).
    pub selectors: Vec<SubjectId>,
    /// The groups above each group (itself first), computed once per
    /// snapshot on first use; a group joining or leaving a group starts it
    /// afresh ([`Index::insert`], [`Index::remove`]).
    pub group_closure: Arc<OnceLock<FxHashMap<GroupId, Arc<[GroupId]>>>>,
}

/// A node's place in the tree: its parent ([`Link::ROOT`] for none), the
/// top-level node above it, its type, and the set of actions denied to
/// everyone on it ([`Folded`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The parent node's id, or [`Link::ROOT`].
    pub parent: u32,
    /// The top-level node above it (itself, if it is one): its tenant,
    /// which a check compares with its table's in one read.
    pub root: u32,
    /// The node's type.
    pub ty: TypeId,
    /// Its folded denies, as an index into [`Folded::sets`] (0: none).
    pub denied: u16,
    /// Whether a node below it has folded denies: only then can a check
    /// gather a set on its way up to it.
    pub denied_below: bool,
}

impl Link {
    /// The parent of a top-level node.
    pub const ROOT: u32 = u32::MAX;

    fn of(m: &Model, n: NodeId) -> Link {
        let node = &m.nodes[n.index()];
        Link {
            parent: node.parent.map_or(Link::ROOT, |p| p.0),
            root: m.ancestry(n).last().map_or(n.0, |r| r.0),
            ty: node.ty,
            denied: 0,
            denied_below: false,
        }
    }
}

/// Denies to everyone, folded into the tables' virtual nodes.
///
/// A deny on a node, to a selector with no condition (`everyone`, `users`),
/// without a condition of its own, reaches every principal alike. Made an
/// anchor of each table it can change, it would repeat in the table of
/// every principal holding a role above it. Folded, it is part of what a
/// virtual node stands for: "a node reached from the anchor through nodes
/// of these types that carry no fact about the principal, *below which
/// these actions are denied to everyone*". A table holds one virtual node
/// per type path and set of actions so denied; a check walking up to the
/// anchor gathers the sets of the nodes it walks past ([`Link::denied`]).
/// The program decides them as it decides any deny: each virtual node
/// carries the deny facts of its set.
///
/// The sets are those the index was built with, closed under union; a
/// deny indexed later (which only a full rebuild adds: see
/// [`super::reach::is_rule`]) is not folded. Without folded denies, or with
/// more than [`Folded::MAX_SETS`] sets, nothing is folded.
#[derive(Clone, Debug)]
pub struct Folded {
    /// Which denies are folded, by index into the model's.
    pub denies: rustc_hash::FxHashSet<u32>,
    /// Action sets (bitsets of `words` words); `sets[0]` is empty.
    pub sets: Vec<Box<[u64]>>,
    /// `union[i * sets.len() + j]`: the index of `sets[i] ∪ sets[j]`.
    pub union: Vec<u16>,
    /// The subject and fact the virtual nodes' deny facts name (those of one
    /// folded deny; a table keeps no provenance).
    pub given: Option<(SubjectId, FactId)>,
    /// The types of the nodes folded denies sit on: only a path through
    /// one of them can gather a set.
    pub types: Vec<TypeId>,
    /// For each subject given folded denies, its denies on a node that are
    /// not folded (conditional ones): all of its denies a table may need to
    /// anchor. Such a subject is a selector, whose rules change only by
    /// loading the policy again, which folds afresh.
    pub rest: FxHashMap<SubjectId, Vec<u32>>,
}

impl Default for Folded {
    fn default() -> Folded {
        Folded {
            denies: Default::default(),
            sets: vec![Box::default()],
            union: vec![0],
            given: None,
            types: Vec::new(),
            rest: FxHashMap::default(),
        }
    }
}

impl Folded {
    /// Most sets of folded actions (past it, nothing is folded: a table
    /// holds a virtual node per type path and set).
    pub const MAX_SETS: usize = 16;

    /// How many sets there are: the stride of a table's virtual nodes.
    pub fn count(&self) -> usize {
        self.sets.len()
    }

    /// The actions of set `i`.
    pub fn actions(&self, i: usize) -> impl Iterator<Item = ActionId> + '_ {
        let bits = &self.sets[i];
        (0..bits.len() * 64)
            .filter(move |&a| bits[a / 64] & (1 << (a % 64)) != 0)
            .map(|a| ActionId(a as u32))
    }

    /// Folds the model's denies to everyone; returns the set of each node.
    fn new(m: &Model) -> (Folded, Vec<(NodeId, u16)>) {
        let everyone = |s: SubjectId| match s.kind() {
            SubjectKind::Selector(id) => {
                let sel = &m.selectors[id.index()];
                sel.conditions.is_empty() && sel.within.is_none()
            }
            _ => false,
        };
        let words = m.actions.len().div_ceil(64).max(1);
        let mut folded = Folded::default();
        let mut at: FxHashMap<NodeId, Vec<u64>> = FxHashMap::default();
        for (i, d) in m.denies.iter().enumerate() {
            let Some(n) = d.node else { continue };
            if !d.live || d.cond.is_some() || !everyone(d.subject) {
                continue;
            }
            folded.denies.insert(i as u32);
            folded.given.get_or_insert((d.subject, d.fact));
            let bits = at.entry(n).or_insert_with(|| vec![0; words]);
            bits[d.action.index() / 64] |= 1 << (d.action.index() % 64);
        }
        // The nodes' sets, closed under union, within the bound.
        let or =
            |a: &[u64], b: &[u64]| -> Box<[u64]> { a.iter().zip(b).map(|(x, y)| x | y).collect() };
        let mut sets: Vec<Box<[u64]>> = vec![vec![0; words].into()];
        for bits in at.values() {
            if sets.len() > Folded::MAX_SETS {
                return (Folded::default(), Vec::new());
            }
            if !sets.iter().any(|s| **s == bits[..]) {
                sets.push(bits[..].into());
            }
        }
        let mut i = 0;
        while i < sets.len() && sets.len() <= Folded::MAX_SETS {
            for j in 0..i {
                let u = or(&sets[i], &sets[j]);
                if !sets.contains(&u) {
                    sets.push(u);
                }
            }
            i += 1;
        }
        if sets.len() > Folded::MAX_SETS || sets.len() == 1 {
            return (Folded::default(), Vec::new());
        }
        let find = |bits: &[u64]| sets.iter().position(|s| **s == *bits).unwrap_or(0) as u16;
        let union = sets
            .iter()
            .flat_map(|a| sets.iter().map(|b| find(&or(a, b))))
            .collect();
        let nodes = at.iter().map(|(&n, bits)| (n, find(bits))).collect();
        folded.sets = sets;
        folded.union = union;
        folded.types = at.keys().map(|n| m.nodes[n.index()].ty).collect();
        folded.types.sort_unstable();
        folded.types.dedup();
        let subjects: FxHashSet<SubjectId> = folded
            .denies
            .iter()
            .map(|&i| m.denies[i as usize].subject)
            .collect();
        for (i, d) in m.denies.iter().enumerate() {
            let i = i as u32;
            if d.live
                && subjects.contains(&d.subject)
                && d.node.is_some()
                && !folded.denies.contains(&i)
            {
                folded.rest.entry(d.subject).or_default().push(i);
            }
        }
        for s in subjects {
            folded.rest.entry(s).or_default();
        }
        (folded, nodes)
    }

    /// How many sets a path of types below an anchor can gather: all of
    /// them through a type folded denies sit on, only the empty one
    /// otherwise.
    pub fn sets_on(&self, path: &[TypeId]) -> usize {
        match path.iter().any(|t| self.types.contains(t)) {
            true => self.sets.len(),
            false => 1,
        }
    }

    /// The set of `i` and `j` together.
    #[inline]
    pub fn join(&self, i: u16, j: u16) -> u16 {
        self.union[i as usize * self.sets.len() + j as usize]
    }
}

/// A record of the model that the index keeps, by its position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// `model.memberships[i]`.
    Membership(u32),
    /// `model.assignments[i]`.
    Assignment(u32),
    /// `model.grants[i]`.
    Grant(u32),
    /// `model.denies[i]`.
    Deny(u32),
    /// `model.nodes[i]` (its parent and creator).
    Node(u32),
    /// `model.principals[i]`.
    Principal(u32),
}

impl Index {
    /// Builds the indexes, or reports a type hierarchy too wide to tabulate.
    pub fn new(m: &Model) -> Result<Index, Diagnostic> {
        let mut member_of: FxHashMap<SubjectId, Vec<u32>> = FxHashMap::default();
        let mut members: FxHashMap<GroupId, Vec<SubjectId>> = FxHashMap::default();
        let mut assignments: FxHashMap<SubjectId, Vec<u32>> = FxHashMap::default();
        let mut grants: FxHashMap<SubjectId, Vec<u32>> = FxHashMap::default();
        let mut denies: FxHashMap<SubjectId, Vec<u32>> = FxHashMap::default();
        let mut everywhere: FxHashMap<SubjectId, Vec<u32>> = FxHashMap::default();
        let mut at_node: FxHashMap<NodeId, Vec<(SubjectId, AtNode)>> = FxHashMap::default();
        let mut given_at: FxHashMap<(NodeId, SubjectId), Vec<AtNode>> = FxHashMap::default();
        let mut at = |n: NodeId, s: SubjectId, fact: AtNode| {
            at_node.entry(n).or_default().push((s, fact));
            given_at.entry((n, s)).or_default().push(fact);
        };
        for (i, ms) in m.memberships.iter().enumerate().filter(|(_, x)| x.live) {
            member_of.entry(ms.member).or_default().push(i as u32);
            members.entry(ms.group).or_default().push(ms.member);
        }
        for (i, a) in m.assignments.iter().enumerate().filter(|(_, x)| x.live) {
            assignments.entry(a.subject).or_default().push(i as u32);
            at(a.node, a.subject, AtNode::Assignment(i as u32));
        }
        for (i, g) in m.grants.iter().enumerate().filter(|(_, x)| x.live) {
            grants.entry(g.subject).or_default().push(i as u32);
            at(g.node, g.subject, AtNode::Grant(i as u32));
        }
        for (i, d) in m.denies.iter().enumerate().filter(|(_, x)| x.live) {
            denies.entry(d.subject).or_default().push(i as u32);
            match d.node {
                Some(n) => at(n, d.subject, AtNode::Deny(i as u32)),
                None => everywhere.entry(d.subject).or_default().push(i as u32),
            }
        }
        let mut created = vec![Vec::new(); m.principals.len()];
        let mut children = vec![Vec::new(); m.nodes.len()];
        for (n, node) in m.nodes.iter().enumerate() {
            if let Some((p, _)) = node.creator {
                created[p.index()].push(NodeId(n as u32));
            }
            if let Some(parent) = node.parent {
                children[parent.index()].push(NodeId(n as u32));
            }
        }
        let mut type_paths = Vec::with_capacity(m.types.len());
        for t in 0..m.types.len() {
            type_paths.push(self::type_paths(m, TypeId(t as u32))?);
        }
        let (folded, denied) = Folded::new(m);
        let mut tree: ChunkVec<Link> = (0..m.nodes.len() as u32)
            .map(|n| Link::of(m, NodeId(n)))
            .collect();
        for (n, set) in denied {
            tree[n.index()].denied = set;
            for up in m.ancestry(n).skip(1) {
                if std::mem::replace(&mut tree[up.index()].denied_below, true) {
                    break;
                }
            }
        }
        Ok(Index {
            member_of: member_of.into_iter().collect(),
            members: members.into_iter().collect(),
            assignments: assignments.into_iter().collect(),
            grants: grants.into_iter().collect(),
            denies: denies.into_iter().collect(),
            everywhere: everywhere.into_iter().collect(),
            at_node: at_node.into_iter().collect(),
            given_at: given_at.into_iter().collect(),
            created: created.into_iter().collect(),
            children: children.into_iter().collect(),
            tree,
            folded: Arc::new(folded),
            type_paths: Arc::new(type_paths),
            selectors: (0..m.selectors.len() as u32)
                .map(|s| SubjectId::selector(SelectorId(s)))
                .collect(),
            group_closure: Arc::default(),
        })
    }

    /// Indexes a record the model has just gained (a node or principal
    /// appended, or a fact appended in force).
    pub fn insert(&mut self, m: &Model, record: Record) {
        match record {
            Record::Membership(i) => {
                let ms = &m.memberships[i as usize];
                self.member_of.entry_or(ms.member, Vec::new).push(i);
                self.members.entry_or(ms.group, Vec::new).push(ms.member);
                self.group_changed(ms.member);
            }
            Record::Assignment(i) => {
                let a = &m.assignments[i as usize];
                self.assignments.entry_or(a.subject, Vec::new).push(i);
                self.at(a.node, a.subject, AtNode::Assignment(i));
            }
            Record::Grant(i) => {
                let g = &m.grants[i as usize];
                self.grants.entry_or(g.subject, Vec::new).push(i);
                self.at(g.node, g.subject, AtNode::Grant(i));
            }
            Record::Deny(i) => {
                let d = &m.denies[i as usize];
                self.denies.entry_or(d.subject, Vec::new).push(i);
                match d.node {
                    Some(n) => self.at(n, d.subject, AtNode::Deny(i)),
                    None => self.everywhere.entry_or(d.subject, Vec::new).push(i),
                }
            }
            Record::Node(i) => {
                let node = &m.nodes[i as usize];
                while self.children.len() <= i as usize {
                    self.children.push(Vec::new());
                    self.tree.push(Link::of(m, NodeId(self.tree.len() as u32)));
                }
                if let Some(parent) = node.parent {
                    self.children[parent.index()].push(NodeId(i));
                }
                if let Some((p, _)) = node.creator {
                    self.created[p.index()].push(NodeId(i));
                }
            }
            Record::Principal(i) => {
                while self.created.len() <= i as usize {
                    self.created.push(Vec::new());
                }
            }
        }
    }

    /// Drops a record the model has just put out of force (a fact) or
    /// removed (a node).
    pub fn remove(&mut self, m: &Model, record: Record) {
        match record {
            Record::Membership(i) => {
                let ms = &m.memberships[i as usize];
                drop_one(&mut self.member_of, &ms.member, &i);
                drop_one(&mut self.members, &ms.group, &ms.member);
                self.group_changed(ms.member);
            }
            Record::Assignment(i) => {
                let a = &m.assignments[i as usize];
                drop_one(&mut self.assignments, &a.subject, &i);
                self.unat(a.node, a.subject, AtNode::Assignment(i));
            }
            Record::Grant(i) => {
                let g = &m.grants[i as usize];
                drop_one(&mut self.grants, &g.subject, &i);
                self.unat(g.node, g.subject, AtNode::Grant(i));
            }
            Record::Deny(i) => {
                let d = &m.denies[i as usize];
                drop_one(&mut self.denies, &d.subject, &i);
                match d.node {
                    Some(n) => self.unat(n, d.subject, AtNode::Deny(i)),
                    None => drop_one(&mut self.everywhere, &d.subject, &i),
                }
            }
            Record::Node(i) => {
                let node = &m.nodes[i as usize];
                if let Some(parent) = node.parent {
                    self.children[parent.index()].retain(|&c| c != NodeId(i));
                }
                if let Some((p, _)) = node.creator {
                    self.created[p.index()].retain(|&c| c != NodeId(i));
                }
            }
            Record::Principal(_) => {}
        }
    }

    /// Adds a fact given to `s` at `n` to `at_node` and `given_at`.
    fn at(&mut self, n: NodeId, s: SubjectId, fact: AtNode) {
        self.at_node.entry_or(n, Vec::new).push((s, fact));
        self.given_at.entry_or((n, s), Vec::new).push(fact);
    }

    /// Drops a fact given to `s` at `n` from `at_node` and `given_at`.
    fn unat(&mut self, n: NodeId, s: SubjectId, fact: AtNode) {
        drop_one(&mut self.at_node, &n, &(s, fact));
        drop_one(&mut self.given_at, &(n, s), &fact);
    }

    /// The subjects a principal may match: itself, every group reachable
    /// through memberships, and every selector. Which of them it really
    /// matches is for the Datalog program to decide.
    pub fn candidate_subjects(&self, m: &Model, p: PrincipalId) -> Vec<SubjectId> {
        let mut seen = self.above(m, SubjectId::principal(p));
        seen.extend(self.selectors.iter().copied());
        seen
    }

    /// `s` and every group it is in, directly or through other groups.
    pub fn above(&self, m: &Model, s: SubjectId) -> Vec<SubjectId> {
        let closure = self.group_closure.get_or_init(|| self.closures(m));
        let direct: Vec<GroupId> = match s.kind() {
            SubjectKind::Group(g) => vec![g],
            _ => self
                .member_of
                .get(&s)
                .into_iter()
                .flatten()
                .map(|&e| m.memberships[e as usize].group)
                .collect(),
        };
        let mut seen = vec![s];
        for g in direct {
            let only = [g];
            let groups = closure.get(&g).map_or(&only[..], |c| &c[..]);
            for &h in groups {
                let h = SubjectId::group(h);
                if !seen.contains(&h) {
                    seen.push(h);
                }
            }
        }
        seen
    }

    /// Can `s`, one of [`Index::candidate_subjects`], lead a principal to
    /// one of `named` (sorted)? A group does when it is named or is in a
    /// named group (directly or through others); a selector when it is
    /// named.
    pub fn leads_to(&self, m: &Model, s: SubjectId, named: &[SubjectId]) -> bool {
        let g = match s.kind() {
            SubjectKind::Group(g) => g,
            _ => return named.binary_search(&s).is_ok(),
        };
        let closure = self.group_closure.get_or_init(|| self.closures(m));
        let only = [g];
        let groups = closure.get(&g).map_or(&only[..], |c| &c[..]);
        groups
            .iter()
            .any(|&h| named.binary_search(&SubjectId::group(h)).is_ok())
    }

    /// The groups above every group, itself first (breadth-first over the
    /// memberships in force).
    fn closures(&self, m: &Model) -> FxHashMap<GroupId, Arc<[GroupId]>> {
        (0..m.groups.len() as u32)
            .map(GroupId)
            .map(|g| {
                let mut seen = vec![g];
                let mut i = 0;
                while i < seen.len() {
                    let member = SubjectId::group(seen[i]);
                    for &e in self.member_of.get(&member).into_iter().flatten() {
                        let up = m.memberships[e as usize].group;
                        if !seen.contains(&up) {
                            seen.push(up);
                        }
                    }
                    i += 1;
                }
                (g, seen.into())
            })
            .collect()
    }

    /// A group joined or left a group: the closure is computed afresh.
    fn group_changed(&mut self, member: SubjectId) {
        if let SubjectKind::Group(_) = member.kind() {
            self.group_closure = Arc::default();
        }
    }
}

impl Index {
    /// The top-level node above `node` (itself if it is one; `None` for an
    /// id that is no node's).
    pub fn root(&self, node: NodeId) -> Option<u32> {
        self.tree.get(node.index()).map(|link| link.root)
    }

    /// Adds to `out` every principal at or below the given subjects in the
    /// group tree (a group's members, transitively). `None` if one of them is
    /// a selector, which can reach anyone.
    pub fn principals_below(
        &self,
        subjects: impl IntoIterator<Item = SubjectId>,
        out: &mut Vec<PrincipalId>,
    ) -> Option<()> {
        let mut stack: Vec<SubjectId> = subjects.into_iter().collect();
        let mut seen = rustc_hash::FxHashSet::default();
        while let Some(s) = stack.pop() {
            if !seen.insert(s) {
                continue;
            }
            match s.kind() {
                SubjectKind::Principal(p) => out.push(p),
                SubjectKind::Group(g) => stack.extend(self.members.get(&g).into_iter().flatten()),
                SubjectKind::Selector(_) => return None,
            }
        }
        Some(())
    }
}

fn type_paths(m: &Model, root: TypeId) -> Result<TypePaths, Diagnostic> {
    let mut out = TypePaths::default();
    // Depth-first over child types; `stack` holds top-down paths.
    let mut stack: Vec<Vec<TypeId>> = vec![Vec::new()];
    while let Some(path) = stack.pop() {
        let mut key: Vec<TypeId> = path.clone();
        key.reverse();
        let key: Box<[TypeId]> = key.into();
        if out.lookup.contains_key(&key) {
            continue;
        }
        if out.paths.len() >= MAX_TYPE_PATHS {
            return Err(Diagnostic::new(
                Code::Limit,
                format!(
                    "type `{}` has more than {MAX_TYPE_PATHS} distinct paths of types below it",
                    m.types[root.index()].name
                ),
                m.types[root.index()].span,
            )
            .help("give types fewer parent types (`type X in A, B` multiplies paths)"));
        }
        out.lookup.insert(key.clone(), out.paths.len() as u16);
        out.paths.push(key);
        let last = path.last().copied().unwrap_or(root);
        for &c in m.types[last.index()].children.iter().rev() {
            // A type nested in itself: a run of nodes of one type below the
            // first answers as that one node (each level adds nothing the
            // program can tell apart), so a path never repeats a type twice
            // in a row and stays finite.
            if c == last && !path.is_empty() {
                continue;
            }
            let mut next = path.clone();
            next.push(c);
            stack.push(next);
        }
    }
    Ok(out)
}

/// Removes one `value` from `key`'s list, and the list once empty.
fn drop_one<K: std::hash::Hash + Eq + Clone, V: PartialEq + Clone>(
    map: &mut ShardMap<K, Vec<V>>,
    key: &K,
    value: &V,
) {
    if let Some(list) = map.get_mut(key) {
        if let Some(at) = list.iter().position(|x| x == value) {
            list.swap_remove(at);
        }
        if list.is_empty() {
            map.remove(key);
        }
    }
}

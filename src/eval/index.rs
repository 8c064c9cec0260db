//! Indexes over a checked model: by subject, by principal, by type path.
//!
//! These only *select* which facts one evaluation needs; every decision about
//! what those facts mean is made by the Datalog program.

use crate::compile::ids::*;
use crate::compile::model::Model;
use crate::error::Diagnostic;
use rustc_hash::FxHashMap;

/// Most distinct type paths below one type (the bound keeps per-principal
/// tables small when types have several parents).
pub const MAX_TYPE_PATHS: usize = 4096;

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

/// Model indexes used to assemble one principal's evaluation.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Memberships by member subject: indices into `model.memberships`.
    pub member_of: FxHashMap<SubjectId, Vec<u32>>,
    /// Direct members of each group.
    pub members: FxHashMap<GroupId, Vec<SubjectId>>,
    /// Assignments by subject.
    pub assignments: FxHashMap<SubjectId, Vec<u32>>,
    /// Grants by subject.
    pub grants: FxHashMap<SubjectId, Vec<u32>>,
    /// Denies by subject.
    pub denies: FxHashMap<SubjectId, Vec<u32>>,
    /// Nodes each principal created.
    pub created: Vec<Vec<NodeId>>,
    /// Child nodes of each node.
    pub children: Vec<Vec<NodeId>>,
    /// Type paths below each type.
    pub type_paths: Vec<TypePaths>,
    /// Every selector subject (they may match any principal).
    pub selectors: Vec<SubjectId>,
}

impl Index {
    /// Builds the indexes, or reports a type hierarchy too wide to tabulate.
    pub fn new(m: &Model) -> Result<Index, Diagnostic> {
        let mut ix = Index {
            created: vec![Vec::new(); m.principals.len()],
            children: vec![Vec::new(); m.nodes.len()],
            ..Index::default()
        };
        for (i, ms) in m.memberships.iter().enumerate() {
            ix.member_of.entry(ms.member).or_default().push(i as u32);
            ix.members.entry(ms.group).or_default().push(ms.member);
        }
        for (i, a) in m.assignments.iter().enumerate() {
            ix.assignments.entry(a.subject).or_default().push(i as u32);
        }
        for (i, g) in m.grants.iter().enumerate() {
            ix.grants.entry(g.subject).or_default().push(i as u32);
        }
        for (i, d) in m.denies.iter().enumerate() {
            ix.denies.entry(d.subject).or_default().push(i as u32);
        }
        for (n, node) in m.nodes.iter().enumerate() {
            if let Some((p, _)) = node.creator {
                ix.created[p.index()].push(NodeId(n as u32));
            }
            if let Some(parent) = node.parent {
                ix.children[parent.index()].push(NodeId(n as u32));
            }
        }
        ix.selectors = (0..m.selectors.len() as u32)
            .map(|s| SubjectId::selector(SelectorId(s)))
            .collect();
        for t in 0..m.types.len() {
            ix.type_paths.push(type_paths(m, TypeId(t as u32))?);
        }
        Ok(ix)
    }

    /// The subjects a principal may match: itself, every group reachable
    /// through memberships, and every selector. Which of them it really
    /// matches is for the Datalog program to decide.
    pub fn candidate_subjects(&self, m: &Model, p: PrincipalId) -> Vec<SubjectId> {
        let mut seen = vec![SubjectId::principal(p)];
        let mut i = 0;
        while i < seen.len() {
            for &e in self.member_of.get(&seen[i]).into_iter().flatten() {
                let g = SubjectId::group(m.memberships[e as usize].group);
                if !seen.contains(&g) {
                    seen.push(g);
                }
            }
            i += 1;
        }
        seen.extend(self.selectors.iter().copied());
        seen
    }
}

impl Index {
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
            let mut next = path.clone();
            next.push(c);
            stack.push(next);
        }
    }
    Ok(out)
}

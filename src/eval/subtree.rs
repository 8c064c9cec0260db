//! What a real node of a table and the virtual nodes below it allow,
//! evaluated once per snapshot for every table to share.
//!
//! A virtual node of a table stands for nodes that carry no fact about the
//! principal (see [`super::universe`]). Unless a default rule can give the
//! principal a role on one (below one of its homes), what the program
//! derives there depends on nothing but the path of types to it, the folded
//! denies on the way, and what flows into the real node `u` it hangs from:
//! every rule that reaches a virtual node reaches it down `Parent` from `u`
//! (`Applies`, `Granted`, `DenyAt`), or reads the model alone (`Node`,
//! `Role`, the role stratum, folded denies). And `u`'s own decisions are
//! read off the same rows at `u` (`Effective` from `Applies` and the
//! ranks, `Allow` from `Effective`, `Granted` and `DenyAt`). That inflow
//! ([`Inflow`]: the roles that apply at `u`, the actions granted and
//! denied at `u`) is what a table's evaluation derives; so for `u` of a
//! given type, the decisions at `u` and below it are a function of the
//! inflow.
//!
//! [`Subtrees`] keeps that function's values met so far. On a miss, the
//! program is run over the real nodes that missed and their virtual nodes,
//! each node given its inflow as facts of its own ([`evaluate_below`]);
//! the decisions are the program's either way. Principals share few facts,
//! but the inflows at their nodes recur (a role or two of a ladder, the
//! same denies: the 100,000 tables of the generated M organisation meet
//! 7,887), so most tables find every node they need here, and their own
//! evaluation stops at the inflows.

use super::index::Index;
use super::program::{Allow, Applies};
use super::roles::RoleClosure;
use super::universe::{evaluate_below, Derived, Inflow};
use crate::compile::ids::*;
use crate::compile::model::Model;
use rustc_hash::FxHashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

/// The bitsets of a real node of one type with one inflow and of its
/// virtual nodes, as they sit in a table (slot by slot, `words` words
/// each).
pub type Bits = Arc<[u64]>;

/// Most inflows kept; past this, a miss is evaluated for its table alone.
const MAX_KEPT: usize = 1 << 16;

/// The real nodes' and their virtual nodes' decisions evaluated so far, by
/// inflow ([`Inflow`]: it names the real node's type too).
#[derive(Debug, Default)]
pub struct Subtrees {
    kept: RwLock<FxHashMap<Box<[u32]>, Bits>>,
}

impl Subtrees {
    /// The bits of each of `shared`, real nodes of the evaluation that gave
    /// `derived`, and of its virtual nodes, in the same order.
    pub fn decisions(
        &self,
        m: &Model,
        ix: &Index,
        closure: &RoleClosure,
        shared: &[NodeId],
        derived: &Derived,
        words: usize,
    ) -> Vec<Bits> {
        let (keys, spans) = inflows(m, ix, shared, derived);
        let key = |i: usize| &keys[spans[i].clone()];
        let mut found: Vec<Option<Bits>> = {
            let kept = self.kept.read().unwrap_or_else(|e| e.into_inner());
            (0..shared.len())
                .map(|i| kept.get(key(i)).cloned())
                .collect()
        };
        let missed: Vec<usize> = (0..shared.len()).filter(|&i| found[i].is_none()).collect();
        if !missed.is_empty() {
            let roots: Vec<(NodeId, Inflow)> = missed
                .iter()
                .map(|&i| (shared[i], Inflow(key(i))))
                .collect();
            let evaluated = evaluate(m, ix, closure, &roots, words);
            let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
            for (&i, bits) in missed.iter().zip(evaluated) {
                if kept.len() < MAX_KEPT {
                    kept.insert(key(i).into(), bits.clone());
                }
                found[i] = Some(bits);
            }
        }
        found.into_iter().flatten().collect()
    }

    /// How many inflows are kept.
    pub fn len(&self) -> usize {
        self.kept.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The inflow of each of `shared` (sorted), read off an evaluation's
/// `Applies`, `Granted` and `DenyAt` rows at it, packed one after another
/// (see [`Inflow`]), with the span of each.
fn inflows(
    m: &Model,
    ix: &Index,
    shared: &[NodeId],
    derived: &Derived,
) -> (Vec<u32>, Vec<Range<usize>>) {
    // The node's place in `shared`, the list and the role's or action's id,
    // packed so that sorting groups them in key order.
    let mut rows: Vec<u64> = Vec::new();
    let mut push = |n: NodeId, list: u32, id: u32| {
        if let Ok(i) = shared.binary_search(&n) {
            rows.push((i as u64) << 34 | (list as u64) << 32 | id as u64);
        }
    };
    for Applies(_, r, n, _) in &derived.applies {
        push(*n, Inflow::ROLES, r.0);
    }
    for g in &derived.granted {
        push(g.node(), Inflow::GRANTS, g.action().0);
    }
    for d in &derived.deny_at {
        push(d.node(), Inflow::DENIES, d.action().0);
    }
    rows.sort_unstable();
    rows.dedup();
    let mut rows = rows.into_iter().peekable();
    let mut keys = Vec::with_capacity(shared.len() * 5 + rows.len());
    let mut spans = Vec::with_capacity(shared.len());
    for (i, &u) in shared.iter().enumerate() {
        let start = keys.len();
        keys.push(m.nodes[u.index()].ty.0);
        keys.push(ix.tree[u.index()].denied_below as u32);
        for list in [Inflow::ROLES, Inflow::GRANTS, Inflow::DENIES] {
            let len = keys.len();
            keys.push(0);
            let of = (i as u64) << 2 | list as u64;
            while let Some(row) = rows.next_if(|&row| row >> 32 == of) {
                keys.push(row as u32);
            }
            keys[len] = (keys.len() - len - 1) as u32;
        }
        spans.push(start..keys.len());
    }
    (keys, spans)
}

/// The bits of each of `roots` and its virtual nodes, from one run of the
/// program over them.
fn evaluate(
    m: &Model,
    ix: &Index,
    closure: &RoleClosure,
    roots: &[(NodeId, Inflow)],
    words: usize,
) -> Vec<Bits> {
    let (universe, derived) = evaluate_below(m, ix, closure, roots);
    let sets = ix.folded.count();
    let mut bits: Vec<Vec<u64>> = roots
        .iter()
        .map(|&(u, _)| {
            let paths = ix.type_paths[m.nodes[u.index()].ty.index()].paths.len();
            vec![0; paths * sets * words]
        })
        .collect();
    for Allow(_, a, n) in &derived.allow {
        let (u, slot) = universe.slot(m, *n);
        let Ok(root) = roots.binary_search_by_key(&u, |&(r, _)| r) else {
            continue;
        };
        bits[root][slot as usize * words + a.index() / 64] |= 1 << (a.index() % 64);
    }
    bits.into_iter().map(Bits::from).collect()
}

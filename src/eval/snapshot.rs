//! The evaluated, immutable state that answers requests.
//!
//! A [`Snapshot`] holds the checked model, its indexes, and one decision table
//! per principal, computed by the Datalog program the first time the
//! principal is asked about (or all at once with [`Snapshot::warm`]). A check
//! is then a few hash lookups: find the nearest node on the resource's
//! ancestry that the principal's table covers, and test one bit.

use super::index::Index;
use super::program::Allow;
use super::universe::{evaluate, Scope};
use crate::compile::ids::*;
use crate::compile::model::Model;
use crate::decision::{Decision, RequestError};
use rustc_hash::FxHashMap;
use std::sync::{Arc, OnceLock};

/// Principals evaluated together by [`Snapshot::warm`]. One: the cost of a
/// run is dominated by its tuples, and a batch's union of nodes multiplies
/// them (measured on the M workload: 0.42 ms per principal alone, 0.73 ms in
/// batches of 16, 1.0 ms in batches of 64).
const WARM_BATCH: usize = 1;

/// One principal's decision table: for each anchor node and each type path
/// below it, the set of allowed actions as a bitset.
#[derive(Debug, Default)]
pub struct Table {
    slots: FxHashMap<NodeId, u32>,
    bits: Box<[u64]>,
}

/// An evaluated policy. `Send + Sync`: share it behind an `Arc` and check
/// from any number of threads.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) model: Arc<Model>,
    pub(crate) index: Arc<Index>,
    tables: Box<[OnceLock<Arc<Table>>]>,
    words: usize,
    revision: u64,
}

impl Snapshot {
    pub(crate) fn new(model: Model, index: Index) -> Snapshot {
        let tables = (0..model.principals.len())
            .map(|_| OnceLock::new())
            .collect();
        let words = model.actions.len().div_ceil(64).max(1);
        let revision = {
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            for (_, file) in model.sources.iter() {
                file.name.hash(&mut h);
                file.text.hash(&mut h);
            }
            h.finish()
        };
        Snapshot {
            revision,
            model: Arc::new(model),
            index: Arc::new(index),
            tables,
            words,
        }
    }

    /// A content hash of the policy and facts this snapshot was loaded from
    /// (file names and texts), as 16 hex digits: what a decision log records
    /// so that an auditor can replay a decision on the same policy.
    pub fn revision(&self) -> String {
        format!("{:016x}", self.revision)
    }

    /// The checked model this snapshot evaluates.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Evaluates every principal's table now, in batches on all cores,
    /// instead of on first use, so that no later check pays for an
    /// evaluation.
    pub fn warm(&self) {
        let pending: Vec<PrincipalId> = (0..self.tables.len() as u32)
            .map(PrincipalId)
            .filter(|p| self.tables[p.index()].get().is_none())
            .collect();
        let batches: Vec<&[PrincipalId]> = pending.chunks(WARM_BATCH).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(batches.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else { break };
                    for (p, table) in self.build_tables(batch) {
                        let _ = self.tables[p.index()].set(Arc::new(table));
                    }
                });
            }
        });
    }

    fn table(&self, p: PrincipalId) -> &Table {
        self.tables[p.index()].get_or_init(|| {
            Arc::new(
                self.build_tables(&[p])
                    .pop()
                    .map(|(_, t)| t)
                    .unwrap_or_default(),
            )
        })
    }

    /// Takes over `older`'s decision tables for the principals `keep`
    /// accepts. Only sound when this snapshot's policy extends `older`'s
    /// (ids unchanged) and the extension carries no fact about those
    /// principals: see [`crate::Engine::apply`].
    pub(crate) fn adopt_tables(
        &self,
        older: &Snapshot,
        keep: impl Fn(PrincipalId) -> bool,
    ) -> usize {
        let mut adopted = 0;
        for (i, slot) in older.tables.iter().enumerate() {
            let p = PrincipalId(i as u32);
            if let (Some(table), Some(mine)) = (slot.get(), self.tables.get(i)) {
                if keep(p) && mine.set(Arc::clone(table)).is_ok() {
                    adopted += 1;
                }
            }
        }
        adopted
    }

    /// One evaluation for a batch of principals, split into their tables.
    fn build_tables(&self, batch: &[PrincipalId]) -> Vec<(PrincipalId, Table)> {
        let m = &*self.model;
        let (universe, derived) = evaluate(m, &self.index, batch, Scope::Table);
        let position: FxHashMap<PrincipalId, usize> =
            batch.iter().enumerate().map(|(i, &p)| (p, i)).collect();
        let mut tables: Vec<Table> = universe
            .own
            .iter()
            .map(|nodes| {
                let mut slots = FxHashMap::default();
                let mut next = 0u32;
                for &n in nodes {
                    slots.insert(n, next);
                    let ty = m.nodes[n.index()].ty;
                    next += (self.index.type_paths[ty.index()].paths.len() * self.words) as u32;
                }
                Table {
                    slots,
                    bits: vec![0u64; next as usize].into_boxed_slice(),
                }
            })
            .collect();
        let base = m.nodes.len() as u32;
        for Allow(p, a, n) in &derived.allow {
            let (anchor, path) = if n.0 < base {
                (*n, 0)
            } else {
                universe.virtuals[(n.0 - base) as usize]
            };
            let Some(table) = position.get(p).and_then(|&i| tables.get_mut(i)) else {
                continue;
            };
            // Nodes added for other principals of the batch are answered by
            // this principal's own anchors and paths; skip them.
            let Some(&slot) = table.slots.get(&anchor) else {
                continue;
            };
            let at = slot as usize + path as usize * self.words + a.index() / 64;
            table.bits[at] |= 1 << (a.index() % 64);
        }
        batch.iter().copied().zip(tables).collect()
    }

    /// Resolves the names of a request to ids.
    pub fn resolve(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
    ) -> Result<(PrincipalId, ActionId, NodeId), RequestError> {
        let names = &self.model.names;
        let p = names
            .principals
            .get(principal)
            .ok_or_else(|| RequestError::UnknownPrincipal {
                name: principal.to_string(),
            })?;
        let a = names
            .actions
            .get(action)
            .ok_or_else(|| RequestError::UnknownAction {
                name: action.to_string(),
            })?;
        let n = node_id(&self.model, resource).ok_or_else(|| RequestError::UnknownResource {
            name: resource.to_string(),
        })?;
        Ok((*p, *a, n))
    }

    /// May `principal` do `action` on `resource` (written `type:name`)?
    ///
    /// Unknown names are a deny carrying a [`RequestError`].
    pub fn check(&self, principal: &str, action: &str, resource: &str) -> Decision {
        match self.resolve(principal, action, resource) {
            Ok((p, a, n)) if self.allowed(p, a, n) => Decision::ALLOW,
            Ok(_) => Decision::DENY,
            Err(e) => Decision::invalid(e),
        }
    }

    /// The decision for resolved ids: the `Allow` relation at the resource.
    pub fn allowed(&self, p: PrincipalId, a: ActionId, n: NodeId) -> bool {
        let m = &*self.model;
        let table = self.table(p);
        // Types of the nodes walked past, bottom-up: the path below the anchor.
        let mut path = [TypeId(0); crate::compile::MAX_DEPTH + 1];
        for (len, node) in m.ancestry(n).enumerate() {
            if let Some(&slot) = table.slots.get(&node) {
                let paths = &self.index.type_paths[m.nodes[node.index()].ty.index()];
                let Some(&i) = paths.lookup.get(&path[..len]) else {
                    return false;
                };
                let at = slot as usize + i as usize * self.words + a.index() / 64;
                return table
                    .bits
                    .get(at)
                    .is_some_and(|w| w & (1 << (a.index() % 64)) != 0);
            }
            if len == path.len() {
                return false;
            }
            path[len] = m.nodes[node.index()].ty;
        }
        // No node above the resource carries any fact about the principal.
        false
    }
}

/// The node written `type:name` or `type:"name"`.
pub fn node_id(m: &Model, text: &str) -> Option<NodeId> {
    if let Some(&n) = m.names.nodes.get(text) {
        return Some(n);
    }
    let (ty, name) = text.split_once(':')?;
    let name = name.strip_prefix('"')?.strip_suffix('"')?;
    m.names.nodes.get(&format!("{ty}:{name}")).copied()
}

//! The evaluated, immutable state that answers requests.
//!
//! A [`Snapshot`] holds the checked model, its indexes, and one decision table
//! per principal, computed by the Datalog program the first time the
//! principal is asked about (or all at once with [`Snapshot::warm`]). A check
//! is then a few hash lookups: find the nearest node on the resource's
//! ancestry that the principal's table covers, and test one bit.

use super::index::{Index, Link};
use super::program::Allow;
use super::universe::{evaluate, Scope};
use crate::compile::ids::*;
use crate::compile::model::Model;
use crate::decision::{Decision, RequestError};
use crate::shared::ChunkVec;
use crate::source::Sources;
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
    /// Shared with the snapshots before and after this one for every
    /// principal an update did not reach (see [`crate::eval::update`]).
    tables: ChunkVec<OnceLock<Arc<Table>>>,
    words: usize,
    revision: u64,
}

impl Snapshot {
    /// A freshly loaded policy, its revision the hash of its sources.
    pub(crate) fn new(model: Model, index: Index) -> Snapshot {
        let revision = hash_sources(0, &model.sources, 0);
        Snapshot::with_revision(model, index, revision)
    }

    /// A snapshot with no table evaluated yet.
    pub(crate) fn with_revision(model: Model, index: Index, revision: u64) -> Snapshot {
        let tables = (0..model.principals.len())
            .map(|_| OnceLock::new())
            .collect();
        let words = model.actions.len().div_ceil(64).max(1);
        Snapshot {
            revision,
            model: Arc::new(model),
            index: Arc::new(index),
            tables,
            words,
        }
    }

    /// The revision of a snapshot made from this one by an update whose
    /// texts are the files of `sources` past this snapshot's.
    pub(crate) fn next_revision(&self, sources: &Sources) -> u64 {
        hash_sources(self.revision, sources, self.model.sources.len())
    }

    /// The snapshot after an update: `model` and `index` are this one's
    /// with the update applied, and `affected` the principals whose
    /// decisions it can change (`None`: anyone's). Every other principal's
    /// table is shared, evaluated or not.
    pub(crate) fn next(
        &self,
        model: Model,
        index: Index,
        affected: Option<&rustc_hash::FxHashSet<PrincipalId>>,
        revision: u64,
    ) -> Snapshot {
        let Some(affected) = affected else {
            return Snapshot::with_revision(model, index, revision);
        };
        let mut tables = self.tables.clone();
        while tables.len() < model.principals.len() {
            tables.push(OnceLock::new());
        }
        // A fresh slot also unshares the slot's chunk, so that the earlier
        // snapshot filling its own slot later cannot reach this one.
        for p in affected {
            if p.index() < tables.len() {
                tables[p.index()] = OnceLock::new();
            }
        }
        Snapshot {
            model: Arc::new(model),
            index: Arc::new(index),
            tables,
            words: self.words,
            revision,
        }
    }

    /// A content hash of the policy and facts this snapshot was loaded from
    /// (file names and texts, and those of every update since), as 16 hex
    /// digits: what a decision log records
    /// so that an auditor can replay a decision on the same policy.
    pub fn revision(&self) -> String {
        format!("{:016x}", self.revision)
    }

    /// The same policy indexed and evaluated afresh, sharing nothing with
    /// this snapshot: what loading the policy as it stands now would give.
    pub fn reindexed(&self) -> Result<Snapshot, crate::LoadError> {
        let model = (*self.model).clone();
        let index = Index::new(&model)
            .map_err(|d| crate::LoadError::new(model.sources.clone(), vec![d]))?;
        Ok(Snapshot::with_revision(model, index, self.revision))
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
        let table = self.table(p);
        let tree = &self.index.tree;
        // Types of the nodes walked past, bottom-up: the path below the anchor.
        let mut path = [TypeId(0); crate::compile::MAX_DEPTH + 1];
        let mut node = n.0;
        for len in 0..path.len() {
            let Some(link) = tree.get(node as usize) else {
                return false;
            };
            if let Some(&slot) = table.slots.get(&NodeId(node)) {
                let paths = &self.index.type_paths[link.ty.index()];
                let Some(&i) = paths.lookup.get(&path[..len]) else {
                    return false;
                };
                let at = slot as usize + i as usize * self.words + a.index() / 64;
                return table
                    .bits
                    .get(at)
                    .is_some_and(|w| w & (1 << (a.index() % 64)) != 0);
            }
            if link.parent == Link::ROOT {
                break;
            }
            path[len] = link.ty;
            node = link.parent;
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
    m.names.nodes.get(&*format!("{ty}:{name}")).copied()
}

/// Chains `seed` with the names and texts of `sources` from file `from` on.
fn hash_sources(seed: u64, sources: &Sources, from: usize) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    seed.hash(&mut h);
    for id in from..sources.len() {
        let file = sources.file(id as crate::source::FileId);
        file.name.hash(&mut h);
        file.text.hash(&mut h);
    }
    h.finish()
}

//! The evaluated, immutable state that answers requests.
//!
//! A [`Snapshot`] holds the checked model, its indexes, and one decision table
//! per principal, computed by the Datalog program the first time the
//! principal is asked about (or all at once with [`Snapshot::warm`]). A check
//! is then a few hash lookups: find the nearest node on the resource's
//! ancestry that the principal's table covers, and test one bit.
//!
//! `impl Snapshot` is spread over the stage each part belongs to:
//!
//! | where | what |
//! | --- | --- |
//! | `load.rs` | `from_paths`, `from_paths_with_data`, `from_text`, `from_sources`: the whole pipeline |
//! | here | `check`, `resolve`, `allowed`, `warm`, `revision`, the decision tables, and `next`, the snapshot after a live update (`eval/update.rs` computes what it shares) |
//! | `explain.rs` | `explain`, `roles` |
//! | `query.rs` | `who_can`, `who_can_why`, `what_can` |
//! | `policy_test.rs` | `run_tests` |

use super::condition::{
    rule_holds, too_many_conditions, Context, Env, Tri, Truth, MAX_OPEN_CONDITIONS,
};
use super::index::{Index, Link};
use super::program::Allow;
use super::reach;
use super::roles::RoleClosure;
use super::subtree::Subtrees;
use super::universe::{evaluate, Derived, Scope};
use crate::compile::ids::*;
use crate::compile::model::CondId;
use crate::compile::model::Model;
use crate::decision::{Decision, Request, RequestError};
use crate::shared::ChunkVec;
use crate::source::Sources;
use crate::syntax::ast::Root;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock, RwLock};

/// One principal's decision table: for each anchor node, each type path
/// below it and each set of actions denied to everyone on the way
/// ([`super::index::Folded`]), the set of allowed actions as a bitset.
///
/// One allocation, so that a check reads as few cache lines as it can: a
/// filter of the anchors (one bit each, in one to four words: a clear bit
/// means "not an anchor"), an open-addressed index of the anchors (`node <<
/// 32 | offset of its bitsets`, linear probing, at most half full), then the
/// bitsets. A check walks up from the resource to its nearest anchor, and
/// most nodes it passes are none: their bits, in the filter's one line,
/// spare it a probe of the index each. The index's size sits beside the
/// pointer, so that the lines to read are known before the allocation is;
/// and so does the top-level node every anchor lies under, when they share
/// one (`root`: the tenant), so that a check on another tenant's resource is
/// answered without reading the allocation at all. Beside them too, the
/// actions the table allows anywhere (`actions`, bit `a % 64` for action
/// `a`): a check of an action it allows nowhere is answered from the pointer
/// alone as well.
#[derive(Clone, Debug)]
pub struct Table {
    words: Arc<[u64]>,
    mask: u32,
    root: u32,
    actions: u64,
}

impl Table {
    const EMPTY: u64 = u64::MAX;
    /// `root` of a table with no anchor: no resource has one above it.
    const NOWHERE: u32 = u32::MAX;
    /// `root` of a table whose anchors lie under more than one top-level
    /// node.
    const ANYWHERE: u32 = u32::MAX - 1;

    /// A table over `words` laid out by [`Table::layout`], its anchors all
    /// under `root` (a top-level node, [`Table::NOWHERE`] or
    /// [`Table::ANYWHERE`]), allowing the actions `actions` folds (see
    /// [`Table::action_bit`]) somewhere.
    fn new(words: Vec<u64>, mask: usize, root: u32, actions: u64) -> Table {
        Table {
            words: words.into(),
            mask: u32::try_from(mask).expect("an index of fewer than 2^32 slots"),
            root,
            actions,
        }
    }

    /// The bit of [`Table::actions`] that stands for `a`, shared by every
    /// action of the same number modulo 64: a clear bit says that none of
    /// them is allowed anywhere in the table.
    fn action_bit(a: ActionId) -> u64 {
        1 << (a.index() % 64)
    }

    /// The words of a table over `anchors`, with the given number of words
    /// of bitsets for each, all bits clear; and the index's mask.
    fn layout(anchors: impl ExactSizeIterator<Item = (NodeId, usize)>) -> (Vec<u64>, usize) {
        let mask = (anchors.len() * 2).next_power_of_two() - 1;
        let filter = Table::filter_words(mask);
        let mut w = vec![0; filter];
        w.resize(filter + mask + 1, Table::EMPTY);
        for (node, words) in anchors {
            let offset = w.len() as u64;
            let (word, bit) = Table::filter_bit(node, mask);
            w[word] |= bit;
            let mut i = Table::home(node, mask);
            while w[filter + i] != Table::EMPTY {
                i = (i + 1) & mask;
            }
            w[filter + i] = (node.0 as u64) << 32 | offset;
            w.resize(w.len() + words, 0);
        }
        (w, mask)
    }

    fn hash(node: NodeId) -> u64 {
        (node.0 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn home(node: NodeId, mask: usize) -> usize {
        (Table::hash(node) >> 32) as usize & mask
    }

    /// Words of the filter in front of an index of `mask + 1` slots: a
    /// quarter of the index's bits, at most four words (half a cache line).
    fn filter_words(mask: usize) -> usize {
        ((mask + 1) / 16).clamp(1, 4)
    }

    /// The word of the filter and the bit in it that stand for `node`
    /// (bits of the hash that [`Table::home`] does not use).
    fn filter_bit(node: NodeId, mask: usize) -> (usize, u64) {
        let bits = Table::filter_words(mask) * 64;
        let i = (Table::hash(node) >> 16) as usize & (bits - 1);
        (i / 64, 1 << (i % 64))
    }

    /// Where the bitsets of `node` start, if it is one of the anchors.
    fn anchor(&self, node: NodeId) -> Option<usize> {
        Table::offset(&self.words, self.mask as usize, node)
    }

    /// [`Table::anchor`] over a table's words while it is being filled.
    fn offset(words: &[u64], mask: usize, node: NodeId) -> Option<usize> {
        let (word, bit) = Table::filter_bit(node, mask);
        if words.get(word)? & bit == 0 {
            return None;
        }
        let index = &words[Table::filter_words(mask)..];
        let mut i = Table::home(node, mask);
        loop {
            let e = *index.get(i)?;
            if e == Table::EMPTY {
                return None;
            }
            if e >> 32 == node.0 as u64 {
                return Some(e as u32 as usize);
            }
            i = (i + 1) & mask;
        }
    }

    /// The index's entries: `node << 32 | offset`, or [`Table::EMPTY`].
    #[cfg(test)]
    fn index(&self) -> &[u64] {
        let mask = self.mask as usize;
        let filter = Table::filter_words(mask);
        &self.words[filter..=filter + mask]
    }
}

impl Default for Table {
    fn default() -> Table {
        let (words, mask) = Table::layout(std::iter::empty());
        Table::new(words, mask, Table::NOWHERE, 0)
    }
}

/// A principal's decision tables: one, or, when rules that reach it carry
/// conditions on the resource or the context (its *open* conditions), one
/// per assignment of truth values to them, evaluated as checks need them.
///
/// An entry is as small as a table alone (the enum packs into the table's
/// pointer), so that an unconditional principal's check reads what it did
/// before conditions existed.
#[derive(Clone, Debug)]
pub enum Tables {
    /// No open condition: the one table.
    Plain(Table),
    /// The open conditions and their tables.
    Conditional(Arc<Conditional>),
}

/// A principal's open conditions and the tables for their truth values.
#[derive(Debug)]
pub struct Conditional {
    /// The open conditions, in a fixed order (one or two kept inline).
    open: Open,
    variants: Variants,
}

/// A principal's open conditions, inline when there are one or two.
#[derive(Debug)]
enum Open {
    Inline([CondId; 2], usize),
    Heap(Vec<CondId>),
}

impl Conditional {
    fn open(&self) -> &[CondId] {
        match &self.open {
            Open::Inline(open, len) => &open[..*len],
            Open::Heap(open) => open,
        }
    }
}

/// The tables for the open conditions, by the bits of [`Truth`].
#[derive(Debug)]
enum Variants {
    /// One or two open conditions (the common case): a slot for each
    /// assignment of truth values, in the same allocation, so that a check
    /// finds its table without a lock or another pointer.
    Few([OnceLock<Table>; 4]),
    /// Up to [`SLOT_CONDITIONS`]: a slot each, in a block of their own.
    Slots(Box<[OnceLock<Table>]>),
    /// More: the assignments met so far, up to [`MAX_VARIANTS`].
    Map(RwLock<FxHashMap<u64, Table>>),
}

/// Most open conditions whose tables get a slot each.
const SLOT_CONDITIONS: usize = 4;

/// Most tables kept for one principal's open conditions; past this, a check
/// evaluates its table without keeping it.
const MAX_VARIANTS: usize = 1024;

/// An evaluated policy. `Send + Sync`: share it behind an `Arc` and check
/// from any number of threads.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) model: Arc<Model>,
    pub(crate) index: Arc<Index>,
    /// Shared with the snapshots before and after this one for every
    /// principal an update did not reach (see [`crate::eval::update`]).
    tables: ChunkVec<OnceLock<Tables>>,
    /// The role stratum, evaluated once for every evaluation to share.
    pub(crate) roles: Arc<RoleClosure>,
    /// What real nodes and the virtual nodes below them allow, by inflow,
    /// shared between tables.
    subtrees: Subtrees,
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
            roles: Arc::new(RoleClosure::new(&model)),
            model: Arc::new(model),
            index: Arc::new(index),
            tables,
            subtrees: Subtrees::default(),
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
            roles: Arc::new(RoleClosure::new(&model)),
            model: Arc::new(model),
            index: Arc::new(index),
            tables,
            subtrees: Subtrees::default(),
            words: self.words,
            revision,
        }
    }

    /// This snapshot, claiming revision `hex`: for a compacted log whose one
    /// batch was checked to give the same facts as the batches it replaced
    /// (see `serve::wal`), so that a restart reports the revision served
    /// before it. `None` if `hex` is not a revision.
    #[cfg(feature = "server")]
    pub(crate) fn restamped(mut self, hex: &str) -> Option<Snapshot> {
        self.revision = u64::from_str_radix(hex, 16).ok()?;
        Some(self)
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

    /// Evaluates every principal's table now, on all cores, instead of on
    /// first use, so that no later check pays for an evaluation. Each
    /// principal is evaluated alone: a run's cost is its tuples, and
    /// evaluating principals together multiplies them.
    pub fn warm(&self) {
        let pending: Vec<PrincipalId> = (0..self.tables.len() as u32)
            .map(PrincipalId)
            .filter(|p| self.tables[p.index()].get().is_none())
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(pending.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&p) = pending.get(i) else { break };
                    let _ = self.tables[p.index()].set(self.build_tables(p));
                });
            }
        });
    }

    /// Evaluates one principal's table now if it is not yet (what
    /// background warming does, principal by principal).
    pub fn warm_principal(&self, p: PrincipalId) {
        if let Some(slot) = self.tables.get(p.index()) {
            slot.get_or_init(|| self.build_tables(p));
        }
    }

    /// How many principals the snapshot answers for.
    pub fn principal_count(&self) -> usize {
        self.tables.len()
    }

    /// Whether `p`'s tables are evaluated.
    pub(crate) fn is_evaluated(&self, p: PrincipalId) -> bool {
        self.tables
            .get(p.index())
            .is_some_and(|slot| slot.get().is_some())
    }

    /// How many principals' tables are evaluated.
    pub fn evaluated_count(&self) -> usize {
        (0..self.tables.len() as u32)
            .filter(|&i| self.is_evaluated(PrincipalId(i)))
            .count()
    }

    fn tables(&self, p: PrincipalId) -> &Tables {
        self.tables[p.index()].get_or_init(|| self.build_tables(p))
    }

    /// A principal's tables: evaluated now when it has no open condition;
    /// otherwise each on first use.
    fn build_tables(&self, p: PrincipalId) -> Tables {
        let open = reach::open_conditions(&self.model, &self.index, p);
        if open.is_empty() {
            return Tables::Plain(self.build_table(p, Truth::NONE));
        }
        let variants = match open.len() {
            1 | 2 => Variants::Few(Default::default()),
            k if k <= SLOT_CONDITIONS => {
                Variants::Slots((0..1 << k).map(|_| OnceLock::new()).collect())
            }
            _ => Variants::Map(RwLock::default()),
        };
        Tables::Conditional(Arc::new(Conditional {
            open: match open[..] {
                [a] => Open::Inline([a, a], 1),
                [a, b] => Open::Inline([a, b], 2),
                _ => Open::Heap(open),
            },
            variants,
        }))
    }

    /// The table of `p` for one request: its only one, or the one for the
    /// truth values of its open conditions on this request.
    fn table_for(
        &self,
        p: PrincipalId,
        n: NodeId,
        context: Option<&Context>,
    ) -> Result<Cow<'_, Table>, RequestError> {
        let conditional = match self.tables(p) {
            Tables::Plain(table) => return Ok(Cow::Borrowed(table)),
            Tables::Conditional(conditional) => conditional,
        };
        if conditional.open().len() > MAX_OPEN_CONDITIONS {
            return Err(too_many_conditions(&self.model, p));
        }
        let fallback;
        let context = match context {
            Some(c) => c,
            None => {
                fallback = Context::read(&self.model, None)?;
                &fallback
            }
        };
        let env = Env {
            m: &self.model,
            principal: p,
            resource: Some(n),
            context: Some(context),
        };
        let bits = Truth::bits_for(&env, conditional.open());
        Ok(self.variant(p, conditional, bits))
    }

    /// Whether `p` would be allowed `a` on `n` once the context gave the
    /// keys `context` lacks: every condition the resource, the principal and
    /// the given keys decide is decided, and each one that needs a key of
    /// the context that is not given goes the principal's way (an allow
    /// holding, a deny not). How reverse queries tell conditional access.
    pub fn allowed_if_met(
        &self,
        p: PrincipalId,
        a: ActionId,
        n: NodeId,
        context: &Context,
    ) -> bool {
        let Tables::Conditional(conditional) = self.tables(p) else {
            return false;
        };
        if conditional.open().len() > MAX_OPEN_CONDITIONS {
            return false;
        }
        let m = &self.model;
        let env = Env {
            m,
            principal: p,
            resource: Some(n),
            context: Some(context),
        };
        let bits = conditional
            .open()
            .iter()
            .enumerate()
            .fold(0u64, |bits, (i, &c)| {
                let c = &m.conditions[c as usize];
                let holds = match env.eval(&c.cond) {
                    Tri::Missing(Root::Context) => !c.deny,
                    outcome => rule_holds(c, &outcome),
                };
                if holds {
                    bits | 1 << i
                } else {
                    bits
                }
            });
        let table = self.variant(p, conditional, bits);
        self.lookup(&table, a, n)
    }

    /// The table of `p` for one assignment of truth values to its open
    /// conditions, evaluated on first use.
    fn variant<'a>(
        &self,
        p: PrincipalId,
        conditional: &'a Conditional,
        bits: u64,
    ) -> Cow<'a, Table> {
        let truth = Truth {
            open: conditional.open(),
            bits,
        };
        let slots: &[OnceLock<Table>] = match &conditional.variants {
            Variants::Few(slots) => slots,
            Variants::Slots(slots) => slots,
            Variants::Map(map) => return self.mapped(p, map, truth),
        };
        match slots.get(bits as usize) {
            Some(slot) => Cow::Borrowed(slot.get_or_init(|| self.build_table(p, truth))),
            None => Cow::Owned(self.build_table(p, truth)),
        }
    }

    /// [`Snapshot::variant`] for a principal with more open conditions than
    /// slots: the tables met so far, in a map.
    fn mapped<'a>(
        &self,
        p: PrincipalId,
        map: &'a RwLock<FxHashMap<u64, Table>>,
        truth: Truth<'_>,
    ) -> Cow<'a, Table> {
        let bits = truth.bits;
        let cached = map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&bits)
            .cloned();
        if let Some(table) = cached {
            return Cow::Owned(table);
        }
        let table = self.build_table(p, truth);
        let mut variants = map.write().unwrap_or_else(|e| e.into_inner());
        if variants.len() < MAX_VARIANTS {
            variants.insert(bits, table.clone());
        }
        Cow::Owned(table)
    }

    /// One evaluation of the program for `p`, as its decision table: for
    /// each anchor and each type path below it, the allowed actions (those
    /// at and below the nodes the evaluation leaves to [`Subtrees`] copied
    /// from there).
    fn build_table(&self, p: PrincipalId, truth: Truth<'_>) -> Table {
        let m = &*self.model;
        let (universe, derived) = evaluate(m, &self.index, &self.roles, p, Scope::Table, truth);
        let slots = self.index.folded.count() * self.words;
        let (mut words, mask) = Table::layout(universe.real.iter().map(|&n| {
            let ty = m.nodes[n.index()].ty;
            (n, self.index.type_paths[ty.index()].paths.len() * slots)
        }));
        let mut actions = 0;
        for Allow(_, a, n) in &derived.allow {
            let (anchor, slot) = universe.slot(m, *n);
            let Some(offset) = Table::offset(&words, mask, anchor) else {
                continue;
            };
            words[offset + slot as usize * self.words + a.index() / 64] |= 1 << (a.index() % 64);
            actions |= Table::action_bit(*a);
        }
        // The nodes whose decisions are shared, with their virtual nodes.
        let shared = &universe.shared;
        let decided =
            self.subtrees
                .decisions(m, &self.index, &self.roles, shared, &derived, self.words);
        for (&u, bits) in shared.iter().zip(&decided) {
            let Some(offset) = Table::offset(&words, mask, u) else {
                continue;
            };
            for (w, &b) in words[offset..].iter_mut().zip(bits.iter()) {
                *w |= b;
                // Bit `a % 64` of word `a / 64` is action `a`'s.
                actions |= b;
            }
        }
        let mut roots = universe.real.iter().map(|&n| self.index.root(n));
        let root = match roots.next() {
            None => Table::NOWHERE,
            Some(first) => first
                .filter(|&r| roots.all(|other| other == Some(r)))
                .unwrap_or(Table::ANYWHERE),
        };
        Table::new(words, mask, root, actions)
    }

    /// Resolves the names of a request to ids.
    pub fn resolve(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
    ) -> Result<(PrincipalId, ActionId, NodeId), RequestError> {
        // A name already in its canonical form (NFC, unquoted: what services
        // send) is its own key; only a miss, or a quoted name, takes the
        // slower path that normalises and unquotes.
        let names = &self.model.names;
        let p = match principal.starts_with('"') {
            false => names.principals.get(principal).copied(),
            true => None,
        }
        .or_else(|| self.model.principal_named(principal));
        let p = p.ok_or_else(|| RequestError::UnknownPrincipal {
            name: principal.to_string(),
        })?;
        let a = names
            .actions
            .get(action)
            .copied()
            .or_else(|| self.model.action_named(action));
        let a = a.ok_or_else(|| RequestError::UnknownAction {
            name: action.to_string(),
        })?;
        let quoted = resource
            .bytes()
            .position(|b| b == b':')
            .is_some_and(|colon| resource.as_bytes().get(colon + 1) == Some(&b'"'));
        let n = match quoted {
            false => names.nodes.get(resource).copied(),
            true => None,
        }
        .or_else(|| node_id(&self.model, resource));
        let n = n.ok_or_else(|| RequestError::UnknownResource {
            name: resource.to_string(),
        })?;
        Ok((p, a, n))
    }

    /// May `principal` do `action` on `resource` (written `type:name`)?
    /// A request with no context: conditions on `context.*` other than
    /// `context.now` cannot hold (see [`Snapshot::decide`]).
    ///
    /// Unknown names are a deny carrying a [`RequestError`].
    pub fn check(&self, principal: &str, action: &str, resource: &str) -> Decision {
        self.check_principal(principal, action, resource).0
    }

    /// [`Snapshot::check`], with the principal it resolved to.
    pub(crate) fn check_principal(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
    ) -> (Decision, Option<PrincipalId>) {
        match self.resolve(principal, action, resource) {
            Ok((p, a, n)) => (Decision::from(self.allowed_in(p, a, n, None)), Some(p)),
            Err(e) => (Decision::invalid(e), None),
        }
    }

    /// Decides a request, with its context.
    ///
    /// ```
    /// use grantlog::{Request, Snapshot};
    /// let snapshot = Snapshot::from_paths(&["policies/dagster-plus.policy"]).unwrap();
    /// let request = Request::new("ci-bot", "runs.launch", "deployment:prod")
    ///     .with_context(serde_json::json!({"via": "api_token"}));
    /// assert!(snapshot.decide(&request).is_allowed());
    /// ```
    pub fn decide(&self, request: &Request) -> Decision {
        self.decide_principal(request).0
    }

    /// [`Snapshot::decide`], with the principal it resolved to.
    pub(crate) fn decide_principal(&self, request: &Request) -> (Decision, Option<PrincipalId>) {
        let ids = self.resolve(&request.principal, &request.action, &request.resource);
        self.decide_resolved(request, ids)
    }

    /// [`Snapshot::decide_principal`] once the request's names are resolved.
    fn decide_resolved(
        &self,
        request: &Request,
        ids: Result<(PrincipalId, ActionId, NodeId), RequestError>,
    ) -> (Decision, Option<PrincipalId>) {
        let principal = ids.as_ref().ok().map(|&(p, _, _)| p);
        // The context is read only for a principal whose rules have
        // conditions on it (or on the resource).
        let decided = ids.and_then(|(p, a, n)| {
            if let Tables::Plain(table) = self.tables(p) {
                return Ok(self.lookup(table, a, n));
            }
            let context = self.context(request)?;
            self.allowed_in(p, a, n, Some(&context))
        });
        (Decision::from(decided), principal)
    }

    /// [`Snapshot::check_principal`], a principal whose tables are not
    /// evaluated yet decided as [`Snapshot::decide_first`] decides it.
    pub(crate) fn check_first(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
    ) -> (Decision, Option<PrincipalId>) {
        match self.resolve(principal, action, resource) {
            Ok((p, a, n)) => (Decision::from(self.first_or_table(p, a, n)), Some(p)),
            Err(e) => (Decision::invalid(e), None),
        }
    }

    /// [`Snapshot::allowed`] as an `Engine` that is still warming decides
    /// it: for a principal whose tables are not evaluated yet, one run of
    /// the program over the resource's ancestry (see
    /// [`Snapshot::decide_first`]), the tables left unevaluated; otherwise
    /// the table. For services that keep the ids of [`Snapshot::resolve`]
    /// (see [`Snapshot::allowed`] for how long they hold).
    pub fn allowed_first(&self, p: PrincipalId, a: ActionId, n: NodeId) -> bool {
        self.first_or_table(p, a, n).unwrap_or(false)
    }

    /// The first check of `p` with no context, or its table's answer.
    fn first_or_table(&self, p: PrincipalId, a: ActionId, n: NodeId) -> Result<bool, RequestError> {
        self.known(p, a, n)?;
        if !self.is_evaluated(p) {
            return self.first_run(p, a, n, || Context::read(&self.model, None));
        }
        let table = self.table_for(p, n, None)?;
        Ok(self.lookup(&table, a, n))
    }

    /// [`Snapshot::decide`] for a principal whose tables are not evaluated
    /// yet: one run of the program over the resource's ancestry, given the
    /// facts there about the request's action ([`Scope::Check`]), not the
    /// evaluation of the principal's whole table, which is left to warming.
    /// A principal's first check costs a fraction of its table's
    /// evaluation, and every later check, once the table is ready, reads
    /// it. Evaluated principals are decided from their tables as usual.
    #[doc(hidden)]
    pub fn decide_first(&self, request: &Request) -> (Decision, Option<PrincipalId>) {
        let ids = self.resolve(&request.principal, &request.action, &request.resource);
        match ids {
            Ok((p, a, n)) if !self.is_evaluated(p) => {
                let context = || self.context(request);
                (Decision::from(self.first_run(p, a, n, context)), Some(p))
            }
            _ => self.decide_resolved(request, ids),
        }
    }

    /// The `Allow` relation at `n` from one run over its ancestry
    /// ([`Scope::Check`]), for a principal whose tables are not evaluated.
    /// `context` reads the request's context, which is read only where a
    /// condition can read it, as `decide` reads it.
    fn first_run(
        &self,
        p: PrincipalId,
        a: ActionId,
        n: NodeId,
        context: impl FnOnce() -> Result<Context, RequestError>,
    ) -> Result<bool, RequestError> {
        let open = reach::open_conditions(&self.model, &self.index, p);
        let context = match open.is_empty() {
            true => None,
            false => Some(context()?),
        };
        if open.len() > MAX_OPEN_CONDITIONS {
            return self.allowed_in(p, a, n, context.as_ref());
        }
        let d = self.path_run(p, Scope::Check(a, n), &open, context.as_ref());
        Ok(d.allow.contains(&Allow(p, a, n)))
    }

    /// One run of the program for `p` over a resource's ancestry (`scope`
    /// is [`Scope::Check`] or [`Scope::Explain`] of it), its open conditions
    /// decided for this request: what a first check and an explanation
    /// read.
    pub(crate) fn path_run(
        &self,
        p: PrincipalId,
        scope: Scope,
        open: &[CondId],
        context: Option<&Context>,
    ) -> Derived {
        let env = Env {
            m: &self.model,
            principal: p,
            resource: scope.target(),
            context,
        };
        let truth = Truth {
            bits: Truth::bits_for(&env, open),
            open,
        };
        evaluate(&self.model, &self.index, &self.roles, p, scope, truth).1
    }

    /// A request's context, read by the policy's declared types.
    pub fn context(&self, request: &Request) -> Result<Context, RequestError> {
        Context::read(&self.model, request.context.as_ref())
    }

    /// [`Snapshot::check`] in a context already read (with
    /// [`Snapshot::context`]): for a service that decides several requests
    /// in one context, such as a batch of evaluations.
    pub fn check_in(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        context: &Context,
    ) -> Decision {
        let decided = self
            .resolve(principal, action, resource)
            .and_then(|(p, a, n)| self.allowed_in(p, a, n, Some(context)));
        Decision::from(decided)
    }

    /// The decision for resolved ids with no context: the `Allow` relation
    /// at the resource (a deny if the request cannot be decided).
    ///
    /// Ids are this snapshot's, from its [`Snapshot::resolve`]: they keep
    /// naming the same principal, action and node in every snapshot made
    /// from this one by updates (an update never reuses an id; a removed
    /// principal's is a deny), but not across a reload of the policy, whose
    /// ids are its own. An id past this snapshot's is a deny.
    pub fn allowed(&self, p: PrincipalId, a: ActionId, n: NodeId) -> bool {
        self.allowed_in(p, a, n, None).unwrap_or(false)
    }

    /// The decision for resolved ids in a context: the `Allow` relation at
    /// the resource, in the table for this request.
    pub fn allowed_in(
        &self,
        p: PrincipalId,
        a: ActionId,
        n: NodeId,
        context: Option<&Context>,
    ) -> Result<bool, RequestError> {
        self.known(p, a, n)?;
        let table = self.table_for(p, n, context)?;
        Ok(self.lookup(&table, a, n))
    }

    /// Whether ids passed in by a caller are within this snapshot's (those
    /// of a later snapshot may not be): past them is a deny, never another
    /// principal's table, another action's bit or a panic.
    fn known(&self, p: PrincipalId, a: ActionId, n: NodeId) -> Result<(), RequestError> {
        let m = &self.model;
        let unknown = |what: &str, i: usize| format!("{what} #{i} (not of this snapshot)");
        if p.index() >= self.tables.len() {
            return Err(RequestError::UnknownPrincipal {
                name: unknown("principal", p.index()),
            });
        }
        if a.index() >= m.actions.len() {
            return Err(RequestError::UnknownAction {
                name: unknown("action", a.index()),
            });
        }
        if n.index() >= m.nodes.len() {
            return Err(RequestError::UnknownResource {
                name: unknown("node", n.index()),
            });
        }
        Ok(())
    }

    fn lookup(&self, table: &Table, a: ActionId, n: NodeId) -> bool {
        let tree = &self.index.tree;
        // An action allowed nowhere in the table is denied here too.
        if table.actions & Table::action_bit(a) == 0 {
            return false;
        }
        // Only a resource under the anchors' root can have one above it.
        if table.root != Table::ANYWHERE && self.index.root(n) != Some(table.root) {
            return false;
        }
        let folded = &*self.index.folded;
        // Types of the nodes walked past, bottom-up: the path below the anchor.
        // A run of nodes of one type (a folder in a folder) counts once, as
        // the type paths do. And the actions denied to everyone on them.
        let mut path = [TypeId(0); crate::compile::MAX_DEPTH + 1];
        let mut len = 0;
        let mut denied = 0;
        let mut node = n.0;
        for _ in 0..path.len() {
            let Some(link) = tree.get(node as usize) else {
                return false;
            };
            if let Some(offset) = table.anchor(NodeId(node)) {
                let paths = &self.index.type_paths[link.ty.index()];
                let Some(&i) = paths.lookup.get(&path[..len]) else {
                    return false;
                };
                let slot = i as usize * folded.count() + denied as usize;
                let at = offset + slot * self.words + a.index() / 64;
                return table
                    .words
                    .get(at)
                    .is_some_and(|w| w & (1 << (a.index() % 64)) != 0);
            }
            if link.parent == Link::ROOT {
                break;
            }
            if link.denied != 0 {
                denied = folded.join(denied, link.denied);
            }
            if len == 0 || path[len - 1] != link.ty {
                path[len] = link.ty;
                len += 1;
            }
            node = link.parent;
        }
        // No node above the resource carries any fact about the principal.
        false
    }
}

/// The node a request writes as `type:name`, by the language's one rule
/// for written names ([`crate::syntax::names::written`]): `app:"lead
/// scorer"` is the node named `lead scorer`, and `app:"\"secret\""` the one
/// whose name holds quotes.
#[inline]
pub fn node_id(m: &Model, text: &str) -> Option<NodeId> {
    use crate::syntax::names::{canonical, written_node};
    let (_, name) = text.split_once(':')?;
    if !name.starts_with('"') {
        // The common case: the name as written is the key.
        return m.names.nodes.get(&*canonical(text)).copied();
    }
    let (ty, name) = written_node(text)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_finds_each_anchor_and_nothing_else() {
        // Node ids that share probe positions, so that probing wraps.
        let anchors: Vec<(NodeId, usize)> = (0..40u32).map(|i| (NodeId(i * 64), 3)).collect();
        let (words, mask) = Table::layout(anchors.iter().copied());
        assert_eq!(mask, 127);
        assert_eq!(Table::filter_words(mask), 4);
        assert_eq!(words.len(), 4 + 128 + 40 * 3);
        let mut offsets: Vec<usize> = anchors
            .iter()
            .map(|&(n, _)| Table::offset(&words, mask, n).expect("an anchor"))
            .collect();
        offsets.sort_unstable();
        let expected: Vec<usize> = (0..40).map(|i| 4 + 128 + i * 3).collect();
        assert_eq!(offsets, expected);
        for n in [1, 63, 65, 40 * 64, u32::MAX] {
            assert_eq!(Table::offset(&words, mask, NodeId(n)), None, "node {n}");
        }
        assert_eq!(Table::default().anchor(NodeId(0)), None);
    }

    /// The anchors of `p`'s table.
    fn anchors(s: &Snapshot, p: &str) -> Vec<String> {
        let id = s.model.names.principals.get(p).copied().expect("a user");
        let Tables::Plain(table) = s.tables(id) else {
            panic!("no open condition here")
        };
        let mut out: Vec<String> = table
            .index()
            .iter()
            .filter(|&&e| e != Table::EMPTY)
            .map(|&e| s.model.node_key(NodeId((e >> 32) as u32)))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_deny_to_everyone_is_answered_below_the_anchors_not_made_one() {
        let s = crate::Snapshot::from_text(
            "t.policy",
            "type org\ntype workspace in org\ntype app in workspace\n\
             action app.view, app.publish on app\n\
             role admin on org rank 1 { app.view, app.publish }\n\
             role editor on app rank 1 { app.view, app.publish }\n\
             org o\nworkspace w in org:o\nworkspace v in org:o\n\
             app a in workspace:w\napp b in workspace:w\napp c in workspace:v\n\
             user boss in org:o\nuser ed in org:o\n\
             assign admin on org:o to boss\nassign editor on app:a to ed\n\
             deny app.publish on app:a to everyone\n\
             deny app.publish on workspace:v to everyone\n",
        )
        .expect("the policy loads");
        let allowed = |p: &str, a: &str, n: &str| s.check(p, a, n).is_allowed();
        assert!(!allowed("boss", "app.publish", "app:a"));
        assert!(allowed("boss", "app.view", "app:a"));
        assert!(allowed("boss", "app.publish", "app:b"));
        assert!(!allowed("boss", "app.publish", "app:c"));
        assert!(allowed("boss", "app.view", "app:c"));
        // The denies are no anchors of the admin's table: the org answers
        // for the apps below it, with the denies gathered on the way.
        assert_eq!(anchors(&s, "boss"), ["org:o"]);
        // On a node of the evaluation, the deny is given there.
        assert!(!allowed("ed", "app.publish", "app:a"));
        assert!(allowed("ed", "app.view", "app:a"));
        assert_eq!(anchors(&s, "ed"), ["app:a", "org:o", "workspace:w"]);
        assert_eq!(s.index.folded.count(), 2);
    }

    #[test]
    fn virtual_nodes_below_the_same_inflow_are_evaluated_once() {
        let s = crate::Snapshot::from_text(
            "t.policy",
            "type org\ntype workspace in org\ntype app in workspace\n\
             action app.view, app.edit on app\n\
             role viewer on workspace rank 1 { app.view }\n\
             role editor on workspace rank 2 includes viewer { app.edit }\n\
             org o\nworkspace w in org:o\nworkspace v in org:o\nworkspace x in org:o\n\
             app a in workspace:w\napp b in workspace:v\napp c in workspace:x\n\
             user ann\nuser bob\nuser cat\nuser dan\n\
             assign viewer on workspace:w to ann\nassign viewer on workspace:v to bob\n\
             assign editor on workspace:x to cat\nassign viewer on workspace:x to dan\n\
             deny app.view on workspace:x to dan\n",
        )
        .expect("the policy loads");
        s.warm();
        let allowed = |p: &str, a: &str, n: &str| s.check(p, a, n).is_allowed();
        assert!(allowed("ann", "app.view", "app:a"));
        assert!(!allowed("ann", "app.edit", "app:a"));
        assert!(!allowed("ann", "app.view", "app:b"));
        assert!(allowed("bob", "app.view", "app:b"));
        assert!(allowed("cat", "app.edit", "app:c"));
        assert!(allowed("cat", "app.view", "app:c"));
        assert!(!allowed("dan", "app.view", "app:c"));
        // Below org:o nothing flows in for anyone; ann's and bob's
        // workspaces receive the same role; cat's another; dan's the same
        // role as theirs, and a deny.
        assert_eq!(s.subtrees.len(), 4);
    }

    #[test]
    fn tables_with_defaults_inside_a_home_and_shared_decisions_outside_agree_with_first_checks() {
        let s = crate::Snapshot::from_text(
            "t.policy",
            "type org\ntype workspace in org\ntype app in workspace\n\
             action app.view, app.edit, app.publish\n\
             role viewer on workspace, app rank 1 { app.view }\n\
             role editor on workspace, app rank 2 includes viewer { app.edit, app.publish }\n\
             default viewer on app\n\
             org o\nworkspace w in org:o\nworkspace v in org:o\n\
             app a in workspace:w\napp b in workspace:v\napp c in workspace:v\n\
             user ann in workspace:w\nuser bob in workspace:w\n\
             assign editor on workspace:v to ann\nassign editor on workspace:v to bob\n\
             deny app.publish on app:c to everyone\n\
             deny app.edit on workspace:v to bob\n",
        )
        .expect("the policy loads");
        s.warm();
        let m = s.model();
        let mut allowed = 0;
        for p in 0..m.principals.len() as u32 {
            for a in 0..m.actions.len() as u32 {
                for n in 0..m.nodes.len() as u32 {
                    let (p, a, n) = (PrincipalId(p), ActionId(a), NodeId(n));
                    let table = s.allowed(p, a, n);
                    assert_eq!(table, s.allowed_first(p, a, n), "{p:?} {a:?} {n:?}");
                    allowed += table as usize;
                }
            }
        }
        let check = |p: &str, a: &str, n: &str| s.check(p, a, n).is_allowed();
        // Inside ann's home the default applies to an app below it; in the
        // workspace she edits, her role flows down, less the denies.
        assert!(check("ann", "app.view", "app:a"));
        assert!(!check("ann", "app.edit", "app:a"));
        assert!(check("ann", "app.publish", "app:b"));
        assert!(!check("ann", "app.publish", "app:c"));
        assert!(!check("bob", "app.edit", "app:b"));
        assert!(check("bob", "app.view", "app:b"));
        assert_eq!(allowed, 15);
    }

    #[test]
    fn a_table_knows_the_tenant_of_its_anchors() {
        let s = crate::Snapshot::from_text(
            "t.policy",
            "type org\ntype workspace in org\ntype app in workspace\n\
             action app.view on app\n\
             role viewer on org rank 1 { app.view }\n\
             role member on workspace rank 1 { app.view }\n\
             org o\norg p\nworkspace w in org:o\nworkspace v in org:o\nworkspace x in org:p\n\
             app a in workspace:w\napp b in workspace:w\napp c in workspace:v\napp d in workspace:x\n\
             user ann\nuser bob\nuser cat\nuser dan\n\
             assign member on workspace:w to ann\n\
             assign member on workspace:w to bob\nassign member on workspace:v to bob\n\
             assign viewer on org:o to cat\nassign viewer on org:p to cat\n",
        )
        .expect("the policy loads");
        let root = |p: &str| {
            let id = s.model.names.principals.get(p).copied().expect("a user");
            let Tables::Plain(table) = s.tables(id) else {
                panic!("no open condition here")
            };
            match table.root {
                Table::NOWHERE => "nowhere".to_string(),
                Table::ANYWHERE => "anywhere".to_string(),
                n => s.model.node_key(NodeId(n)),
            }
        };
        assert_eq!(root("ann"), "org:o");
        assert_eq!(root("bob"), "org:o");
        assert_eq!(root("cat"), "anywhere");
        assert_eq!(root("dan"), "nowhere");
        let allowed = |p: &str, n: &str| s.check(p, "app.view", n).is_allowed();
        let apps = ["app:a", "app:b", "app:c", "app:d"];
        let row = |p: &str| apps.map(|n| allowed(p, n));
        assert_eq!(row("ann"), [true, true, false, false]);
        assert_eq!(row("bob"), [true, true, true, false]);
        assert_eq!(row("cat"), [true, true, true, true]);
        assert_eq!(row("dan"), [false, false, false, false]);
        // Nodes an update adds know their tenant: under an old root, and
        // under a new one.
        let (s, _) = s
            .apply(&crate::Batch::new().add(
                "org q\nworkspace y in org:q\napp e in workspace:w\napp f in workspace:y\n\
                 assign viewer on org:q to dan\n",
            ))
            .expect("the update applies");
        let tenant = |n: &str| {
            let id = s.model.names.nodes.get(n).copied().expect("a node");
            s.model.node_key(NodeId(s.index.root(id).expect("a root")))
        };
        assert_eq!(tenant("app:e"), "org:o");
        assert_eq!(tenant("app:f"), "org:q");
        let allowed = |p: &str, n: &str| s.check(p, "app.view", n).is_allowed();
        assert_eq!(["app:e", "app:f"].map(|n| allowed("ann", n)), [true, false]);
        assert_eq!(["app:e", "app:f"].map(|n| allowed("dan", n)), [false, true]);
    }

    #[test]
    fn a_table_knows_the_actions_it_allows_anywhere() {
        // 70 actions, so that actions 1 and 65 share a bit of the summary.
        let actions: String = (0..70)
            .map(|i| format!("action app.a{i} on app\n"))
            .collect();
        let text = format!(
            "type org\ntype app in org\n{actions}\
             role runner on app rank 1 {{ app.a65 }}\n\
             role viewer on org rank 1 {{ app.a2 }}\n\
             org o\napp x in org:o\napp y in org:o\n\
             user ann\nuser bob\nuser cat\n\
             assign runner on app:x to ann\nassign viewer on org:o to bob\n"
        );
        let s = crate::Snapshot::from_text("t.policy", &text).expect("the policy loads");
        let summary = |p: &str| {
            let id = s.model.names.principals.get(p).copied().expect("a user");
            let Tables::Plain(table) = s.tables(id) else {
                panic!("no open condition here")
            };
            (0..64)
                .filter(|b| table.actions & 1 << b != 0)
                .collect::<Vec<_>>()
        };
        assert_eq!(summary("ann"), [1]);
        assert_eq!(summary("bob"), [2]);
        assert_eq!(summary("cat"), Vec::<u32>::new());
        let row =
            |p: &str, action: &str| ["app:x", "app:y"].map(|n| s.check(p, action, n).is_allowed());
        // A bit shared with an allowed action leaves the decision to the table.
        assert_eq!(row("ann", "app.a65"), [true, false]);
        assert_eq!(row("ann", "app.a1"), [false, false]);
        assert_eq!(row("bob", "app.a2"), [true, true]);
        assert_eq!(row("bob", "app.a66"), [false, false]);
        assert_eq!(row("cat", "app.a2"), [false, false]);
    }

    #[test]
    fn checks_on_ids_agree_with_names_and_deny_ids_of_another_snapshot() {
        let text = "type org\ntype app in org\naction app.view on app\n\
                    role viewer on org rank 1 { app.view }\n\
                    org o\napp a in org:o\nuser ann in org:o\nuser bob in org:o\n\
                    assign viewer on org:o to ann\n";
        let s = crate::Snapshot::from_text("t.policy", text).expect("the policy loads");
        for user in ["ann", "bob"] {
            let (p, a, n) = s.resolve(user, "app.view", "app:a").expect("known names");
            // A first check runs once over the ancestry and leaves the table
            // to warming.
            let first = s.allowed_first(p, a, n);
            assert!(!s.is_evaluated(p), "{user}");
            let by_name = s.check(user, "app.view", "app:a").is_allowed();
            assert!(s.is_evaluated(p), "{user}");
            assert_eq!(first, by_name, "{user}");
            assert_eq!(s.allowed(p, a, n), by_name, "{user}");
            assert_eq!(s.allowed_first(p, a, n), by_name, "{user}, table evaluated");
        }
        assert!(s.check("ann", "app.view", "app:a").is_allowed());
        // Ids from a larger snapshot: no other principal's table, no other
        // action's bit, never a panic.
        let bigger = crate::Snapshot::from_text(
            "t.policy",
            &format!("{text}user cat in org:o\napp b in org:o\naction app.edit on app\n"),
        )
        .expect("the policy loads");
        let (p, a, n) = bigger
            .resolve("cat", "app.edit", "app:b")
            .expect("known names");
        let (ann, view, app) = s.resolve("ann", "app.view", "app:a").expect("known names");
        for (p, a, n) in [(p, view, app), (ann, a, app), (ann, view, n)] {
            assert!(!s.allowed(p, a, n));
            assert!(!s.allowed_first(p, a, n));
            assert!(s.allowed_in(p, a, n, None).is_err());
        }
        let Err(e) = s.allowed_in(p, view, app, None) else {
            panic!("a deny")
        };
        assert_eq!(
            e.to_string(),
            "unknown principal `principal #2 (not of this snapshot)`"
        );
    }
}

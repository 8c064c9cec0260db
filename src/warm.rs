//! Background warming: an [`crate::Engine`] evaluates every principal's
//! decision table on background threads after each new snapshot, principals
//! seen recently first, so that a restarted service reaches full speed
//! without blocking its first requests. A check never waits for warming: a
//! principal warming has not reached yet is decided by one run over the
//! resource's ancestry and asked for out of turn, so the workers evaluate
//! the tables of the principals in use next.

use crate::compile::ids::PrincipalId;
use crate::eval::snapshot::Snapshot;
use serde::Serialize;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How far warming of the current snapshot has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WarmProgress {
    /// Principals whose tables are evaluated (by warming or by checks).
    pub done: usize,
    /// Principals in the snapshot.
    pub total: usize,
}

/// Slots for recently checked principals, which warming puts first.
const RECENT: usize = 4096;

/// At most this many principals wait to be warmed out of turn.
const ASKED: usize = 1 << 16;

/// The warming state an engine shares with its worker threads.
pub(crate) struct Warmer {
    threads: AtomicUsize,
    /// Bumped by every new snapshot and when the engine goes: a worker of
    /// an older generation stops.
    generation: AtomicU64,
    /// Recently checked principals, each in a slot picked by its id
    /// (`u32::MAX`: empty): a check writes only when its slot holds another
    /// principal, so recurring principals cost a read of a line no thread
    /// writes, never a shared counter.
    recent: Box<[AtomicU32]>,
    /// The generation some worker is warming (0: none).
    warming: AtomicU64,
    /// Principals checked before warming reached them, most recent last:
    /// the workers take them before their own order.
    asked: Mutex<Vec<PrincipalId>>,
}

impl Warmer {
    /// Warming with one thread fewer than the machine has cores (at least
    /// one).
    pub(crate) fn new() -> Warmer {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Warmer {
            threads: AtomicUsize::new(cores.saturating_sub(1).max(1)),
            generation: AtomicU64::new(0),
            recent: (0..RECENT).map(|_| AtomicU32::new(u32::MAX)).collect(),
            warming: AtomicU64::new(0),
            asked: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn set_threads(&self, threads: usize) {
        self.threads.store(threads, Ordering::Relaxed);
    }

    /// Whether workers are warming the current snapshot, so that a check
    /// may leave its principal's table to them. (Once they are done, every
    /// table is evaluated and no check needs to.)
    pub(crate) fn warms(&self) -> bool {
        self.warming.load(Ordering::Relaxed) == self.generation.load(Ordering::Relaxed)
    }

    /// Notes that a principal was checked (a relaxed read, and a write
    /// only when the principal's slot held another).
    pub(crate) fn seen(&self, p: PrincipalId) {
        let slot = &self.recent[(p.0 as usize).wrapping_mul(0x9e37_79b9) % RECENT];
        if slot.load(Ordering::Relaxed) != p.0 {
            slot.store(p.0, Ordering::Relaxed);
        }
    }

    /// Asks for `p`'s table out of turn: a check found it not evaluated yet
    /// (and decided without it), so the principal is in use now.
    pub(crate) fn ask(&self, p: PrincipalId) {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        if asked.len() < ASKED {
            asked.push(p);
        }
    }

    /// The next principal to warm: one asked for, else the next in order.
    fn next(&self, order: &[PrincipalId], next: &AtomicUsize) -> Option<PrincipalId> {
        let asked = self.asked.lock().unwrap_or_else(|e| e.into_inner()).pop();
        asked.or_else(|| order.get(next.fetch_add(1, Ordering::Relaxed)).copied())
    }

    /// Counts the evaluated tables (one pass over the principals: for a
    /// metric, not for every request).
    pub(crate) fn progress(snapshot: &Snapshot) -> WarmProgress {
        WarmProgress {
            done: snapshot.evaluated_count(),
            total: snapshot.principal_count(),
        }
    }

    /// The order to warm `total` principals in: those checked recently
    /// (the last one checked in each slot), then the rest.
    fn order(&self, total: usize) -> Vec<PrincipalId> {
        let mut first = vec![false; total];
        let mut order: Vec<PrincipalId> = Vec::with_capacity(total);
        for slot in self.recent.iter() {
            let p = slot.load(Ordering::Relaxed) as usize;
            if p < total && !std::mem::replace(&mut first[p], true) {
                order.push(PrincipalId(p as u32));
            }
        }
        order.extend(
            (0..total as u32)
                .map(PrincipalId)
                .filter(|p| !first[p.index()]),
        );
        order
    }

    /// Stops the workers of the current generation.
    pub(crate) fn stop(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Starts warming `snapshot` on the configured threads, stopping the
    /// warming of any earlier one. Principals already evaluated (shared
    /// with the snapshot before a live update) are passed over at once.
    pub(crate) fn start(self: &Arc<Warmer>, snapshot: Arc<Snapshot>) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let total = snapshot.principal_count();
        let threads = self.threads.load(Ordering::Relaxed).min(total);
        if threads == 0 {
            return;
        }
        let order: Arc<[PrincipalId]> = self.order(total).into();
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..threads {
            let (warmer, snapshot) = (Arc::clone(self), Arc::clone(&snapshot));
            let (order, next) = (Arc::clone(&order), Arc::clone(&next));
            let spawned = std::thread::Builder::new()
                .name("grantlog-warm".into())
                .spawn(move || loop {
                    if warmer.generation.load(Ordering::Relaxed) != generation {
                        break;
                    }
                    let Some(p) = warmer.next(&order, &next) else {
                        break;
                    };
                    if p.index() < snapshot.principal_count() {
                        snapshot.warm_principal(p);
                    }
                });
            // Without a thread, checks evaluate on first use, as always.
            if spawned.is_err() {
                break;
            }
            self.warming.store(generation, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_asked_for_are_warmed_before_the_order() {
        let w = Warmer::new();
        let order = [PrincipalId(0), PrincipalId(1), PrincipalId(2)];
        let next = AtomicUsize::new(0);
        assert_eq!(w.next(&order, &next), Some(PrincipalId(0)));
        w.ask(PrincipalId(2));
        w.ask(PrincipalId(1));
        let rest: Vec<_> = std::iter::from_fn(|| w.next(&order, &next)).collect();
        assert_eq!(
            rest,
            [
                PrincipalId(1),
                PrincipalId(2),
                PrincipalId(1),
                PrincipalId(2)
            ]
        );
    }

    #[test]
    fn principals_seen_recently_are_warmed_first() {
        let w = Warmer::new();
        for p in [4, 2, 4, 9, 7] {
            w.seen(PrincipalId(p));
        }
        let order: Vec<u32> = w.order(8).iter().map(|p| p.0).collect();
        // The principals seen first (9 is no principal of an 8-principal
        // snapshot), each once, then everyone else.
        let mut seen = order[..3].to_vec();
        seen.sort_unstable();
        assert_eq!(seen, [2, 4, 7]);
        assert_eq!(order[3..], [0, 1, 3, 5, 6]);
    }
}

//! The machine's memory latency: what one read costs when the address
//! depends on the previous read. A check at scale is a handful of such reads
//! (names, table, tree), so this is the floor under the scaling curve.
//!
//! Two shapes: every cache line of a working set of a given size, and a
//! given number of lines scattered over a large buffer, which is what a
//! recurring request set looks like to the caches once the organisation is
//! large: each request reads a few lines of structures spread over
//! gigabytes, and the set's distinct lines, not the structures' size, decide
//! what a read costs.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

/// u64 words per cache line.
const LINE: usize = 8;

/// Nanoseconds per read while following one random cycle through every
/// cache line of a `bytes`-sized buffer.
pub fn dependent_read_ns(bytes: usize) -> f64 {
    let lines = (bytes / (LINE * 8)).max(2);
    cycle_read_ns(lines, (0..lines).collect())
}

/// Nanoseconds per read while following one random cycle through `count`
/// cache lines picked at random in a `bytes`-sized buffer.
pub fn scattered_read_ns(bytes: usize, count: usize) -> f64 {
    let lines = (bytes / (LINE * 8)).max(2);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let mut picked: Vec<usize> = (0..count.max(2))
        .map(|_| rng.random_range(0..lines))
        .collect();
    picked.sort_unstable();
    picked.dedup();
    cycle_read_ns(lines, picked)
}

/// Times a walk along one random cycle through the `visit`ed lines of a
/// buffer of `lines` cache lines, after one untimed round.
fn cycle_read_ns(lines: usize, mut visit: Vec<usize>) -> f64 {
    // Sattolo's shuffle: a random permutation that is a single cycle, so the
    // walk reads every visited line before it repeats.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    for i in (1..visit.len()).rev() {
        visit.swap(i, rng.random_range(0..i));
    }
    let mut next = vec![0u64; lines * LINE];
    for (i, &line) in visit.iter().enumerate() {
        next[line * LINE] = (visit[(i + 1) % visit.len()] * LINE) as u64;
    }
    let start = visit[0] * LINE;
    let rounds = visit.len().min(1 << 20);
    drop(visit);
    let walk = |steps: usize| {
        let mut at = start;
        for _ in 0..steps {
            at = next[at] as usize;
        }
        std::hint::black_box(at)
    };
    walk(rounds);
    let steps = 5_000_000;
    let t = Instant::now();
    walk(steps);
    t.elapsed().as_nanos() as f64 / steps as f64
}

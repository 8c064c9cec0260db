//! The machine's memory latency: what one read costs when the address
//! depends on the previous read and the working set is of a given size.
//! A check at scale is a handful of such reads (name, table, tree), so this
//! is the floor under the scaling curve.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

/// u64 words per cache line.
const LINE: usize = 8;

/// Nanoseconds per read while following one random cycle through every
/// cache line of a `bytes`-sized buffer.
pub fn dependent_read_ns(bytes: usize) -> f64 {
    let lines = (bytes / (LINE * 8)).max(2);
    // Sattolo's shuffle: a random permutation that is a single cycle, so the
    // walk visits every line before it repeats.
    let mut order: Vec<usize> = (0..lines).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    for i in (1..lines).rev() {
        order.swap(i, rng.random_range(0..i));
    }
    let mut next = vec![0u64; lines * LINE];
    for (i, &line) in order.iter().enumerate() {
        next[line * LINE] = (order[(i + 1) % lines] * LINE) as u64;
    }
    drop(order);
    let walk = |steps: usize| {
        let mut at = 0usize;
        for _ in 0..steps {
            at = next[at] as usize;
        }
        std::hint::black_box(at)
    };
    walk(lines.min(1 << 20));
    let steps = 5_000_000;
    let t = Instant::now();
    walk(steps);
    t.elapsed().as_nanos() as f64 / steps as f64
}

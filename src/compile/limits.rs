//! Bounds on what a policy may hold, so that every input ends in bounded
//! work with an answer or a clear error. The loader, the checker and live
//! updates all take them from here, and nesting is checked in one place.

use super::ids::NodeId;
use super::model::Model;
use crate::error::{Code, Diagnostic};

/// Deepest node nesting, and deepest chain of types (scope trees are a
/// handful of levels deep; the bound keeps every walk up the tree short).
pub const MAX_DEPTH: usize = 64;

/// Largest role rank.
pub const MAX_RANK: i64 = 1_000_000_000;

/// Deepest chain of role inclusions (the closure of a chain grows with the
/// square of its length).
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// Largest policy or facts file accepted by default, in bytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;

/// Bounds on what one load accepts; a policy past any of them is rejected
/// with an error saying which. Type paths are bounded by
/// [`crate::eval::index::MAX_TYPE_PATHS`] (256), ranks by [`MAX_RANK`],
/// role inclusion by [`MAX_INCLUDE_DEPTH`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, in bytes (default 256 MiB).
    pub max_file_bytes: usize,
    /// Most statements across all files (default 50 million).
    pub max_facts: usize,
    /// Deepest node nesting (default and most: [`MAX_DEPTH`], 64).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_bytes: MAX_FILE_BYTES,
            max_facts: 50_000_000,
            max_depth: MAX_DEPTH,
        }
    }
}

impl Limits {
    /// The deepest nesting these limits allow (never past [`MAX_DEPTH`]).
    pub fn depth(&self) -> usize {
        self.max_depth.min(MAX_DEPTH)
    }
}

/// The first of `nodes` nested deeper than `max`: the one check of node
/// nesting, for a whole policy and for the nodes a live update adds. A loop
/// of `in` clauses nests without end, so it is caught here too.
pub fn too_deep(
    m: &Model,
    nodes: impl IntoIterator<Item = NodeId>,
    max: usize,
) -> Option<Diagnostic> {
    nodes.into_iter().find_map(|n| {
        let depth = m.ancestry(n).take(max + 2).count() - 1;
        (depth > max).then(|| {
            Diagnostic::new(Code::Limit,
                format!(
                    "node `{}` is nested more than {max} levels deep",
                    m.node_name(n)
                ),
                m.facts[m.nodes[n.index()].fact.index()],
            )
            .help(format!(
                "scope trees are a few levels deep: check the `in` clauses (a loop nests without end){}",
                if max < MAX_DEPTH {
                    format!(", or raise `Limits::max_depth` (up to {MAX_DEPTH})")
                } else {
                    String::new()
                }
            ))
        })
    })
}

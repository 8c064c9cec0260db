//! Stage 2: AST → checked model.

mod check;
pub mod ids;
mod lint;
pub mod model;
pub(crate) mod structure;

pub use check::{check, extend, MAX_DEPTH, MAX_RANK};
pub use lint::lint;

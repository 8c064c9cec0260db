//! Stage 2: AST → checked model.

mod check;
pub mod ids;
pub mod model;
pub(crate) mod structure;

pub use check::{check, extend, MAX_DEPTH, MAX_RANK};

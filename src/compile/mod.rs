//! Stage 2: AST → checked model.

mod check;
pub mod ids;
pub mod model;
mod structure;

pub use check::{check, MAX_DEPTH, MAX_RANK};

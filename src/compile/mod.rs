//! Stage 2: AST → checked model.

mod check;
pub mod ids;
mod lint;
pub mod model;
pub(crate) mod structure;
pub mod value;

pub mod limits;
pub use check::{check, extend};
pub use limits::{Limits, MAX_DEPTH, MAX_RANK};
pub use lint::lint;

//! Stage 1: text → AST. The pest grammar lives in `grammar/policy.pest`.

pub mod ast;
mod parse;

pub use parse::parse;

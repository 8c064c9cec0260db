//! Stage 1: text → AST. The pest grammar lives in `grammar/policy.pest`.

pub mod ast;
mod parse;
mod print;

pub use parse::parse;
pub use print::format;

//! grantlog's integration tests: one binary, one module per feature.

mod catalogue;
mod cli;
mod common;
mod consistency;
mod concurrency;
mod constructs;
mod errors;
mod policies;
mod properties;
mod readme;
mod repl;

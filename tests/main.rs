//! grantlog's integration tests: one binary, one module per feature.

mod catalogue;
mod cli;
mod common;
mod concurrency;
mod consistency;
mod constructs;
mod engine;
mod errors;
mod facts;
mod language;
mod policies;
mod properties;
mod readme;
mod repl;
mod scim;
mod serve;
mod trust;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod compile;
pub mod decision;
pub mod diff;
mod engine;
pub mod error;
pub mod eval;
pub mod explain;
pub mod facts;
pub(crate) mod load;
pub mod policy_test;
pub mod query;
pub mod scim;
pub mod shared;
pub mod source;
pub mod syntax;
#[cfg(feature = "workload")]
pub mod workload;

pub use decision::{Decision, Effect, Request, RequestError};
pub use engine::{Batch, DecisionLog, Engine, Stale, WriterLog};
pub use error::{Error, LoadError};
pub use eval::snapshot::Snapshot;
pub use eval::update::Update;
pub use explain::{Explanation, Reason, Roles, Step, Via};
pub use load::{read_data, read_paths, Limits, MAX_FILE_BYTES};

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
//!
//! # The API
//!
//! A service needs what the crate root exports: [`Snapshot`] (load a policy,
//! check, explain, ask who-can and what-can), [`Engine`] (a live snapshot with
//! [`Batch`] updates and a [`DecisionLog`]), the request and decision types,
//! [`Explanation`], the error types ([`Error`], [`LoadError`] with its
//! [`Diagnostic`]s and their stable [`Code`]s), [`Limits`], and the facts and
//! SCIM loaders ([`facts`], [`scim`]).
//!
//! The pipeline's stages (`syntax`, `compile`, `eval`, ...) are public for
//! the project's own tests, benchmarks, fuzz targets and command line only:
//! they are hidden from the documentation and may change in any release.

#[doc(hidden)]
#[cfg(feature = "cli")]
pub mod cli;
#[doc(hidden)]
pub mod compile;
mod decision;
#[doc(hidden)]
pub mod diff;
mod engine;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod eval;
mod explain;
pub mod facts;
pub(crate) mod load;
mod policy_test;
mod query;
pub mod scim;
#[cfg(feature = "server")]
pub mod serve;
#[doc(hidden)]
pub mod shared;
#[doc(hidden)]
pub mod source;
#[doc(hidden)]
pub mod syntax;
mod warm;
#[doc(hidden)]
#[cfg(feature = "workload")]
pub mod workload;

pub use decision::{Decision, Effect, Request, RequestError};
pub use engine::{ApplyError, Batch, DecisionLog, Engine, Stale, WriterLog};
pub use error::{Code, Diagnostic, Error, LoadError};
pub use eval::snapshot::Snapshot;
pub use eval::update::Update;
pub use explain::{DroppedRole, Explanation, HeldRole, Missing, Reason, Roles, Step, Unmet, Via};
pub use load::{read_data, read_paths, Limits, MAX_FILE_BYTES};
pub use policy_test::{Outcome as TestOutcome, Report as TestReport};
pub use query::{render_allowed, Access, Allowed, Permission};
pub use source::{Location, Sources};
pub use warm::WarmProgress;

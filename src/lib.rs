pub mod cli;
pub mod compile;
pub mod decision;
pub mod error;
pub mod eval;
pub mod explain;
mod load;
pub mod source;
pub mod syntax;

pub use decision::{Decision, Effect, Request, RequestError};
pub use error::{Error, LoadError};
pub use eval::snapshot::Snapshot;
pub use explain::{Explanation, Reason, Step};
pub use load::{read_paths, MAX_FILE_BYTES};

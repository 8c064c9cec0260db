//! Stage 3: relations → evaluated snapshot.

pub mod condition;
pub mod constraints;
pub mod index;
pub mod program;
pub mod reach;
pub mod roles;
pub mod snapshot;
pub mod subtree;
pub mod universe;
pub mod update;
